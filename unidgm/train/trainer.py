"""`Trainer`: the one training loop of unidgm.

The user supplies a compiled model and its data; the Trainer owns everything else: the
device, one optimizer per phase of the objective, shuffling, the progress bar, logging,
evaluation, checkpoints and exact resume.

**The model.** Anything with ``loss(batch) -> dict`` of named scalar terms works. A
compiled model also has ``parameter_groups()`` (e.g. ``generative``, ``inference``,
``adversarial``), ``phases`` (each names the groups it updates, the term it minimises and
how many optimizer steps it takes per training step) and ``set_schedule_step(step)``
(KL warm-up and other schedules read the global step, so a resumed run follows the same
schedule) and ``training_defaults()`` (the TrainConfig values its objective trains best with,
used where the config says "derive": ``lr``, ``betas``, ``lr_groups``, ``monitor``). Without ``phases`` there is one phase minimising ``terms["loss"]`` over all
parameters; without ``parameter_groups`` all parameters form one group, ``"all"``.

**A training step** (`Trainer.step`) runs every phase in order; each phase zeroes its
optimizer's gradients, computes ``model.loss(batch)`` afresh, backpropagates its term and
steps only its groups. A phase that takes several optimizer steps per training step (a
WGAN-GP critic's ``d_steps``) draws a fresh batch of the training split for each step after
the first (Gulrajani et al. 2017, Algorithm 1: real data are sampled anew in every critic
iteration). With a single ELBO phase this is exactly the hand-written loop ``zero_grad;
loss.backward(); step``. The step is the hot path: it never syncs with the device. Each
phase's terms are summed into one detached tensor that the loop reads every ``log_every``
steps, which is also when a NaN or infinite loss is caught.

**Exact resume.** A checkpoint holds the model, every optimizer, the global step, the epoch
and the position within it, the shuffling generator's state at the start of that epoch and
every global RNG state at the stop point. ``Trainer(model, data, resume=True, out=...)``
loads ``out/last.pt``; `fit` then continues so that the losses and parameters are bitwise
those of a run that never stopped (on the same device and software). Data whose training
split changes per epoch (``data.resample``) need nothing more: that split is a function of
the epoch number, recomputed at the start of each epoch and on resume.

**Events.** `callbacks` is a sequence of objects with any of these methods, called with
the trainer first:

* ``on_fit_start(trainer)``: after setup, before the first step of a `fit` call;
* ``on_step_end(trainer, step, terms)``: after every training step; `step` counts steps
  done (1 after the first), `terms` is the last phase's dict of terms (not detached: call
  ``.detach()`` before keeping them);
* ``on_evaluate(trainer, metrics)``: after each evaluation, with the record written to
  ``metrics.jsonl``;
* ``on_fit_end(trainer, summary)``: with the dict `fit` returns.

**Files** in ``config.out``: ``config.json`` (the TrainConfig), ``metrics.jsonl`` (one line
per evaluation: ``train/<phase>/<term>``, the mean of each term of each phase since the last
evaluation, and ``val/<term>``), ``last.pt`` (at each evaluation, every ``checkpoint_every``
steps and when `fit` stops), ``best.pt`` (when the monitored val term improves) and, with
``tensorboard=True``, TensorBoard event files in ``tensorboard/``. A fresh run refuses a folder
that already holds a run's checkpoints unless ``overwrite=True``: nothing is replaced by
accident.
"""

from __future__ import annotations

import bisect
import logging
import math
import time
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from unidgm.errors import CheckpointError, ConfigError, DataError, TrainingError
from unidgm.train.checkpoint import (
    FORMAT,
    VERSION,
    load_checkpoint,
    load_model_state,
    save_checkpoint,
    save_json,
)
from unidgm.train.config import TrainConfig, check_field_names
from unidgm.train.devices import num_rows, resolve_device, split_on_device
from unidgm.train.evaluation import mean_terms, term_names
from unidgm.train.metrics import MetricsLog
from unidgm.train.phases import build_phase_optimizers
from unidgm.train.progress import progress_bar
from unidgm.train.run_folder import TENSORBOARD_DIR, refuse_a_run_folder, remove_run_files
from unidgm.train.tensorboard import TensorBoardLog
from unidgm.train.rng import get_rng_state, seed_everything, set_rng_state

log = logging.getLogger("unidgm.train")

EVENTS = ("on_fit_start", "on_step_end", "on_evaluate", "on_fit_end")
SPLITS = ("train", "val", "test")
# Fields that change what a resumed run computes; changing them on resume is allowed
# (e.g. lowering lr after a NaN) but is no longer an exact continuation, so we say so.
_TRAJECTORY_FIELDS = ("lr", "lr_groups", "optimizer", "betas", "weight_decay", "grad_clip")


class Trainer:
    """Trains a compiled model on a `DataSplits`.

    Args:
        model: an ``nn.Module`` with ``loss(batch) -> dict[str, Tensor]`` (see the module
            docstring for the optional ``parameter_groups``, ``phases``,
            ``set_schedule_step``).
        data: an object with ``train``, ``val``, ``test`` dicts of tensors (``val`` and
            ``test`` may be empty or None) and optionally ``prepare(batch) -> batch`` and
            ``resample(train, epoch) -> train`` (`DataSplits.resample`: the training split
            of each epoch, e.g. pairs re-drawn; called once per epoch, with the first
            training split on the device).
        config: a `TrainConfig`; None uses the defaults (or, when resuming, the config
            stored in the checkpoint).
        callbacks: objects with any of the methods listed in the module docstring.
        resume: False for a fresh run; True to continue from ``out/last.pt``; or the path
            of a checkpoint to continue from.
        overwrite: let a fresh run replace the run already in ``out`` (its checkpoints,
            metrics and TensorBoard events are removed when `fit` starts); without it such a
            folder is refused.
        **overrides: TrainConfig fields that replace those of `config`, e.g. ``lr=3e-4``
            or, when resuming, a later ``max_steps``.

    Raises:
        ConfigError: an unknown or invalid option, options the model does not fit, or a
            fresh run into a folder that holds a run (without ``overwrite=True``).
        DataError: an empty or ragged training split, or one split passed as the data.
        CheckpointError: `resume` with a missing, corrupted or mismatched checkpoint.
    """

    def __init__(
        self,
        model: nn.Module,
        data,
        config: TrainConfig | None = None,
        *,
        callbacks=(),
        resume: bool | str | Path = False,
        overwrite: bool = False,
        **overrides,
    ):
        check_field_names(overrides, "Trainer(**overrides)")
        if config is not None and not isinstance(config, TrainConfig):
            raise ConfigError(
                f"Trainer: config must be a TrainConfig, got {type(config).__name__}; "
                "build one with TrainConfig(...) or TrainConfig.from_dict(...)."
            )
        checkpoint, checkpoint_path = None, None
        if resume is not False and resume is not None:
            checkpoint_path = self._resume_path(resume, config, overrides)
            checkpoint = load_checkpoint(checkpoint_path)
            if config is None:
                config = _stored_config(checkpoint, checkpoint_path)
        if config is None:
            # built from the overrides, so that a budget given here (minutes=5) is the only one,
            # not one beside the default 10 epochs
            config = TrainConfig(**overrides)
        elif overrides:
            config = config.replace(**overrides)
        defaults = getattr(model, "training_defaults", None)
        config = config.resolved(defaults() if callable(defaults) else {})
        self.config = config
        self.device = resolve_device(config.device)
        self.out = Path(config.out) if config.out is not None else None

        if self.out is not None and checkpoint is None and not overwrite:
            refuse_a_run_folder(self.out)
        self._overwrite = bool(overwrite) and checkpoint is None
        if isinstance(data, Mapping):
            raise DataError(
                f"Trainer: data is a dict with keys {sorted(data)}, one split; pass the object "
                "holding the splits (its .train, .val and .test), e.g. Trainer(model, data) for "
                "data = unidgm.data.load('digits'), not Trainer(model, data.train)."
            )

        self.model = model.to(self.device)
        self.data = data
        # Resolved once: the loop must not look attributes up per step.
        prepare = getattr(data, "prepare", None)
        self._prepare = prepare if callable(prepare) else _identity
        self._set_schedule_step = getattr(model, "set_schedule_step", None)
        self._dtype = _float_dtype(self.model)
        self._splits = {"train": split_on_device(data, "train", self.device, self._dtype)}
        if not self._splits["train"]:
            raise DataError(
                "data.train is empty; the Trainer needs at least one training example."
            )
        self.num_train = num_rows(self._splits["train"])
        resample = getattr(data, "resample", None)
        self._resample = resample if callable(resample) else None
        self._base_train = self._splits["train"]  # what resample draws each epoch's split from
        self.steps_per_epoch = math.ceil(self.num_train / config.batch_size)

        self.phases, self.optimizers, self._plan = build_phase_optimizers(self.model, config)
        for optimizer in self.optimizers.values():
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])  # the schedule's base (torch's own key)
        self._grad_clip = config.grad_clip
        self._hooks = _resolve_hooks(callbacks)

        # Loop state: everything here goes into the checkpoint.
        self.global_step = 0
        self.epoch = 0
        self.batch_in_epoch = 0
        self.best: float | None = None
        self._elapsed = 0.0  # seconds of training in earlier fit calls and runs
        self._shuffle = torch.Generator().manual_seed(config.seed)
        self._shuffle_start = self._shuffle.get_state()  # at the start of self.epoch
        # Detached running sums of each phase's terms, on the device (no syncs): phase i's
        # vector follows self._names[i], known from its first step; self._key_at[i] is the
        # position of the term it minimises.
        self._names: list[tuple[str, ...] | None] = [None] * len(self._plan)
        self._key_at = [0] * len(self._plan)
        self._sums = [torch.zeros(1, device=self.device) for _ in self._plan]
        self._window = 0  # steps summed in self._sums since the last evaluation
        self._counts = [0] * len(self._plan)  # steps each phase took in that window (stages skip some)
        self._logged = (0, [0] * len(self._plan), [0.0] * len(self._plan))  # (window, counts, sums) at the last log
        # Stages (TrainConfig.stages): the step at which each ends, and the phases each runs.
        self._stage_shares: list[float] = []
        self._stage_ends, self._stage_phases = self._plan_stages(config)
        self._active = list(range(len(self._plan)))
        self._last_terms: list[dict | None] = [None] * len(self._plan)

        self._started = False
        self._monitor_checked = False
        self._pending_rng = None
        self._resumed_from = None
        self._evaluated_step = -1
        self._saved_step = -1
        self._last_checkpoint: Path | None = None
        self._last_val: dict[str, float] | None = None
        self._last_train: dict[str, float] | None = None
        self._tensorboard = None
        if checkpoint is not None:
            self._restore(checkpoint, checkpoint_path)

    # ----------------------------------------------------------------------------- setup

    @staticmethod
    def _resume_path(resume, config, overrides) -> Path:
        if resume is True:
            out = overrides.get("out", config.out if config is not None else None)
            if out is None:
                raise ConfigError(
                    "Trainer: resume=True continues from out/last.pt, but no out folder was "
                    "given; pass out='runs/...' (the folder of the run to continue) or "
                    "resume='path/to/last.pt'."
                )
            return Path(out) / "last.pt"
        if isinstance(resume, (str, Path)):
            return Path(resume)
        raise ConfigError(
            f"Trainer: resume={resume!r} is invalid; use False, True (out/last.pt) or the "
            "path of a checkpoint."
        )

    def _restore(self, checkpoint: dict, path: Path) -> None:
        """Put model, optimizers and loop state back as they were when `path` was saved."""
        load_model_state(path, self.model, checkpoint["model"])
        stored = checkpoint["optimizers"]
        if set(stored) != set(self.optimizers):
            raise CheckpointError(
                f"checkpoint file '{path}' has optimizers for phases {sorted(stored)}, but the "
                f"model trains phases {sorted(self.optimizers)}; resume with the same "
                "objective as the run that wrote it."
            )
        for name, optimizer in self.optimizers.items():
            try:
                optimizer.load_state_dict(stored[name])
            except (ValueError, KeyError, RuntimeError) as error:
                raise CheckpointError(
                    f"checkpoint file '{path}': the optimizer state of phase {name!r} does not "
                    f"fit ({error}); resume with the same optimizer and parameter groups."
                ) from error
        old = checkpoint["config"] if isinstance(checkpoint["config"], dict) else {}
        if old.get("batch_size") != self.config.batch_size or checkpoint.get(
            "num_train", self.num_train
        ) != self.num_train:
            raise ConfigError(
                f"resuming from '{path}' with batch_size={self.config.batch_size} and "
                f"{self.num_train} training examples, but it was written with batch_size="
                f"{old.get('batch_size')} and {checkpoint.get('num_train')} examples; resume "
                "with the same data and batch_size, or start a fresh run."
            )
        changed = [k for k in _TRAJECTORY_FIELDS if k in old and old[k] != self.config.to_dict()[k]]
        if changed:
            log.warning(
                "resuming from %s with changed %s: training continues, but not as an exact "
                "continuation of the stopped run.",
                path,
                ", ".join(changed),
            )
        self.global_step = int(checkpoint["step"])
        self.epoch = int(checkpoint["epoch"])
        self.batch_in_epoch = int(checkpoint["batch_in_epoch"])
        self._shuffle_start = checkpoint["shuffle_state"].clone()
        self.best = checkpoint["best"]
        self._elapsed = float(checkpoint.get("time", 0.0))
        if self._timed_stages and checkpoint.get("stage_ends") is not None:
            ended = checkpoint["stage_ends"]
            self._stage_ends = [math.inf if e is None else int(e) for e in ended][:len(self._stage_ends)]
        running = checkpoint.get("running")
        if running is not None and len(running.get("names", ())) == len(self._sums):
            for i, (names, sums) in enumerate(zip(running["names"], running["sums"])):
                if names is not None:
                    self._set_names(i, tuple(names))
                    self._sums[i] = sums.to(self.device, torch.get_default_dtype()).clone()
            self._window = int(running["window"])
            self._counts = [int(c) for c in running.get("counts", [self._window] * len(self._plan))]
            self._logged = (self._window, list(self._counts), self._read_sums())
        self._pending_rng = checkpoint["rng"]  # applied when fit starts: the stop point
        self._resumed_from = path
        self._evaluated_step = self._saved_step = self.global_step
        self._last_checkpoint = path
        log.info("resumed from %s at step %d (epoch %d)", path, self.global_step, self.epoch)

    # ------------------------------------------------------------------------ the loop

    def step(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """One training step over every phase; returns the last phase's terms.

        The hot path: no syncs with the device, no copies. For one phase it is exactly
        ``zero_grad(set_to_none=True); terms = model.loss(batch); terms[key].backward();
        step()``, plus one in-place add of the detached terms, stacked, into a running sum.
        """
        if self._set_schedule_step is not None:
            self._set_schedule_step(self.global_step)
        if self._stage_ends:
            self._enter_stage()
        terms = None
        for i in self._active:
            key, repeats, optimizer, params, loss_of = self._plan[i]
            self._counts[i] += 1
            for repeat in range(repeats):
                optimizer.zero_grad(set_to_none=True)
                terms = loss_of(batch if repeat == 0 else self._fresh_batch(batch))
                try:
                    loss = terms[key]
                except KeyError:
                    raise ConfigError(_missing_term(self.phases[i].name, key, terms)) from None
                loss.backward()
                if self._grad_clip is not None:
                    nn.utils.clip_grad_norm_(params, self._grad_clip)
                optimizer.step()
                names = self._names[i]
                if names is None:
                    names = self._first_terms(i, terms)
                try:
                    self._sums[i].add_(torch.stack([terms[k].detach() for k in names]))
                except KeyError as missing:
                    raise ConfigError(_changed_terms(self.phases[i].name, names, missing)) from None
            self._last_terms[i] = terms
        self.global_step += 1
        self._window += 1
        return terms

    def _plan_stages(self, config):
        """``(ends, phases)``: the global step at which each stage of ``config.stages`` ends
        and the plan indices of the phases it runs; ``([], [])`` without stages."""
        self._timed_stages = False
        if not config.stages:
            return [], []
        names = [p.name for p in self.phases]
        ends, phases, at = [], [], 0
        shared = "share" in config.stages[0]
        if shared:
            budgets = [config.max_steps] if config.max_steps is not None else []
            if config.epochs is not None:
                budgets.append(config.epochs * self.steps_per_epoch)
            total = min(budgets) if budgets else None
        share = 0.0
        for i, stage in enumerate(config.stages):
            unknown = [n for n in stage["phases"] if n not in names]
            if unknown:
                raise ConfigError(
                    f"TrainConfig field 'stages'[{i}] names phase(s) {unknown}, which the model "
                    f"lacks; its phases are {names}."
                )
            phases.append([j for j, n in enumerate(names) if n in stage["phases"]])
            if shared:
                share += stage["share"]
                # With minutes the only budget, a stage ends at its share of the call's time,
                # the step it ended at recorded (and checkpointed) then; the last one never
                # ends by itself, the minutes do.
                self._stage_shares.append(share)
                last = i == len(config.stages) - 1
                ends.append(math.inf if total is None else total if last else max(1, round(share * total)))
                continue
            at += stage["max_steps"] if "max_steps" in stage else stage["epochs"] * self.steps_per_epoch
            ends.append(at)
        self._timed_stages = shared and total is None
        return ends, phases

    def _end_timed_stage(self, started: float) -> None:
        """With stages sharing the minutes, end the current stage once its share of this
        call's time is spent (not the last: the minutes end that)."""
        i = self.stage
        if i < len(self._stage_ends) - 1 and \
                time.monotonic() - started >= self._stage_shares[i] * self.config.minutes * 60:
            self._stage_ends[i] = self.global_step

    @property
    def stage(self) -> int | None:
        """The index of the stage the next step belongs to (None without stages)."""
        if not self._stage_ends:
            return None
        return min(bisect.bisect_right(self._stage_ends, self.global_step), len(self._stage_ends) - 1)

    def _enter_stage(self) -> None:
        self._active = self._stage_phases[self.stage]

    def _fresh_batch(self, batch: dict) -> dict:
        """Another batch of the training split, as large as `batch`, drawn uniformly (with
        replacement, from the global generator that checkpoints save) for a phase's repeated
        step."""
        size = num_rows(batch)
        index = torch.randint(self.num_train, (size,), device=self.device)
        return self._prepare({k: v[index] for k, v in self._splits["train"].items()})

    def _train_of(self, epoch: int) -> dict[str, torch.Tensor]:
        """``data.resample(base, epoch)`` on the device in the model's float dtype, checked
        to keep the keys and the number of rows (the permutation and a resume rely on them)."""
        tensors = self._resample(self._base_train, epoch)
        if not isinstance(tensors, Mapping) or set(tensors) != set(self._base_train):
            keys = sorted(tensors) if isinstance(tensors, Mapping) else type(tensors).__name__
            raise DataError(
                f"data.resample(train, {epoch}) returned {keys}; return a dict with the keys "
                f"of data.train, {sorted(self._base_train)}."
            )
        sizes = {k: (v.shape[0] if torch.is_tensor(v) and v.dim() else None)
                 for k, v in tensors.items()}
        if set(sizes.values()) != {self.num_train}:
            raise DataError(
                f"data.resample(train, {epoch}) returned rows {sizes}, but data.train has "
                f"{self.num_train}; return tensors with one row per training example."
            )
        return {
            k: v.to(self.device, self._dtype) if v.is_floating_point() else v.to(self.device)
            for k, v in tensors.items()
        }

    def _first_terms(self, i: int, terms: dict) -> tuple[str, ...]:
        """Phase i's term names, read off its first step: the scalar tensors of its dict."""
        names = tuple(k for k, v in terms.items() if torch.is_tensor(v) and v.dim() == 0)
        key = self._plan[i][0]
        if key not in names:
            raise ConfigError(
                f"model.loss: the term {key!r} that phase {self.phases[i].name!r} minimises is not "
                "a scalar tensor; return the mean over the batch."
            )
        self._set_names(i, names)
        return names

    def _set_names(self, i: int, names: tuple[str, ...]) -> None:
        self._names[i] = names
        self._key_at[i] = names.index(self._plan[i][0])
        if self._sums[i].numel() != len(names):
            self._sums[i] = self._sums[i].new_zeros(len(names))

    def fit(self) -> dict:
        """Train until `epochs`, `max_steps` or `minutes` is reached; return a summary.

        The summary has ``steps``, ``epochs`` (fractional), ``stopped_by``, ``time`` (this
        call, seconds), ``total_time``, ``monitor``, ``best``, ``val`` (the last val
        metrics), ``train`` (the last train losses) and ``paths``.

        Raises:
            TrainingError: the loss became NaN or infinite; the last good checkpoint is kept.
        """
        config = self.config
        self._start()
        self.model.train()
        started = time.monotonic()
        deadline = started + config.minutes * 60 if config.minutes is not None else None
        train, batch_size, spe = self._splits["train"], config.batch_size, self.steps_per_epoch
        on_step_end = self._hooks["on_step_end"]
        for hook in self._hooks["on_fit_start"]:
            hook(self)
        bar, by_time = self._progress_bar()
        shown, stopped_by = 0.0, None
        perm, perm_epoch = None, -1
        try:
            while True:
                stopped_by = self._limit_reached()
                if stopped_by:
                    break
                if perm_epoch != self.epoch:
                    if self._resample is not None:
                        # A function of the epoch alone, so also the same after a resume.
                        train = self._splits["train"] = self._train_of(self.epoch)
                    # Same generator state at the start of an epoch -> same permutation,
                    # also after a resume in the middle of it.
                    self._shuffle.set_state(self._shuffle_start)
                    perm = torch.randperm(self.num_train, generator=self._shuffle)
                    perm, perm_epoch = perm.to(self.device), self.epoch
                if config.lr_schedule != "constant":
                    self._schedule_lr(started)
                start = self.batch_in_epoch * batch_size
                index = perm[start : start + batch_size]
                terms = self.step(self._prepare({k: v[index] for k, v in train.items()}))
                step = self.global_step
                if self._timed_stages:
                    self._end_timed_stage(started)
                for hook in on_step_end:
                    hook(self, step, terms)
                self.batch_in_epoch += 1
                epoch_ended = self.batch_in_epoch == spe
                if epoch_ended:
                    self.epoch += 1
                    self.batch_in_epoch = 0
                    self._shuffle_start = self._shuffle.get_state()
                if step % config.log_every == 0:
                    self._log_running(bar)
                if (config.eval_every is None and epoch_ended) or (
                    config.eval_every is not None and step % config.eval_every == 0
                ):
                    self._evaluate_and_save(started)
                elif config.checkpoint_every is not None and step % config.checkpoint_every == 0:
                    self._check_finite()
                    self._save_last(started)
                now = time.monotonic()
                if by_time:
                    # The last step overshoots the budget; the bar stops at its total.
                    seen = min(now - started, bar.total)
                    bar.update(seen - shown)
                    shown = seen
                else:
                    bar.update(1)
                if deadline is not None and now >= deadline:
                    stopped_by = "minutes"
                    break
            if self.global_step != self._evaluated_step:
                self._evaluate_and_save(started)
        finally:
            bar.close()
            if self._tensorboard is not None:
                self._tensorboard.flush()
        spent = time.monotonic() - started
        self._elapsed += spent
        summary = self._summary(stopped_by, spent)
        log.info("training stopped by %s at step %d: %s", stopped_by, self.global_step, summary)
        for hook in self._hooks["on_fit_end"]:
            hook(self, summary)
        return summary

    def _start(self) -> None:
        """Once per Trainer: seed a fresh run, prepare the out folder; every fit call:
        restore a resumed run's RNG states, write config.json, check `monitor`."""
        config = self.config
        self._check_monitor()  # before anything is written: a refused run changes nothing
        if not self._started:
            fresh = self._resumed_from is None and self.global_step == 0
            if fresh:
                seed_everything(config.seed)
            if self.out is not None:
                self.out.mkdir(parents=True, exist_ok=True)
                metrics = MetricsLog(self.out / "metrics.jsonl")
                if fresh:
                    if self._overwrite:
                        log.warning("overwrite=True: replacing the run in %s", self.out)
                        remove_run_files(self.out)
                    metrics.reset()
                else:
                    metrics.truncate_after(self.global_step)
                if config.tensorboard:
                    self._tensorboard = TensorBoardLog(self.out / TENSORBOARD_DIR)
            self._started = True
        if self._pending_rng is not None:
            set_rng_state(self._pending_rng)
            self._pending_rng = None
        if self.out is not None:
            save_json(self.out / "config.json", config.to_dict())

    def budget_fraction(self, started: float | None = None) -> float:
        """The share of the run's budget spent, in [0, 1]: the largest of global_step /
        max_steps, epochs done / epochs and, during ``fit`` (``started``), this call's
        seconds / (minutes * 60), whichever limits are set."""
        config = self.config
        shares = [0.0]
        if self._stage_ends and not self._timed_stages:
            shares.append(self.global_step / self._stage_ends[-1])
        if config.max_steps is not None:
            shares.append(self.global_step / config.max_steps)
        if config.epochs is not None:
            shares.append(self._epochs_done() / config.epochs)
        if config.minutes is not None and started is not None:
            shares.append((time.monotonic() - started) / (config.minutes * 60))
        return min(max(shares), 1.0)

    def _schedule_lr(self, started: float) -> None:
        """Set every learning rate to its initial value times the schedule's factor."""
        f = self.budget_fraction(started)
        factor = 0.5 * (1.0 + math.cos(math.pi * f)) if self.config.lr_schedule == "cosine" else 1.0 - f
        for optimizer in self.optimizers.values():
            for group in optimizer.param_groups:
                group["lr"] = group["initial_lr"] * factor

    def _limit_reached(self) -> str | None:
        config = self.config
        if self._stage_ends and self.global_step >= self._stage_ends[-1]:
            return "stages"
        if config.max_steps is not None and self.global_step >= config.max_steps:
            return "max_steps"
        if config.epochs is not None and self.epoch >= config.epochs:
            return "epochs"
        return None

    def _progress_bar(self):
        """A bar over steps, or over seconds when `minutes` is the only limit."""
        config = self.config
        limits = [config.max_steps] if config.max_steps is not None else []
        if config.epochs is not None:
            limits.append(config.epochs * self.steps_per_epoch)
        if self._stage_ends and not self._timed_stages:
            limits.append(self._stage_ends[-1])
        disable = not config.progress
        if limits:
            total = min(limits)
            bar = progress_bar(
                total=total, initial=min(self.global_step, total), unit="step", desc="train",
                disable=disable,
            )
            return bar, False
        bar = progress_bar(
            total=round(config.minutes * 60), unit="s", desc="train", disable=disable,
            bar_format="{l_bar}{bar}| {n:.0f}/{total_fmt}s [{elapsed}<{remaining}{postfix}]",
        )
        return bar, True

    # ------------------------------------------------------------ logging and checking

    def _read_all(self) -> list[list[float]]:
        # The one device sync of the loop, every log_every steps and at evaluations.
        flat = torch.cat(self._sums).tolist()
        out, at = [], 0
        for total in self._sums:
            out.append(flat[at : at + total.numel()])
            at += total.numel()
        return out

    def _read_sums(self) -> list[float]:
        """The running sum of each phase's minimised term."""
        return [sums[at] for sums, at in zip(self._read_all(), self._key_at)]

    def _check_finite(self) -> list[list[float]]:
        """Raise TrainingError if any loss since the last evaluation was NaN or inf; else
        return every running sum (per phase, per term)."""
        every = self._read_all()
        sums = [phase[at] for phase, at in zip(every, self._key_at)]
        if all(math.isfinite(s) for s in sums):
            return every
        checked = self._logged[0]
        first = self.global_step - (self._window - checked) + 1
        where = (
            f"at step {self.global_step}"
            if first == self.global_step
            else f"at step {self.global_step} (first at some step from {first} to "
            f"{self.global_step}; log_every=1 finds the exact one)"
        )
        bad = []
        for phase, terms in zip(self.phases, self._last_terms):
            names = [k for k, v in (terms or {}).items() if not bool(torch.isfinite(v).all())]
            bad.append(f"phase {phase.name!r}: {', '.join(names) or 'none in the last step'}")
        kept = (
            f"the last good checkpoint is kept at '{self._last_checkpoint}' (step "
            f"{self._saved_step})"
            if self._last_checkpoint is not None
            else "no checkpoint had been written yet"
        )
        raise TrainingError(
            f"the training loss became non-finite (NaN or inf) {where}; non-finite terms in "
            f"the last step: {'; '.join(bad)}. No checkpoint was written after it, and {kept}. "
            "Lower lr, set grad_clip, or check the data for NaNs, then resume from the "
            "checkpoint with resume=True (or start afresh)."
        )

    def _log_running(self, bar) -> None:
        """Check the running loss and show its mean since the last log."""
        every = self._check_finite()
        sums = [phase[at] for phase, at in zip(every, self._key_at)]
        _, counts, logged = self._logged
        means = {
            self._loss_label(i): (sums[i] - logged[i]) / ((self._counts[i] - counts[i]) * self._plan[i][1])
            for i in range(len(self._plan)) if self._counts[i] > counts[i]
        }
        if means:
            bar.set_postfix({k: f"{v:.4g}" for k, v in means.items()}, refresh=False)
            log.debug("step %d: %s", self.global_step, means)
        self._logged = (self._window, list(self._counts), sums)

    def _loss_label(self, i: int) -> str:
        return "loss" if len(self._plan) == 1 else self.phases[i].name

    def _train_means(self, every: list[list[float]]) -> dict[str, float]:
        """Means since the last evaluation, for metrics.jsonl: ``train/loss`` (the last
        phase's minimised term), with several phases ``train/<phase>`` (each phase's), and
        ``train/<phase>/<term>`` for every term of every phase."""
        ran = [i for i in range(len(self._plan)) if self._counts[i]]  # a stage may skip phases
        if self._window == 0 or not ran:
            return {}
        record = {}
        for i in ran:
            steps = self._counts[i] * self._plan[i][1]
            for name, total in zip(self._names[i] or (), every[i]):
                record[f"train/{self.phases[i].name}/{name}"] = total / steps
        means = {i: every[i][self._key_at[i]] / (self._counts[i] * self._plan[i][1]) for i in ran}
        head = {"train/loss": means[ran[-1]]}
        if len(self._plan) > 1:
            head.update({f"train/{self.phases[i].name}": m for i, m in means.items()})
        return {**head, **record}

    # ---------------------------------------------------------------------- evaluation

    def evaluate(self, split: str = "val") -> dict[str, float]:
        """The mean of every term of ``model.loss`` over `split`, weighted by batch size.

        Runs under ``torch.no_grad()`` with ``model.eval()`` (the previous mode is restored)
        and with its own random stream seeded by ``config.seed``: two evaluations of the
        same model give the same numbers, and the training stream is left untouched.
        """
        tensors = self._split(split)
        if not tensors:
            raise DataError(
                f"data.{split} is empty, so there is nothing to evaluate; give the data a "
                f"{split} split or evaluate another one."
            )
        config = self.config
        return mean_terms(
            self.model, tensors, self._prepare, config.eval_batch_size, self.device, config.seed
        )

    def _split(self, split: str) -> dict[str, torch.Tensor]:
        if split not in SPLITS:
            raise ConfigError(f"Trainer.evaluate: unknown split {split!r}; use one of {SPLITS}.")
        if split not in self._splits:  # moved to the device once, on first use
            self._splits[split] = split_on_device(self.data, split, self.device, self._dtype)
        return self._splits[split]

    def _check_monitor(self) -> None:
        """Fail at the start, not after an epoch, if the val terms lack `monitor`."""
        if self._monitor_checked or self.config.monitor is None or not self._split("val"):
            return
        names = term_names(
            self.model, self._split("val"), self._prepare, self.device, self.config.seed
        )
        if self.config.monitor not in names:
            raise ConfigError(
                f"TrainConfig field 'monitor' = {self.config.monitor!r} is not a term of "
                f"model.loss (its terms are {names}); set monitor to one of them, with "
                "monitor_mode='min' for a loss."
            )
        self._monitor_checked = True

    def _evaluate_and_save(self, started: float) -> None:
        """Evaluate, append to metrics.jsonl, save last.pt (and best.pt if improved)."""
        every = self._check_finite()  # before anything is written
        record = {"step": self.global_step, "epoch": self._epochs_done()}
        record["time"] = self._time(started)
        self._last_train = self._train_means(every)
        record.update(self._last_train)
        for total in self._sums:
            total.zero_()
        self._window, self._logged = 0, (0, [0] * len(self._plan), [0.0] * len(self._plan))
        self._counts = [0] * len(self._plan)
        improved = False
        if self._split("val"):
            metrics = self.evaluate("val")
            self._last_val = metrics
            record.update({f"val/{k}": v for k, v in metrics.items()})
            value = metrics[self.config.monitor] if self.config.monitor is not None else math.nan
            improved = self._improves(value)
            if improved:
                self.best = value
        log.info(
            "step %d: %s", self.global_step,
            ", ".join(f"{k}={v:.5g}" for k, v in record.items() if "/" in k),
        )
        if self.out is not None:
            MetricsLog(self.out / "metrics.jsonl").append(record)
        if self._tensorboard is not None:
            self._tensorboard.append(record)
        state = self._save_last(started)
        if improved and self.out is not None:
            save_checkpoint(self.out / "best.pt", state)
        self._evaluated_step = self.global_step
        for hook in self._hooks["on_evaluate"]:
            hook(self, record)

    def _improves(self, value: float) -> bool:
        if not math.isfinite(value):
            return False
        if self.best is None:
            return True
        return value > self.best if self.config.monitor_mode == "max" else value < self.best

    # ---------------------------------------------------------------------- checkpoints

    def _checkpoint_state(self, started: float | None = None) -> dict:
        """The checkpoint of the current state: tensors and plain data only."""
        return {
            "format": FORMAT,
            "version": VERSION,
            "model": self.model.state_dict(),
            "optimizers": {name: opt.state_dict() for name, opt in self.optimizers.items()},
            "step": self.global_step,
            "epoch": self.epoch,
            "batch_in_epoch": self.batch_in_epoch,
            "shuffle_state": self._shuffle_start.clone(),
            "rng": get_rng_state(),
            "best": self.best,
            "config": self.config.to_dict(),
            "time": self._time(started),
            "num_train": self.num_train,
            # where stages sharing the minutes ended (None: not yet), for an exact resume
            "stage_ends": [None if math.isinf(e) else e for e in self._stage_ends] if self._timed_stages else None,
            "running": {"sums": [total.cpu() for total in self._sums], "window": self._window,
                        "counts": list(self._counts),
                        "names": [None if n is None else list(n) for n in self._names]},
        }

    def _save_last(self, started: float) -> dict:
        state = self._checkpoint_state(started)
        if self.out is not None:
            self._last_checkpoint = save_checkpoint(self.out / "last.pt", state)
        self._saved_step = self.global_step
        return state

    # ---------------------------------------------------------------------- summaries

    def _time(self, started: float | None) -> float:
        return self._elapsed + (time.monotonic() - started if started is not None else 0.0)

    def _epochs_done(self) -> float:
        return self.epoch + self.batch_in_epoch / self.steps_per_epoch

    def _summary(self, stopped_by: str | None, spent: float) -> dict:
        out = self.out
        paths = {"out": None, "config": None, "metrics": None, "last": None, "best": None}
        if out is not None:
            paths = {
                "out": str(out),
                "config": str(out / "config.json"),
                "metrics": str(out / "metrics.jsonl"),
                "last": str(out / "last.pt") if (out / "last.pt").exists() else None,
                "best": str(out / "best.pt") if (out / "best.pt").exists() else None,
            }
        return {
            "steps": self.global_step,
            "epochs": self._epochs_done(),
            "stopped_by": stopped_by,
            "time": spent,
            "total_time": self._elapsed,
            "monitor": self.config.monitor,
            "best": self.best,
            "val": self._last_val,
            "train": self._last_train,
            "paths": paths,
        }


# ---------------------------------------------------------------------------- helpers


def _identity(batch):
    return batch


def _float_dtype(model: nn.Module) -> torch.dtype:
    """The dtype of the model's floating parameters (float32 unless the user changed it)."""
    for tensor in list(model.parameters()) + list(model.buffers()):
        if tensor.is_floating_point():
            return tensor.dtype
    return torch.get_default_dtype()


def _resolve_hooks(callbacks) -> dict[str, tuple]:
    """For each event, the bound methods of the callbacks that define it (resolved once)."""
    try:
        callbacks = tuple(callbacks)
    except TypeError:
        raise ConfigError(
            "Trainer: callbacks must be a sequence of objects, e.g. callbacks=[MyCallback()]."
        ) from None
    return {
        event: tuple(getattr(cb, event) for cb in callbacks if callable(getattr(cb, event, None)))
        for event in EVENTS
    }


def _stored_config(checkpoint: dict, path: Path) -> TrainConfig:
    try:
        return TrainConfig.from_dict(checkpoint["config"])
    except ConfigError as error:
        raise CheckpointError(
            f"checkpoint file '{path}' holds an invalid config ({error}); pass config= "
            "explicitly to resume."
        ) from error


def _missing_term(phase: str, key: str, terms) -> str:
    names = sorted(terms) if isinstance(terms, dict) else type(terms).__name__
    return (
        f"model.phases: phase {phase!r} minimises term {key!r}, but model.loss returned "
        f"{names}; make the phase's loss one of the returned terms."
    )


def _changed_terms(phase: str, names, missing: KeyError) -> str:
    return (
        f"model.loss: phase {phase!r} returned the terms {list(names)} on its first step but "
        f"lacks {missing.args[0]!r} now; return the same terms on every batch (a weight of 0 "
        "or a zero tensor for a term that does not apply)."
    )
