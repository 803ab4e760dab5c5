"""`TrainConfig`: every option a training run needs, in one dataclass saved with the run.

The config is frozen and checked once, at construction, so that the loop can trust it:
negative sizes, an unknown optimizer or a bad monitor mode raise `ConfigError` naming the
field and the fix. `None` means "derive": with no stopping rule at all the run trains for
ten epochs, `eval_every=None` evaluates once per epoch, `checkpoint_every=None` saves at
each evaluation. `to_dict` / `from_dict` give the JSON form written to ``out/config.json``
and stored in every checkpoint.
"""

from __future__ import annotations

import difflib
import math
import os
from dataclasses import dataclass, fields, replace
from typing import Any

import torch

from unidgm.errors import ConfigError
from unidgm.stages import checked_stages

OPTIMIZERS = ("adam", "adamw", "sgd")
LR_SCHEDULES = ("constant", "cosine", "linear")
MONITOR_MODES = ("max", "min")
DEFAULT_EPOCHS = 10
# What "derive" falls back to where the model has no defaults of its own.
DEFAULT_LR = 1e-3
DEFAULT_BETAS = (0.9, 0.999)
DEFAULT_MONITOR = "elbo"


@dataclass(frozen=True)
class TrainConfig:
    """Options of one training run; see the comment on each field."""

    # Stopping rules; the run stops at whichever comes first. epochs and max_steps count
    # from the start of the run (a resumed run keeps counting), minutes is the wall-clock
    # budget of one `fit` call. With none of the three given, epochs = 10.
    epochs: int | None = None
    minutes: float | None = None
    max_steps: int | None = None
    # Examples per training step; the last partial batch of an epoch is kept.
    batch_size: int = 128
    # Learning rate of every parameter group, unless lr_groups overrides it. None: the
    # objective's (model.training_defaults(): 2e-4 for adversarial games), else 1e-3.
    lr: float | None = None
    # Per-group learning rates, e.g. {"inference": 3e-4}; keys are the model's parameter
    # groups ("generative", "inference", "adversarial"). A rate of 0 freezes the group.
    # None: the objective's, if it has any (InfoGAN's generator_lr).
    lr_groups: dict[str, float] | None = None
    # "adam", "adamw" or "sgd"; one optimizer is built per phase of the objective.
    optimizer: str = "adam"
    # How every learning rate moves over the run's budget (the nearest of epochs, max_steps
    # and minutes): "constant", "cosine" (Loshchilov & Hutter 2017's annealing, without
    # restarts, to 0) or "linear" (to 0).
    lr_schedule: str = "constant"
    # Adam/AdamW moment decay rates (ignored by sgd). None: the objective's ((0.5, 0.999)
    # for adversarial games, Radford et al. 2016), else (0.9, 0.999).
    betas: tuple[float, float] | None = None
    # L2 penalty (adam, sgd) or decoupled weight decay (adamw).
    weight_decay: float = 0.0
    # Seeds the shuffling generator and, at the start of a fresh run, torch's and Python's
    # global RNGs; evaluation draws from its own stream seeded by it too.
    seed: int = 0
    # "auto" picks cuda when available, else cpu; or any torch device string.
    device: str = "auto"
    # Evaluate on the val split every this many steps; None = at the end of each epoch.
    eval_every: int | None = None
    # Read the running loss (one device sync), check it is finite and update the progress
    # bar every this many steps.
    log_every: int = 50
    # Save out/last.pt every this many steps; None = at each evaluation only.
    checkpoint_every: int | None = None
    # The val term that decides out/best.pt, e.g. "elbo" (without the "val/" prefix).
    # None: no best checkpoint (models without a held-out score, e.g. GANs); last.pt only.
    # "auto": the objective's own (model.training_defaults()), else "elbo".
    monitor: str | None = "auto"
    # "max" keeps the checkpoint with the largest monitored value, "min" the smallest.
    monitor_mode: str = "max"
    # Examples per batch when evaluating (no gradients, so larger than batch_size).
    eval_batch_size: int = 512
    # Show a tqdm progress bar.
    progress: bool = True
    # Clip each phase's gradient norm to this value before the optimizer step; None = off.
    grad_clip: float | None = None
    # Folder for config.json, metrics.jsonl, last.pt and best.pt; None = write nothing.
    out: str | None = None
    # Also log every evaluation's metrics as TensorBoard scalars in out/tensorboard/ (needs
    # the tensorboard package and an out folder).
    tensorboard: bool = False
    # Stages run one after another in one run (one resume): each a dict naming the phases it
    # trains and its budget, e.g. ({"phases": ["elbo"], "epochs": 20}, {"phases": ["prior"],
    # "max_steps": 500}) for VQ-VAE's recipe (the autoencoder, then its prior over frozen
    # codes). The run ends after the last stage; epochs, max_steps and minutes still stop it
    # earlier where given. A stage's budget may instead be a "share" of the run's own
    # (max_steps, else epochs, else this fit call's minutes), the shares summing to 1:
    # ({"phases": ["elbo"], "share": 0.6}, {"phases": ["prior"], "share": 0.4}), the form a
    # model's training_defaults() give, since its budget is the user's. None: the model's
    # own stages where it has some, else every phase every step.
    stages: tuple[dict, ...] | None = None

    def __post_init__(self):
        # Normalise JSON-ish inputs first (lists from JSON, paths), then check, then derive.
        if isinstance(self.out, os.PathLike):
            object.__setattr__(self, "out", os.fspath(self.out))
        if isinstance(self.betas, list):
            object.__setattr__(self, "betas", tuple(self.betas))
        if self.stages is not None:
            object.__setattr__(self, "stages", checked_stages(self.stages))
        if self.lr_groups is not None:
            if not isinstance(self.lr_groups, dict):
                _fail("lr_groups", self.lr_groups, "a dict from group name to learning rate")
            # A private copy, so that later changes to the caller's dict cannot bypass checks.
            object.__setattr__(self, "lr_groups", dict(self.lr_groups))
        self._check()
        if self.epochs is None and self.minutes is None and self.max_steps is None and not (
                self.stages and "share" not in self.stages[0]):
            object.__setattr__(self, "epochs", DEFAULT_EPOCHS)

    def _check(self) -> None:
        _integer("epochs", self.epochs, minimum=1, optional=True)
        _number("minutes", self.minutes, positive=True, optional=True)
        _integer("max_steps", self.max_steps, minimum=1, optional=True)
        _integer("batch_size", self.batch_size, minimum=1)
        _number("lr", self.lr, positive=True, optional=True)
        for group, lr in (self.lr_groups or {}).items():
            if not isinstance(group, str):
                _fail("lr_groups", group, "parameter group names as keys (strings)")
            _number(f"lr_groups[{group!r}]", lr, positive=False)
        if self.lr_schedule not in LR_SCHEDULES:
            _fail("lr_schedule", self.lr_schedule, f"one of {LR_SCHEDULES}")
        if self.optimizer not in OPTIMIZERS:
            _fail("optimizer", self.optimizer, f"one of {OPTIMIZERS}")
        if self.betas is not None and (
            not isinstance(self.betas, tuple)
            or len(self.betas) != 2
            or not all(_is_real(b) and 0.0 <= b < 1.0 for b in self.betas)
        ):
            _fail("betas", self.betas, "two numbers in [0, 1), e.g. (0.9, 0.999)")
        _number("weight_decay", self.weight_decay, positive=False)
        _integer("seed", self.seed, minimum=0)
        if not isinstance(self.device, str) or not _is_device(self.device):
            _fail("device", self.device, '"auto", "cpu", "cuda" or "cuda:N"')
        _integer("eval_every", self.eval_every, minimum=1, optional=True)
        _integer("log_every", self.log_every, minimum=1)
        _integer("checkpoint_every", self.checkpoint_every, minimum=1, optional=True)
        if self.monitor is not None and (not isinstance(self.monitor, str) or not self.monitor):
            _fail("monitor", self.monitor, 'the name of a val term, e.g. "elbo"')
        if self.monitor_mode not in MONITOR_MODES:
            _fail("monitor_mode", self.monitor_mode, f"one of {MONITOR_MODES}")
        _integer("eval_batch_size", self.eval_batch_size, minimum=1)
        if not isinstance(self.progress, bool):
            _fail("progress", self.progress, "True or False")
        _number("grad_clip", self.grad_clip, positive=True, optional=True)
        if self.out is not None and (not isinstance(self.out, str) or not self.out):
            _fail("out", self.out, "a folder path or None")
        if not isinstance(self.tensorboard, bool):
            _fail("tensorboard", self.tensorboard, "True or False")
        if self.tensorboard and self.out is None:
            _fail("tensorboard", self.tensorboard, "False, or give an out folder for its event files")

    def to_dict(self) -> dict[str, Any]:
        """The config as JSON-friendly plain data (tuples become lists)."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["betas"] = None if self.betas is None else list(self.betas)
        data["lr_groups"] = None if self.lr_groups is None else dict(self.lr_groups)
        data["stages"] = None if self.stages is None else [
            {**stage, "phases": list(stage["phases"])} for stage in self.stages]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Build a config from `to_dict`'s output (or a user's JSON); unknown keys raise
        `ConfigError` naming the key and the closest field."""
        if not isinstance(data, dict):
            raise ConfigError(f"TrainConfig.from_dict: expected a dict, got {type(data).__name__}.")
        check_field_names(data, "TrainConfig.from_dict")
        return cls(**data)

    def resolved(self, defaults: dict[str, Any]) -> TrainConfig:
        """The config with every "derive" value (``lr`` and ``betas`` None, ``monitor``
        "auto", ``lr_groups`` None) taken from `defaults` (a model's ``training_defaults()``,
        e.g. ``{"lr": 2e-4, "betas": (0.5, 0.999), "monitor": None}``) or the library's."""
        changes = {}
        if self.lr is None:
            changes["lr"] = defaults.get("lr", DEFAULT_LR)
        if self.betas is None:
            changes["betas"] = tuple(defaults.get("betas", DEFAULT_BETAS))
        if self.lr_groups is None and defaults.get("lr_groups") is not None:
            changes["lr_groups"] = dict(defaults["lr_groups"])
        if self.monitor == "auto":
            changes["monitor"] = defaults.get("monitor", DEFAULT_MONITOR)
        if self.stages is None and defaults.get("stages"):
            changes["stages"] = checked_stages(defaults["stages"])
        return replace(self, **changes) if changes else self

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with some fields changed (checked like a new config)."""
        check_field_names(changes, "TrainConfig.replace")
        return replace(self, **changes)


def check_field_names(names, where: str) -> None:
    """Refuse names that are not TrainConfig fields, suggesting the closest one."""
    known = [f.name for f in fields(TrainConfig)]
    for name in names:
        if name not in known:
            close = difflib.get_close_matches(str(name), known, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ConfigError(
                f"{where}: unknown TrainConfig field {name!r}; {hint}"
                f"the fields are: {', '.join(known)}."
            )


def _is_real(value) -> bool:
    # bool is an int subclass, but True as a learning rate is a mistake, not 1.0.
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_device(name: str) -> bool:
    if name == "auto":
        return True
    try:
        torch.device(name)
    except (RuntimeError, ValueError):
        return False
    return True


def _fail(name: str, value, expected: str):
    raise ConfigError(f"TrainConfig field {name!r} = {value!r} is invalid; use {expected}.")


def _integer(name: str, value, *, minimum: int, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        extra = " or None" if optional else ""
        _fail(name, value, f"an integer >= {minimum}{extra}")


def _number(name: str, value, *, positive: bool, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not _is_real(value) or value < 0 or (positive and value == 0):
        bound = "> 0" if positive else ">= 0"
        extra = " or None" if optional else ""
        _fail(name, value, f"a finite number {bound}{extra}")
