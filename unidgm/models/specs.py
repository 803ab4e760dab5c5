"""What the catalogue's options accept: the specs its models' signatures are annotated with.

A catalogue function declares each option's spec in its annotation, beside its default
(``latent_dim: Size = 20``, ``hidden: Sizes = (400,)``, ``net: Net = "mlp"``); ``register``
wraps it so that every call, through ``unidgm.models.build``, the CLI's ``--set`` or
directly, checks each value's kind and range first and refuses a bad one with one
ConfigError naming the model, the option, the value and a good example::

    model 'vae': hidden must be a non-empty tuple of positive ints, got 'abc'; e.g. hidden=(400,)

The general specs (sizes, counts, steps, weights, rates, switches) are the engine's, shared
with the objectives' options (:mod:`unidgm.inference.objective`); the ones here name what
only the catalogue has: node shapes, data families, network kinds and divergences.
"""
from __future__ import annotations

from typing import Annotated

from ..graph.families import FAMILIES
from ..inference.divergences import DIVERGENCES, FDivergence, make_divergence
from ..options import Count, Flag, Layers, Option, Rate, Size, Sizes, Steps, Weight
from .parts import NETS

#: a node's shape, e.g. (1, 28, 28) for an image or (2,) for a point
Shape = Annotated[tuple[int, ...], Option(tuple)]
#: a visible node's family; a point mass ("delta") would give the data no likelihood
XFamily = Annotated[str, Option(choices=tuple(name for name in FAMILIES if name != "delta"))]
#: the networks' kind (see :mod:`unidgm.models.parts`)
Net = Annotated[str, Option(choices=NETS)]
#: an adversarial game (see :mod:`unidgm.inference.divergences`)
Divergence = Annotated[str, Option(choices=DIVERGENCES)]
#: Nowozin et al.'s f-divergences (the GAN's among them)
FDivergenceName = Annotated[str, Option(choices=tuple(n for n in DIVERGENCES
                                                      if isinstance(make_divergence(n), FDivergence)))]
#: a probability of dropping a unit, in [0, 1)
Dropout = Annotated[float, Option(float, low=0, high=1, open_high=True)]

__all__ = ["Count", "Divergence", "Dropout", "FDivergenceName", "Flag", "Layers", "Net", "Option", "Rate", "Shape",
           "Size", "Sizes", "Steps", "Weight", "XFamily"]
