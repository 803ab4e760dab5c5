"""A distance between a node's value in the data and under another source: an L1 or
squared-L2 reconstruction error.

Implicit models (deterministic decoders, no density to score) reconstruct by distance. The
variational Wyner model's reconstruction terms (Ryu et al. 2022; the authors' code,
``loss_l1``) are L1 distances between each view and its reconstruction through one of the
encoders, averaged over the elements and the batch::

    E_data[ mean_i |x_i - x_hat_i| ],   x_hat = the node's value under ``source``

for example ``source=Reconstruction("q_x")`` (q_x's latents decoded by p's means) for the
reconstruction of x, or of y, from x alone.
"""
from __future__ import annotations

from ...errors import ConfigError, GraphError
from ..sources import Reconstruction, source_label
from .base import Term

NORMS = ("l1", "l2")


class Distance(Term):
    """``mean |data[node] - source[node]|`` (``norm="l1"``) or its square (``"l2"``), over
    the node's elements and the batch.

    Args:
        node: a visible node the batch gives.
        source: where the compared value comes from (a name or a source object, see
            :meth:`~unidgm.inference.sources.Trace.source`), e.g. ``Reconstruction("q_x")``.
        norm: ``"l1"`` (default) or ``"l2"``.
        name, weight, phase: see :class:`~unidgm.inference.terms.base.Term` (default name
            ``distance_<node>``; phase: the objective's last).
    """

    def __init__(self, node: str, source="reconstruction", norm: str = "l1", name: str | None = None,
                 weight: float = 1.0, phase: str | None = None):
        super().__init__(name or f"distance_{node}", weight, phase)
        if norm not in NORMS:
            raise ConfigError(f"term '{self.name}': norm={norm!r}; use one of {', '.join(NORMS)}")
        self.node, self.source, self.norm = node, source, norm

    def bind(self, model) -> None:
        from .density_ratio import _check_source

        node = model.graph.nodes.get(self.node)
        if node is None or node.role != "visible":
            raise GraphError(f"term '{self.name}': '{self.node}' is not a visible node of graph "
                             f"'{model.graph.name}'; name a node the batch gives")
        _check_source(self.name, self.source, model)
        if isinstance(self.source, Reconstruction) and self.node in model.generative:
            process = "q" if self.source.process == "inference" else self.source.process
            inferred = {f.child for f in model.processes.get(process, ())}
            missing = [p for p in model.generative[self.node].parents
                       if model.graph.nodes[p].role == "latent" and p not in inferred]
            if missing:
                raise GraphError(f"term '{self.name}': process '{process}' does not infer '{missing[0]}', a parent "
                                 f"of '{self.node}', so it cannot reconstruct '{self.node}'; add "
                                 f"g.inference(<parents>, '{missing[0]}', net, process='{process}')")

    def forward(self, trace):
        target = trace.values("data")[self.node]
        diff = trace.source(self.source)[self.node] - target
        return (diff.abs() if self.norm == "l1" else diff.pow(2)).mean()

    def describe(self, model):
        from .density_ratio import _tex

        x, src = self.node, source_label(self.source)
        sub = rf"_{{\mathrm{{{_tex(src)}}}}}"
        if self.norm == "l1":
            return (f"E_data[mean |{x} - {x}_hat|], {x}_hat from {src}",
                    rf"\mathbb{{E}}_{{\mathrm{{data}}}}|{x} - \hat{{{x}}}|{sub}")
        return (f"E_data[mean ({x} - {x}_hat)^2], {x}_hat from {src}",
                rf"\mathbb{{E}}_{{\mathrm{{data}}}}({x} - \hat{{{x}}})^2{sub}")
