"""Importance-sampled log-likelihood against a closed form, and the pictures."""
import math

import torch
from torch import nn

import unidgm
from unidgm.data import load
from unidgm.eval import elbo, log_likelihood, write_reconstructions, write_samples, write_traversal
from unidgm.models import build


def _linear_gaussian(exact_posterior: bool):
    """z ~ N(0, 1), x | z ~ N(w z, s^2) in 1-D: p(x) = N(0, w^2 + s^2) and the posterior
    is N(w x / (w^2 + s^2), s^2 / (w^2 + s^2))."""
    w, s = 2.0, 0.5
    dec, enc = nn.Linear(1, 2), nn.Linear(1, 2)
    with torch.no_grad():
        dec.weight.copy_(torch.tensor([[w], [0.0]]))
        dec.bias.copy_(torch.tensor([0.0, math.log(s)]))
        v = w * w + s * s
        enc.weight.copy_(torch.tensor([[w / v if exact_posterior else 0.3], [0.0]]))
        enc.bias.copy_(torch.tensor([0.0, 0.5 * math.log(s * s / v) + (0.0 if exact_posterior else 0.4)]))
    g = unidgm.Graph("lg")
    g.visible("x", "normal", shape=(1,))
    g.latent("z", "normal", shape=(1,), prior="standard")
    g.generative("z", "x", dec)
    g.inference("x", "z", enc)
    return unidgm.compile(g), math.sqrt(w * w + s * s)


def test_exact_posterior_gives_the_exact_marginal():
    model, sd = _linear_gaussian(exact_posterior=True)
    x = torch.linspace(-3, 3, 11).unsqueeze(1)
    exact = torch.distributions.Normal(0.0, sd).log_prob(x).mean().item()
    assert math.isclose(log_likelihood(model, {"x": x}, k=7, chunk=3), exact, rel_tol=1e-5)
    assert math.isclose(elbo(model, {"x": x}), exact, rel_tol=1e-5)


def test_estimate_tightens_with_k_and_stays_below():
    model, sd = _linear_gaussian(exact_posterior=False)
    x = torch.linspace(-3, 3, 50).unsqueeze(1)
    exact = torch.distributions.Normal(0.0, sd).log_prob(x).mean().item()
    torch.manual_seed(0)
    e = elbo(model, {"x": x})
    estimates = []
    for k in (1, 10, 1000):
        torch.manual_seed(0)
        estimates.append(log_likelihood(model, {"x": x}, k=k, chunk=64))
    assert e < estimates[1] < estimates[2] <= exact + 1e-3
    assert abs(estimates[2] - exact) < 0.02


def test_pictures_are_pngs(tmp_path):
    data = load("digits")
    model = unidgm.compile(build("vae", x_shape=(1, 8, 8), latent_dim=3, hidden=(16,)))
    for fn, name in ((write_samples, "s"), (write_reconstructions, "r"), (write_traversal, "t")):
        path = fn(model, tmp_path / f"{name}.png", data.test)
        assert path.read_bytes()[:4] == b"\x89PNG"
    toy = load("ring8")
    m2 = unidgm.compile(build("vae", x_shape=(2,), x_family="normal", latent_dim=2, hidden=(16,)))
    assert write_samples(m2, tmp_path / "ring.png", toy.test).read_bytes()[:4] == b"\x89PNG"


def test_grey_images_under_a_bernoulli_likelihood_are_refused():
    import pytest

    data = load("digits", binarize="dynamic")
    model = unidgm.compile(build("vae", x_shape=(1, 8, 8), latent_dim=2, hidden=(8,)))
    grey = {"x": data.test["x"][:20]}  # grey values: the split before binarization
    for measure in (log_likelihood, elbo):
        with pytest.raises(unidgm.DataError, match=r"data\['x'\] holds values other than 0 and 1.*data\.prepare"):
            measure(model, grey) if measure is elbo else measure(model, grey, k=2)
    torch.manual_seed(0)
    assert math.isfinite(log_likelihood(model, data.prepare(grey), k=2))
