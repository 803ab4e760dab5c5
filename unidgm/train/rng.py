"""Global random-number states as plain data, so that a checkpoint can hold them.

A resumed run continues exactly only if every global generator a step draws from is back
where it stopped: torch's CPU generator (`torch.randn_like`, dynamic binarization), the CUDA
generators, Python's `random` and NumPy's legacy global generator. Each state is stored as
a tensor or as lists and ints, never as a NumPy object, so that checkpoints load with
``torch.load(..., weights_only=True)``.
"""

from __future__ import annotations

import logging
import random

import torch

log = logging.getLogger("unidgm.train")


def get_rng_state() -> dict:
    """Every global RNG state, as tensors and plain data."""
    # (version, 625 ints, gauss_next) -> lists, which weights_only loading accepts as is.
    version, internal, gauss_next = random.getstate()
    state = {
        "torch": torch.get_rng_state(),
        "python": [version, list(internal), gauss_next],
        "numpy": _numpy_state(),
        "cuda": None,
    }
    # Reading CUDA states would initialise CUDA; if it is not initialised, nothing drew
    # from it, and there is nothing to restore.
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    """Restore what `get_rng_state` returned."""
    torch.set_rng_state(state["torch"])
    version, internal, gauss_next = state["python"]
    random.setstate((version, tuple(internal), gauss_next))
    if state.get("numpy") is not None:
        _set_numpy_state(state["numpy"])
    cuda = state.get("cuda")
    if cuda:
        if torch.cuda.is_available() and torch.cuda.device_count() == len(cuda):
            torch.cuda.set_rng_state_all(cuda)
        else:
            log.warning(
                "the checkpoint holds %d CUDA RNG states but this machine has %d CUDA "
                "devices; CUDA draws after resuming will differ from the original run.",
                len(cuda),
                torch.cuda.device_count() if torch.cuda.is_available() else 0,
            )


def seed_everything(seed: int) -> None:
    """Seed torch (all devices), Python's `random` and NumPy's global generator."""
    torch.manual_seed(seed)
    random.seed(seed)
    np = _numpy()
    if np is not None:
        np.random.seed(seed)


def _numpy():
    # NumPy is optional for training: without it there is no NumPy state to keep.
    try:
        import numpy
    except ImportError:
        return None
    return numpy


def _numpy_state() -> dict | None:
    np = _numpy()
    if np is None:
        return None
    name, keys, pos, has_gauss, cached = np.random.get_state()
    return {
        "name": str(name),
        "keys": [int(k) for k in keys],
        "pos": int(pos),
        "has_gauss": int(has_gauss),
        "cached_gaussian": float(cached),
    }


def _set_numpy_state(state: dict) -> None:
    np = _numpy()
    if np is None:
        return
    keys = np.asarray(state["keys"], dtype=np.uint32)
    np.random.set_state(
        (state["name"], keys, state["pos"], state["has_gauss"], state["cached_gaussian"])
    )
