"""Semi-supervised splits: a few labelled training examples among many unlabelled ones.

`semi_supervised` keeps the labels of ``labels`` training examples, balanced over the
classes and chosen by a seed (Kingma et al. 2014, Sec. 4.1: "the labelled examples are
chosen at random, with the same number from each class"), and sets every other training
label to -1, the mark of an unknown value (scikit-learn's convention for semi-supervised
estimators) that a partially observed node reads (``g.latent(..., partially_observed=True)``).
Validation and test keep all their labels, for measuring the classifier.

**Every batch sees labels.** With 100 labels among 11,484 images, a uniformly drawn batch of
128 would hold about one labelled example and often none. The labelled examples are therefore
repeated in the training split so that they make up ``labelled_share`` of it (by default
half, as in implementations that pair each unlabelled batch with a labelled batch of the same
size); the Trainer's shuffled batches then hold that share of labelled examples on average
(64 of 128: a batch holds none with probability 2^-128). Repetition weights the labelled
examples' bounds up against Kingma et al.'s sum over the data set, a trade that lets the
classifier learn from its few labels within a short budget.
"""

from __future__ import annotations

from dataclasses import replace

import torch

from unidgm.data.splits import DataSplits
from unidgm.errors import DataError

#: the value of an unknown label
UNLABELLED = -1


def semi_supervised(data: DataSplits, labels: int, seed: int = 0, key: str = "y",
                    labelled_share: float | None = 0.5) -> DataSplits:
    """A copy of ``data`` whose training split keeps ``labels`` labels and marks the rest -1.

    Args:
        data: a labelled dataset (``key`` holds class indices), e.g. ``load("mnist")``.
        labels: how many training labels to keep; split as evenly as possible over the
            classes (``labels // K`` each, the remainder to the first classes).
        seed: chooses the labelled examples (a "choice of the labelled set").
        key: the label's key.
        labelled_share: the labelled examples are repeated (a whole number of times, at
            least once) so that they make up about this share of the training split; None
            keeps each example once.

    Returns:
        `DataSplits` whose ``meta`` records ``labels``, ``labelled_index`` (the chosen rows of
        the original training split), ``labelled_repeats`` and ``unlabelled``.
    """
    if key not in data.train or data.families.get(key) != "categorical":
        raise DataError(f"dataset {data.name!r} has no categorical {key!r} to keep a few of; semi-supervised "
                        f"training needs labelled data such as 'mnist' or 'digits'")
    if labelled_share is not None and not 0.0 < labelled_share < 1.0:
        raise DataError(f"labelled_share must be in (0, 1) or None, got {labelled_share!r}")
    y = data.train[key]
    classes = data.shapes[key][-1]
    n = y.shape[0]
    if not 0 < labels < n:
        raise DataError(f"--labels {labels}: keep at least 1 and fewer than the {n} training examples of "
                        f"{data.name!r}")
    generator = torch.Generator().manual_seed(seed)
    chosen = []
    for k in range(classes):
        want = labels // classes + (1 if k < labels % classes else 0)
        rows = torch.nonzero(y == k).squeeze(1)
        if rows.numel() < want:
            raise DataError(f"--labels {labels}: class {k} of {data.name!r} has only {rows.numel()} training "
                            f"examples, fewer than the {want} a balanced choice needs; keep fewer labels")
        chosen.append(rows[torch.randperm(rows.numel(), generator=generator)[:want]])
    chosen = torch.cat(chosen).sort().values
    mask = torch.zeros(n, dtype=torch.bool)
    mask[chosen] = True
    unlabelled = int(n - labels)
    repeats = 1
    if labelled_share is not None:
        repeats = max(1, round(labelled_share * unlabelled / ((1.0 - labelled_share) * labels)))
    rows = torch.cat([torch.nonzero(~mask).squeeze(1), chosen.repeat(repeats)])
    train = {k: v[rows] for k, v in data.train.items()}
    train[key] = torch.cat([torch.full((unlabelled,), UNLABELLED, dtype=y.dtype), y[chosen].repeat(repeats)])
    meta = dict(data.meta, labels=int(labels), labelled_index=chosen, labelled_repeats=repeats,
                unlabelled=unlabelled)
    return replace(data, train=train, meta=meta)
