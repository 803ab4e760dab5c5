"""The adversarial compiler: which processes each edge compares, each phase's terms
against hand-written formulas on the same draws, and which parameters each phase moves."""
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import unidgm
from unidgm.errors import ConfigError, GraphError
from unidgm.models import build

from .graphs import linear_gan

D = 6  # data size
Z = 3  # latent size


def _gan(**objective):
    return linear_gan(D, Z, **objective)


def _batch(n=8):
    return {"x": torch.randn(n, D, generator=torch.Generator().manual_seed(1))}


def test_processes_default_from_roles():
    g = unidgm.Graph("t")
    g.visible("x", "normal", shape=(D,))
    g.latent("z", "normal", shape=(Z,), prior="standard")
    g.generative("z", "x", nn.Linear(Z, D), deterministic=True)
    g.inference("x", "z", nn.Linear(D, Z), deterministic=True)
    on_x = g.adversarial("x", nn.Linear(D, 1))
    on_z = g.adversarial("z", nn.Linear(Z, 1))
    joint = g.adversarial(["x", "z"], nn.Linear(D + Z, 1), indicator="y")
    assert (on_x.real, on_x.fake) == ("data", "generative")          # GAN
    assert (on_z.real, on_z.fake) == ("generative", "inference")     # AAE
    assert (joint.real, joint.fake) == ("inference", "generative")   # BiGAN
    assert g.nodes["y_x"].role == "indicator" and g.nodes["y"].role == "indicator"


@pytest.mark.parametrize("kwargs,match", [
    ({"real": "data"}, "visible nodes only"),
    ({"fake": "posterior"}, "not a process"),
    ({"real": "inference", "fake": "inference"}, "nothing to tell apart"),
    ({"fake_inputs": {"z": "z2"}}, "not a visible node"),
])
def test_declaration_errors(kwargs, match):
    g = unidgm.Graph("t")
    g.visible("x", "normal", shape=(D,))
    g.latent("z", "normal", shape=(Z,), prior="standard")
    with pytest.raises(GraphError, match=match):
        g.adversarial("z", nn.Linear(Z, 1), **kwargs)


def test_discriminator_must_be_a_module():
    g = unidgm.Graph("t")
    g.visible("x", "normal", shape=(D,))
    with pytest.raises(GraphError, match="torch.nn.Module"):
        g.adversarial("x", lambda v: v)
    assert "y_x" not in g  # no orphan indicator is left behind


def test_compile_errors_name_the_fix():
    g = unidgm.Graph("t")
    g.visible("x", "normal", shape=(D,))
    g.latent("z", "normal", shape=(Z,), prior="standard")
    g.generative("z", "x", nn.Linear(Z, D), deterministic=True)
    with pytest.raises(GraphError, match="no adversarial edge"):
        unidgm.compile(g, "adversarial")
    with pytest.raises(ConfigError, match=r"divergence must be one of \(.*'ns-gan'.*\), got 'kld'"):
        _gan(divergence="kld")
    with pytest.raises(ConfigError, match="ns-gan"):
        _gan(divergence="hinge", importance_weights=4)


def test_gan_terms_equal_goodfellow_on_the_same_draws():
    model = _gan()
    G, Dn = model.nets["generative_x"], model.nets["adversarial_y_x"]
    batch = _batch()
    torch.manual_seed(5)
    d = model.loss(batch, phase="discriminator")["discriminator"]
    torch.manual_seed(5)
    fake = G(torch.randn(8, Z))
    ref = F.softplus(-Dn(batch["x"])).mean() + F.softplus(Dn(fake)).mean()  # -log D(x) - log(1 - D(G(z)))
    assert torch.allclose(d, ref, atol=1e-6)
    torch.manual_seed(6)
    g = model.loss(batch, phase="generator")["loss"]
    torch.manual_seed(6)
    ref = F.softplus(-Dn(G(torch.randn(8, Z)))).mean()  # non-saturating: -log D(G(z))
    assert torch.allclose(g, ref, atol=1e-6)


def test_each_phase_moves_only_its_parameters():
    model = _gan()
    groups = model.parameter_groups()
    batch = _batch()
    for phase in model.phases:
        params = [p for g in phase.groups for p in groups[g]]
        others = [p for p in model.parameters() if all(p is not q for q in params)]
        before = [p.detach().clone() for p in others]
        model.zero_grad(set_to_none=True)
        model.loss(batch, phase=phase.name)[phase.loss].backward()
        torch.optim.SGD(params, lr=0.1).step()
        assert all(torch.equal(a, p) for a, p in zip(before, others))
    assert [p.name for p in model.phases] == ["discriminator", "generator"]


def test_importance_weighted_generator_loss():
    model = _gan(importance_weights=4)
    G, Dn = model.nets["generative_x"], model.nets["adversarial_y_x"]
    torch.manual_seed(2)
    loss = model.loss(_batch(), phase="generator")["loss"]
    torch.manual_seed(2)
    v = Dn(G(torch.randn(8, Z))).reshape(2, 4)
    w = torch.exp(v) / torch.exp(v).sum(-1, keepdim=True)  # D/(1-D) = exp(v), normalised per group
    ref = (w.detach() * F.softplus(-v)).sum(-1).mean()
    assert torch.allclose(loss, ref, atol=1e-6)


def test_infogan_mutual_information_term():
    torch.manual_seed(0)
    model = unidgm.compile(build("infogan", x_shape=(1, 8, 8), noise_dim=4, categories=3, continuous=0, hidden=(16,)))
    G, Q = model.nets["generative_x"], model.nets["inference_c"]
    batch = {"x": torch.rand(5, 1, 8, 8)}
    torch.manual_seed(3)
    terms = model.loss(batch, phase="generator")
    torch.manual_seed(3)
    z = torch.randn(5, 4)
    c = F.one_hot(torch.distributions.Categorical(logits=torch.zeros(3)).sample((5,)), 3).float()
    x = G(torch.cat([z, c], -1))
    ref = -(c * torch.log_softmax(Q(x), -1)).sum(-1).mean()
    assert torch.allclose(terms["mutual_information"], ref, atol=1e-5)
    assert set(terms) == {"mutual_information", "generator", "loss"}


def test_aae_reconstruction_and_no_kl():
    model = unidgm.compile(build("aae", x_shape=(D,), latent_dim=Z, hidden=(8,)))
    E, P = model.nets["inference_z"], model.nets["generative_x"]
    x = torch.bernoulli(torch.full((4, D), 0.5))
    terms = model.loss({"x": x}, phase="generator")
    rec = F.binary_cross_entropy_with_logits(P(E(x)), x, reduction="none").sum(-1).mean()
    assert torch.allclose(terms["reconstruction"], rec, atol=1e-5)
    assert "kl" not in terms  # the adversary matches q(z) to the prior instead


def test_bigan_fools_on_both_sides():
    torch.manual_seed(0)
    model = unidgm.compile(build("bigan", x_shape=(D,), latent_dim=Z, hidden=(8,)))
    G, E, Dn = (model.nets[k] for k in ("generative_x", "inference_z", "adversarial_y_x_z"))
    x = torch.randn(4, D)
    torch.manual_seed(1)
    loss = model.loss({"x": x}, phase="generator")["loss"]
    torch.manual_seed(1)
    z = torch.randn(4, Z)
    v_fake = Dn(torch.cat([G(z), z], -1))
    v_real = Dn(torch.cat([x, E(x)], -1))
    ref = F.softplus(-v_fake).mean() + F.softplus(v_real).mean()  # flipped labels on both sides
    assert torch.allclose(loss, ref, atol=1e-5)


def _vae_parts(E, P, x):
    """One draw z ~ q(z|x) = N(mu, s^2) and the VAE's two per-example terms there, written
    out: -log p(x|z) for Bernoulli logits P(z), and the one-sample KL estimate
    log q(z|x) - log N(z; 0, I) (Kingma & Welling 2014, Eq. 10, with z drawn as mu + s eps)."""
    mu, log_s = E(x).chunk(2, -1)
    z = mu + log_s.exp() * torch.randn(x.shape[0], mu.shape[-1])
    logits = P(z)
    rec = -(x * F.logsigmoid(logits) + (1 - x) * F.logsigmoid(-logits)).sum(-1)
    log_q = (-0.5 * ((z - mu) / log_s.exp()) ** 2 - log_s - 0.5 * math.log(2 * math.pi)).sum(-1)
    log_p = (-0.5 * z ** 2 - 0.5 * math.log(2 * math.pi)).sum(-1)
    return rec, log_q - log_p


def _aavae():
    torch.manual_seed(0)
    model = unidgm.compile(build("aavae", x_shape=(D,), latent_dim=Z, hidden=(8,)))
    x = torch.bernoulli(torch.full((4, D), 0.5), generator=torch.Generator().manual_seed(1))
    return model, {"x": x}


def test_aavae_weights_generated_samples_by_the_discriminator():
    """Hu et al. (2018), Sec. 4.2, Eq. 17: generated samples x ~ p_theta(x) join the data,
    each one's ELBO weighted by the reversed discriminator q^r_phi(y=0|x) = D(x), the
    probability it gives that x is real (no gradient to phi: Eq. 17 is maximised over theta
    and eta only). Written out on the same draws: q(z|x) on the data, z ~ p(z), x ~ p(x|z),
    then q(z|x) on the generated x."""
    model, batch = _aavae()
    E, P, Dn = (model.nets[k] for k in ("inference_z", "generative_x", "adversarial_y_x"))
    torch.manual_seed(3)
    terms = model.loss(batch, phase="generator")
    torch.manual_seed(3)
    rec, kl = _vae_parts(E, P, batch["x"])                       # the VAE's ELBO on the data
    x_fake = torch.bernoulli(torch.sigmoid(P(torch.randn(4, Z))))  # x ~ p_theta(x|z), z ~ p(z)
    d = torch.sigmoid(Dn(x_fake)).squeeze(-1)                      # D(x) = q_phi(y=1|x) = q^r_phi(y=0|x)
    rec_fake, kl_fake = _vae_parts(E, P, x_fake)
    generator = (d.detach() * (rec_fake + kl_fake)).mean()
    assert {"reconstruction", "kl", "elbo", "generator", "loss"} == set(terms)
    assert torch.allclose(terms["reconstruction"], rec.mean(), atol=1e-5)
    assert torch.allclose(terms["kl"], kl.mean(), atol=1e-5)
    assert torch.allclose(terms["elbo"], -(rec + kl).mean(), atol=1e-5)
    assert torch.allclose(terms["generator"], generator, atol=1e-5)
    assert torch.allclose(terms["loss"], rec.mean() + kl.mean() + generator, atol=1e-5)
    # the weight D(x) passes no gradient to the discriminator
    assert all(g is None for g in torch.autograd.grad(terms["loss"], list(Dn.parameters()), allow_unused=True))
    assert model.objective.monitor == "elbo"
    # the discriminator is trained as in a GAN (Hu et al. 2018, Sec. 4.2), on data and x ~ p_theta(x)
    torch.manual_seed(4)
    d_loss = model.loss(batch, phase="discriminator")["discriminator"]
    torch.manual_seed(4)
    x_fake = torch.bernoulli(torch.sigmoid(P(torch.randn(4, Z))))
    ref = -torch.log(torch.sigmoid(Dn(batch["x"]))).mean() - torch.log(1 - torch.sigmoid(Dn(x_fake))).mean()
    assert torch.allclose(d_loss, ref, atol=1e-5)


def test_iwgan_generator_loss_is_hu_et_als_eq_16():
    """Hu et al. (2018), Sec. 4.1, Eq. 16: the generator ascends sum_i w~_i log q^r(y=0|x_i)
    = sum_i w~_i log D(x_i) over k samples, with w_i = q^r(y|x_i) / q(y|x_i) = D(x_i) / (1 -
    D(x_i)) normalised over the k samples (treated as constants, as Eq. 16's gradient does).
    The catalogue's IWGAN, on 3 groups of k = 4 consecutive draws; its discriminator is
    trained as a GAN's."""
    torch.manual_seed(0)
    model = unidgm.compile(build("iwgan", x_shape=(D,), latent_dim=Z, hidden=(8,), k=4))
    G, Dn = model.nets["generative_x"], model.nets["adversarial_y_x"]
    batch = {"x": torch.randn(12, D, generator=torch.Generator().manual_seed(1))}
    torch.manual_seed(2)
    loss = model.loss(batch, phase="generator")["loss"]
    torch.manual_seed(2)
    d = torch.sigmoid(Dn(G(torch.randn(12, Z)))).reshape(3, 4)  # D(x_i), the draws of one group in a row
    w = d / (1 - d)
    w_tilde = (w / w.sum(1, keepdim=True)).detach()
    ref = -(w_tilde * torch.log(d)).sum(1).mean()
    assert torch.allclose(loss, ref, atol=1e-5)
    params = list(G.parameters())
    for a, b in zip(torch.autograd.grad(loss, params), torch.autograd.grad(ref, params)):
        assert torch.allclose(a, b, atol=1e-5)  # no gradient through the weights
    torch.manual_seed(5)
    d_loss = model.loss(batch, phase="discriminator")["discriminator"]
    torch.manual_seed(5)
    fake = G(torch.randn(12, Z))
    ref = -torch.log(torch.sigmoid(Dn(batch["x"]))).mean() - torch.log(1 - torch.sigmoid(Dn(fake))).mean()
    assert torch.allclose(d_loss, ref, atol=1e-5)


def test_domain_adaptation_reads_the_target_images():
    torch.manual_seed(0)
    model = unidgm.compile(build("ada", x_shape=(D,), feature_dim=Z, hidden=(8,), net="mlp"))
    Fx, Dn = model.nets["inference_f"], model.nets["adversarial_y_f"]
    batch = {"x": torch.randn(4, D), "y": torch.tensor([0, 1, 2, 3]), "x_target": torch.randn(4, D) + 3}
    d = model.loss(batch, phase="discriminator")["discriminator"]
    ref = F.softplus(-Dn(Fx(batch["x"]))).mean() + F.softplus(Dn(Fx(batch["x_target"]))).mean()
    assert torch.allclose(d, ref, atol=1e-6)
    source_only = unidgm.compile(build("ada", x_shape=(D,), feature_dim=Z, hidden=(8,), net="mlp",
                                       adversarial_weight=0.0))
    assert [p.name for p in source_only.phases] == ["generator"]
    assert set(source_only.loss(batch, phase="generator")) == {"reconstruction", "loss"}


def test_wgan_gp_evaluates_without_gradients():
    model = _gan(divergence="wgan-gp")
    with torch.no_grad():
        terms = model.loss(_batch())
    assert math.isfinite(terms["discriminator"].item()) and "divergence" in terms
    assert model.loss(_batch(), phase="discriminator")["discriminator"].requires_grad


def test_warmup_ramps_the_adversarial_weight_on_ganins_schedule():
    torch.manual_seed(0)
    model = unidgm.compile(build("ada", x_shape=(D,), feature_dim=Z, hidden=(8,), net="mlp"), warmup=100)
    batch = {"x": torch.randn(4, D), "y": torch.tensor([0, 1, 2, 3]), "x_target": torch.randn(4, D) + 3}
    for step, expected in ((0, 0.0), (20, 2 / (1 + math.exp(-2.0)) - 1), (100, 1.0), (500, 1.0)):
        model.set_schedule_step(step)
        torch.manual_seed(1)
        t = model.loss(batch, phase="generator")
        assert model.objective.weight() == pytest.approx(expected)
        assert torch.allclose(t["loss"], t["reconstruction"] + expected * t["generator"], atol=1e-6)
    with pytest.raises(ConfigError, match="warmup"):
        unidgm.compile(build("gan", x_shape=(D,), hidden=(8,)), warmup=-1)


def test_aavae_trains_with_the_vaes_optimizer_settings():
    assert unidgm.compile(build("aavae", x_shape=(D,), latent_dim=Z, hidden=(8,))).objective.optimizer_defaults == {}
    assert unidgm.compile(build("gan", x_shape=(D,), hidden=(8,))).objective.optimizer_defaults["lr"] == 2e-4


def test_generator_lr_gives_the_generator_side_its_own_rate():
    model = unidgm.compile(build("gan", x_shape=(D,), hidden=(8,)), generator_lr=1e-3)
    assert model.objective.optimizer_defaults == {"lr": 2e-4, "betas": (0.5, 0.999),
                                                  "lr_groups": {"generative": 1e-3, "inference": 1e-3}}
    from unidgm.train import TrainConfig
    from unidgm.train.phases import build_phase_optimizers

    _, optimizers, _ = build_phase_optimizers(model, TrainConfig(**model.objective.optimizer_defaults))
    rates = {g["group"]: g["lr"] for opt in optimizers.values() for g in opt.param_groups}
    assert rates == {"adversarial": 2e-4, "generative": 1e-3}
    with pytest.raises(ConfigError, match="generator_lr"):
        unidgm.compile(build("gan", x_shape=(D,), hidden=(8,)), generator_lr=0.0)


def test_infogan_with_chen_et_als_networks_trains():
    model = unidgm.compile(build("infogan", net="conv", noise_dim=4))
    assert model.objective.divergence.name == "ns-gan" and model.objective.optimizer_defaults["lr_groups"]
    assert unidgm.compile(build("infogan", net="mlp", noise_dim=4)).objective.divergence.name == "hinge"
    batch = {"x": torch.rand(8, 1, 28, 28)}
    for phase in ("discriminator", "generator"):
        terms = model.loss(batch, phase=phase)
        assert all(torch.isfinite(v).all() for v in terms.values())


def test_an_adversary_on_discrete_codes_needs_a_gradient_estimator_that_draws():
    def aae(**latent):
        torch.manual_seed(0)
        g = unidgm.Graph("categorical-aae")
        g.visible("x", "bernoulli", shape=(D,))
        g.latent("c", "categorical", shape=(4,), prior="standard", **latent)
        g.generative("c", "x", nn.Linear(4, D))
        g.inference("x", "c", nn.Linear(D, 4))
        g.adversarial("c", nn.Linear(4, 1))
        return g

    with pytest.raises(GraphError, match=r"samples of 'c', a categorical latent whose draws pass no gradient; "
                                         r"declare it with estimator='gumbel'"):
        unidgm.compile(aae())
    model = unidgm.compile(aae(estimator="gumbel"))
    x = torch.bernoulli(torch.full((8, D), 0.5))
    model.loss({"x": x}, phase="generator")["generator"].backward()
    assert model.nets["inference_c"].weight.grad.abs().sum() > 0  # the adversary's gradient reaches q
