"""An objective plus a user's terms: ``unidgm.compile(graph, objective, terms=[...])``.

The base objective assembles its terms from the graph; the user's join them, each in the
loss of its phase (``term.phase``; None: the objective's last phase, the one that trains
the model) with its weight; a term that names a phase the objective lacks (a density-ratio
critic's ``critic``) gets that phase, updating the term's own groups. All of them read one
trace per evaluation, so a user's term sees the very draws the objective's terms see. The
terms' keys join the objective's in ``model.loss(batch)``, fixed at compile time, and their
pieces join its formula. ``terms=`` without an objective is the sum of those terms alone.
"""
from __future__ import annotations

from typing import Annotated

from ...errors import ConfigError
from ...options import Option, Rate, checks_options
from ..objective import Objective, Phase

#: Adam's first moment's decay, in [0, 1)
Beta1 = Annotated[float, Option(float, low=0, high=1, open_high=True, example=0.5)]


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
        if base is not None:
            self.phases = list(base.phases)
            self.monitor, self.optimizer_defaults = base.monitor, base.optimizer_defaults
            self.supports_partially_observed = base.supports_partially_observed
            self.strict_batch = base.strict_batch
        else:
            self.phases = [Phase("loss", ("generative", "inference"), "loss")] if any(
                t.phase is None for t in self.extra) else []
            self.monitor = None
            self.strict_batch = False

    @property
    def step(self):
        return self._step

    @step.setter
    def step(self, value):
        self._step = value
        if getattr(self, "base", None) is not None:
            self.base.step = value

    def assemble(self, model) -> list:
        if self.base is None:
            return list(self.extra)
        parts = self.base.assemble(model)
        # the base may settle its phases, monitor and optimizer settings while assembling
        self.phases = list(self.base.phases)
        self.monitor, self.optimizer_defaults = self.base.monitor, self.base.optimizer_defaults
        return list(parts) + self.extra

    def __repr__(self):
        inner = repr(self.base) if self.base is not None else "terms"
        return f"{inner} + {', '.join(t.name for t in self.extra)}" if self.extra else inner


class Terms(Objective):
    """The objective that is its terms alone, under a name a graph can record:
    ``g.set_objective("terms", terms=[...])`` compiles to what ``unidgm.compile(g,
    terms=[...])`` gives, one phase ``loss`` (the generative and inference groups) for the
    terms that name no phase and a phase per phase the others name (a critic's), with the
    optimizer settings given here (None: the Trainer's).

    Args:
        lr: the learning rate the objective trains best with (``TrainConfig.lr`` wins).
        beta1: Adam's beta1 (beta2 stays 0.999).
    """

    name = "terms"
    monitor = None
    strict_batch = False

    @checks_options
    def __init__(self, lr: Rate | None = None, beta1: Beta1 | None = None):
        super().__init__()
        self.phases = [Phase("loss", ("generative", "inference"), "loss")]
        defaults = {}
        if lr is not None:
            defaults["lr"] = float(lr)
        if beta1 is not None:
            defaults["betas"] = (float(beta1), 0.999)
        self.optimizer_defaults = defaults

    def assemble(self, model) -> list:
        return []
