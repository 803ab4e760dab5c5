"""A network's structured output: the value its node's family reads, plus auxiliary losses.

Most edges' networks return one tensor, the child's parameters (or, for a deterministic
edge, its value). A network that computes more than that in the same pass returns an
:class:`Output`: a vector quantizer (van den Oord et al. 2017, Eq. 3) returns the quantized
codes as ``value`` and its codebook and commitment losses in ``aux``. The family reads
``value`` exactly as it reads a plain tensor; ``aux`` rides with the edge's parameters
(``params.aux``), where an :class:`~unidgm.inference.terms.AuxiliaryLoss` term reads it.
The structure is fixed: the same ``aux`` keys on every call.
"""
from __future__ import annotations

from typing import NamedTuple

import torch


class Output(NamedTuple):
    """``value``: what the family reads; ``aux``: named per-example or scalar tensors."""

    value: torch.Tensor
    aux: dict = {}


class Params(tuple):
    """An edge's parameters (a tuple, as the family split them) with its network's ``aux``."""

    aux: dict = {}

    def __new__(cls, params, aux: dict):
        out = super().__new__(cls, params)
        out.aux = aux
        return out
