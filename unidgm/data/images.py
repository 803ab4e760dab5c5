"""Labelled image splits with one of the binarization modes, shared by MNIST and digits.

Binarization modes:

- ``"dynamic"``: keep grey values; `DataSplits.prepare` draws ``x ~ Bernoulli(pixel)``
  afresh for every batch (Salakhutdinov & Murray, ICML 2008; Burda et al., "Importance
  Weighted Autoencoders", ICLR 2016, section 5).
- ``"static"``: one Bernoulli draw, fixed at load time from ``torch.Generator`` seeded with
  `seed` (Larochelle & Murray, "The Neural Autoregressive Distribution Estimator",
  AISTATS 2011, used a fixed draw of this kind).
- ``"threshold"``: ``pixel > 0.5``.
- ``None``: grey values in [0, 1], modelled with a ``"normal"`` family.
"""

from __future__ import annotations

import torch

from unidgm.data.splits import BINARIZE_MODES, DataSplits
from unidgm.errors import DataError


def check_binarize(binarize: str | None, dataset: str) -> None:
    """Refuse an unknown binarization mode before any file is read."""
    if binarize not in BINARIZE_MODES:
        raise DataError(
            f"dataset {dataset!r}: binarize={binarize!r} is not one of {BINARIZE_MODES}; "
            "pick one of those."
        )


def image_splits(
    name: str,
    train: tuple[torch.Tensor, torch.Tensor],
    val: tuple[torch.Tensor, torch.Tensor],
    test: tuple[torch.Tensor, torch.Tensor],
    num_classes: int,
    binarize: str | None,
    seed: int,
) -> DataSplits:
    """Build a `DataSplits` from ``(images, labels)`` pairs, images float32 in [0, 1] of
    shape (N, C, H, W) and labels int64 of shape (N,), applying `binarize`."""
    check_binarize(binarize, name)
    # One generator for all splits, drawn in the order train, val, test: a fixed seed
    # gives the same static binarization on every load.
    generator = torch.Generator().manual_seed(seed)

    def split(pair):
        x, y = pair
        if binarize == "static":
            x = torch.bernoulli(x, generator=generator)
        elif binarize == "threshold":
            x = (x > 0.5).to(x.dtype)
        return {"x": x, "y": y}

    image_shape = tuple(train[0].shape[1:])
    return DataSplits(
        name=name,
        train=split(train),
        val=split(val),
        test=split(test),
        shapes={"x": image_shape, "y": (num_classes,)},
        families={"x": "normal" if binarize is None else "bernoulli", "y": "categorical"},
        binarize=binarize,
        meta={"image_shape": image_shape, "num_classes": num_classes},
    )
