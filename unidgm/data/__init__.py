"""Datasets as `DataSplits`: embedded digits (scikit-learn), MNIST from local IDX files,
either with captions made from their labels or as Add-1 pairs of two views, and 2-D toy
mixtures. Nothing here downloads.

    >>> data = unidgm.data.load("digits", flatten=True)   # x: (N, 64), y: labels
    >>> batch = data.prepare({"x": data.train["x"][:128]})  # dynamic binarization
"""

from __future__ import annotations

from pathlib import Path

from unidgm.data.captions import Captions, load_captioned
from unidgm.data.digits import load_digits
from unidgm.data.idx import read_idx
from unidgm.data.mnist import load_mnist
from unidgm.data.paired import RedrawPartners, add_one, load_paired, pair_views
from unidgm.data.semi_supervised import UNLABELLED, semi_supervised
from unidgm.data.splits import DataSplits
from unidgm.data.toys import grid25, ring8, swissroll
from unidgm.errors import DataError

IMAGE_DATASETS = ("digits", "mnist")
TOY_DATASETS = ("ring8", "grid25", "swissroll")
CAPTION_DATASETS = ("digits-captions", "mnist-captions")
PAIRED_DATASETS = ("digits-add1", "mnist-add1")
DATASETS = IMAGE_DATASETS + TOY_DATASETS + CAPTION_DATASETS + PAIRED_DATASETS
_TOYS = {"ring8": ring8, "grid25": grid25, "swissroll": swissroll}

__all__ = [
    "DATASETS",
    "DataSplits",
    "load",
    "read_idx",
    "load_mnist",
    "load_digits",
    "load_captioned",
    "Captions",
    "load_paired",
    "pair_views",
    "add_one",
    "RedrawPartners",
    "semi_supervised",
    "UNLABELLED",
    "ring8",
    "grid25",
    "swissroll",
]


def load(
    name: str,
    data_dir: str | Path | None = None,
    binarize: str | None = "dynamic",
    seed: int = 0,
    flatten: bool = False,
) -> DataSplits:
    """Load a dataset by name.

    Args:
        name: one of `DATASETS`: ``"digits"``, ``"mnist"``, ``"ring8"``, ``"grid25"``,
            ``"swissroll"``, or ``"digits-captions"``, ``"mnist-captions"`` (the images with
            caption tokens ``"t"``, see `load_captioned`), ``"digits-add1"``, ``"mnist-add1"``
            (Add-1 pairs: images ``"x"``, ``"y"`` of digits d and d + 1 mod 10, labels
            ``"label_x"``, ``"label_y"``, re-paired every epoch; see `load_paired`).
        data_dir: where MNIST lives (see `load_mnist`); ignored by the others.
        binarize: for images, ``"dynamic"`` (default), ``"static"``, ``"threshold"`` or
            None; ignored by the 2-D toys, which are real-valued.
        seed: seeds splits, static binarization, toy sampling, the choice of captions and
            the pairs.
        flatten: reshape images to flat vectors, e.g. (N, 784), for MLP models.
    """
    if name == "digits":
        data = load_digits(binarize=binarize, seed=seed)
    elif name == "mnist":
        data = load_mnist(data_dir=data_dir, binarize=binarize, seed=seed)
    elif name in CAPTION_DATASETS:
        base = load(name.removesuffix("-captions"), data_dir=data_dir, binarize=binarize, seed=seed)
        data = load_captioned(base, seed=seed)
    elif name in PAIRED_DATASETS:
        base = load(name.removesuffix("-add1"), data_dir=data_dir, binarize=binarize, seed=seed)
        data = load_paired(base, seed=seed)
    elif name in _TOYS:
        data = _TOYS[name](seed=seed)
    else:
        raise DataError(f"unknown dataset {name!r}; known datasets: {', '.join(DATASETS)}.")
    return data.flatten() if flatten else data
