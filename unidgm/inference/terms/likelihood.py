"""The reconstruction term: the negative log-likelihood of the visible nodes.

For each visible node x that a stochastic generative edge explains, at the values of a
source (q's latents inferred from the data, by default: the ELBO's and the autoencoders'
reconstruction; Kingma & Welling 2014, Eq. 3, its first term)::

    -E_q(z|x)[ log p_theta(x | z) ]

per example, summed over the nodes. With several nodes, each one's part is reported as
``<name>_<node>``.
"""
from __future__ import annotations

from ...errors import GraphError
from .base import Term


class Likelihood(Term):
    """``-log p(x | parents)`` per example, summed over visible nodes with a likelihood.

    Args:
        name: the key (``"reconstruction"``).
        weight, phase: see :class:`~unidgm.inference.terms.base.Term`.
        source: the process whose values the likelihoods score (``"inference"``: q on the data).
        nodes: the visible nodes scored; None: every one a stochastic generative edge explains.
        report_parts: report each node's part when there are several.
    """

    per_example = True

    def __init__(self, name: str = "reconstruction", weight: float = 1.0, phase: str | None = None,
                 source: str = "inference", nodes: tuple | None = None, report_parts: bool = True):
        super().__init__(name, weight, phase)
        self.source, self.nodes, self.report_parts = source, nodes, report_parts
        self.factors: list = []

    def bind(self, model) -> None:
        factors = [f for f in model.likelihoods if not f.deterministic]
        if self.nodes is not None:
            known = {f.child: f for f in factors}
            missing = [n for n in self.nodes if n not in known]
            if missing:
                raise GraphError(f"term '{self.name}': '{missing[0]}' is not a visible node with a stochastic "
                                 f"generative edge; declare g.generative(<parents>, '{missing[0]}', net)")
            factors = [known[n] for n in self.nodes]
        self.factors = factors

    def keys(self):
        if self.report_parts and len(self.factors) > 1:
            return (self.name,) + tuple(f"{self.name}_{f.child}" for f in self.factors)
        return (self.name,)

    def forward(self, trace):
        values = trace.values(self.source)
        total, parts = None, {}
        for f in self.factors:
            nll = -f.log_prob(f.params(values), values[f.child])
            total = nll if total is None else total + nll
            parts[f.child] = nll
        if self.report_parts and len(parts) > 1:
            out = {f"{self.name}_{n}": v for n, v in parts.items()}
            out[self.name] = total
            return out
        return total

    def describe(self, model):
        from ..formula import Notation

        return tuple(Notation(model.graph, latex).reconstruction(self.factors) for latex in (False, True))
