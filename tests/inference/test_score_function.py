"""Latents without a reparameterization (categorical, bernoulli) get the score-function
gradient: averaged over many draws, the compiled loss's gradient equals the exact gradient
of the ELBO, computed here by enumerating the latent's values."""
import math

import torch
import torch.nn.functional as F
from torch import nn

import unidgm

K, D, N = 4, 6, 400000  # N draws: standard error of the mean gradient about 0.008


def _model(objective="elbo", **opts):
    torch.manual_seed(0)
    g = unidgm.Graph("discrete")
    g.visible("x", "bernoulli", shape=(D,))
    g.latent("c", "categorical", shape=(K,), prior="standard")
    g.generative("c", "x", nn.Linear(K, D))
    g.inference("x", "c", nn.Linear(D, K))
    return unidgm.compile(g, objective, **opts)


def _exact_elbo_grad(model, x):
    """d/dphi of sum_c q(c|x) [log p(x|c) + log p(c) - log q(c|x)] by enumeration."""
    model.zero_grad()
    enc, dec = model.nets["inference_c"], model.nets["generative_x"]
    logq = torch.log_softmax(enc(x), -1)                        # (1, K)
    eye = torch.eye(K)
    logpx = -F.binary_cross_entropy_with_logits(dec(eye), x.expand(K, D), reduction="none").sum(-1)  # (K,)
    elbo = (logq.exp() * (logpx - math.log(K) - logq)).sum()
    (-elbo).backward()
    return enc.bias.grad.clone(), dec.bias.grad.clone()


def _mc_grad(model, x):
    model.zero_grad()
    torch.manual_seed(1)
    model.loss({"x": x.expand(N, D)})["loss"].backward()      # the mean over N draws
    return model.nets["inference_c"].bias.grad.clone(), model.nets["generative_x"].bias.grad.clone()


def test_categorical_latent_gradient_is_unbiased():
    for kl in ("auto", "mc"):
        model = _model(kl=kl)
        x = torch.tensor([[1.0, 0, 1, 1, 0, 0]])
        exact_q, exact_p = _exact_elbo_grad(model, x)
        mc_q, mc_p = _mc_grad(model, x)
        assert exact_q.abs().max() > 0.01  # the inference network's gradient is not trivial
        # Without the score function the error is about 0.1 (the old, biased gradient).
        assert torch.allclose(mc_q, exact_q, atol=0.03), (kl, mc_q, exact_q)
        assert torch.allclose(mc_p, exact_p, atol=5e-3), (kl, mc_p, exact_p)


def test_the_loss_value_is_unchanged():
    model = _model(kl="mc")
    x = torch.bernoulli(torch.full((5, D), 0.5))
    torch.manual_seed(2)
    terms = model.loss({"x": x})
    assert torch.allclose(terms["loss"], -terms["elbo"])


def test_iwae_categorical_gradient_reaches_q():
    model = _model("iwae", k=3)
    x = torch.tensor([[1.0, 0, 1, 1, 0, 0]])
    mc_q, _ = _mc_grad(model, x)
    assert mc_q.abs().max() > 1e-3
