"""Each catalogue model's compiled loss equals a hand-written reference of its paper's loss
on the same inputs and random draws (DESIGN contract). The references use the graph's own
networks and torch's distributions, nothing from the engine."""
import math

import torch
import torch.nn.functional as F
from torch.distributions import Normal, kl_divergence

import unidgm
from unidgm.models import build

X = (1, 8, 8)


def _data(n=5):
    g = torch.Generator().manual_seed(0)
    return torch.bernoulli(torch.rand((n,) + X, generator=g)), torch.randint(0, 10, (n,), generator=g)


def _nets(graph):
    return {e.key: e.net for e in graph.edges}


def _bce(logits, x):
    return F.binary_cross_entropy_with_logits(logits, x.flatten(1), reduction="none").sum(-1)


def _gauss(out):
    loc, log_scale = out.chunk(2, -1)
    return Normal(loc, log_scale.exp())


def test_vae_kingma_welling_eq10():
    g = build("vae", x_shape=X, latent_dim=4, hidden=(16,))
    n = _nets(g)
    x, _ = _data()
    torch.manual_seed(0)
    ours = unidgm.compile(g).loss({"x": x})["loss"]
    torch.manual_seed(0)
    q = _gauss(n["inference_z"](x.flatten(1)))
    z = q.rsample()
    ref = (_bce(n["generative_x"](z), x) + kl_divergence(q, Normal(0.0, 1.0)).sum(-1)).mean()
    assert torch.allclose(ours, ref, rtol=1e-5)


def test_beta_vae_higgins_eq4_with_warmup():
    g = build("beta-vae", x_shape=X, latent_dim=4, hidden=(16,), beta=4.0, warmup=10)
    n = _nets(g)
    model = unidgm.compile(g)
    model.set_schedule_step(5)  # halfway through warm-up: weight 2
    x, _ = _data()
    torch.manual_seed(0)
    ours = model.loss({"x": x})["loss"]
    torch.manual_seed(0)
    q = _gauss(n["inference_z"](x.flatten(1)))
    z = q.rsample()
    ref = (_bce(n["generative_x"](z), x) + 2.0 * kl_divergence(q, Normal(0.0, 1.0)).sum(-1)).mean()
    assert torch.allclose(ours, ref, rtol=1e-5)


def test_iwae_burda_eq8():
    k = 7
    g = build("iwae", x_shape=X, latent_dim=4, hidden=(16,), k=k)
    n = _nets(g)
    x, _ = _data()
    torch.manual_seed(0)
    ours = unidgm.compile(g).loss({"x": x})["loss"]
    torch.manual_seed(0)
    q = _gauss(n["inference_z"](x.flatten(1)))
    z = q.rsample((k,))                                    # (k, B, 4)
    logits = n["generative_x"](z.reshape(-1, 4)).reshape(k, x.shape[0], -1)
    log_px = -F.binary_cross_entropy_with_logits(logits, x.flatten(1).expand(k, -1, -1), reduction="none").sum(-1)
    logw = log_px + Normal(0.0, 1.0).log_prob(z).sum(-1) - q.log_prob(z).sum(-1)
    ref = -(torch.logsumexp(logw, 0) - math.log(k)).mean()
    assert torch.allclose(ours, ref, rtol=1e-5)


def test_autoencoder_reconstruction():
    g = build("ae", x_shape=X, latent_dim=4, hidden=(16,))
    n = _nets(g)
    x, _ = _data()
    ours = unidgm.compile(g).loss({"x": x})["loss"]
    ref = _bce(n["generative_x"](n["inference_z"](x.flatten(1))), x).mean()
    assert torch.allclose(ours, ref, rtol=1e-6)


def test_cvae_sohn_eq4():
    g = build("cvae", x_shape=X, latent_dim=4, hidden=(16,))
    n = _nets(g)
    x, y = _data()
    torch.manual_seed(0)
    ours = unidgm.compile(g).loss({"x": x, "y": y})["loss"]
    torch.manual_seed(0)
    y1 = F.one_hot(y, 10).float()
    q = _gauss(n["inference_z"](torch.cat([x.flatten(1), y1], -1)))
    z = q.rsample()
    ref = (_bce(n["generative_x"](torch.cat([z, y1], -1)), x) + kl_divergence(q, Normal(0.0, 1.0)).sum(-1)).mean()
    assert torch.allclose(ours, ref, rtol=1e-5)


def test_two_layer_hvae():
    g = build("hvae", x_shape=X, latent_dims=(6, 4), hidden=(16,))
    n = _nets(g)
    x, _ = _data()
    torch.manual_seed(0)
    ours = unidgm.compile(g).loss({"x": x})["loss"]
    torch.manual_seed(0)
    q1 = _gauss(n["inference_z1"](x.flatten(1)))
    z1 = q1.rsample()
    q2 = _gauss(n["inference_z2"](z1))
    z2 = q2.rsample()
    p1 = _gauss(n["generative_z1"](z2))
    # z1's KL is Monte Carlo (p(z1|z2) reads a z2 drawn from z1); z2's is analytic.
    kl1 = q1.log_prob(z1).sum(-1) - p1.log_prob(z1).sum(-1)
    kl2 = kl_divergence(q2, Normal(0.0, 1.0)).sum(-1)
    ref = (_bce(n["generative_x"](z1), x) + kl1 + kl2).mean()
    assert torch.allclose(ours, ref, rtol=1e-5)


def test_ssvae_kingma_eq6_to_9():
    """Kingma et al. (2014)'s M2: labelled rows L(x, y) (Eq. 6), unlabelled rows
    U(x) = sum_y q(y|x) (L(x, y) + log q(y|x)) summed over every class (Eq. 7), and alpha
    times -log q(y|x) on labelled rows (Eq. 9), over the batch size (Eq. 8). The compiled
    model draws z for the labelled rows, then for every (class, unlabelled row) at once."""
    g = build("ssvae", x_shape=X, latent_dim=4, hidden=(16,), batch_norm=False, classification_weight=5.0)
    n = _nets(g)
    x, y = _data(6)
    y[[1, 4, 5]] = -1
    torch.manual_seed(0)
    ours = unidgm.compile(g).loss({"x": x, "y": y})["loss"]
    torch.manual_seed(0)
    lab, unl = y >= 0, y < 0
    flat = x.flatten(1)

    def bound(xs, ys, eps):  # L(x, y): reconstruction + KL(q(z|x,y) || N(0, I)) - log p(y)
        q = _gauss(n["inference_z"](torch.cat([xs, ys], -1)))
        z = q.loc + q.scale * eps
        return _bce(n["generative_x"](torch.cat([ys, z], -1)), xs) + kl_divergence(q, Normal(0.0, 1.0)).sum(-1) \
            + math.log(10)

    y1 = F.one_hot(y[lab], 10).float()
    labelled = bound(flat[lab], y1, torch.randn(3, 4))
    classification = F.cross_entropy(n["inference_y"](flat[lab]), y[lab], reduction="none")
    eps = torch.randn(10, 3, 4)                                  # (class, unlabelled row, z)
    log_q = torch.log_softmax(n["inference_y"](flat[unl]), -1)  # (row, class)
    unlabelled = sum(log_q[:, k].exp() * (bound(flat[unl], F.one_hot(torch.tensor([k] * 3), 10).float(), eps[k])
                                          + log_q[:, k]) for k in range(10))
    ref = (labelled.sum() + unlabelled.sum() + 5.0 * classification.sum()) / 6
    assert torch.allclose(ours, ref, rtol=1e-5)
