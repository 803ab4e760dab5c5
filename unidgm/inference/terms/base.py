"""A term: one named scalar of an objective, computed from the sources of one trace.

DESIGN, "The engine's shape", 3: an objective is a weighted sum of terms. A term carries
its name (its key in ``model.loss(batch)``), its weight in its phase's loss (0: computed and
reported, not minimised), the phase it is minimised in, the parameter groups that phase
updates, and its own piece of the formula. ``unidgm.compile(graph, objective, terms=[...])``
adds a user's terms to an objective's (``terms=`` alone: the objective is just those terms).

A term may own networks of its own (a density-ratio critic): it is an ``nn.Module``, the
compiled model holds it, and its parameters form the group ``term_<name>``.

Subclasses fill :meth:`bind` (compile-time checks against the compiled model, raising
``GraphError`` naming the node and the fix), :meth:`forward` (the hot path: a
:class:`~unidgm.inference.sources.Trace` in, a scalar out) and :meth:`describe` (the term in
text and LaTeX, from the same plan ``forward`` runs).
"""
from __future__ import annotations

from torch import nn

from ...errors import ConfigError


class Term(nn.Module):
    """Base class of terms.

    Args:
        name: the term's key in ``model.loss(batch)``.
        weight: its weight in its phase's loss; 0 reports it without minimising it.
        phase: the phase whose loss it joins; None: the objective's (last) phase.
        groups: the parameter groups that phase updates, for a phase the objective lacks.
    """

    def __init__(self, name: str, weight: float = 1.0, phase: str | None = None, groups: tuple = ()):
        super().__init__()
        if not isinstance(name, str) or not name.isidentifier():
            raise ConfigError(f"term name {name!r} must be a Python identifier (it is a key of model.loss)")
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or weight < 0:
            raise ConfigError(f"term '{name}': weight={weight!r} must be a number >= 0 (0 reports the term "
                              f"without minimising it)")
        self.name, self.weight, self.phase, self.groups = name, float(weight), phase, tuple(groups)

    def bind(self, model) -> None:
        """Checks the compiled model has what the term reads."""

    def forward(self, trace):  # pragma: no cover - interface
        raise NotImplementedError

    def describe(self, model) -> tuple[str, str]:  # pragma: no cover - interface
        """``(text, latex)`` of the term."""
        raise NotImplementedError
