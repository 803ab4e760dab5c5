"""A network may return a fixed structure, ``unidgm.nets.Output(value, aux)``: the family
reads the value, and AuxiliaryLoss terms weigh the auxiliary losses into the loss (a vector
quantizer's codebook and commitment terms, van den Oord et al. 2017, Eq. 3)."""
import pytest
import torch
from torch import nn

import unidgm
from unidgm.errors import GraphError
from unidgm.inference.terms import AuxiliaryLoss
from unidgm.nets import Output

X, D, K = 6, 2, 4


class Quantizer(nn.Module):
    """Encoder then nearest-codebook lookup with the straight-through gradient."""

    def __init__(self):
        super().__init__()
        self.encoder = nn.Linear(X, D)
        self.codebook = nn.Parameter(torch.randn(K, D))

    def forward(self, x):
        z_e = self.encoder(x)
        e = self.codebook[torch.cdist(z_e, self.codebook).argmin(-1)]
        aux = {"codebook": ((z_e.detach() - e) ** 2).sum(-1), "commitment": ((z_e - e.detach()) ** 2).sum(-1)}
        return Output(z_e + (e - z_e).detach(), aux)


def graph():
    torch.manual_seed(0)
    g = unidgm.Graph("vq")
    g.visible("x", "bernoulli", (X,))
    g.latent("z", "normal", (D,))
    g.generative("z", "x", nn.Linear(D, X))
    g.inference("x", "z", Quantizer(), deterministic=True)
    return g


def test_the_loss_adds_the_weighted_auxiliary_losses():
    g = graph()
    model = unidgm.compile(g, "elbo", terms=[AuxiliaryLoss("codebook", "z"),
                                             AuxiliaryLoss("commitment", "z", weight=0.25)])
    x = torch.rand(5, X).round()
    terms = model.loss({"x": x})
    q = g.edge_into("z", "inference").net
    dec = g.edge_into("x", "generative").net
    z_e = q.encoder(x)
    e = q.codebook[torch.cdist(z_e, q.codebook).argmin(-1)]
    logits = dec(e)
    rec = nn.functional.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1).mean()
    codebook = ((z_e - e) ** 2).sum(-1).mean()
    assert torch.allclose(terms["reconstruction"], rec, atol=1e-5)
    assert torch.allclose(terms["codebook"], codebook, atol=1e-6)
    assert torch.allclose(terms["loss"], rec + 1.25 * codebook, atol=1e-5)
    terms["loss"].backward()
    assert q.codebook.grad.abs().sum() > 0 and q.encoder.weight.grad.abs().sum() > 0
    assert {"codebook", "commitment"} <= set(model.formula().names)


def test_an_unknown_key_and_a_bad_output_are_refused():
    with pytest.raises(GraphError, match=r"returns aux keys 'codebook', 'commitment', not 'perplexity'"):
        unidgm.compile(graph(), "elbo", terms=[AuxiliaryLoss("perplexity", "z")])

    class Bad(nn.Module):
        def forward(self, x):
            return x[:, :D], {"a": x}

    g = unidgm.Graph("bad")
    g.visible("x", "bernoulli", (X,))
    g.latent("z", "normal", (D,))
    g.generative("z", "x", nn.Linear(D, X))
    g.inference("x", "z", Bad(), deterministic=True)
    with pytest.raises(GraphError, match=r"one tensor or a unidgm.nets.Output"):
        unidgm.compile(g)
