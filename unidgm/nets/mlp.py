"""A multilayer perceptron, the default network of an edge."""
from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from ..errors import ConfigError


class MLP(nn.Sequential):
    """``in_features -> hidden... -> out_features`` with an activation between layers.

    Inputs with more than one feature dimension (images) are flattened first, so the same
    MLP reads a ``(B, 784)`` vector or a ``(B, 1, 28, 28)`` image.

    Args:
        in_features: input size (flattened).
        hidden: sizes of the hidden layers (may be empty: a linear map).
        out_features: output size; the engine reads it by the child node's family.
        activation: the nonlinearity class (default ``nn.ReLU``).
        batch_norm: batch normalisation before each hidden activation (Ioffe & Szegedy
            2015), as in the generators of Radford et al. (2016).
        dropout: dropout probability after each hidden activation (0: none); a GAN's
            discriminator on a small dataset overfits without it (Goodfellow et al. 2014
            used dropout in theirs).
        spectral_norm: divide each weight by its largest singular value (Miyato et al.
            2018), which bounds the network's Lipschitz constant: a discriminator
            regulariser.
    """

    def __init__(self, in_features: int, hidden: Sequence[int], out_features: int,
                 activation: type[nn.Module] = nn.ReLU, *, batch_norm: bool = False, dropout: float = 0.0,
                 spectral_norm: bool = False):
        if not 0.0 <= dropout < 1.0:
            raise ConfigError(f"MLP: dropout must be in [0, 1), got {dropout}")
        linear = nn.Linear
        if spectral_norm:
            def linear(a, b):
                return nn.utils.parametrizations.spectral_norm(nn.Linear(a, b))
        layers: list[nn.Module] = []
        sizes = [in_features, *hidden]
        for a, b in zip(sizes[:-1], sizes[1:]):
            layers.append(linear(a, b))
            if batch_norm:
                layers.append(nn.BatchNorm1d(b))
            layers.append(activation())
            if dropout:
                layers.append(nn.Dropout(dropout))
        layers.append(linear(sizes[-1], out_features))
        super().__init__(*layers)
        self.in_features = in_features
        self.out_features = out_features

    def forward(self, x):
        if x.dim() > 2:
            x = x.flatten(1)
        return super().forward(x)
