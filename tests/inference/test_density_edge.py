"""A density edge: a generative edge whose network scores and draws its child itself
(``density=True``), an autoregressive prior over a grid of codes. log p, the ELBO's Monte
Carlo KL, sampling, particles, PriorFit and the refusals, against the network called directly."""
import pytest
import torch
from torch import nn

import unidgm
from unidgm.errors import GraphError
from unidgm.inference.terms import PriorFit
from unidgm.nets import CausalTransformer, GatedPixelCNN

K, H, W, X = 3, 2, 2, 8


class Decoder(nn.Module):
    """p(x|c): the codes embedded and flattened to logits of x."""

    def __init__(self):
        super().__init__()
        self.embed, self.out = nn.Embedding(K, 4), nn.Linear(4 * H * W, X)

    def forward(self, c):
        return self.out(self.embed(c).flatten(1))


def graph(prior=None):
    torch.manual_seed(0)
    g = unidgm.Graph("codes")
    g.visible("x", "bernoulli", (X,))
    g.latent("c", "categorical", (H, W), classes=K)
    g.generative([], "c", prior or GatedPixelCNN(K, channels=8, layers=2), density=True, name="prior_c")
    g.generative("c", "x", Decoder())
    g.inference("x", "c", nn.Linear(X, H * W * K))
    return g


def test_log_p_is_the_networks_log_prob_and_the_kl_is_monte_carlo():
    g = graph()
    model = unidgm.compile(g)
    prior = g.edge_into("c", "generative").net
    c = torch.randint(0, K, (5, H, W))
    assert torch.allclose(model.log_p("c", {"c": c}), prior.log_prob(c))
    x = torch.rand(5, X).round()
    torch.manual_seed(1)
    terms = model.loss({"x": x})
    # the same draw of c ~ q(c|x): KL = log q(c|x) - log p(c), the prior's own log_prob
    torch.manual_seed(1)
    logits = g.edge_into("c", "inference").net(x).reshape(5, H, W, K)
    c = torch.distributions.Categorical(logits=logits).sample()
    log_q = torch.log_softmax(logits, -1).gather(-1, c.unsqueeze(-1)).squeeze(-1).sum((1, 2))
    assert torch.allclose(terms["kl"], (log_q - prior.log_prob(c)).mean(), atol=1e-5)
    assert "E_q(c|x)[log q(c|x) - log p(c)]" in model.formula().text  # Monte Carlo: no closed form


def test_it_samples_codes_and_particles():
    model = unidgm.compile(graph())
    s = model.sample(6)
    assert s["c"].shape == (6, H, W) and s["c"].dtype == torch.long and 0 <= s["c"].min() and s["c"].max() < K
    assert s["x"].shape == (6, X)
    iwae = unidgm.compile(graph(), "iwae", k=3)
    assert torch.isfinite(iwae.loss({"x": torch.rand(4, X).round()})["loss"])


def test_prior_fit_trains_the_prior_network_over_held_codes():
    g = graph()
    model = unidgm.compile(g, terms=[PriorFit("c")])
    prior = g.edge_into("c", "generative").net
    assert {id(p) for p in model.parameter_groups()["prior_c"]} == {id(p) for p in prior.parameters()}
    model.loss({"x": torch.rand(4, X).round()}, "prior")["prior_fit_c"].backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in prior.parameters())
    assert g.edge_into("c", "inference").net.weight.grad is None


def test_a_transformer_over_a_flat_code_sequence():
    torch.manual_seed(0)
    g = unidgm.Graph("tokens")
    g.visible("x", "bernoulli", (X,))
    g.latent("c", "categorical", (H * W,), classes=K)
    prior = CausalTransformer(K, H * W, d_model=8, heads=2, layers=1)
    g.generative([], "c", prior, density=True)
    g.generative("c", "x", nn.Sequential(nn.Embedding(K, 2), nn.Flatten(), nn.Linear(2 * H * W, X)))
    g.inference("x", "c", nn.Linear(X, H * W * K))
    model = unidgm.compile(g)
    c = torch.randint(0, K, (3, H * W))
    assert torch.allclose(model.log_p("c", {"c": c}), prior.log_prob(c))
    assert model.sample(2)["c"].shape == (2, H * W)


def test_refusals_name_the_edge_and_the_fix():
    g = unidgm.Graph("bad")
    g.visible("x", "bernoulli", (X,))
    g.latent("c", "categorical", (H, W), classes=K)
    with pytest.raises(GraphError, match=r"density=True needs a network with log_prob.*Linear lacks log_prob and "
                                         r"sample"):
        g.generative([], "c", nn.Linear(1, 1), density=True)
    with pytest.raises(GraphError, match="cannot be deterministic"):
        g.generative([], "c", GatedPixelCNN(K), density=True, deterministic=True)
    g.generative([], "c", GatedPixelCNN(K + 1, channels=8, layers=1), density=True)
    g.generative("c", "x", Decoder())
    g.inference("x", "c", nn.Linear(X, H * W * K))
    model = unidgm.compile(g)  # codes of K classes fit a prior of K + 1
    with pytest.raises(GraphError, match="Pyro bridge has no distribution"):
        model.pyro_model({"x": torch.rand(2, X).round()})
