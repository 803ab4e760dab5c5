"""`DataSplits`: one dataset as train/val/test dicts of tensors, plus what a graph needs to
know about each key (event shape and a suggested family).

Every loader in `unidgm.data` returns one. Each split is a dict keyed like the graph's
visible nodes (``"x"`` for data, ``"y"`` for labels), so a batch sliced from it can be passed
straight to ``model.loss``. Labels are stored as int64 class indices of shape ``(N,)`` while
``shapes["y"]`` is the one-hot event shape ``(K,)``: the engine turns indices into one-hot
vectors, and indices cost K times less memory.

Dynamic binarization (Salakhutdinov & Murray, "On the Quantitative Analysis of Deep Belief
Networks", ICML 2008; used for MNIST by Burda et al., "Importance Weighted Autoencoders",
ICLR 2016) is applied per batch by `DataSplits.prepare`, which the trainer calls on every
batch.

A dataset whose training examples change from epoch to epoch (pairs of two views re-paired
at random, see `unidgm.data.paired`) gives a `resample` hook: ``resample(train, epoch)``
returns the training split of that epoch, a function of the epoch number and the dataset's
own seed only, so that a resumed run sees the same examples as one that never stopped.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import torch

from unidgm.errors import DataError

SPLITS = ("train", "val", "test")
BINARIZE_MODES = ("dynamic", "static", "threshold", None)
FAMILIES = ("bernoulli", "normal", "categorical")


@dataclass(repr=False)
class DataSplits:
    """A dataset split three ways.

    Attributes:
        name: the dataset's name, e.g. ``"mnist"``.
        train, val, test: dicts of tensors whose first dimension is the number of examples;
            every split has the same keys.
        shapes: event shape per key, e.g. ``{"x": (1, 28, 28), "y": (10,)}``.
        families: suggested family per key: ``"bernoulli"`` for binarized images,
            ``"normal"`` for toys and grey images, ``"categorical"`` for labels.
        binarize: ``"dynamic"`` makes `prepare` draw ``x ~ Bernoulli(pixel)`` per batch
            for every ``"bernoulli"`` key; ``"static"`` and ``"threshold"`` were applied
            once at load time; ``None`` keeps grey values.
        meta: free-form extras, e.g. ``meta["centers"]`` of a toy mixture.
        resample: None (the training split is the same every epoch), or a callable
            ``resample(train, epoch) -> dict[str, Tensor]`` giving the training split of
            epoch ``epoch`` (0-based) from `train`, with the same keys and number of rows.
            It must depend on nothing but its arguments and the dataset's seed, drawing
            from its own generator, never torch's global one: the Trainer calls it once at
            the start of every epoch (and on resume, for the epoch it resumes in) with the
            training split on the device.
    """

    name: str
    train: dict[str, torch.Tensor]
    val: dict[str, torch.Tensor]
    test: dict[str, torch.Tensor]
    shapes: dict[str, tuple[int, ...]]
    families: dict[str, str]
    binarize: str | None = None
    meta: dict = field(default_factory=dict)
    resample: Callable[[dict[str, torch.Tensor], int], dict[str, torch.Tensor]] | None = None

    def __post_init__(self):
        # Checked once here so that `prepare`, on the training hot path, can trust the data.
        if self.binarize not in BINARIZE_MODES:
            raise DataError(
                f"dataset {self.name!r}: binarize={self.binarize!r} is not one of "
                f"{BINARIZE_MODES}; pick one of those."
            )
        self.shapes = {k: tuple(int(d) for d in s) for k, s in self.shapes.items()}
        keys = set(self.shapes)
        if set(self.families) != keys:
            raise DataError(
                f"dataset {self.name!r}: families has keys {sorted(self.families)} but shapes "
                f"has {sorted(keys)}; give one family per key."
            )
        for key, family in self.families.items():
            if family not in FAMILIES:
                raise DataError(
                    f"dataset {self.name!r}: families[{key!r}] = {family!r} is not one of "
                    f"{FAMILIES}."
                )
        for split in SPLITS:
            self._check_split(split, getattr(self, split))
        if self.resample is not None and not callable(self.resample):
            raise DataError(
                f"dataset {self.name!r}: resample is a {type(self.resample).__name__}; give a "
                "function resample(train, epoch) -> dict of tensors, or None."
            )
        # The keys `prepare` binarizes, resolved once: every image of the data, e.g. both
        # views of a paired dataset.
        self._dynamic = tuple(k for k, f in self.families.items() if f == "bernoulli")

    def _check_split(self, split: str, tensors: dict[str, torch.Tensor]) -> None:
        where = f"dataset {self.name!r}, split {split!r}"
        if set(tensors) != set(self.shapes):
            raise DataError(
                f"{where}: has keys {sorted(tensors)} but shapes has {sorted(self.shapes)}; "
                "every split needs exactly the keys of shapes."
            )
        sizes = {key: t.shape[0] if t.dim() else None for key, t in tensors.items()}
        if len(set(sizes.values())) > 1 or None in sizes.values():
            raise DataError(f"{where}: first dimensions differ across keys: {sizes}.")
        for key, t in tensors.items():
            if self.families[key] == "categorical" and (t.is_floating_point() or t.is_complex()):
                raise DataError(
                    f"{where}: {key!r} is {t.dtype}; categorical values must be integer class "
                    "indices, e.g. labels.long()."
                )
            # Categorical values are stored as class indices under the one-hot event shape: a
            # label (K,) as (N,), a caption (L, V) as (N, L).
            want = self.shapes[key][:-1] if self.families[key] == "categorical" else self.shapes[key]
            if tuple(t.shape[1:]) != want:
                raise DataError(
                    f"{where}: {key!r} has shape {tuple(t.shape)}, expected (N, *{want}) "
                    f"from shapes[{key!r}] = {self.shapes[key]} and family "
                    f"{self.families[key]!r}."
                )

    def prepare(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Return the batch the model sees: with ``binarize="dynamic"``, a new dict in which
        every ``"bernoulli"`` key present (``"x"``; both views of paired data, in the order
        of `families`) is replaced by ``torch.bernoulli(batch[key])``; otherwise `batch`
        itself, uncopied.

        The draw uses torch's global generator (of the batch's device) on purpose: the
        trainer saves and restores the global RNG state, which makes a resumed run draw the
        same binarizations.
        No checks here: this runs on every training step.
        """
        if self.binarize != "dynamic":
            return batch
        out = dict(batch)
        for key in self._dynamic:
            if key in batch:
                out[key] = torch.bernoulli(batch[key])
        return out

    def train_at(self, epoch: int) -> dict[str, torch.Tensor]:
        """The training split of epoch `epoch`: ``resample(train, epoch)``, or `train`
        itself without `resample`."""
        if self.resample is None:
            return self.train
        return self.resample(self.train, epoch)

    def num_examples(self, split: str) -> int:
        """Number of examples in ``"train"``, ``"val"`` or ``"test"``."""
        if split not in SPLITS:
            raise DataError(f"dataset {self.name!r}: unknown split {split!r}; use one of {SPLITS}.")
        tensors = getattr(self, split)
        return int(next(iter(tensors.values())).shape[0]) if tensors else 0

    def to(self, device) -> DataSplits:
        """A new `DataSplits` with every tensor (splits and tensors in `meta`) on `device`;
        its `resample` returns its training splits on `device` too."""

        def move(tensors):
            return {k: t.to(device) for k, t in tensors.items()}

        meta = {k: v.to(device) if torch.is_tensor(v) else v for k, v in self.meta.items()}
        return replace(
            self, train=move(self.train), val=move(self.val), test=move(self.test), meta=meta,
            resample=_then(self.resample, move),
        )

    def flatten(self) -> DataSplits:
        """A new `DataSplits` in which every non-categorical key with a multi-dimensional
        event shape is flattened, e.g. ``"x"`` of MNIST from ``(N, 1, 28, 28)`` to
        ``(N, 784)``, for MLP models. The original shape is kept in
        ``meta["image_shape"]`` so that samples can be reshaped back into pictures. Its
        `resample` receives the flattened training split and its output is flattened the
        same way, so a resample that reads its pool from `train` or from its own unflattened
        tensors works either way."""
        keys = [
            k for k, s in self.shapes.items() if len(s) > 1 and self.families[k] != "categorical"
        ]

        def flat(tensors):
            # (N, C, H, W) -> (N, C*H*W); reshape is a view where the tensor is contiguous.
            return {k: t.reshape(t.shape[0], -1) if k in keys else t for k, t in tensors.items()}

        shapes = {k: (math.prod(s),) if k in keys else s for k, s in self.shapes.items()}
        meta = dict(self.meta)
        if "x" in keys:
            meta.setdefault("image_shape", self.shapes["x"])
        return replace(
            self,
            train=flat(self.train),
            val=flat(self.val),
            test=flat(self.test),
            shapes=shapes,
            meta=meta,
            resample=_then(self.resample, flat),
        )

    def __repr__(self) -> str:
        # The dataclass default would print every tensor; summarise sizes and keys instead.
        sizes = ", ".join(f"{s}={self.num_examples(s)}" for s in SPLITS)
        keys = ", ".join(f"{k}: {self.families[k]} {self.shapes[k]}" for k in self.shapes)
        return f"DataSplits({self.name!r}, {sizes}, {{{keys}}}, binarize={self.binarize!r})"


def _then(resample, transform):
    """`resample` followed by `transform` on the split it returns; None stays None."""
    if resample is None:
        return None

    def resample_then(train, epoch):
        return transform(resample(train, epoch))

    return resample_then
