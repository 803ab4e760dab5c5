"""The catalogue: model names mapped to functions that declare their graphs.

A catalogue model is a plain function that returns a :class:`~unidgm.Graph`; registering
it under a name makes it available to ``unidgm.models.build`` and the ``unidgm`` command.
A user's own model needs no registration: it is just a function that builds a graph.

Each option's spec is declared in its annotation (see :mod:`unidgm.models.specs`);
registering wraps the function so that every call checks its arguments against them and
refuses a bad value with a ConfigError naming the model, the option, the value and a good
example. An option without a spec is checked for the kind of its default only.
"""
from __future__ import annotations

import inspect
from collections.abc import Callable

from ..errors import ConfigError
from ..graph.graph import Graph
from ..options import Option, checked
from ..options import option_specs as _option_specs

_CATALOGUE: dict[str, Callable[..., Graph]] = {}
_DATA_DEFAULTS: dict[str, dict] = {}


def register(name: str, **data_defaults):
    """Decorator: adds a graph-building function to the catalogue under ``name``.
    ``data_defaults`` are the model's preferred data options, e.g. ``binarize=None`` for
    implicit generators, which model grey images."""

    def wrap(fn: Callable[..., Graph]) -> Callable[..., Graph]:
        if name in _CATALOGUE:
            raise ConfigError(f"catalogue model {name!r} is registered twice")
        model = checked(fn, f"model {name!r}")
        _CATALOGUE[name] = model
        _DATA_DEFAULTS[name] = data_defaults
        return model

    return wrap


def data_defaults(name: str) -> dict:
    """The model's preferred data options (``binarize``)."""
    _get(name)
    return dict(_DATA_DEFAULTS[name])


def catalogue() -> list[str]:
    """Names of the catalogue's models, sorted."""
    return sorted(_CATALOGUE)


def options(name: str) -> dict[str, object]:
    """A catalogue model's options and their defaults."""
    return {p.name: p.default for p in inspect.signature(_get(name)).parameters.values()}


def option_specs(name: str) -> dict[str, Option]:
    """A catalogue model's options and the specs their annotations declare (see
    :mod:`unidgm.models.specs`); an option declared with ``X | None`` (or defaulting to
    None) also accepts None."""
    return _option_specs(_get(name), derive=False)


def build(name: str, **opts) -> Graph:
    """Builds the catalogue model ``name`` as a Graph; ``opts`` override its defaults
    (e.g. ``x_shape``, ``latent_dim``, ``net``). Raises ConfigError for an option the model
    does not have, or a value its spec refuses (a list is taken for a tuple)."""
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
