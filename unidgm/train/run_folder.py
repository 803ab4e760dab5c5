"""What a run folder holds, so that no run is replaced by accident.

A fresh run into a folder that already holds a run's checkpoints or metrics is refused
(`refuse_a_run_folder`) unless the user asked to overwrite it; then `remove_run_files`
removes the files the old run wrote, so that none of them (an old ``best.pt`` with a better
score, stale TensorBoard events) can be mistaken for the new run's.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from unidgm.errors import ConfigError

CHECKPOINTS = ("last.pt", "best.pt")
METRICS = "metrics.jsonl"
TENSORBOARD_DIR = "tensorboard"


def held_run_files(out: Path, also: tuple[str, ...] = ()) -> list[str]:
    """The files in `out` that show a run was trained there: checkpoints, a non-empty
    metrics log, and any of `also` (a caller's own files, the CLI's run.json)."""
    held = [name for name in CHECKPOINTS + tuple(also) if (out / name).exists()]
    metrics = out / METRICS
    if metrics.is_file() and metrics.stat().st_size > 0:
        held.append(METRICS)
    return held


def refuse_a_run_folder(out: Path, resume: str = "resume=True (`--resume`)",
                        overwrite: str = "overwrite=True (`--overwrite`)", also: tuple[str, ...] = ()) -> None:
    """Raise ConfigError if `out` holds a run; the message names the three ways on."""
    held = held_run_files(out, also)
    if held:
        raise ConfigError(
            f"'{out}' already holds a run ({', '.join(held)}); a fresh run would replace it. "
            f"Continue it with {resume}, replace it with {overwrite}, or train into a new folder."
        )


def remove_run_files(out: Path) -> None:
    """Remove what a Trainer wrote in `out` (checkpoints, metrics, TensorBoard events)."""
    for name in CHECKPOINTS + (METRICS,):
        (out / name).unlink(missing_ok=True)
    shutil.rmtree(out / TENSORBOARD_DIR, ignore_errors=True)
