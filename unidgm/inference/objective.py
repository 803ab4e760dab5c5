"""Objectives: terms assembled from the graph, summed per phase (DESIGN, "The engine's shape").

An objective is a list of :class:`~unidgm.inference.terms.base.Term` objects and the
phases they are minimised in. A named objective (the ELBO, IWAE, the adversarial game,
wake-sleep, RWS) is a class whose :meth:`Objective.assemble` reads the graph and returns its
terms; everything else is shared here: placing the terms in their phases, the fixed set of
keys of ``model.loss(batch)``, evaluating a phase's terms on one
:class:`~unidgm.inference.sources.Trace` and summing its loss, and joining the terms'
pieces into the formula. Its ``phases`` say which parameter groups each loss updates and in
which alternating order, so the one Trainer can run the ELBO (one phase), adversarial games
(a discriminator phase and a generator phase) and wake-sleep (a wake phase and a sleep
phase) alike.

Each objective's options are declared in its parameters' annotations and checked on every
call (:mod:`unidgm.options`).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

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
    """An objective: terms assembled from the graph, summed per phase.

    Subclasses set ``name`` and ``phases`` and fill :meth:`assemble` (compile-time checks
    and the list of :class:`~unidgm.inference.terms.base.Term` the graph defines). The
    rest is shared: :meth:`bind` places each term in its phase and fixes the keys of
    ``model.loss(batch)``; :meth:`terms` evaluates a phase's terms on one
    :class:`~unidgm.inference.sources.Trace` and sums its loss (see
    :mod:`unidgm.inference.terms.base` for the rule); :meth:`describe` joins the terms'
    pieces of the formula, so the formula cannot disagree with the loss.
    """

    name: str = ""
    phases: list[Phase] = []
    #: the validation term that picks the best checkpoint (None: keep the last)
    monitor: str | None = "elbo"
    #: optimizer settings the objective trains best with (overridable in TrainConfig)
    optimizer_defaults: dict = {}
    #: whether it reads the labels of partially observed latents (``g.latent(...,
    #: partially_observed=True)``); compiling such a graph with another objective is refused
    supports_partially_observed: bool = False
    #: the batch must give every visible node (a bound scores them all)
    strict_batch: bool = True

    def __init__(self):
        #: the global training step, set by ``CompiledModel.set_schedule_step``
        self.step = 0
        #: the placed terms, set in bind
        self.parts: list = []

    def assemble(self, model) -> list:  # pragma: no cover - interface
        """Checks the compiled model suits this objective (GraphError naming the node or
        edge at fault) and returns the terms its graph defines, in the order they are
        computed within a phase (a :class:`Report` after the terms it reads)."""
        raise NotImplementedError

    def bind(self, model) -> None:
        """Assembles the terms and places each in its phase."""
        self.place(model, self.assemble(model))

    def place(self, model, parts) -> None:
        """Binds ``parts`` and places each in its phase: a term naming no phase joins the
        last one (the one that trains the model); a term naming a phase the objective lacks
        (a density-ratio critic's) gets a phase of its own, first, updating its groups."""
        from ..errors import ConfigError

        phases = list(self.phases)
        default = phases[-1].name if phases else None
        placed: dict[str, list] = {p.name: [] for p in phases}
        own = set()  # the phases terms made
        keys: list[str] = []
        for t in parts:
            t.bind(model)
            phase = t.phase or default
            if phase not in placed:
                if not t.groups:
                    raise ConfigError(f"term '{t.name}' names phase {phase!r}, which the objective lacks "
                                      f"({', '.join(placed)}); name one of those, or give the term groups=")
                phases.insert(0, Phase(phase, t.groups, t.name))
                placed[phase] = []
                own.add(phase)
            elif phase in own:
                # a second term in a phase that terms made (two priors' fits): the phase updates
                # both terms' groups and minimises their weighted sum, reported under its name
                i = next(i for i, p in enumerate(phases) if p.name == phase)
                groups = phases[i].groups + tuple(g for g in t.groups if g not in phases[i].groups)
                phases[i] = Phase(phase, groups, phase, phases[i].steps)
            placed[phase].append(t)
            for k in t.keys():
                if k in keys:
                    raise ConfigError(f"two terms report the key {k!r} in model.loss; give the term "
                                      f"'{t.name}' another name=")
                keys.append(k)
        self.phases = phases
        self.parts = list(parts)
        self._placed = placed
        for p in phases:
            if p.loss not in keys:
                keys.append(p.loss)
        if "loss" not in keys:
            keys.append("loss")
        #: the keys of ``model.loss(batch)`` (every phase), fixed at compile time
        self.keys = tuple(keys)

    def term(self, name: str):
        """The placed term named ``name`` (None where there is none)."""
        return next((t for t in self.parts if t.name == name), None)

    # ------------------------------------------------------------------ the hot path
    def terms(self, model, batch: dict, phase: str | None = None) -> dict:
        """The terms of ``phase`` (every phase's, and ``loss``, when None) on one trace."""
        from .sources import Trace

        trace = Trace(model, batch, strict=self.strict_batch, step=self.step)
        if phase is None:
            losses = [self._phase_loss(trace, p, everything=True) for p in self.phases]
            out = trace.reported
            if "loss" not in out:  # phases with losses of their own (wake, sleep): their sum
                total = losses[0]
                for value in losses[1:]:
                    total = total + value
                out["loss"] = total
            return out
        for p in self.phases:
            if p.name == phase:
                self._phase_loss(trace, p, everything=False)
                return trace.reported
        from ..errors import ConfigError

        raise ConfigError(f"{self.name}: unknown phase {phase!r}; its phases are "
                          f"{', '.join(p.name for p in self.phases)}")

    def _phase_loss(self, trace, phase: Phase, everything: bool):
        out = trace.reported
        base = per_example = scalar = None
        balanced = []  # terms weighed against the rest of the loss (Esser et al.'s adaptive weight)
        step = self.step
        for t in self._placed[phase.name]:
            if t.diagnostic and not everything:
                continue
            is_loss = t.name == phase.loss
            # computed with gradients even where unweighted: the draws it makes are the trace's,
            # shared with the terms after it
            value = t(trace)
            if isinstance(value, dict):
                parts, value = value, value[t.name]
                for k, v in parts.items():
                    if k != t.name:
                        out[k] = v.detach().mean() if t.per_example else v.detach()
            out[t.name] = value.detach().mean() if t.per_example else value
            if is_loss:
                base = value
                continue
            if not t.weight:  # switched off: reported, not minimised
                continue
            # a scheduled weight joins even where it is 0 (a warm-up's first step), as 0 * value,
            # so the loss keeps its gradient path and every parameter it reaches its (zero) gradient
            w = t.weight_at(step)
            signed = -w if t.maximise else w
            if t.balanced:
                balanced.append((t, signed, value))
                continue
            piece = value if signed == 1.0 else signed * value
            if t.per_example:
                per_example = piece if per_example is None else per_example + piece
            else:
                scalar = piece if scalar is None else scalar + piece
        loss = base
        if per_example is not None:
            mean = trace.surrogate(per_example).mean()
            loss = mean if loss is None else loss + mean
        if scalar is not None:
            loss = scalar if loss is None else loss + scalar
        for t, signed, value in balanced:
            weight = t.balance(loss, value) if loss is not None else t.balance(value.detach(), value)
            out[t.weight_key] = weight
            piece = signed * weight * (value.mean() if t.per_example else value)
            loss = piece if loss is None else loss + piece
        if loss is None:
            loss = torch.zeros(())
        out[phase.loss] = loss
        return loss

    # ------------------------------------------------------------------ the formula
    def describe(self, model) -> "Formula":
        """The objective as a :class:`~unidgm.inference.formula.Formula`: each minimised
        term's piece, phase by phase (reports and zero-weighted terms are left out)."""
        from .formula import Formula, Term as Piece

        pieces = []
        for p in self.phases:
            for t in self._placed[p.name]:
                is_loss = t.name == p.loss
                if t.diagnostic or not (t.weight or is_loss):
                    continue
                described = t.describe(model)
                if isinstance(described, tuple):
                    described = [(t.name, *described)]
                where, where_latex = t.where()
                weight = 1.0 if is_loss else t.weight_label()
                if t.maximise and not is_loss and not isinstance(weight, str):
                    weight = -weight
                for name, text, latex in described:
                    pieces.append(Piece(name, text, latex, p.name, p.groups, weight, where, where_latex, p.steps))
        return Formula(repr(self), tuple(pieces))

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
