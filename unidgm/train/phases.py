"""Phases and their optimizers: which parameters each phase of an objective steps.

A compiled objective says, per phase, which parameter groups it updates and which term it
minimises: the ELBO has one phase over ``generative`` and ``inference``; an adversarial
objective alternates a discriminator phase and a generator phase. The Trainer builds one
torch optimizer per phase whose ``param_groups`` are that phase's non-empty groups, so
``TrainConfig.lr_groups`` can give each group its own learning rate (a group not named there
takes the rate of the smallest named group that holds it: ``{"generative": 1e-3}`` covers a
learned prior's group too) and each phase's optimizer state (Adam moments) stays its own.
"""

from __future__ import annotations

import functools
import inspect
import logging
from dataclasses import dataclass

import torch
from torch import nn

from unidgm.errors import ConfigError
from unidgm.train.config import TrainConfig

log = logging.getLogger("unidgm.train")


@dataclass(frozen=True)
class DefaultPhase:
    """The phase of a model that declares none: minimise terms["loss"] over all groups."""

    name: str = "train"
    groups: tuple[str, ...] = ("all",)
    loss: str = "loss"
    steps: int = 1


def build_phase_optimizers(model: nn.Module, config: TrainConfig):
    """Return ``(phases, optimizers, plan)``.

    `phases` are the model's phases that have trainable parameters (a phase with none is
    skipped with a warning), `optimizers` maps each phase name to its optimizer, and `plan`
    holds per phase the tuple ``(loss key, steps, optimizer, parameters, loss function)``
    that the training step iterates over. Without ``model.parameter_groups`` all parameters form one
    group ``"all"``; without ``model.phases`` one phase minimises ``terms["loss"]``.
    """
    groups_fn = getattr(model, "parameter_groups", None)
    groups = dict(groups_fn()) if callable(groups_fn) else {"all": list(model.parameters())}
    phases = list(getattr(model, "phases", None) or [DefaultPhase(groups=tuple(groups))])
    for name in config.lr_groups or {}:
        if name not in groups:
            raise ConfigError(
                f"TrainConfig field 'lr_groups' names group {name!r}, which the model does "
                f"not have; its parameter groups are {sorted(groups)}."
            )
    optimizers, plan, kept = {}, [], []
    for phase in phases:
        name, steps = phase.name, getattr(phase, "steps", 1)
        if name in optimizers or any(p.name == name for p in kept):
            raise ConfigError(f"model.phases: two phases are named {name!r}; rename one.")
        if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
            raise ConfigError(
                f"model.phases: phase {name!r} has steps={steps!r}; use an integer >= 1."
            )
        param_groups = _param_groups(phase, groups, config)
        if not param_groups:
            log.warning("phase %r has no trainable parameters; it is skipped.", name)
            continue
        optimizer = make_optimizer(config, param_groups)
        optimizers[name] = optimizer
        params = [p for group in param_groups for p in group["params"]]
        plan.append((phase.loss, steps, optimizer, params, _phase_loss(model, name, len(phases))))
        kept.append(phase)
    if not plan:
        raise ConfigError(
            "Trainer: the model has no trainable parameters in any phase; check that its "
            "networks are registered as submodules and require gradients."
        )
    return kept, optimizers, plan


def _phase_loss(model: nn.Module, phase: str, num_phases: int):
    """The function a phase calls for its terms: ``model.loss(batch, phase=name)`` when the
    model computes per phase (an adversarial objective needs only the discriminator's terms
    in the discriminator phase), else ``model.loss`` itself. Resolved once, not per step."""
    if num_phases > 1:
        try:
            accepts = "phase" in inspect.signature(model.loss).parameters
        except (TypeError, ValueError):
            accepts = False
        if accepts:
            return functools.partial(model.loss, phase=phase)
    return model.loss


def _param_groups(phase, groups: dict, config: TrainConfig) -> list[dict]:
    """The phase's non-empty groups as torch param_groups, each with its learning rate."""
    param_groups, owner = [], {}
    for group in phase.groups:
        if group not in groups:
            raise ConfigError(
                f"model.phases: phase {phase.name!r} updates group {group!r}, which "
                f"model.parameter_groups() lacks (it has {sorted(groups)})."
            )
        params = [p for p in groups[group] if p.requires_grad]
        for p in params:
            if id(p) in owner:
                raise ConfigError(
                    f"model.parameter_groups(): a parameter of shape {tuple(p.shape)} is in "
                    f"both {owner[id(p)]!r} and {group!r}; put every parameter in exactly "
                    "one group."
                )
            owner[id(p)] = group
        if params:  # an empty group (e.g. no learned prior, no adversary) is skipped
            param_groups.append({"params": params, "lr": float(_rate(group, params, groups, config)), "group": group})
    return param_groups


def _rate(group: str, params: list, groups: dict, config: TrainConfig) -> float:
    """``group``'s learning rate: its own in ``lr_groups``, else that of the smallest group
    named there that holds all its parameters (a learned prior's ``prior`` group is within
    ``generative``), else ``lr``."""
    rates = config.lr_groups or {}
    if group in rates:
        return rates[group]
    ids = {id(p) for p in params}
    holders = [(len(groups[name]), name) for name in rates
               if name in groups and ids <= {id(p) for p in groups[name]}]
    return rates[min(holders)[1]] if holders else config.lr


def make_optimizer(config: TrainConfig, param_groups: list[dict]) -> torch.optim.Optimizer:
    """The optimizer `config.optimizer` over `param_groups` (lr set per group)."""
    if config.optimizer == "adam":
        return torch.optim.Adam(
            param_groups, lr=config.lr, betas=config.betas, weight_decay=config.weight_decay
        )
    if config.optimizer == "adamw":
        return torch.optim.AdamW(
            param_groups, lr=config.lr, betas=config.betas, weight_decay=config.weight_decay
        )
    return torch.optim.SGD(param_groups, lr=config.lr, weight_decay=config.weight_decay)
