"""The objective interface: named terms, and the phases in which they are minimised.

An objective turns a compiled model's shared trace (q's samples, p's log-densities) into a
dict of named scalar terms, always with ``"loss"``. Its ``phases`` say which parameter
groups each loss updates and in which alternating order, so the one Trainer can run the
ELBO (one phase), adversarial games (a discriminator phase and a generator phase) and
wake-sleep (a wake phase and a sleep phase) alike.

Each objective's options are declared in its parameters' annotations and checked on every
call (:mod:`unidgm.options`).
"""
from __future__ import annotations

from dataclasses import dataclass

from .formula import Formula  # noqa: F401  (the type describe() returns)


@dataclass(frozen=True)
class Phase:
    """One alternating phase of training.

    Attributes:
        name: e.g. ``"elbo"``, ``"discriminator"``, ``"wake"``.
        groups: the parameter groups (see ``CompiledModel.parameter_groups``) it updates.
        loss: the key of the terms dict it minimises.
        steps: optimizer steps of this phase per training step.
    """

    name: str
    groups: tuple[str, ...]
    loss: str = "loss"
    steps: int = 1


class Objective:
    """Base class of objectives. Subclasses set ``name`` and ``phases`` and fill
    :meth:`bind` (compile-time checks and planning) and :meth:`terms` (the hot path)."""

    name: str = ""
    phases: list[Phase] = []
    #: the validation term that picks the best checkpoint (None: keep the last)
    monitor: str | None = "elbo"
    #: optimizer settings the objective trains best with (overridable in TrainConfig)
    optimizer_defaults: dict = {}
    #: whether it reads the labels of partially observed latents (``g.latent(...,
    #: partially_observed=True)``); compiling such a graph with another objective is refused
    supports_partially_observed: bool = False

    def __init__(self):
        #: the global training step, set by ``CompiledModel.set_schedule_step``
        self.step = 0

    def bind(self, model) -> None:
        """Checks the compiled model suits this objective and plans the terms; raises
        GraphError naming the node or edge at fault."""

    def terms(self, model, batch: dict) -> dict:  # pragma: no cover - interface
        raise NotImplementedError

    def describe(self, model) -> "Formula":  # pragma: no cover - interface
        """The objective as a :class:`~unidgm.inference.formula.Formula`, term by term,
        derived from the plan ``bind`` built (the same plan ``terms`` runs)."""
        raise NotImplementedError(f"objective '{self.name}' does not describe itself yet")

    def __repr__(self) -> str:
        return self.name


def require_likelihoods(model, who: str) -> None:
    """Checks every visible node a generative edge explains has a density, as ``who`` (e.g.
    "the ELBO", "the wake phase") needs; raises GraphError naming the edge and the fix."""
    from ..errors import GraphError

    if not model.likelihoods:
        raise GraphError(f"graph '{model.graph.name}' has no visible node explained by a generative edge, so "
                         f"{who} has no likelihood; add g.generative(<parents>, <visible node>, net)")
    for f in model.likelihoods:
        if f.deterministic:
            raise GraphError(f"edge {f.edge.name} is deterministic, so visible '{f.child}' has no likelihood for "
                             f"{who}; make the edge stochastic (drop deterministic=True)")
