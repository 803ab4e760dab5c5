"""An objective plus a user's terms: ``unidgm.compile(graph, objective, terms=[...])``.

Each term joins the loss of its phase (``term.phase``; None: the objective's last phase, the
one that trains the model) with its weight; a term that names a phase the objective lacks
(a density-ratio critic's ``critic``) gets that phase, updating the term's own groups. The
terms' keys join the objective's in ``model.loss(batch)``, fixed at compile time, and their
pieces join its formula. ``terms=`` without an objective is the sum of those terms alone.
"""
from __future__ import annotations

from ...errors import ConfigError
from ..objective import Objective, Phase
from ..sources import Trace


class TermSum(Objective):
    """``base``'s terms and phases, plus ``terms``.

    Args:
        base: the objective the terms join, or None (the terms alone, one phase ``loss``
            over the generative and inference groups for terms that name no phase).
        terms: :class:`~unidgm.inference.terms.base.Term` objects.
    """

    def __init__(self, base: Objective | None, terms):
        super().__init__()
        self.base = base
        self.extra = list(terms)
        self.name = base.name if base is not None else "terms"
        names = [t.name for t in self.extra]
        if len(set(names)) != len(names):
            raise ConfigError(f"terms=: two terms are named {sorted(n for n in names if names.count(n) > 1)[0]!r}; "
                              f"give each its own name=")
        phases = list(base.phases) if base is not None else []
        self._base_phases = tuple(p.name for p in phases)
        if base is None and any(t.phase is None for t in self.extra):
            phases.append(Phase("loss", ("generative", "inference"), "loss"))
        default = phases[-1].name if phases else None
        self._placed: dict[str, list] = {p.name: [] for p in phases}
        for t in self.extra:
            phase = t.phase or default
            if phase not in self._placed:
                if not t.groups:
                    raise ConfigError(f"term '{t.name}' names phase {phase!r}, which the objective lacks "
                                      f"({', '.join(self._placed)}); name one of those, or give the term groups=")
                phases.insert(0, Phase(phase, t.groups, t.name))
                self._placed[phase] = []
            self._placed[phase].append(t)
        self.phases = phases
        self._loss_key = {p.name: p.loss for p in phases}
        if base is not None:
            self.monitor, self.optimizer_defaults = base.monitor, base.optimizer_defaults
            self.supports_partially_observed = base.supports_partially_observed
        else:
            self.monitor = None

    @property
    def step(self):
        return self._step

    @step.setter
    def step(self, value):
        self._step = value
        if getattr(self, "base", None) is not None:
            self.base.step = value

    def bind(self, model) -> None:
        if self.base is not None:
            self.base.bind(model)
            self.monitor = self.base.monitor
            self.optimizer_defaults = self.base.optimizer_defaults
        for t in self.extra:
            t.bind(model)

    def terms(self, model, batch, phase: str | None = None):
        if self.base is None or (phase is not None and phase not in self._base_phases):
            out = {}  # a phase of the user's terms alone (a critic's)
        elif phase is None or len(self._base_phases) <= 1:
            out = dict(self.base.terms(model, batch))
        else:
            out = dict(self.base.terms(model, batch, phase))
        trace = Trace(model, batch)
        for name, placed in self._placed.items():
            if phase is not None and name != phase:
                continue
            key = self._loss_key[name]
            for t in placed:
                value = out[t.name] = t(trace)
                if t.name != key and t.weight:  # it joins its phase's loss
                    out[key] = out[key] + t.weight * value if key in out else t.weight * value
        return out

    def describe(self, model):
        from ..formula import Formula, Term as Piece

        pieces = list(self.base.describe(model).terms) if self.base is not None else []
        phases = {p.name: p for p in self.phases}
        for name, placed in self._placed.items():
            for t in placed:
                text, latex = t.describe(model)
                weight = 1.0 if t.name == self._loss_key[name] else t.weight
                pieces.append(Piece(t.name, text, latex, name, phases[name].groups, weight))
        return Formula(repr(self), tuple(pieces))

    def __repr__(self):
        inner = repr(self.base) if self.base is not None else "terms"
        return f"{inner} + {', '.join(t.name for t in self.extra)}" if self.extra else inner
