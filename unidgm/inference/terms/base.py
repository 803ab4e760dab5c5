"""A term: one named scalar of an objective, computed from the sources of one trace.

DESIGN, "The engine's shape", 3: an objective is a weighted sum of terms. A term carries
its name (its key in ``model.loss(batch)``), its weight in its phase's loss (0: computed and
reported, not minimised), the phase it is minimised in, the parameter groups that phase
updates, and its own piece of the formula. The named objectives assemble their terms from
the graph (:meth:`~unidgm.inference.objective.Objective.assemble`);
``unidgm.compile(graph, objective, terms=[...])`` adds a user's (``terms=`` alone: the
objective is just those terms).

How a phase's loss is summed (:meth:`~unidgm.inference.objective.Objective.terms`): the
term whose name is the phase's loss key (a discriminator's ``discriminator``) is that loss;
every other term with a weight joins it as ``weight_t * value`` (``-weight_t * value`` for a
term that reports a bound it maximises, ``maximise = True``), where ``weight_t`` is the weight's
schedule at the step (joining even where it is 0 at that step); a term of weight 0 is computed
and reported but joins no loss. Terms with ``per_example =
True`` return one value per example (and particle); the phase sums them first, so that a
score-function draw of the trace gets the whole per-example cost as its learning signal
(``Trace.surrogate``), then averages, then adds the scalar terms. Their key reports the
batch mean.

A term may own networks of its own (a density-ratio critic): it is an ``nn.Module``, the
compiled model holds it, and its parameters form the group ``term_<name>``.

Subclasses fill :meth:`bind` (compile-time checks against the compiled model, raising
``GraphError`` naming the node and the fix), :meth:`forward` (the hot path: a
:class:`~unidgm.inference.sources.Trace` in, a tensor out, or a dict of the term's value
under its name plus the parts it reports under :meth:`keys`) and :meth:`describe` (the term
in text and LaTeX, from the same plan ``forward`` runs).
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

    #: forward returns one value per example (and particle), summed into the phase's
    #: per-example cost before the batch mean
    per_example: bool = False
    #: the value is a bound the phase maximises: its loss takes ``-weight * value``
    maximise: bool = False
    #: computed only when every phase is (evaluation, ``model.loss(batch)``), not in training
    diagnostic: bool = False
    #: weighed by its own ``balance(rest, value)`` against the rest of its phase's loss (an
    #: adaptive weight, Esser et al. 2021, Eq. 7), reported under ``weight_key``
    balanced: bool = False

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

    def keys(self) -> tuple[str, ...]:
        """The keys the term reports in ``model.loss(batch)``: its name, then any parts."""
        return (self.name,)

    def weight_at(self, step: int) -> float:
        """The weight at training step ``step`` (a schedule overrides it; see :class:`Scheduled`)."""
        return self.weight

    def weight_label(self):
        """The weight as the formula shows it: a number, or a symbol defined in :meth:`where`."""
        return self.weight

    def where(self) -> tuple[str, str]:
        """Definitions the term's formula needs beyond its symbols, ``(text, latex)``."""
        return "", ""

    def forward(self, trace):  # pragma: no cover - interface
        raise NotImplementedError

    def describe(self, model) -> tuple[str, str]:  # pragma: no cover - interface
        """``(text, latex)`` of the term."""
        raise NotImplementedError

    def extra_repr(self) -> str:
        return f"name={self.name!r}, weight={self.weight:g}, phase={self.phase!r}"


class Report(Term):
    """A reported combination of terms computed before it: ``sign * sum of their values``
    (the ELBO as ``-(reconstruction + kl)``). Weight 0: it is never minimised."""

    def __init__(self, name: str, of: tuple, sign: float = -1.0, phase: str | None = None):
        super().__init__(name, 0.0, phase)
        self.of, self.sign = tuple(of), float(sign)

    def forward(self, trace):
        total = trace.reported[self.of[0]]
        for n in self.of[1:]:
            total = total + trace.reported[n]
        return -total if self.sign == -1.0 else self.sign * total

    def describe(self, model):
        joined = " + ".join(self.of)
        return f"-({joined})", rf"-({joined})"
