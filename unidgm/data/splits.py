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
"""

from __future__ import annotations

import math
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
        binarize: ``"dynamic"`` makes `prepare` draw ``x ~ Bernoulli(pixel)`` per batch;
            ``"static"`` and ``"threshold"`` were applied once at load time; ``None`` keeps
            grey values.
        meta: free-form extras, e.g. ``meta["centers"]`` of a toy mixture.
    """

    name: str
    train: dict[str, torch.Tensor]
    val: dict[str, torch.Tensor]
    test: dict[str, torch.Tensor]
    shapes: dict[str, tuple[int, ...]]
    families: dict[str, str]
    binarize: str | None = None
    meta: dict = field(default_factory=dict)

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
        """Return the batch the model sees: with ``binarize="dynamic"``, a new dict whose
        ``"x"`` is ``torch.bernoulli(batch["x"])``; otherwise `batch` itself, uncopied.

        The draw uses torch's global generator (of the batch's device) on purpose: the
        trainer saves and restores the global RNG state, which makes a resumed run draw the
        same binarizations.
        No checks here: this runs on every training step.
        """
        if self.binarize != "dynamic":
            return batch
        out = dict(batch)
        out["x"] = torch.bernoulli(batch["x"])
        return out

    def num_examples(self, split: str) -> int:
        """Number of examples in ``"train"``, ``"val"`` or ``"test"``."""
        if split not in SPLITS:
            raise DataError(f"dataset {self.name!r}: unknown split {split!r}; use one of {SPLITS}.")
        tensors = getattr(self, split)
        return int(next(iter(tensors.values())).shape[0]) if tensors else 0

    def to(self, device) -> DataSplits:
        """A new `DataSplits` with every tensor (splits and tensors in `meta`) on `device`."""

        def move(tensors):
            return {k: t.to(device) for k, t in tensors.items()}

        meta = {k: v.to(device) if torch.is_tensor(v) else v for k, v in self.meta.items()}
        return replace(
            self, train=move(self.train), val=move(self.val), test=move(self.test), meta=meta
        )

    def flatten(self) -> DataSplits:
        """A new `DataSplits` in which every non-categorical key with a multi-dimensional
        event shape is flattened, e.g. ``"x"`` of MNIST from ``(N, 1, 28, 28)`` to
        ``(N, 784)``, for MLP models. The original shape is kept in
        ``meta["image_shape"]`` so that samples can be reshaped back into pictures."""
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
        )

    def __repr__(self) -> str:
        # The dataclass default would print every tensor; summarise sizes and keys instead.
        sizes = ", ".join(f"{s}={self.num_examples(s)}" for s in SPLITS)
        keys = ", ".join(f"{k}: {self.families[k]} {self.shapes[k]}" for k in self.shapes)
        return f"DataSplits({self.name!r}, {sizes}, {{{keys}}}, binarize={self.binarize!r})"
