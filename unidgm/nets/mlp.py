"""A multilayer perceptron, the default network of an edge."""
from __future__ import annotations

from collections.abc import Sequence

from torch import nn


class MLP(nn.Sequential):
    """``in_features -> hidden... -> out_features`` with an activation between layers.

    Inputs with more than one feature dimension (images) are flattened first, so the same
    MLP reads a ``(B, 784)`` vector or a ``(B, 1, 28, 28)`` image.

    Args:
        in_features: input size (flattened).
        hidden: sizes of the hidden layers (may be empty: a linear map).
        out_features: output size; the engine reads it by the child node's family.
        activation: the nonlinearity class (default ``nn.ReLU``).
    """

    def __init__(self, in_features: int, hidden: Sequence[int], out_features: int,
                 activation: type[nn.Module] = nn.ReLU):
        layers: list[nn.Module] = []
        sizes = [in_features, *hidden]
        for a, b in zip(sizes[:-1], sizes[1:]):
            layers += [nn.Linear(a, b), activation()]
        layers.append(nn.Linear(sizes[-1], out_features))
        super().__init__(*layers)
        self.in_features = in_features
        self.out_features = out_features

    def forward(self, x):
        if x.dim() > 2:
            x = x.flatten(1)
        return super().forward(x)
