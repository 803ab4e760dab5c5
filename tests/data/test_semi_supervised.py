"""`unidgm.data.semi_supervised`: a few labels, balanced and seeded, the rest -1, repeated
so that every batch sees labels."""

import pytest
import torch

from unidgm.data import UNLABELLED, load, semi_supervised
from unidgm.errors import DataError


@pytest.fixture(scope="module")
def digits():
    return load("digits")  # 1,300 training images, 200 validation, 297 test


def test_keeps_a_balanced_seeded_labelled_set(digits):
    data = semi_supervised(digits, 50, seed=3)
    y = data.train["y"]
    labelled = y[y != UNLABELLED]
    assert data.meta["labels"] == 50 and data.meta["unlabelled"] == 1250
    repeats = data.meta["labelled_repeats"]
    assert labelled.numel() == 50 * repeats and (y == UNLABELLED).sum() == 1250
    assert torch.bincount(labelled, minlength=10).tolist() == [5 * repeats] * 10  # balanced over the classes
    chosen = data.meta["labelled_index"]
    assert torch.equal(torch.bincount(digits.train["y"][chosen], minlength=10), torch.full((10,), 5))
    # the images keep their own labels: every labelled row is one of the chosen images with its label
    rows = data.train["x"][y != UNLABELLED][:50]
    assert torch.equal(rows, digits.train["x"][chosen]) and torch.equal(labelled[:50], digits.train["y"][chosen])
    # every training image is there, the unlabelled ones once
    assert data.train["x"].shape[0] == 1250 + 50 * repeats
    assert data.val is digits.val or torch.equal(data.val["y"], digits.val["y"])
    assert torch.equal(data.test["y"], digits.test["y"])  # held-out labels stay for measuring


def test_seeds_choose_different_sets_and_repeat_themselves(digits):
    a, b, a2 = (semi_supervised(digits, 50, seed=s).meta["labelled_index"] for s in (0, 1, 0))
    assert torch.equal(a, a2) and not torch.equal(a, b)


def test_labelled_share_sets_the_repeats(digits):
    half = semi_supervised(digits, 50, labelled_share=0.5)
    assert half.meta["labelled_repeats"] == 25  # 50 * 25 labelled rows beside 1,250 unlabelled ones
    once = semi_supervised(digits, 50, labelled_share=None)
    assert once.meta["labelled_repeats"] == 1 and once.train["x"].shape[0] == 1300
    quarter = semi_supervised(digits, 50, labelled_share=0.25)
    share = (quarter.train["y"] != UNLABELLED).float().mean().item()
    assert abs(share - 0.25) < 0.02


def test_an_uneven_number_of_labels_goes_to_the_first_classes(digits):
    data = semi_supervised(digits, 13, labelled_share=None)
    counts = torch.bincount(data.train["y"][data.train["y"] != UNLABELLED], minlength=10)
    assert counts.tolist() == [2, 2, 2] + [1] * 7


def test_bad_requests_say_the_fix(digits):
    with pytest.raises(DataError, match="--labels 0"):
        semi_supervised(digits, 0)
    with pytest.raises(DataError, match="fewer than the 1300"):
        semi_supervised(digits, 1300)
    with pytest.raises(DataError, match="class .* has only .* keep fewer labels"):
        semi_supervised(digits, 1250)
    with pytest.raises(DataError, match="labelled_share"):
        semi_supervised(digits, 50, labelled_share=1.0)
    with pytest.raises(DataError, match="no categorical 'y'"):
        semi_supervised(load("ring8"), 10)
