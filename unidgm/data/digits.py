"""The 8x8 handwritten digits that ship with scikit-learn (UCI "Optical Recognition of
Handwritten Digits", Alpaydin & Kaynak, 1998; `sklearn.datasets.load_digits`).

1,797 images with values 0..16, no download needed, so it is the dataset every machine
has: the demo and the fast tests train on it. Splits come from one seeded permutation:
the first 297 permuted images are the test split, the next 200 validation, the rest
(1,300) training.
"""

from __future__ import annotations

import torch

from unidgm.data.images import check_binarize, image_splits
from unidgm.data.splits import DataSplits

NUM_TEST = 297
NUM_VAL = 200
NUM_CLASSES = 10
MAX_VALUE = 16.0  # pixel values are counts of set bits in 4x4 blocks: 0..16


def load_digits(binarize: str | None = "dynamic", seed: int = 0) -> DataSplits:
    """Load scikit-learn's digits as a `DataSplits` named ``"digits"``.

    Args:
        binarize: ``"dynamic"`` (default), ``"static"``, ``"threshold"`` or None (grey
            values); see `unidgm.data.images`.
        seed: seeds the split permutation and the draw of ``binarize="static"``.

    Returns:
        ``"x"`` float32 (N, 1, 8, 8) in [0, 1] and ``"y"`` int64 labels; 1,300 / 200 / 297
        train / val / test examples.
    """
    check_binarize(binarize, "digits")
    # Imported here: scikit-learn takes a second to import and only this loader needs it.
    from sklearn.datasets import load_digits as sklearn_digits

    bunch = sklearn_digits()
    # (1797, 8, 8) float64 in 0..16 -> (1797, 1, 8, 8) float32 in [0, 1]
    x = torch.as_tensor(bunch.images, dtype=torch.float32).div_(MAX_VALUE).unsqueeze(1)
    y = torch.as_tensor(bunch.target, dtype=torch.int64)
    perm = torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(seed))
    cut = NUM_TEST + NUM_VAL
    test, val, train = perm[:NUM_TEST], perm[NUM_TEST:cut], perm[cut:]
    return image_splits(
        "digits",
        train=(x[train], y[train]),
        val=(x[val], y[val]),
        test=(x[test], y[test]),
        num_classes=NUM_CLASSES,
        binarize=binarize,
        seed=seed,
    )
