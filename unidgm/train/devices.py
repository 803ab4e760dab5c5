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


def split_on_device(data, split: str, device: torch.device,
                    dtype: torch.dtype | None = None) -> dict[str, torch.Tensor]:
    """``data.<split>`` with every tensor on `device`; ``{}`` when the split is missing,
    None, empty or has no rows. NumPy arrays (anything ``torch.as_tensor`` reads) become
    tensors, and floating values of another precision (NumPy's float64) become `dtype`, the
    model's, once here rather than on every step."""
    tensors = getattr(data, split, None)
    if tensors is None:
        return {}
    if not isinstance(tensors, dict):
        raise DataError(
            f"data.{split} must be a dict of tensors keyed like the graph's visible nodes, "
            f"got {type(tensors).__name__}."
        )
    tensors = {k: _as_tensor(v, f"data.{split}[{k!r}]", dtype) for k, v in tensors.items()}
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


def _as_tensor(value, where: str, dtype: torch.dtype | None) -> torch.Tensor:
    if not torch.is_tensor(value):
        try:
            value = torch.as_tensor(value)
        except (TypeError, ValueError, RuntimeError):
            raise DataError(
                f"{where} is a {type(value).__name__}, which is not an array; give a tensor "
                "or a NumPy array with one row per example."
            ) from None
    if dtype is not None and value.is_floating_point() and value.dtype != dtype:
        value = value.to(dtype)
    return value
