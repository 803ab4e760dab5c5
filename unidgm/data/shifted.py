"""Shifted digit domains for adversarial domain adaptation, made from MNIST or the 8x8 digits
by a fixed, deterministic transformation, so nothing is downloaded.

Kinds of shift:

- ``"invert"``: ``1 - x``, white digits on black become black on white.
- ``"color"``: an MNIST-M-like domain. MNIST-M (Ganin & Lempitsky, "Unsupervised Domain
  Adaptation by Backpropagation", ICML 2015) blends each digit over a patch of a colour
  photograph; without the photographs, each image here gets its own background colour
  ``b ~ U[0, 1]^3`` and stroke colour ``d = (b + 1/2) mod 1`` (per channel, so every channel
  keeps a contrast of 1/2 and no colour hides the digit), blended with the grey value as
  opacity: ``pixel = (1 - x) b + x d``. The result has 3 channels. Colours come from a
  ``torch.Generator`` seeded with `seed`, drawn for train, val and test in that order, so
  the domain is the same on every call.

`shifted` turns a whole `DataSplits` into its target domain, labels kept. `domain_pair`
builds the dataset an adaptation model trains on: each split holds source images and
labels (``"x"``, ``"y"``) and target images and labels (``"x_target"``, ``"y_target"``) taken
from the other half of that split, so no digit appears in both domains. The target labels
are for measuring target accuracy only; an unsupervised adaptation model must not train on
them (Ganin et al., "Domain-Adversarial Training of Neural Networks", JMLR 2016, Sec. 5).
"""

from __future__ import annotations

from dataclasses import replace

import torch

from unidgm.data.splits import SPLITS, DataSplits
from unidgm.errors import DataError

KINDS = ("invert", "color")


def _check(splits: DataSplits, kind: str, where: str) -> None:
    if kind not in KINDS:
        raise DataError(f"{where}: kind={kind!r} is not one of {KINDS}; pick one of those.")
    if "x" not in splits.shapes or splits.families["x"] == "categorical":
        raise DataError(
            f"{where}: dataset {splits.name!r} has no image key 'x' (keys: "
            f"{sorted(splits.shapes)}); pass an image dataset such as load('mnist')."
        )
    shape = splits.shapes["x"]
    if kind == "color" and (len(shape) != 3 or shape[0] != 1):
        raise DataError(
            f"{where}: kind='color' needs grey images of shape (1, H, W) but dataset "
            f"{splits.name!r} has x of shape {shape}; call it before .flatten()."
        )
    if kind == "color" and splits.binarize == "dynamic":
        raise DataError(
            f"{where}: dataset {splits.name!r} uses binarize='dynamic', which would draw "
            "Bernoulli pixels from the coloured images; load it with binarize=None."
        )


def _shift_images(x: torch.Tensor, kind: str, generator: torch.Generator) -> torch.Tensor:
    """Apply the shift `kind` to images `x` in [0, 1]."""
    if kind == "invert":
        return 1.0 - x
    # color: (N, 1, H, W) grey -> (N, 3, H, W) by broadcasting over the colour channels.
    background = torch.rand(x.shape[0], 3, 1, 1, generator=generator, dtype=x.dtype)
    stroke = (background + 0.5) % 1.0
    return (1.0 - x) * background + x * stroke


def _target_shape(shape: tuple[int, ...], kind: str) -> tuple[int, ...]:
    return (3, *shape[1:]) if kind == "color" else shape


def _as_source(x: torch.Tensor, kind: str) -> torch.Tensor:
    """Source images in the target's layout: grey digits repeated over 3 channels for
    ``"color"``, so one feature extractor reads both domains (Ganin et al. 2016, Sec. 5.2.2
    feed MNIST to the MNIST-M network the same way)."""
    return x.expand(-1, 3, -1, -1).contiguous() if kind == "color" else x


def _target_family(family: str, kind: str) -> str:
    # Colour blends are grey-valued even when the source digits were binarized.
    return "normal" if kind == "color" else family


def shifted(splits: DataSplits, kind: str = "invert", seed: int = 0) -> DataSplits:
    """The target domain of `splits`: every ``"x"`` shifted by `kind`, other keys (labels)
    kept. Named ``"<name>-<kind>"``; ``meta["shift"]`` records `kind`.

    Args:
        splits: an image dataset, e.g. ``load("mnist", binarize=None)``.
        kind: ``"invert"`` or ``"color"`` (see the module docstring).
        seed: seeds the colours of ``"color"``; unused by ``"invert"``.
    """
    _check(splits, kind, "shifted")
    generator = torch.Generator().manual_seed(seed)
    parts = {}
    for split in SPLITS:
        tensors = dict(getattr(splits, split))
        tensors["x"] = _shift_images(tensors["x"], kind, generator)
        parts[split] = tensors
    shapes = dict(splits.shapes, x=_target_shape(splits.shapes["x"], kind))
    families = dict(splits.families, x=_target_family(splits.families["x"], kind))
    meta = dict(splits.meta, shift=kind)
    if kind == "color":
        meta["image_shape"] = shapes["x"]
    return replace(
        splits,
        name=f"{splits.name}-{kind}",
        shapes=shapes,
        families=families,
        binarize=None if kind == "color" else splits.binarize,
        meta=meta,
        **parts,
    )


def domain_pair(source: DataSplits, kind: str = "invert", seed: int = 0) -> DataSplits:
    """Source and shifted target domains in one `DataSplits`, from disjoint halves.

    Each split of `source` is permuted (a ``torch.Generator`` seeded with `seed`); the first
    half gives ``"x"``/``"y"`` (for ``"color"``, grey repeated over 3 channels), the second
    half, shifted by `kind`, gives
    ``"x_target"``/``"y_target"``. Both halves have ``n // 2`` examples (an odd one out is
    dropped), so a batch holds as many source as target images.

    Args:
        source: an image dataset with ``"x"`` and labels ``"y"``, e.g.
            ``load("mnist", binarize=None)``; other keys are dropped.
        kind: ``"invert"`` or ``"color"``.
        seed: seeds the halving permutation and the colours of ``"color"``.

    Returns:
        `DataSplits` named ``"<name>-to-<kind>"`` with keys ``"x"``, ``"y"``,
        ``"x_target"`` (family of ``"x"``; ``"normal"`` for colour) and ``"y_target"``
        (categorical); ``meta["shift"]`` records `kind`.
    """
    where = "domain_pair"
    _check(source, kind, where)
    if source.families.get("y") != "categorical":
        raise DataError(
            f"{where}: dataset {source.name!r} has no categorical labels 'y' (keys: "
            f"{sorted(source.shapes)}); target accuracy needs them: pass load('mnist') or "
            "load('digits')."
        )
    if source.binarize == "dynamic":
        raise DataError(
            f"{where}: dataset {source.name!r} uses binarize='dynamic'; the target domain "
            "is made from the source's grey values once, at load time, so load the source "
            "with binarize=None (or 'static'/'threshold')."
        )
    generator = torch.Generator().manual_seed(seed)
    parts = {}
    for split in SPLITS:
        x, y = getattr(source, split)["x"], getattr(source, split)["y"]
        half = x.shape[0] // 2
        order = torch.randperm(x.shape[0], generator=generator)
        mine, theirs = order[:half], order[half : 2 * half]
        parts[split] = {
            "x": _as_source(x[mine], kind),
            "y": y[mine],
            "x_target": _shift_images(x[theirs], kind, generator),
            "y_target": y[theirs],
        }
    shapes = {
        "x": _target_shape(source.shapes["x"], kind),
        "y": source.shapes["y"],
        "x_target": _target_shape(source.shapes["x"], kind),
        "y_target": source.shapes["y"],
    }
    families = {
        "x": source.families["x"],
        "y": "categorical",
        "x_target": _target_family(source.families["x"], kind),
        "y_target": "categorical",
    }
    # Which batch keys hold the same variables in each domain, for evaluations that read a
    # domain's images and labels without knowing the keys' names.
    domains = {"source": {"x": "x", "y": "y"}, "target": {"x": "x_target", "y": "y_target"}}
    meta = dict(source.meta, shift=kind, target_image_shape=shapes["x_target"], domains=domains)
    return DataSplits(
        name=f"{source.name}-to-{kind}",
        shapes=shapes,
        families=families,
        binarize=source.binarize,
        meta=meta,
        **parts,
    )
