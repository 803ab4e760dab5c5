"""Stages: a training recipe as a list of phases with budgets, checked in one place.

A stage names the phases it trains and its budget: its own ``"epochs"`` or ``"max_steps"``,
or a ``"share"`` of the run's budget (the shares summing to 1), the form a model's own recipe
takes, since the run's budget is its user's. VQ-VAE's recipe (van den Oord et al. 2017,
Sec. 3.2), the autoencoder and then its prior over the frozen codes, is
``({"phases": ["elbo"], "share": 0.6}, {"phases": ["prior"], "share": 0.4})``.
``TrainConfig.stages`` and ``unidgm.compile(..., stages=)`` both check theirs here.
"""
from __future__ import annotations

import math

from .errors import ConfigError

EXAMPLE = '({"phases": ["elbo"], "epochs": 20}, {"phases": ["prior"], "max_steps": 500})'


def checked_stages(stages, where: str = "TrainConfig field") -> tuple[dict, ...]:
    """``stages`` as a tuple of plain dicts ``{"phases": (...), "epochs" | "max_steps" | "share": n}``,
    or ConfigError naming the stage and the fix."""
    def fail(name, value, expected):
        raise ConfigError(f"{where} {name!r} = {value!r} is invalid; use {expected}.")

    if not isinstance(stages, (list, tuple)) or not stages:
        fail("stages", stages, f"a non-empty list of stages, e.g. {EXAMPLE}")
    out = []
    for i, stage in enumerate(stages):
        if not isinstance(stage, dict):
            fail(f"stages[{i}]", stage, f"a dict, e.g. {EXAMPLE}")
        unknown = set(stage) - {"phases", "epochs", "max_steps", "share"}
        phases = stage.get("phases")
        budgets = [k for k in ("epochs", "max_steps", "share") if k in stage]
        if unknown or not isinstance(phases, (list, tuple)) or not phases or not all(
                isinstance(p, str) for p in phases) or len(budgets) != 1:
            fail(f"stages[{i}]", stage, 'a dict with "phases" (a list of phase names) and one budget, "epochs", '
                                        f'"max_steps" or "share" (of the run\'s budget), e.g. {EXAMPLE}')
        budget = budgets[0]
        value = stage[budget]
        if budget == "share":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                    or not 0 < value <= 1:
                fail(f"stages[{i}]['share']", value, "a share of the run's budget in (0, 1]")
        elif isinstance(value, bool) or not isinstance(value, int) or value < 1:
            fail(f"stages[{i}][{budget!r}]", value, "an integer >= 1")
        out.append({"phases": tuple(phases), budget: value})
    shared = ["share" in stage for stage in out]
    if any(shared) and not all(shared):
        fail("stages", stages, 'budgets of one kind: every stage a "share" of the run\'s budget, or every stage '
                               'its own "epochs" or "max_steps"')
    if all(shared) and abs(sum(stage["share"] for stage in out) - 1.0) > 1e-6:
        fail("stages", stages, 'shares that sum to 1, e.g. ({"phases": ["elbo"], "share": 0.6}, '
                               '{"phases": ["prior"], "share": 0.4})')
    return tuple(out)
