"""Checkpoints: written atomically, holding only tensors and plain data.

A checkpoint is a dict (see `REQUIRED_KEYS`) saved with `torch.save`. Two promises:

* **Atomic.** The bytes go to a temporary file in the same folder, are flushed and fsynced,
  then renamed over the target with `os.replace`; a run killed mid-write leaves the previous
  checkpoint intact and at worst a stray ``.*.tmp`` file, never a half-written ``last.pt``.
* **Safe to load.** Only tensors, numbers, strings, None, lists, tuples and dicts go in, so
  `load_checkpoint` reads it with ``torch.load(..., weights_only=True)``, which runs no
  pickled code.

Every failure to load (missing file, truncated or corrupted bytes, a file that is not a
unidgm checkpoint, a model that does not match) raises `CheckpointError` naming the file.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import torch
from torch import nn

from unidgm.errors import CheckpointError

FORMAT = "unidgm-checkpoint"
VERSION = 1
REQUIRED_KEYS = (
    "format",
    "version",
    "model",
    "optimizers",
    "step",
    "epoch",
    "batch_in_epoch",
    "shuffle_state",
    "rng",
    "best",
    "config",
)
# The leaf types `torch.load(weights_only=True)` accepts besides containers. Scalars are
# matched by exact type: numpy.float64 is a float subclass but pickles as a NumPy object.
_SCALARS = (str, int, float, bool, type(None))
_TORCH_LEAVES = (torch.Tensor, torch.Size, torch.dtype, torch.device)


def save_checkpoint(path: str | os.PathLike, state: dict) -> Path:
    """Write `state` to `path` atomically and return the path.

    Raises `CheckpointError` if `state` holds anything but tensors and plain data (it could
    not be loaded back with ``weights_only=True``); nothing is written then.
    """
    path = Path(path)
    _check_plain(state, "state", path)
    atomic_write(path, lambda f: torch.save(state, f))
    return path


def load_checkpoint(path: str | os.PathLike, model: nn.Module | None = None) -> dict:
    """Read a checkpoint written by `save_checkpoint` (tensors on the CPU).

    With `model`, also load ``state["model"]`` into it (strictly); a mismatch raises
    `CheckpointError` listing the missing, unexpected and mis-shaped entries.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(
            f"checkpoint file '{path}' does not exist; check the path (a run saves "
            "out/last.pt and out/best.pt), or start a fresh run instead of resuming."
        )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several types for bad bytes; all mean one thing.
        raise CheckpointError(
            f"checkpoint file '{path}' cannot be read, it is truncated or corrupted "
            f"({type(error).__name__}: {_first_line(error)}); use another checkpoint "
            "(last.pt or best.pt of the run) or start a fresh run."
        ) from error
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(
            f"checkpoint file '{path}' is not a unidgm checkpoint (no format "
            f"{FORMAT!r}); pass a last.pt or best.pt written by unidgm's Trainer."
        )
    if not isinstance(state.get("version"), int) or state["version"] > VERSION:
        raise CheckpointError(
            f"checkpoint file '{path}' has version {state.get('version')!r}, but this unidgm "
            f"reads up to version {VERSION}; upgrade unidgm to load it."
        )
    missing = [key for key in REQUIRED_KEYS if key not in state]
    if missing:
        raise CheckpointError(
            f"checkpoint file '{path}' lacks the entries {missing}; it was not written by "
            "unidgm's Trainer or was edited; use another checkpoint or start a fresh run."
        )
    if model is not None:
        load_model_state(path, model, state["model"])
    return state


def load_model_state(path: str | os.PathLike, model: nn.Module, model_state: dict) -> None:
    """Load `model_state` into `model` strictly, raising `CheckpointError` on a mismatch."""
    try:
        model.load_state_dict(model_state, strict=True)
    except RuntimeError as error:
        # torch's message lists missing/unexpected keys and size mismatches; keep it short.
        detail = " ".join(str(error).split())
        if len(detail) > 600:
            detail = detail[:600] + " ..."
        raise CheckpointError(
            f"checkpoint file '{path}' does not match the model ({detail}); build the model "
            "with the same graph, networks and sizes as the run that wrote it."
        ) from error


def save_json(path: str | os.PathLike, data) -> Path:
    """Write `data` as indented JSON, atomically (used for out/config.json)."""
    path = Path(path)
    text = json.dumps(data, indent=2, sort_keys=True) + "\n"
    atomic_write(path, lambda f: f.write(text.encode("utf-8")))
    return path


def atomic_write(path: Path, write) -> None:
    """Call `write(file)` on a temporary file next to `path`, then rename it over `path`.

    The temporary file is in the same folder so that `os.replace` is a rename within one
    file system, which POSIX and Windows make atomic.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        # Leave no partial temporary file behind, whatever went wrong (also Ctrl-C).
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_folder(path.parent)


def _fsync_folder(folder: Path) -> None:
    # Makes the rename itself durable on POSIX; folders cannot be opened on Windows.
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _check_plain(value, where: str, path: Path) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _check_plain(key, f"{where} key {key!r}", path)
            _check_plain(item, f"{where}[{key!r}]", path)
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_plain(item, f"{where}[{i}]", path)
    elif type(value) not in _SCALARS and not isinstance(value, _TORCH_LEAVES):
        raise CheckpointError(
            f"cannot save checkpoint '{path}': {where} is a {type(value).__module__}."
            f"{type(value).__qualname__}, but a checkpoint holds only tensors and plain data "
            "(numbers, strings, None, lists, tuples, dicts); convert it first, e.g. a NumPy "
            "array with torch.as_tensor or .tolist()."
        )


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0][:200] if text else "no message"
