"""VQ-GAN's parts, each the engine's (Esser et al. 2021): the patch adversary on reconstructions
with the hinge loss, the adaptive weight of Eq. 7 and its start step, the perceptual term;
each against its formula written out here."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import unidgm
from unidgm.errors import GraphError
from unidgm.inference.terms import Perceptual
from unidgm.models import build

X = (1, 8, 8)


def _model(**options):
    torch.manual_seed(0)
    options = {"perceptual_weight": 0.0, "adversarial_start": 0, "ema": False, "disc_layers": 1, **options}
    return unidgm.compile(build("vqgan", x_shape=X, hidden=(16,), **options)).train()


def _batch(n=6):
    return {"x": torch.rand((n,) + X, generator=torch.Generator().manual_seed(0))}


def _parts(model, x):
    """The reconstruction, the commitment and codebook terms and the hinge generator loss, by hand."""
    g = model.graph
    quantized = g.edge_into("z_q", "inference").net
    z_e = quantized.encoder(x)
    book = quantized.quantizer.codebook
    flat = z_e.movedim(1, -1).reshape(-1, book.shape[1])
    k = ((flat[:, None] - book[None]) ** 2).sum(-1).argmin(1)
    e = book[k].reshape(z_e.shape[0], z_e.shape[2], z_e.shape[3], -1).movedim(-1, 1)
    z_q = z_e + (e - z_e).detach()
    logits = g.edge_into("x", "generative").net(z_q)
    rec = F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1).mean()
    codebook = (z_e.detach() - e).pow(2).flatten(1).sum(1).mean()
    commitment = (z_e - e.detach()).pow(2).flatten(1).sum(1).mean()
    critic = g.edges_of("adversarial")[0].net
    return rec, codebook, commitment, critic, torch.sigmoid(logits)


def test_the_patch_discriminators_hinge_loss_averages_over_patches():
    model = _model()
    x = _batch()["x"]
    model.loss({"x": x}, "discriminator")  # the codebook's k-means initialisation happens once, here
    torch.manual_seed(1)
    d = model.loss({"x": x}, "discriminator")["discriminator"]
    _, _, _, critic, x_hat = _parts(model, x)
    assert critic(x).shape == (6, critic.patches) and critic.patches == 16
    expected = F.relu(1 - critic(x)).mean() + F.relu(1 + critic(x_hat)).mean()
    assert torch.allclose(d, expected, atol=1e-5)


def test_the_adaptive_weight_is_eq_7_at_the_decoders_last_layer():
    model = _model()
    x = _batch()["x"]
    model.loss({"x": x}, "generator")
    out = model.loss({"x": x}, "generator")
    rec, codebook, commitment, critic, x_hat = _parts(model, x)
    gan = -critic(x_hat).mean()  # the hinge game's generator loss
    rest = rec + codebook + 0.25 * commitment
    last = [p for p in model.graph.edge_into("x", "generative").net.parameters() if p.dim() > 1][-1]
    g_rest = torch.autograd.grad(rest, last, retain_graph=True)[0].norm()
    g_gan = torch.autograd.grad(gan, last, retain_graph=True)[0].norm()
    weight = 0.8 * (g_rest / (g_gan + 1e-4)).clamp(0, 1e4)
    assert torch.allclose(out["adaptive_weight"], weight, rtol=1e-4)
    assert torch.allclose(out["loss"], rest + weight * gan, rtol=1e-4)
    model.eval()
    with torch.no_grad():  # evaluation: no gradients to take norms of, the last weight
        assert torch.equal(model.loss({"x": x}, "generator")["adaptive_weight"], out["adaptive_weight"])


def test_the_adversarial_term_joins_at_its_start_step():
    model = _model(adversarial_start=100)
    x = _batch()["x"]
    model.loss({"x": x}, "generator")
    model.set_schedule_step(99)
    before = model.loss({"x": x}, "generator")
    rec, codebook, commitment, _, _ = _parts(model, x)
    assert torch.allclose(before["loss"], rec + codebook + 0.25 * commitment, rtol=1e-5)
    model.set_schedule_step(100)
    after = model.loss({"x": x}, "generator")
    assert not torch.allclose(after["loss"], before["loss"])


def test_the_perceptual_term_is_the_feature_distance_to_the_reconstruction():
    torch.manual_seed(0)
    features = nn.Sequential(nn.Flatten(), nn.Linear(64, 5))
    g = build("vqvae", x_shape=X, hidden=(16,), ema=False)
    model = unidgm.compile(g, "elbo", terms=[Perceptual("x", features, weight=2.0)])
    x = _batch()["x"]
    model.train().loss({"x": x})
    out = model.loss({"x": x})
    quantized = g.edge_into("z_q", "inference").net
    x_hat = torch.sigmoid(g.edge_into("x", "generative").net(quantized(x).value))
    expected = (features(x_hat) - features(x)).pow(2).sum(1).mean()
    assert torch.allclose(out["perceptual"], expected, rtol=1e-5)
    assert not any(p.requires_grad for p in features.parameters())  # a fixed judge
    with pytest.raises(GraphError, match="not a visible node"):
        unidgm.compile(build("vqvae", x_shape=X, hidden=(16,)), "elbo", terms=[Perceptual("z_q", features)])


def test_a_patch_discriminator_needs_its_outputs_declared():
    from unidgm.nets import PatchDiscriminator

    g = build("vqvae", x_shape=X, hidden=(16,))
    critic = PatchDiscriminator(X, 8, 1)
    g.adversarial("x", critic, fake="reconstruction")  # one number per example declared, 16 emitted
    with pytest.raises(GraphError):
        unidgm.compile(g, "adversarial")
    with pytest.raises(GraphError, match="outputs must be a positive integer"):
        build("vqvae", x_shape=X, hidden=(16,)).adversarial("x", critic, fake="reconstruction", outputs=0)


def test_vqgans_perceptual_features_are_the_mean_squared_maps_of_the_classifiers_convolutions():
    from unidgm.eval.classifier import DigitClassifier
    from unidgm.models.vqgan import ClassifierFeatures

    torch.manual_seed(0)
    classifier = DigitClassifier(X).requires_grad_(False)
    features = ClassifierFeatures("digits")
    features._classifier = (classifier,)  # a random judge in the cached one's place: no training here
    a, b = torch.rand(3, *X), torch.rand(3, *X)
    # Johnson et al. 2016, Eq. 2, written out: per ReLU map, the mean squared difference, summed
    conv = classifier.conv
    expected = torch.zeros(3)
    for upto in (2, 5):  # the outputs of the first and second ReLU
        expected += (conv[:upto](a) - conv[:upto](b)).pow(2).mean((1, 2, 3))
    got = (features(a) - features(b)).pow(2).sum(1)
    assert torch.allclose(got, expected, rtol=1e-4)
    assert not dict(features.state_dict())  # the judge is outside the model's state
    model = build("vqgan", x_shape=X, hidden=(16,))
    perceptual = next(t for t in model.objective["terms"] if isinstance(t, Perceptual))
    assert perceptual.weight == 64.0  # per pixel as Esser et al.'s mean: 1.0 x 8 x 8 pixels


def test_vqgan_trains_its_autoencoder_and_prior_at_vqvaes_rate_and_its_critic_at_dcgans():
    from unidgm.data import load
    from unidgm.train import Trainer

    data = load("digits", binarize=None)
    model = unidgm.compile(build("vqgan", x_shape=X, hidden=(16,), perceptual_weight=0.0))
    trainer = Trainer(model, data, max_steps=1, progress=False)
    rates = {g["group"]: g["lr"] for opt in trainer.optimizers.values() for g in opt.param_groups}
    # lr_groups names the kinds; the prior's own group is within "generative" and takes its rate
    assert rates == {"prior": 1e-3, "adversarial": 2e-4, "generative": 1e-3, "inference": 1e-3}
    model = unidgm.compile(build("gan", x_shape=(4,), hidden=(8,)), discriminator_lr=5e-4)
    assert model.training_defaults()["lr_groups"] == {"adversarial": 5e-4}
