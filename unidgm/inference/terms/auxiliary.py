"""An auxiliary loss a network returns beside its node's value (:class:`~unidgm.nets.Output`).

A vector quantizer's codebook and commitment losses (van den Oord et al. 2017, Eq. 3:
``||sg[z_e(x)] - e||^2`` and ``beta ||z_e(x) - sg[e]||^2``) are computed by the network in
the same pass that quantizes; this term reads one of them from the edge's output on the
trace's run of its inference process, per example (averaged over the batch) or as the
scalar the network gave, and weighs it into its phase's loss like any term.
"""
from __future__ import annotations

from ...errors import GraphError
from .base import Term


class AuxiliaryLoss(Term):
    """``aux[key]`` of the edge of ``process`` into ``node``, batch mean.

    Args:
        key: the key in the network's ``Output.aux``.
        node: the latent the edge explains.
        process: the inference process the edge belongs to (``"q"``).
        weight, phase: see :class:`~unidgm.inference.terms.base.Term`; the name defaults to ``key``.
    """

    def __init__(self, key: str, node: str, process: str = "q", weight: float = 1.0, phase: str | None = None,
                 name: str | None = None):
        super().__init__(name or key, weight, phase)
        self.key, self.node, self.process = key, node, process

    def bind(self, model) -> None:
        factor = next((f for f in model.processes.get(self.process, ()) if f.child == self.node), None)
        if factor is None:
            raise GraphError(f"term '{self.name}': process '{self.process}' has no edge into '{self.node}'; "
                             f"auxiliary losses are read from an inference edge's network")
        keys = factor.aux_keys()
        if self.key not in keys:
            raise GraphError(f"term '{self.name}': the network of {factor.edge.name} returns "
                             f"{'aux keys ' + ', '.join(map(repr, keys)) if keys else 'no auxiliary losses'}, not "
                             f"{self.key!r}; return unidgm.nets.Output(value, aux={{{self.key!r}: ...}})")
        self.edge = factor.edge.name

    def forward(self, trace):
        value = trace.q_params(process=self.process)[self.node].aux[self.key]
        return value.mean() if value.dim() else value

    def describe(self, model):
        text = f"E_data[{self.key}({self.edge})]"
        latex = rf"\mathbb{{E}}_{{\mathrm{{data}}}}[\mathrm{{{self.key}}}]"
        return text, latex
