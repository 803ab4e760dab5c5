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
    k = make_family(family).num_params
    return (k * shape[0],) + tuple(shape[1:])


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
