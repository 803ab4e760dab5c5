"""Paired views for two-view models: MNIST "Add-1" pairs, the data of the variational Wyner
model (Ryu et al. [1]), and `pair_views`, which pairs any two labelled views by class.

**Add-1 pairs.** Each split holds every image of the base split as view ``"x"`` (in the base
split's order, labels ``"label_x"``) and, row for row, an image of the next digit as view
``"y"`` (labels ``"label_y"``): ``label_y = (label_x + 1) mod 10``. Each ``y`` is drawn
uniformly among the images of that class *in the same split*, so no image crosses from
training to validation or test. What the two views share is the class alone (ln 10 nats of
mutual information); the style of each is its own.

**Re-pairing.** The pairs of the training split are drawn afresh every epoch, at random
within classes, by the dataset's `resample` hook (`DataSplits.resample`), a
`RedrawPartners`: epoch ``e`` draws from a generator seeded by the dataset's seed and ``e``
alone, so a resumed run sees the pairs of the run that never stopped. The training split as
loaded is epoch 0's pairing. Validation and test pairs are drawn once, each from its own
seeded generator, so that every evaluation scores the same pairs.

References:
    [1] J. J. Ryu, Y. Choi, Y.-H. Kim, M. El-Khamy, J. Lee, "Learning with Succinct Common
        Representation Based on Wyner's Common Information", arXiv:1905.10945 (2022
        version).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from unidgm.data.splits import SPLITS, DataSplits
from unidgm.errors import DataError

#: Generator streams under one dataset seed: training epochs, then the fixed val and test pairs.
_STREAMS = {"train": 0, "val": 1, "test": 2}


def add_one(digit: int) -> int:
    """The Add-1 partner of a digit: ``(digit + 1) mod 10``."""
    return (digit + 1) % 10


def pair_generator(seed: int, split: str = "train", epoch: int = 0) -> torch.Generator:
    """The CPU generator that draws the pairs of `split` (and, for ``"train"``, of `epoch`)
    under a dataset's `seed`: distinct, well-mixed streams for every (seed, split, epoch),
    through NumPy's `SeedSequence`, so that nearby seeds and epochs share no draws."""
    entropy = (int(seed) % 2**64, _STREAMS[split], int(epoch))
    high, low = np.random.SeedSequence(entropy).generate_state(2, dtype=np.uint32)
    return torch.Generator().manual_seed(int(high) << 32 | int(low))


def _labels(view: str, key: str, values, labels) -> tuple[torch.Tensor, torch.Tensor]:
    """`values` and `labels` as tensors, refused unless the labels are integer (N,) with one
    label per row of `values`."""
    values, labels = torch.as_tensor(values), torch.as_tensor(labels)
    if values.dim() == 0:
        raise DataError(
            f"pair_views: view {view!r} is a scalar; give one row per example, shape (N, ...)."
        )
    if labels.dim() != 1 or labels.is_floating_point() or labels.is_complex():
        raise DataError(
            f"pair_views: {key!r} is {labels.dtype} of shape {tuple(labels.shape)}; give integer "
            "class indices of shape (N,) (labels.argmax(-1) of one-hot labels)."
        )
    if labels.shape[0] != values.shape[0]:
        raise DataError(
            f"pair_views: view {view!r} has {values.shape[0]} rows but {key!r} has "
            f"{labels.shape[0]} labels; give one label per row ({key}[i] is the class of "
            f"{view}[i])."
        )
    return values, labels


def pair_views(
    x,
    labels_x,
    y,
    labels_y,
    partner: Callable[[int], int] = add_one,
    generator: torch.Generator | None = None,
) -> dict[str, torch.Tensor]:
    """Pair every row of view `x` with a row of view `y` of its partner class.

    For each row ``i`` of `x`, a row ``j`` of `y` is drawn uniformly among those with
    ``labels_y[j] == partner(labels_x[i])`` (with replacement: one ``y`` may serve several
    ``x``), with `generator` (a CPU generator; None uses torch's global one). The classes are
    visited in increasing order, so the draws are reproducible under a seeded generator.

    Args:
        x: view x, (N, ...); tensor or NumPy array.
        labels_x: int (N,), the class of each row of `x`.
        y: view y, (M, ...), any event shape; it may be `x` itself.
        labels_y: int (M,), the class of each row of `y`.
        partner: the class of y that goes with a class of x; `add_one` by default.
        generator: draws the partners.

    Returns:
        ``{"x": x, "label_x": labels_x, "y": y[j], "label_y": labels_y[j]}``, N rows each,
        on the devices of the inputs.

    Raises:
        DataError: labels that are not integer (N,) or (M,), a view and its labels of
            different lengths, or a class of `x` whose partner class has no row in `y`.
    """
    x, labels_x = _labels("x", "label_x", x, labels_x)
    y, labels_y = _labels("y", "label_y", y, labels_y)
    classes_x, classes_y = labels_x.cpu(), labels_y.cpu()  # the draws run on the CPU
    index = torch.empty(classes_x.shape[0], dtype=torch.int64)
    for c in classes_x.unique().tolist():  # sorted
        want = int(partner(c))
        rows = (classes_x == c).nonzero().squeeze(1)
        pool = (classes_y == want).nonzero().squeeze(1)
        if pool.numel() == 0:
            held = classes_y.unique().tolist()
            raise DataError(
                f"pair_views: {rows.numel()} rows of view 'x' have class {c}, whose partner "
                f"class {want} has 0 rows in view 'y' ({classes_y.shape[0]} rows, of classes "
                f"{held}); give view 'y' rows of class {want}, or a partner that maps class {c} "
                "to one of the classes y has."
            )
        index[rows] = pool[torch.randint(pool.numel(), (rows.numel(),), generator=generator)]
    return {
        "x": x,
        "label_x": labels_x,
        "y": y[index.to(y.device)],
        "label_y": labels_y[index.to(labels_y.device)],
    }


class RedrawPartners:
    """The `resample` hook of paired data (`DataSplits.resample`): at epoch ``e``, every
    ``x`` row of the training split gets a new partner ``y`` (and ``label_y``), drawn by
    `pair_views` among the split's own ``x`` images of the partner class, from
    ``pair_generator(seed, "train", e)``. It keeps no state: the same epoch gives the same
    pairs, on any device (the draws run on the CPU, the gather where the images are).

    Args:
        partner: the class of y for a class of x (`add_one`).
        seed: the dataset's seed.
    """

    def __init__(self, partner: Callable[[int], int] = add_one, seed: int = 0):
        self.partner = partner
        self.seed = int(seed)

    def __call__(self, train: dict[str, torch.Tensor], epoch: int) -> dict[str, torch.Tensor]:
        generator = pair_generator(self.seed, "train", epoch)
        pairs = pair_views(train["x"], train["label_x"], train["x"], train["label_x"],
                           self.partner, generator)
        return dict(train, y=pairs["y"], label_y=pairs["label_y"])

    def __repr__(self) -> str:
        partner = getattr(self.partner, "__name__", self.partner)
        return f"RedrawPartners(partner={partner}, seed={self.seed})"


def load_paired(
    base: DataSplits,
    seed: int = 0,
    partner: Callable[[int], int] = add_one,
    name: str | None = None,
) -> DataSplits:
    """Pairs of images of a labelled image dataset: each image with an image of its
    label's partner class from the same split (module docstring).

    Args:
        base: images ``"x"`` and categorical labels ``"y"``, e.g. ``load("mnist")`` or
            ``load("digits")``; other keys are dropped.
        seed: seeds the pairs: the training split's of every epoch (`RedrawPartners`), and
            the fixed val and test pairs.
        partner: the class of y for a class of x; `add_one` gives Add-1 pairs.
        name: the dataset's name; None derives ``base.name + "-add1"`` for `add_one`,
            ``base.name + "-paired"`` for another partner.

    Returns:
        `DataSplits` with keys ``"x"`` and ``"y"`` (the images, shape and family of the base's
        ``"x"``; `binarize` kept, so ``"dynamic"`` binarizes both views per batch) and
        ``"label_x"``, ``"label_y"`` (categorical, shape of the base's ``"y"``).
        ``resample`` is a `RedrawPartners`; ``meta`` gains ``"partner"`` and ``"views"``
        (each view's image and label keys: ``{"x": {"x": "x", "y": "label_x"}, "y": {"x":
        "y", "y": "label_y"}}``).
    """
    where = f"load_paired({base.name!r})"
    if "x" not in base.shapes or base.families["x"] == "categorical":
        raise DataError(
            f"{where}: the dataset has no images 'x' (keys: {sorted(base.shapes)}); pair an "
            "image dataset such as load('digits') or load('mnist')."
        )
    if base.families.get("y") != "categorical":
        raise DataError(
            f"{where}: the dataset has no categorical labels 'y' (keys: {sorted(base.shapes)}) "
            "to pair by; pair a labelled dataset such as load('digits') or load('mnist')."
        )
    for split in SPLITS:
        labels = getattr(base, split)["y"]
        if labels.numel() and int(labels.min()) < 0:
            raise DataError(
                f"{where}: split {split!r} has unlabelled examples (label -1); pair fully "
                "labelled data, before semi_supervised marks labels -1."
            )
    if name is None:
        name = f"{base.name}-add1" if partner is add_one else f"{base.name}-paired"
    redraw = RedrawPartners(partner, seed)
    splits = {}
    for split in SPLITS:
        images, labels = getattr(base, split)["x"], getattr(base, split)["y"]
        if split == "train":  # epoch 0's pairs: data.train == data.resample(data.train, 0)
            splits[split] = redraw({"x": images, "label_x": labels}, 0)
        else:
            splits[split] = pair_views(images, labels, images, labels, partner,
                                       pair_generator(seed, split))
    keys = {"x": "x", "label_x": "y", "y": "x", "label_y": "y"}  # each key's base key
    views = {"x": {"x": "x", "y": "label_x"}, "y": {"x": "y", "y": "label_y"}}
    return DataSplits(
        name=name,
        **splits,
        shapes={k: base.shapes[b] for k, b in keys.items()},
        families={k: base.families[b] for k, b in keys.items()},
        binarize=base.binarize,
        meta=dict(base.meta, partner=partner, views=views),
        resample=redraw,
    )
