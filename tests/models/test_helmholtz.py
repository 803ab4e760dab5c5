"""The Helmholtz machine: its graph, its wake-sleep and RWS losses against hand-written
references (the graph's own networks, torch's distributions), the importance-sampled
log-likelihood of binary latents against enumeration, and the command line."""
import itertools
import json
import math

import torch
from torch.distributions import Bernoulli

import unidgm
from unidgm.cli import main
from unidgm.eval.likelihood import log_likelihood
from unidgm.models import build

X = (1, 8, 8)


def _data(n=5):
    g = torch.Generator().manual_seed(0)
    return torch.bernoulli(torch.rand((n,) + X, generator=g))


def _log_prob(logits, value):
    return Bernoulli(logits=logits).log_prob(value).sum(-1)


def test_graph_is_a_sigmoid_belief_net_with_a_recognition_network():
    g = build("helmholtz", x_shape=X, latent_dims=(16, 8, 4))
    assert [(n.name, n.family, n.shape, n.prior) for n in g.nodes.values()] == [
        ("x", "bernoulli", X, None), ("h1", "bernoulli", (16,), None), ("h2", "bernoulli", (8,), None),
        ("h3", "bernoulli", (4,), "learned")]
    assert {e.name for e in g.edges_of("generative")} == {"p(x|h1)", "p(h1|h2)", "p(h2|h3)"}
    assert {e.name for e in g.edges_of("inference")} == {"q(h1|x)", "q(h2|h1)", "q(h3|h2)"}
    # the plain SBN: every conditional is one logistic layer
    assert all(len([m for m in e.net if isinstance(m, torch.nn.Linear)]) == 1 for e in g.edges)
    assert build("helmholtz").objective == {"name": "wake-sleep"}
    assert build("helmholtz").nodes["h1"].shape == (200,)


def test_wake_sleep_reference():
    """Wake: -log p(x, h) at h ~ q(h|x); sleep: -log q(h|x) at (h, x) ~ p (Hinton et al. 1995)."""
    g = build("helmholtz", x_shape=X, latent_dims=(6, 4), hidden=(16,))
    nets = {e.key: e.net for e in g.edges}
    model = unidgm.compile(g)
    prior = model.learned_priors["h2"]
    x = _data()
    torch.manual_seed(0)
    terms = model.loss({"x": x})
    torch.manual_seed(0)
    flat = x.flatten(1)
    h1 = Bernoulli(logits=nets["inference_h1"](flat)).sample()
    h2 = Bernoulli(logits=nets["inference_h2"](h1)).sample()
    log_p = (_log_prob(prior.expand(5, 4), h2) + _log_prob(nets["generative_h1"](h2), h1)
             + _log_prob(nets["generative_x"](h1), flat))
    with torch.no_grad():
        d2 = Bernoulli(logits=prior.expand(5, 4)).sample()
        d1 = Bernoulli(logits=nets["generative_h1"](d2)).sample()
        dx = Bernoulli(logits=nets["generative_x"](d1)).sample()
    sleep = -(_log_prob(nets["inference_h1"](dx), d1) + _log_prob(nets["inference_h2"](d1), d2)).mean()
    assert torch.allclose(terms["wake"], -log_p.mean(), rtol=1e-5)
    assert torch.allclose(terms["sleep"], sleep, rtol=1e-5)
    assert torch.allclose(terms["loss"], -log_p.mean() + sleep, rtol=1e-5)


def test_reweighted_wake_sleep_reference():
    """Bornschein & Bengio (2015), Algorithm 1, with insomnia 0.5: wake-theta is the
    negative K-sample bound with q fixed, wake-phi the normalised weights times -log q, and
    sleep-phi -log q on a dream."""
    k = 5
    g = build("helmholtz", x_shape=X, latent_dims=(6,))
    nets = {e.key: e.net for e in g.edges}
    model = unidgm.compile(g, "rws", k=k)
    prior = model.learned_priors["h1"]
    x = _data()
    torch.manual_seed(0)
    terms = model.loss({"x": x})
    torch.manual_seed(0)
    flat = x.flatten(1)
    q_logits = nets["inference_h1"](flat)
    h = Bernoulli(logits=q_logits).sample((k,))                      # (k, B, 6)
    log_q = _log_prob(q_logits, h)
    x_logits = nets["generative_x"](h.reshape(-1, 6)).reshape(k, 5, -1)  # an MLP flattens all but one dim
    log_p = _log_prob(prior.expand_as(h), h) + _log_prob(x_logits, flat)
    log_w = log_p - log_q.detach()
    bound = torch.logsumexp(log_w, 0) - math.log(k)
    weights = torch.softmax(log_w.detach(), 0)
    with torch.no_grad():
        dh = Bernoulli(logits=prior.expand(5, 6)).sample()
        dx = Bernoulli(logits=nets["generative_x"](dh)).sample()
    sleep = -_log_prob(nets["inference_h1"](dx), dh).mean()
    assert torch.allclose(terms["wake_theta"], -bound.mean(), rtol=1e-5)
    assert torch.allclose(terms["wake_phi"], -(weights * log_q).sum(0).mean(), rtol=1e-5)
    assert torch.allclose(terms["sleep_phi"], sleep, rtol=1e-5)
    expected = -bound.mean() - 0.5 * (weights * log_q).sum(0).mean() + 0.5 * sleep
    assert torch.allclose(terms["loss"], expected, rtol=1e-5)


def test_importance_sampled_log_likelihood_of_binary_latents_matches_enumeration():
    """``unidgm eval``'s estimator with q as the proposal, against log p(x) summed over all
    2^4 states of the latent layer."""
    torch.manual_seed(0)
    model = unidgm.compile(build("helmholtz", x_shape=X, latent_dims=(4,)))
    with torch.no_grad():
        model.learned_priors["h1"].normal_(0, 1)
        for p in model.nets["generative_x"].parameters():
            p.mul_(3)
    x = _data(3)
    states = torch.tensor(list(itertools.product([0.0, 1.0], repeat=4)))  # (16, 4)
    with torch.no_grad():
        log_joint = (_log_prob(model.learned_priors["h1"].expand_as(states), states)[:, None]
                     + _log_prob(model.nets["generative_x"](states)[:, None, :], x.flatten(1)[None]))
    exact = torch.logsumexp(log_joint, 0).mean().item()
    torch.manual_seed(1)
    estimate = log_likelihood(model, {"x": x}, k=20000, chunk=5000)
    assert abs(estimate - exact) < 0.05, (estimate, exact)


def test_cli_trains_by_rws_and_evaluates_the_log_likelihood(tmp_path, capsys):
    out = tmp_path / "sbn"
    assert main(["train", "helmholtz", "--data", "digits", "--objective", "rws", "--k", "3", "--epochs", "1",
                 "--set", "latent_dims=(16,)", "--out", str(out), "--quiet"]) == 0
    assert json.loads((out / "run.json").read_text())["objective"] == "rws"
    capsys.readouterr()
    assert main(["eval", str(out), "--k", "20", "--limit", "50"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert math.isfinite(result["test_log_likelihood"]) and result["test_log_likelihood"] >= result["test_elbo"] - 1
