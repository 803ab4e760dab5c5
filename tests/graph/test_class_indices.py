"""Categorical nodes carried as class indices (``classes=K``): a grid of codes is integers,
the network emits logits of shape ``shape + (K,)``; densities against formulas written out."""
import math

import torch
import torch.nn.functional as F
from torch import nn

import unidgm
from unidgm.nets import MLP

S, K, X = 3, 5, 6  # 3 positions of 5 classes each; 6 pixels


class Logits(nn.Module):
    """x -> logits (B, S, K)."""

    def __init__(self):
        super().__init__()
        self.net = MLP(X, [8], S * K)

    def forward(self, x):
        return self.net(x).reshape(-1, S, K)


class Decoder(nn.Module):
    """codes (B, S) int64 -> logits of x, through an embedding: indices, not one-hot."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(K, 4)
        self.out = nn.Linear(S * 4, X)

    def forward(self, c):
        return self.out(self.embed(c).flatten(1))


def graph(prior="standard"):
    torch.manual_seed(0)
    g = unidgm.Graph("codes")
    g.visible("x", "bernoulli", shape=(X,))
    g.latent("c", "categorical", shape=(S,), classes=K, prior=prior)
    g.generative("c", "x", Decoder())
    g.inference("x", "c", Logits())
    return g


def test_values_are_indices_and_the_kl_is_the_categoricals():
    model = unidgm.compile(graph())
    x = torch.bernoulli(torch.full((4, X), 0.5))
    terms = model.loss({"x": x})
    logq = torch.log_softmax(model.nets["inference_c"](x), -1)  # (4, S, K)
    kl = (logq.exp() * (logq + math.log(K))).sum((-1, -2))  # KL(q(c|x) || uniform), summed over positions
    assert torch.allclose(terms["kl"], kl.mean(), atol=1e-5)
    samples = model.sample(7, mean=False)
    assert samples["c"].dtype == torch.long and samples["c"].shape == (7, S) and int(samples["c"].max()) < K
    terms["loss"].backward()  # the score function reaches q
    assert model.nets["inference_c"].net[0].weight.grad.abs().sum() > 0


def test_a_learned_prior_scores_indices():
    model = unidgm.compile(graph("learned"), kl="mc")
    with torch.no_grad():
        model.learned_priors["c"].copy_(torch.randn(S, K))
    c = torch.tensor([[0, 4, 2], [1, 1, 3]])
    logp = torch.log_softmax(model.learned_priors["c"], -1).expand(2, S, K)
    expected = logp.gather(-1, c.unsqueeze(-1)).squeeze(-1).sum(-1)
    assert torch.allclose(model.log_p("c", {"c": c}), expected, atol=1e-6)


def test_a_visible_node_of_class_indices():
    torch.manual_seed(0)
    g = unidgm.Graph("labels")
    g.visible("y", "categorical", shape=(S,), classes=K)
    g.latent("z", "normal", shape=(2,), prior="standard")
    g.generative("z", "y", nn.Sequential(nn.Linear(2, S * K), nn.Unflatten(1, (S, K))))
    g.inference("y", "z", nn.Sequential(nn.Embedding(K, 2), nn.Flatten(), nn.Linear(S * 2, 4)))
    model = unidgm.compile(g)
    y = torch.tensor([[0, 1, 2], [4, 4, 0]])
    torch.manual_seed(1)
    terms = model.loss({"y": y})
    torch.manual_seed(1)
    loc, log_scale = model.nets["inference_z"](y).chunk(2, -1)
    z = loc + log_scale.exp() * torch.randn_like(loc)
    logits = model.nets["generative_y"](z)
    nll = F.cross_entropy(logits.reshape(-1, K), y.reshape(-1), reduction="none").reshape(2, S).sum(-1)
    assert torch.allclose(terms["reconstruction"], nll.mean(), atol=1e-5)


def test_the_pyro_view_and_the_refused_relaxation():
    import pytest
    from pyro import poutine

    model = unidgm.compile(graph(), kl="mc")
    x = torch.bernoulli(torch.full((4, X), 0.5))
    guide = poutine.trace(model.pyro_guide).get_trace({"x": x})
    assert guide.nodes["c"]["value"].dtype == torch.long and guide.nodes["c"]["value"].shape == (4, S)
    model_trace = poutine.trace(poutine.replay(model.pyro_model, trace=guide)).get_trace({"x": x})
    model_trace.compute_log_prob()
    assert torch.isfinite(model_trace.log_prob_sum())
    g = graph()
    with pytest.raises(unidgm.GraphError, match="carries class indices"):
        unidgm.compile(g, estimators={"c": "gumbel"})
