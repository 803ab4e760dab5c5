"""Placing a run on its device: resolving ``device="auto"`` and moving the data once.

The splits are moved to the device a single time when the Trainer is built, so that a
training step only gathers rows on the device and never copies from the host.
"""

from __future__ import annotations

import torch

from unidgm.errors import ConfigError, DataError


def resolve_device(name: str) -> torch.device:
    """``"auto"`` -> cuda when available, else cpu; refuse a device this machine lacks."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    available = {"cuda": torch.cuda.is_available, "mps": torch.backends.mps.is_available}
    if device.type in available and not available[device.type]():
        raise ConfigError(
            f"TrainConfig field 'device' = {name!r}, but {device.type} is not available "
            "here; use device='auto' or 'cpu'."
        )
    return device


def split_on_device(data, split: str, device: torch.device) -> dict[str, torch.Tensor]:
    """``data.<split>`` with every tensor on `device`; ``{}`` when the split is missing,
    None, empty or has no rows."""
    tensors = getattr(data, split, None)
    if tensors is None:
        return {}
    if not isinstance(tensors, dict) or not all(torch.is_tensor(v) for v in tensors.values()):
        raise DataError(
            f"data.{split} must be a dict of tensors keyed like the graph's visible nodes, "
            f"got {type(tensors).__name__}."
        )
    sizes = {k: (v.shape[0] if v.dim() else None) for k, v in tensors.items()}
    if len(set(sizes.values())) > 1 or None in sizes.values():
        raise DataError(
            f"data.{split}: the tensors' first dimensions differ ({sizes}); every key needs "
            "one row per example."
        )
    if not tensors or next(iter(sizes.values())) == 0:
        return {}
    return {k: v.to(device) for k, v in tensors.items()}


def num_rows(tensors: dict[str, torch.Tensor]) -> int:
    """Number of examples in a non-empty split."""
    return int(next(iter(tensors.values())).shape[0])
