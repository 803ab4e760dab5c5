"""Networks the catalogue's models share: an encoder and a decoder for a node, MLP or
convolutional, sized from the node's shape and family."""
from __future__ import annotations

import math
from collections.abc import Sequence

from ..errors import ConfigError
from ..graph.families import make_family
from ..nets import MLP, ConvDecoder, ConvEncoder

NETS = ("mlp", "conv")


def param_shape(family: str, shape: Sequence[int]) -> tuple[int, ...]:
    """The output layout a network needs for a node of ``family`` and ``shape``."""
    return make_family(family).param_shape(tuple(shape))


def _check(net: str):
    if net not in NETS:
        raise ConfigError(f"net must be one of {NETS}, got {net!r}")


def encoder(in_shape: Sequence[int], out_features: int, net: str = "mlp", hidden: Sequence[int] = (400,)):
    """A network from a node of ``in_shape`` to ``out_features`` numbers."""
    _check(net)
    if net == "conv" and len(in_shape) == 3:
        return ConvEncoder(tuple(in_shape), out_features, hidden=hidden[-1] if hidden else 256)
    return MLP(math.prod(in_shape), list(hidden), out_features)


def decoder(in_features: int, family: str, shape: Sequence[int], net: str = "mlp", hidden: Sequence[int] = (400,)):
    """A network from ``in_features`` numbers to the parameters of a ``family`` node of
    ``shape`` (e.g. logits of an image, or loc and log-scale of a vector)."""
    _check(net)
    out = param_shape(family, shape)
    if net == "conv" and len(shape) == 3:
        return ConvDecoder(in_features, out, hidden=hidden[-1] if hidden else 256)
    return MLP(in_features, list(reversed(list(hidden))), math.prod(out))


def generator(in_features: int, shape: Sequence[int], net: str = "mlp", hidden: Sequence[int] = (256, 256),
              batch_norm: bool = False):
    """An implicit generator's network: ``in_features`` numbers to a value of ``shape``,
    squashed to [0, 1] for images (three-dimensional shapes), linear otherwise.
    ``batch_norm`` normalises the MLP's hidden layers (Radford et al. 2016's generator)."""
    _check(net)
    from torch import nn

    image = len(shape) == 3
    if net == "conv" and image:
        body = ConvDecoder(in_features, tuple(shape), hidden=hidden[-1] if hidden else 256)
    else:
        body = MLP(in_features, list(hidden), math.prod(shape), batch_norm=batch_norm)
    return nn.Sequential(body, nn.Sigmoid()) if image else body


def discriminator(in_shape: Sequence[int], net: str = "mlp", hidden: Sequence[int] = (256, 256),
                  dropout: float = 0.0, spectral_norm: bool = False, out_features: int = 1):
    """A discriminator's network: a value of ``in_shape`` (flattened for MLPs) to
    ``out_features`` numbers (one: the critic), with leaky ReLUs as in Radford et al.
    (2016); ``dropout`` and ``spectral_norm`` regularise the MLP (see ``MLP``)."""
    _check(net)
    from torch import nn

    if net == "conv" and len(in_shape) == 3:
        return ConvEncoder(tuple(in_shape), out_features, hidden=hidden[-1] if hidden else 256)
    return MLP(math.prod(in_shape), list(hidden), out_features, activation=lambda: nn.LeakyReLU(0.2),
               dropout=dropout, spectral_norm=spectral_norm)
