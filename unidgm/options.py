"""Option specs: what each option of an objective, an estimator, a divergence or a catalogue
model accepts, declared once in its parameter's annotation and checked on every call.

Each parameter's annotation carries an :class:`Option` spec (``k: Size = 5``,
``kl_weight: Weight = 1.0``, ``hidden: Sizes = (400,)``), and :func:`checked` refuses a value
of the wrong kind or out of range with one :class:`~unidgm.ConfigError` naming the owner, the
option, the value and a good example, before it reaches torch::

    model 'vae': hidden must be a non-empty tuple of positive ints, got 'abc'; e.g. hidden=(400,)

Objectives, estimators and divergences (``@checks_options``) and the catalogue's models
(``unidgm.models.register``) all use it; so can a user's own.
"""
from __future__ import annotations

import functools
import inspect
import math
import numbers
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated

from .errors import ConfigError


@dataclass(frozen=True, eq=False)  # compared by identity: ``example`` may be a dict
class Option:
    """What one option accepts: a kind, a range or choices. Declared in the parameter's
    annotation, ``k: Annotated[int, Option(int, low=1)] = 5`` (or an alias such as
    :data:`Size`), and enforced by :func:`checked`; ``X | None`` (or a default of None)
    also accepts None.

    Attributes:
        kind: ``int`` (bools refused), ``float`` (finite; ints accepted), ``bool``, ``str``
            (any, or one of ``choices``), ``tuple`` (of positive ints; lists accepted, as
            JSON writes tuples) or ``dict`` (with string keys).
        low, high: bounds of a number, inclusive unless ``open_low`` / ``open_high``.
        choices: the strings accepted.
        length: a tuple's exact length; ``empty``: whether a tuple may be ``()``.
        also: values accepted beside the range, e.g. ``0`` for "off".
        unit: said after the range (``">= 0 steps"``); ``help``: said after the name.
        example: a good value for messages where the default is None.
    """

    kind: type = str
    low: float | None = None
    high: float | None = None
    open_low: bool = False
    open_high: bool = False
    choices: tuple | None = None
    length: int | None = None
    empty: bool = False
    also: tuple = ()
    unit: str = ""
    help: str = ""
    example: object = None

    def accepts(self, value) -> bool:
        """Whether ``value`` is of the kind and in the range (None is the caller's to allow)."""
        if any(type(value) is type(a) and value == a for a in self.also):
            return True
        kind = self.kind
        if kind is bool:
            return isinstance(value, bool)
        if kind is str:
            return isinstance(value, str) and (self.choices is None or value in self.choices)
        if kind is dict:
            return isinstance(value, Mapping) and all(isinstance(k, str) for k in value)
        if kind is tuple:
            return (isinstance(value, (tuple, list)) and all(_is_int(v) and v >= 1 for v in value)
                    and (self.empty or len(value) > 0) and (self.length is None or len(value) == self.length))
        if kind is int:
            return _is_int(value) and self._in_range(value)
        if kind is float:
            return (isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
                    and self._in_range(value))
        raise TypeError(f"Option: unsupported kind {kind!r}")  # a declaration error, not the user's

    def _in_range(self, v) -> bool:
        if self.low is not None and (v <= self.low if self.open_low else v < self.low):
            return False
        return self.high is None or (v < self.high if self.open_high else v <= self.high)

    def normalise(self, value):
        """The accepted value as the code expects it: a tuple for a list, a plain int."""
        if self.kind is tuple and not any(value is a for a in self.also):
            return tuple(int(v) for v in value)
        if self.kind is int and _is_int(value):
            return int(value)
        return value

    def describe(self) -> str:
        """What a good value is, e.g. ``a non-empty tuple of positive ints``."""
        kind = self.kind
        if kind is str:
            text = f"one of {self.choices!r}" if self.choices is not None else "a string"
        elif kind is bool:
            text = "True or False"
        elif kind is dict:
            text = "a dict with string keys"
        elif kind is tuple:
            if self.length is not None:
                text = f"a tuple of {self.length} positive ints"
            elif self.empty:
                text = "a tuple of positive ints, possibly empty"
            else:
                text = "a non-empty tuple of positive ints"
        elif kind is int and self.low == 1 and not self.open_low and self.high is None and not self.unit:
            text = "a positive int"
        else:
            unit = f" {self.unit}" if self.unit else ""
            what = "an int" if kind is int else "a number" if self.high is not None else "a finite number"
            text = f"{self._range()}{unit} ({what})"
        return text + "".join(f" or {a!r}" for a in self.also)

    def _range(self) -> str:
        lo, hi = self.low, self.high
        if lo is not None and hi is not None:
            return f"in {'(' if self.open_low else '['}{lo:g}, {hi:g}{')' if self.open_high else ']'}"
        if lo is not None:
            return f"{'>' if self.open_low else '>='} {lo:g}"
        if hi is not None:
            return f"{'<' if self.open_high else '<='} {hi:g}"
        return "any value"

    def good_example(self):
        """A value the option accepts, for messages (``example``, else one made up)."""
        if self.example is not None:
            return self.example
        if self.kind is str:
            return self.choices[0] if self.choices else "name"
        if self.kind is bool:
            return True
        if self.kind is dict:
            return {}
        if self.kind is tuple:
            return (8,) * self.length if self.length is not None else (64,)
        if self.low is None:
            return 1
        low = self.low + (1 if self.open_low else 0)
        return int(low) if self.kind is int else float(low) if low else 1.0


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


#: a size: a dimension, a count of samples or of steps per step, a width
Size = Annotated[int, Option(int, low=1)]
#: a count that may be zero (0: none)
Count = Annotated[int, Option(int, low=0)]
#: a number of training steps (0: none, e.g. no warm-up)
Steps = Annotated[int, Option(int, low=0, unit="steps")]
#: a loss weight or a rate that may be zero (0 switches its term off)
Weight = Annotated[float, Option(float, low=0)]
#: a strictly positive number: a learning rate, a temperature
Rate = Annotated[float, Option(float, low=0, open_low=True)]
#: a switch
Flag = Annotated[bool, Option(bool)]
#: hidden-layer widths, at least one layer
Sizes = Annotated[tuple[int, ...], Option(tuple)]
#: hidden-layer widths, possibly none (``()``: no hidden layer)
Layers = Annotated[tuple[int, ...], Option(tuple, empty=True)]


@dataclass(frozen=True)
class _Param:
    option: Option | None  # None: nothing declared and nothing to derive from the default
    nullable: bool
    default: object


def option_specs(fn, derive: bool = True) -> dict[str, Option]:
    """Each parameter's declared :class:`Option` (from its annotation), or with ``derive``
    for an undeclared one, its kind read from the default (a bool, an int, a number, a
    string or a tuple of ints, without range). ``self``, ``*args`` and ``**kwargs`` are
    left out."""
    return {name: p.option for name, p in _params(fn, derive).items() if p.option is not None}


def _params(fn, derive: bool = True) -> dict[str, _Param]:
    fn = inspect.unwrap(fn)
    out = {}
    for name, p in inspect.signature(fn).parameters.items():
        if name == "self" or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        default = None if p.default is p.empty else p.default
        nullable = p.default is None
        hint = _resolve(p.annotation, fn)
        if typing.get_origin(hint) in (typing.Union, types.UnionType):
            args = typing.get_args(hint)
            nullable = nullable or type(None) in args
            hint = next((a for a in args if a is not type(None)), None)
        option = next((m for m in getattr(hint, "__metadata__", ()) if isinstance(m, Option)), None)
        if option is None and derive:
            option = _derived(default)
        out[name] = _Param(option, nullable, default)
    return out


def _resolve(annotation, fn):
    """An annotation's value (a string one, under ``from __future__ import annotations``,
    evaluated in ``fn``'s module), or None where it does not resolve (a name imported
    only for type checkers): then nothing is declared for that parameter."""
    if isinstance(annotation, str):
        try:
            return eval(annotation, fn.__globals__)  # noqa: S307  (the source's own annotation)
        except Exception:
            return None
    return None if annotation is inspect.Parameter.empty else annotation


def _derived(default) -> Option | None:
    """The kind of an undeclared parameter's default, where the default is one of the
    kinds :class:`Option` knows (else nothing is checked)."""
    if isinstance(default, bool):
        option = Option(bool)
    elif _is_int(default):
        option = Option(int)
    elif isinstance(default, numbers.Real):
        option = Option(float)
    elif isinstance(default, str):
        option = Option(str)
    elif isinstance(default, tuple):
        option = Option(tuple, empty=True)
    else:
        return None
    return option if option.accepts(default) else None


def check_value(owner: str, name: str, option: Option, value, *, nullable: bool = False, default=None,
                error: type[Exception] = ConfigError):
    """``value`` normalised (see :meth:`Option.normalise`), or ``error`` naming ``owner``,
    the option, the value and a good example, in one line."""
    if (value is None and nullable) or option.accepts(value):
        return value if value is None else option.normalise(value)
    label = f"{name} ({option.help})" if option.help else name
    example = default if default is not None and option.accepts(default) else option.good_example()
    shown = repr(value).replace("\n", " ")
    shown = shown if len(shown) <= 80 else shown[:77] + "..."
    raise error(f"{owner}: {label} must be {option.describe()}{' or None' if nullable else ''}, got {shown}; "
                f"e.g. {name}={example!r}")


def checked(fn, owner, error: type[Exception] = ConfigError):
    """``fn`` with every argument it is given checked against its parameter's spec
    (:func:`option_specs`) and normalised, before ``fn`` runs. ``owner`` names it in
    messages: a string (``"model 'vae'"``) or, for a method, a function of ``self``.
    Defaults are checked once, on the first call (a bad one is the declaration's error)."""
    signature = inspect.signature(fn)
    params: dict[str, _Param] = {}

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if not params:
            params.update(_params(fn))
            for name, p in params.items():
                if p.option is not None and p.default is not None and not p.option.accepts(p.default):
                    raise TypeError(f"{fn.__qualname__}: the default {name}={p.default!r} is not "
                                    f"{p.option.describe()}; fix the declaration")
        bound = signature.bind(*args, **kwargs)
        who = owner(bound.args[0]) if callable(owner) else owner
        for name, value in bound.arguments.items():
            p = params.get(name)
            if p is not None and p.option is not None:
                bound.arguments[name] = check_value(who, name, p.option, value, nullable=p.nullable,
                                                    default=p.default, error=error)
        return fn(*bound.args, **bound.kwargs)

    return wrapper


def checks_options(init=None, *, owner=None, error: type[Exception] = ConfigError):
    """Decorator for an ``__init__`` whose parameters declare their specs: checks every
    argument on construction (see :func:`checked`). Messages name the instance by
    ``owner(self)``, by default its ``name`` (``"elbo"``) or else its class."""
    who = owner or (lambda self: getattr(self, "name", "") or type(self).__name__)

    def wrap(fn):
        return checked(fn, who, error)

    return wrap(init) if init is not None else wrap
