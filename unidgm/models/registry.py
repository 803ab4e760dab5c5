"""The catalogue: model names mapped to functions that declare their graphs.

A catalogue model is a plain function that returns a :class:`~unidgm.Graph`; registering
it under a name makes it available to ``unidgm.models.build`` and the ``unidgm`` command.
A user's own model needs no registration: it is just a function that builds a graph.
"""
from __future__ import annotations

import inspect
from collections.abc import Callable

from ..errors import ConfigError
from ..graph.graph import Graph

_CATALOGUE: dict[str, Callable[..., Graph]] = {}


def register(name: str):
    """Decorator: adds a graph-building function to the catalogue under ``name``."""

    def wrap(fn: Callable[..., Graph]) -> Callable[..., Graph]:
        if name in _CATALOGUE:
            raise ConfigError(f"catalogue model {name!r} is registered twice")
        _CATALOGUE[name] = fn
        return fn

    return wrap


def catalogue() -> list[str]:
    """Names of the catalogue's models, sorted."""
    return sorted(_CATALOGUE)


def options(name: str) -> dict[str, object]:
    """A catalogue model's options and their defaults."""
    return {p.name: p.default for p in inspect.signature(_get(name)).parameters.values()}


def build(name: str, **opts) -> Graph:
    """Builds the catalogue model ``name`` as a Graph; ``opts`` override its defaults
    (e.g. ``x_shape``, ``latent_dim``, ``net``)."""
    fn = _get(name)
    unknown = set(opts) - set(inspect.signature(fn).parameters)
    if unknown:
        raise ConfigError(f"model {name!r} has no option {', '.join(sorted(unknown))}; "
                          f"its options are {', '.join(options(name))}")
    return fn(**opts)


def _get(name: str) -> Callable[..., Graph]:
    if name not in _CATALOGUE:
        raise ConfigError(f"unknown model {name!r}; the catalogue has {', '.join(catalogue())}")
    return _CATALOGUE[name]
