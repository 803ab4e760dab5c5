"""Between one-hot codes and their indices: the two deterministic edges that join a discrete
VAE's relaxed one-hot grid to the code node its prior models (Ramesh et al. 2021's dVAE)."""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class ArgmaxIndices(nn.Module):
    """``(B, *grid, K) -> (B, *grid)``: the index of each cell's largest entry, the hard code
    of a (relaxed) one-hot value."""

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return z.argmax(-1)


class OneHot(nn.Module):
    """``(B, *grid) -> (B, *grid, K)``: indices as one-hot floats, through which codes drawn
    from a prior over indices reach a decoder that reads one-hot values."""

    def __init__(self, classes: int):
        super().__init__()
        self.classes = classes

    def forward(self, indices: torch.Tensor) -> torch.Tensor:
        return F.one_hot(indices, self.classes).to(torch.get_default_dtype())

    def extra_repr(self) -> str:
        return f"classes={self.classes}"
