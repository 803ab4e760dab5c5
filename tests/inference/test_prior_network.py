"""A prior as a network: a generative edge with no parents, p_theta(z) = net(), is part of
p like any edge: its KL is the closed form against the network's Gaussian, its parameters
are the edge's group, it samples, it fits in a stage of its own, and the diagram labels it."""
import math

import torch
from torch import nn

import unidgm
from unidgm.inference.terms import PriorFit

X, Z = 6, 2


class PriorNet(nn.Module):
    """Loc and log-scale of p(z) from nothing but the batch size (a (B, 0) input)."""

    def __init__(self):
        super().__init__()
        self.params = nn.Parameter(torch.tensor([0.5, -1.0, 0.3, -0.2]))
        self.seen = []

    def forward(self, empty):
        self.seen.append(tuple(empty.shape))
        return self.params.expand(empty.shape[0], 2 * Z)


def graph():
    torch.manual_seed(0)
    g = unidgm.Graph("prior_net")
    g.visible("x", "bernoulli", (X,))
    g.latent("z", "normal", (Z,))
    g.generative([], "z", PriorNet(), name="prior_z")
    g.generative("z", "x", nn.Linear(Z, X))
    g.inference("x", "z", nn.Linear(X, 2 * Z))
    return g


def test_the_kl_is_the_closed_form_against_the_networks_gaussian():
    g = graph()
    model = unidgm.compile(g)
    x = torch.rand(5, X).round()
    terms = model.loss({"x": x})
    enc = g.edge_into("z", "inference").net
    out = enc(x)
    mu_q, log_s_q = out[:, :Z], out[:, Z:]
    prior = g.edge_into("z", "generative").net.params.detach()
    mu_p, log_s_p = prior[:Z], prior[Z:]
    # KL(N(mu_q, s_q^2) || N(mu_p, s_p^2)) = log s_p/s_q + (s_q^2 + (mu_q - mu_p)^2) / (2 s_p^2) - 1/2
    kl = (log_s_p - log_s_q + ((2 * log_s_q).exp() + (mu_q - mu_p) ** 2) / (2 * (2 * log_s_p).exp()) - 0.5).sum(-1)
    assert torch.allclose(terms["kl"], kl.mean(), atol=1e-5)
    terms["loss"].backward()
    assert g.edge_into("z", "generative").net.params.grad.abs().sum() > 0
    assert (5, 0) in g.edge_into("z", "generative").net.seen


def test_it_samples_and_scores_particles():
    g = graph()
    model = unidgm.compile(g)
    torch.manual_seed(1)
    z = model.sample(4000)["z"]
    prior = g.edge_into("z", "generative").net.params.detach()
    assert torch.allclose(z.mean(0), prior[:Z], atol=0.05)
    assert torch.allclose(z.std(0), prior[Z:].exp(), atol=0.05)
    iwae = unidgm.compile(g, "iwae", k=3)
    assert torch.isfinite(iwae.loss({"x": torch.rand(5, X).round()})["loss"])


def test_its_parameters_are_the_edges_group_and_prior_fit_trains_them():
    g = graph()
    model = unidgm.compile(g, terms=[PriorFit("z")])
    groups = model.parameter_groups()
    net = g.edge_into("z", "generative").net
    assert [p for p in groups["prior_z"]] == [net.params]
    assert any(p is net.params for p in groups["generative"])
    fit = model.loss({"x": torch.rand(5, X).round()}, "prior")["prior_fit_z"]
    fit.backward()
    assert net.params.grad.abs().sum() > 0
    assert g.edge_into("z", "inference").net.weight.grad is None  # q's codes are held fixed


def test_the_diagram_and_the_formula_name_it():
    g = graph()
    model = unidgm.compile(g)
    from unidgm.viz.diagram import diagram_spec

    spec = diagram_spec(g)
    assert "p_θ(z)" in spec["nodes"]["z"]["attrs"]["xlabel"]
    assert "KL(q(z|x) || p(z))" in model.formula().text
    assert math.isfinite(float(model.loss({"x": torch.rand(2, X).round()})["elbo"]))
