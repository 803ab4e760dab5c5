"""The Pyro view of adversarial graphs (issue 4, item 2; issue 12, item 5): each site's
log-probability against the paper's formula, written out here and computed from the
networks on the values the trace itself recorded (``x_real``, ``x_fake``, the codes), never
by calling unidgm's divergences.

Hu et al. (2018, Sec. 3.2) read a GAN as reconstructing the indicator y (1: real, 0: fake)
with the discriminator q_phi(y|x) = Bernoulli(D(x)), D = sigmoid(V), so a GAN's
discriminator site is log q_phi(y|x) summed over both sides, and every other game's
discriminator and generator sites are factors: minus the batch size times that loss.
"""
import math

import pyro
import pytest
import torch
import torch.nn.functional as F
from pyro import poutine

import unidgm
from unidgm.models import build

from .graphs import linear_gan

D = 6  # data size
Z = 3  # latent size
B = 8  # batch size

# Nowozin, Cseke & Tomioka (2016), Table 2: output activation g_f(v) and conjugate f*(t).
NOWOZIN_TABLE_2 = {
    "kl": (lambda v: v, lambda t: torch.exp(t - 1)),
    "reverse-kl": (lambda v: -torch.exp(-v), lambda t: -1 - torch.log(-t)),
    "pearson": (lambda v: v, lambda t: 0.25 * t ** 2 + t),
    "hellinger": (lambda v: 1 - torch.exp(-v), lambda t: t / (1 - t)),
    "js": (lambda v: math.log(2) - torch.log(1 + torch.exp(-v)), lambda t: -torch.log(2 - torch.exp(t))),
}


def _gan(**objective):
    return linear_gan(D, Z, **objective)


def _batch(n=B):
    return {"x": torch.randn(n, D, generator=torch.Generator().manual_seed(1))}


def _trace(model, batch, seed):
    torch.manual_seed(seed)
    tr = poutine.trace(model.pyro_model).get_trace(batch)
    tr.compute_log_prob()
    return tr


def _critic(model, tr):
    """The discriminator's raw outputs V on the trace's own real and fake values, the
    generator and the fake values."""
    G, Dn = model.nets["generative_x"], model.nets["adversarial_y_x"]
    x_real, x_fake = tr.nodes["x_real"]["value"], tr.nodes["x_fake"]["value"]
    return Dn(x_real).squeeze(-1), Dn(x_fake).squeeze(-1), G, x_fake


def _site(tr, name):
    return tr.nodes[name]["log_prob_sum"]


@pytest.mark.parametrize("divergence", ["ns-gan", "gan"])
def test_gan_sites_hold_goodfellows_terms(divergence):
    model, batch = _gan(divergence=divergence), _batch()
    tr = _trace(model, batch, 7)
    v_real, v_fake, G, x_fake = _critic(model, tr)
    assert torch.equal(tr.nodes["x_real"]["value"], batch["x"])
    torch.manual_seed(7)
    assert torch.allclose(x_fake, G(torch.randn(B, Z)), atol=1e-6)  # x_fake = G(z), z ~ p(z)
    # the indicator: y = 1 on the real side, 0 on the fake, observed, under p(y) = 1/2
    assert tr.nodes["y_x"]["is_observed"] and tr.nodes["q_y_x"]["is_observed"]
    assert torch.equal(tr.nodes["y_x"]["value"], torch.cat([torch.ones(B), torch.zeros(B)]))
    assert torch.allclose(_site(tr, "y_x"), torch.tensor(2 * B * math.log(0.5)))
    # log q_phi(y|x) over both sides: -B [mean softplus(-V(x_real)) + mean softplus(V(x_fake))]
    # = sum log D(x_real) + sum log(1 - D(x_fake)), Goodfellow et al. (2014), Eq. 1
    d_loss = F.softplus(-v_real).mean() + F.softplus(v_fake).mean()
    assert torch.allclose(_site(tr, "q_y_x"), -B * d_loss, atol=1e-4)
    assert torch.allclose(_site(tr, "q_y_x"), torch.log(torch.sigmoid(v_real)).sum()
                          + torch.log(1 - torch.sigmoid(v_fake)).sum(), atol=1e-4)
    if divergence == "ns-gan":  # non-saturating: -log D(G(z)) (their Sec. 3; Hu et al.'s q^r, Eq. 5)
        g_loss = -torch.log(torch.sigmoid(v_fake)).mean()
    else:  # minimax: log(1 - D(G(z)))
        g_loss = torch.log(1 - torch.sigmoid(v_fake)).mean()
    assert torch.allclose(_site(tr, "generator_y_x"), -B * g_loss, atol=1e-4)
    assert x_fake.shape == (B, D) and "discriminator_y_x" not in tr.nodes
    source = pyro.render_model(model.pyro_model, model_args=(batch,)).source
    assert "y_x" in source and "q_y_x" in source


@pytest.mark.parametrize("divergence", sorted(NOWOZIN_TABLE_2))
def test_f_gan_sites_hold_nowozins_value(divergence):
    """Nowozin et al. (2016), Eq. 6: D maximises V = E_P[g_f(V)] - E_Q[f*(g_f(V))], so the
    discriminator factor is -B * (-V) = B * V; the generator's "alternative" loss (their
    Sec. 3.2) is -E_Q[g_f(V)], its factor B * mean g_f(V(x_fake))."""
    g_f, f_star = NOWOZIN_TABLE_2[divergence]
    model, batch = _gan(divergence=divergence), _batch()
    tr = _trace(model, batch, 4)
    v_real, v_fake, G, x_fake = _critic(model, tr)
    torch.manual_seed(4)
    assert torch.allclose(x_fake, G(torch.randn(B, Z)), atol=1e-6)
    value = g_f(v_real).mean() - f_star(g_f(v_fake)).mean()
    assert torch.allclose(_site(tr, "discriminator_y_x"), B * value, atol=1e-4)
    assert torch.allclose(_site(tr, "generator_y_x"), B * g_f(v_fake).mean(), atol=1e-4)
    assert tr.nodes["y_x"]["is_observed"] and "q_y_x" not in tr.nodes


def test_hinge_sites_hold_the_hinge_game():
    """Lim & Ye (2017); Miyato et al. (2018), Eq. 16-17."""
    model, batch = _gan(divergence="hinge"), _batch()
    tr = _trace(model, batch, 5)
    v_real, v_fake, _, _ = _critic(model, tr)
    d_loss = torch.clamp(1 - v_real, min=0).mean() + torch.clamp(1 + v_fake, min=0).mean()
    assert torch.allclose(_site(tr, "discriminator_y_x"), -B * d_loss, atol=1e-4)
    assert torch.allclose(_site(tr, "generator_y_x"), B * v_fake.mean(), atol=1e-4)


def test_importance_weighted_generator_site():
    """Hu et al. (2018), Eq. 16: -log D(x_i) weighted by D/(1 - D) normalised within each
    group of k = 4 consecutive samples; the factor is -B times its mean over the groups."""
    model, batch = _gan(importance_weights=4), _batch()
    tr = _trace(model, batch, 6)
    v_real, v_fake, _, _ = _critic(model, tr)
    d = torch.sigmoid(v_fake).reshape(2, 4)
    w = d / (1 - d)
    loss = (w / w.sum(1, keepdim=True) * -torch.log(d)).sum(1).mean()
    assert torch.allclose(_site(tr, "generator_y_x"), -B * loss, atol=1e-4)
    assert torch.allclose(_site(tr, "q_y_x"), -B * (F.softplus(-v_real).mean() + F.softplus(v_fake).mean()),
                          atol=1e-4)


def test_infogan_code_site_scores_the_judged_samples():
    """InfoGAN (Chen et al. 2016, Eq. 5): q(c|x) scores the code c on the very samples
    x = G(z, c) the adversary judges: sum_i log softmax(Q(x_i))[c_i]."""
    torch.manual_seed(0)
    info = unidgm.compile(build("infogan", x_shape=(1, 8, 8), noise_dim=4, categories=3, continuous=0, hidden=(16,)))
    G, Q, Dn = (info.nets[k] for k in ("generative_x", "inference_c", "adversarial_y_x"))
    batch = {"x": torch.rand(5, 1, 8, 8, generator=torch.Generator().manual_seed(1))}
    tr = _trace(info, batch, 3)
    x_fake, c = tr.nodes["x_fake"]["value"], tr.nodes["q_c"]["value"]
    torch.manual_seed(3)
    z = torch.randn(5, 4)
    c_drawn = F.one_hot(torch.distributions.Categorical(logits=torch.zeros(3)).sample((5,)), 3).float()
    assert torch.equal(c, c_drawn)  # the code from its uniform prior, drawn as the trace drew it
    assert torch.allclose(x_fake, G(torch.cat([z, c], -1)), atol=1e-5)  # x = G(z, c)
    assert tr.nodes["q_c"]["is_observed"]
    assert torch.allclose(_site(tr, "q_c"), (c * torch.log_softmax(Q(x_fake), -1)).sum(), atol=1e-4)
    v_real, v_fake = Dn(batch["x"]).squeeze(-1), Dn(x_fake).squeeze(-1)  # ns-gan with Chen et al.'s networks
    assert torch.allclose(_site(tr, "q_y_x"), -5 * (F.softplus(-v_real).mean() + F.softplus(v_fake).mean()),
                          atol=1e-4)
    assert torch.allclose(_site(tr, "generator_y_x"), -5 * F.softplus(-v_fake).mean(), atol=1e-4)
