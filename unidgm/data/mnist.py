"""MNIST from local IDX files (LeCun, Cortes & Burges, "The MNIST database of handwritten
digits"), never downloaded.

The training pair may be the official 60,000-image files (``train-images-idx3-ubyte``,
``train-labels-idx1-ubyte``) or a subset named ``train-12k-...``; the test pair is
``t10k-images-idx3-ubyte`` / ``t10k-labels-idx1-ubyte``; each raw or ``.gz``. The
validation split is the last `val_size` training images, so it is the same on every load.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from unidgm.data.idx import read_idx
from unidgm.data.images import check_binarize, image_splits
from unidgm.data.splits import DataSplits
from unidgm.errors import DataError

ENV_VAR = "UNIDGM_DATA_DIR"
NUM_CLASSES = 10
# Training file prefixes in order of preference: the full set before the 12k subset.
TRAIN_PREFIXES = ("train", "train-12k")
TEST_PREFIX = "t10k"


def _find(folder: Path, prefix: str, kind: str) -> Path | None:
    """The file ``{prefix}-{kind}``, raw or gzip, in `folder`, or None."""
    for name in (f"{prefix}-{kind}", f"{prefix}-{kind}.gz"):
        if (folder / name).is_file():
            return folder / name
    return None


def _pair(folder: Path, prefix: str) -> tuple[Path, Path] | None:
    images = _find(folder, prefix, "images-idx3-ubyte")
    labels = _find(folder, prefix, "labels-idx1-ubyte")
    return (images, labels) if images and labels else None


def mnist_files(folder: Path) -> dict[str, tuple[Path, Path]] | None:
    """``{"train": (images, labels), "test": (images, labels)}`` found in `folder`, or None
    when the folder lacks a complete training or test pair."""
    train = next((p for p in (_pair(folder, x) for x in TRAIN_PREFIXES) if p), None)
    test = _pair(folder, TEST_PREFIX)
    return {"train": train, "test": test} if train and test else None


def search_dirs(data_dir: str | Path | None = None) -> list[Path]:
    """Folders searched for MNIST, in order. With `data_dir`: it and its ``mnist/``
    subfolder. Without: ``$UNIDGM_DATA_DIR`` and its ``mnist/``, then ``./data/mnist`` and
    ``../shared/data/mnist`` relative to the working directory."""
    if data_dir is not None:
        return [Path(data_dir), Path(data_dir) / "mnist"]
    dirs = []
    if os.environ.get(ENV_VAR):
        env = Path(os.environ[ENV_VAR])
        dirs += [env, env / "mnist"]
    cwd = Path.cwd()
    return dirs + [cwd / "data" / "mnist", cwd.parent / "shared" / "data" / "mnist"]


def _missing(folder: Path) -> list[str]:
    """Names of the files `folder` lacks, for the error message."""
    missing = []
    if not any(_pair(folder, prefix) for prefix in TRAIN_PREFIXES):
        for kind in ("images-idx3-ubyte", "labels-idx1-ubyte"):
            if not any(_find(folder, prefix, kind) for prefix in TRAIN_PREFIXES):
                missing.append(f"train-{kind}[.gz] (or train-12k-{kind}[.gz])")
        if not missing:
            missing.append("a training images/labels pair with the same prefix")
    for kind in ("images-idx3-ubyte", "labels-idx1-ubyte"):
        if not _find(folder, TEST_PREFIX, kind):
            missing.append(f"{TEST_PREFIX}-{kind}[.gz]")
    return missing


def _locate(data_dir: str | Path | None) -> dict[str, tuple[Path, Path]]:
    searched = search_dirs(data_dir)
    for folder in searched:
        files = mnist_files(folder)
        if files:
            return files
    places = []
    for folder in searched:
        if folder.is_dir():
            places.append(f"{folder} (lacks {', '.join(_missing(folder))})")
        else:
            places.append(f"{folder} (no such folder)")
    env_note = "" if data_dir is not None or os.environ.get(ENV_VAR) else f"; ${ENV_VAR} is not set"
    raise DataError(
        "MNIST not found: no folder holds a training pair (train-images-idx3-ubyte or "
        "train-12k-images-idx3-ubyte, with its labels) and the t10k test pair, raw or .gz. "
        f"Searched: {'; '.join(places)}{env_note}. Pass --data-dir / data_dir=<folder> or "
        f"set ${ENV_VAR}; unidgm never downloads data."
    )


def _read_pair(images_path: Path, labels_path: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """Images as float32 (N, 1, 28, 28) in [0, 1] and labels as int64 (N,), checked."""
    images = read_idx(images_path)
    labels = read_idx(labels_path)
    if images.dim() != 3:
        raise DataError(
            f"MNIST image file {images_path} has shape {tuple(images.shape)}; expected 3 "
            "dimensions (N, rows, cols). Is it a labels file under an images name?"
        )
    if labels.dim() != 1:
        raise DataError(
            f"MNIST label file {labels_path} has shape {tuple(labels.shape)}; expected 1 "
            "dimension (N,). Is it an images file under a labels name?"
        )
    if images.shape[0] != labels.shape[0]:
        raise DataError(
            f"MNIST count mismatch: {images_path} holds {images.shape[0]} images but "
            f"{labels_path} holds {labels.shape[0]} labels; use files from the same set."
        )
    if labels.numel() and int(labels.max()) >= NUM_CLASSES:
        raise DataError(
            f"MNIST label file {labels_path} holds label {int(labels.max())}; digits are "
            f"0..{NUM_CLASSES - 1}. The file is damaged or not MNIST labels."
        )
    # (N, H, W) uint8 -> (N, 1, H, W) float32 in [0, 1]
    x = images.to(torch.float32).div_(255.0).unsqueeze(1)
    return x, labels.to(torch.int64)


def load_mnist(
    data_dir: str | Path | None = None,
    binarize: str | None = "dynamic",
    val_size: int = 1000,
    seed: int = 0,
) -> DataSplits:
    """Load MNIST from local IDX files into a `DataSplits`.

    Args:
        data_dir: folder holding the IDX files (or a folder with an ``mnist/`` subfolder).
            None searches ``$UNIDGM_DATA_DIR``, ``./data/mnist`` and
            ``../shared/data/mnist``.
        binarize: ``"dynamic"`` (default; re-drawn per batch by `DataSplits.prepare`),
            ``"static"``, ``"threshold"`` or None (grey values); see `unidgm.data.images`.
        val_size: the last `val_size` training images become the validation split.
        seed: seeds the one Bernoulli draw of ``binarize="static"``.

    Returns:
        `DataSplits` named ``"mnist"`` with ``"x"`` (N, 1, 28, 28) and ``"y"`` labels.
    """
    check_binarize(binarize, "mnist")
    files = _locate(data_dir)
    x_train, y_train = _read_pair(*files["train"])
    x_test, y_test = _read_pair(*files["test"])
    n = x_train.shape[0]
    if not 0 <= val_size < n:
        raise DataError(
            f"MNIST: val_size={val_size} must be at least 0 and less than the {n} training "
            f"images in {files['train'][0]}."
        )
    cut = n - val_size
    return image_splits(
        "mnist",
        train=(x_train[:cut], y_train[:cut]),
        val=(x_train[cut:], y_train[cut:]),
        test=(x_test, y_test),
        num_classes=NUM_CLASSES,
        binarize=binarize,
        seed=seed,
    )
