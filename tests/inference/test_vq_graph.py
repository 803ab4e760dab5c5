"""VQ-VAE as a graph (van den Oord et al. 2017, Fig. 1 and Sec. 3.2), from the engine's parts:
q quantizes the encoder's output (x -> z_q, a VectorQuantizer's Output) and reads its indices
(z_q -> c); p draws c from a density edge (a PixelCNN prior), looks its codes up in the same
codebook (c -> z_q) and decodes (z_q -> x). Stage 1 trains the autoencoder with the codebook
and commitment terms, stage 2 the prior over the frozen codes."""
from types import SimpleNamespace

import torch
import torch.nn.functional as F
from torch import nn

import unidgm
from unidgm.inference.terms import AuxiliaryLoss, PriorFit
from unidgm.nets import CodeEmbedding, CodeIndices, GatedPixelCNN, VectorQuantizer
from unidgm.train import Trainer

X, D, K, G = 16, 3, 6, 2  # 16 pixels, codes of size 3, 6 codes, a 2x2 grid


class Encoder(nn.Module):
    def __init__(self, quantizer):
        super().__init__()
        self.net, self.quantizer = nn.Linear(X, D * G * G), quantizer

    def forward(self, x):
        return self.quantizer(self.net(x).reshape(-1, D, G, G))


def vqvae():
    torch.manual_seed(0)
    quantizer = VectorQuantizer(K, D)
    g = unidgm.Graph("vqvae")
    g.visible("x", "bernoulli", (X,))
    g.latent("z_q", "normal", (D, G, G))
    g.latent("c", "categorical", (G, G), classes=K)
    g.inference("x", "z_q", Encoder(quantizer), deterministic=True)
    g.inference("z_q", "c", CodeIndices(quantizer), deterministic=True)
    g.generative([], "c", GatedPixelCNN(K, channels=8, layers=2), density=True, name="prior")
    g.generative("c", "z_q", CodeEmbedding(quantizer), deterministic=True)
    g.generative("z_q", "x", nn.Sequential(nn.Flatten(), nn.Linear(D * G * G, X)))
    model = unidgm.compile(g, "elbo", terms=[AuxiliaryLoss("codebook", "z_q"),
                                             AuxiliaryLoss("commitment", "z_q", weight=0.25), PriorFit("c")])
    return g, quantizer, model


def test_the_loss_is_van_den_oord_et_al_eq_3():
    g, quantizer, model = vqvae()
    x = torch.rand(5, X).round()
    terms = model.loss({"x": x})
    z_e = g.edge_into("z_q", "inference").net.net(x).reshape(5, D, G, G)
    flat = z_e.movedim(1, -1).reshape(-1, D)
    k = ((flat[:, None, :] - quantizer.codebook[None]) ** 2).sum(-1).argmin(1)  # brute-force nearest codes
    e = quantizer.codebook[k].reshape(5, G, G, D).movedim(-1, 1)
    logits = g.edge_into("x", "generative").net(e)
    rec = F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1).mean()
    sq = ((z_e - e) ** 2).flatten(1).sum(1).mean()
    assert torch.allclose(terms["reconstruction"], rec, atol=1e-5)
    assert torch.allclose(terms["loss"], rec + sq + 0.25 * sq, atol=1e-5)  # log p(x|z_q) + ||sg[z_e]-e||^2 + beta ||z_e-sg[e]||^2
    prior = g.edge_into("c", "generative").net
    fit = model.loss({"x": x}, "prior")["prior_fit_c"]
    assert torch.allclose(fit, -prior.log_prob(k.reshape(5, G, G)).mean(), atol=1e-5)  # -log p(c) at q's codes


def test_two_stages_train_the_autoencoder_then_the_prior_over_frozen_codes():
    g, quantizer, model = vqvae()
    gen = torch.Generator().manual_seed(1)
    protos = torch.bernoulli(torch.full((4, X), 0.5), generator=gen)
    data = SimpleNamespace(train={"x": protos[torch.randint(0, 4, (128,), generator=gen)]}, val=None, test=None)
    autoencoder = lambda: [p.detach().clone() for k in ("inference_z_q", "generative_x")  # noqa: E731
                           for p in model.nets[k].parameters()]
    prior = g.edge_into("c", "generative").net
    batch = {"x": data.train["x"][:32]}
    seen = {}

    class AtTheEndOfStageOne:
        def on_step_end(self, trainer, step, terms):
            if step == 60:
                torch.set_grad_enabled(False)
                seen["autoencoder"] = autoencoder()
                seen["fit"] = float(model.loss(batch, "prior")["prior_fit_c"])
                seen["rec"] = float(model.loss(batch, "elbo")["reconstruction"])
                torch.set_grad_enabled(True)

    start = model.loss(batch, "elbo")["reconstruction"].item()
    stages = ({"phases": ["elbo"], "max_steps": 60}, {"phases": ["prior"], "max_steps": 60})
    Trainer(model, data, stages=stages, batch_size=32, lr=1e-2, progress=False, device="cpu", monitor=None,
            callbacks=[AtTheEndOfStageOne()]).fit()
    assert seen["rec"] < start  # stage 1 trains the autoencoder
    assert all(torch.equal(a, b) for a, b in zip(seen["autoencoder"], autoencoder()))  # stage 2 leaves it alone
    assert model.loss(batch, "prior")["prior_fit_c"].item() < seen["fit"]  # and fits the prior to its codes
    samples = model.sample(4)
    assert samples["c"].shape == (4, G, G) and samples["x"].shape == (4, X)
    assert torch.equal(samples["z_q"], quantizer.embed(samples["c"]))  # decoded through the same codebook
