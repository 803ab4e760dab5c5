"""Shifted target domains and source/target pairs for domain adaptation."""
import pytest
import torch

from unidgm.data import load
from unidgm.data.shifted import domain_pair, shifted
from unidgm.data.splits import SPLITS
from unidgm.errors import DataError


@pytest.fixture(scope="module")
def digits():
    return load("digits", binarize=None)


def test_invert_is_one_minus_x_with_labels_kept(digits):
    target = shifted(digits, "invert")
    for split in SPLITS:
        assert torch.equal(getattr(target, split)["x"], 1 - getattr(digits, split)["x"])
        assert torch.equal(getattr(target, split)["y"], getattr(digits, split)["y"])
    assert target.shapes == digits.shapes and target.families == digits.families
    assert target.name == "digits-invert" and target.meta["shift"] == "invert"


def test_color_has_three_channels_and_is_deterministic(digits):
    target = shifted(digits, "color", seed=3)
    x = target.test["x"]
    assert x.shape == (digits.num_examples("test"), 3, 8, 8)
    assert target.shapes["x"] == (3, 8, 8) and target.meta["image_shape"] == (3, 8, 8)
    assert 0 <= x.min() and x.max() <= 1
    assert torch.equal(x, shifted(digits, "color", seed=3).test["x"])
    assert not torch.equal(x, shifted(digits, "color", seed=4).test["x"])
    # Background pixels take the image's colour, stroke pixels the colour half a turn away.
    grey = digits.test["x"][:, 0]
    background = x[:, :, 0, 0]  # corners of the 8x8 digits are blank
    assert torch.all(grey[:, 0, 0] == 0)
    ink = grey == 1
    stroke = ((background + 0.5) % 1)[:, :, None, None].expand_as(x)
    assert torch.allclose(x.permute(1, 0, 2, 3)[:, ink], stroke.permute(1, 0, 2, 3)[:, ink])
    # Different images get different colours.
    assert background.std(dim=0).min() > 0.1


def test_domain_pair_halves_are_disjoint(digits):
    pair = domain_pair(digits, "invert", seed=0)
    for split in SPLITS:
        part, whole = getattr(pair, split), getattr(digits, split)
        n = whole["x"].shape[0] // 2
        assert part["x"].shape == part["x_target"].shape == (n, 1, 8, 8)
        assert part["y"].shape == part["y_target"].shape == (n,)
        source = {tuple(v.tolist()) for v in part["x"].reshape(n, -1)}
        target = {tuple(v.tolist()) for v in (1 - part["x_target"]).reshape(n, -1)}
        originals = {tuple(v.tolist()) for v in whole["x"].reshape(whole["x"].shape[0], -1)}
        assert target <= originals and source <= originals
        # No image of the source appears (un-shifted) among the target's images, except
        # where the dataset itself holds exact duplicates of a picture.
        duplicates = whole["x"].shape[0] - len(originals)
        assert len(source & target) <= duplicates
    assert pair.shapes == {"x": (1, 8, 8), "y": (10,), "x_target": (1, 8, 8), "y_target": (10,)}
    assert pair.families["x_target"] == pair.families["x"]
    assert pair.families["y_target"] == "categorical"


def test_domain_pair_keeps_target_labels_matching_images(digits):
    pair = domain_pair(digits, "invert", seed=1)
    # Each target image, un-shifted, is an original image with the same label.
    images, labels = digits.train["x"], digits.train["y"]
    lookup = {tuple(x.reshape(-1).tolist()): int(y) for x, y in zip(images, labels)}
    for x, y in zip(pair.train["x_target"][:50], pair.train["y_target"][:50]):
        assert lookup[tuple((1 - x).reshape(-1).tolist())] == int(y)


def test_domain_pair_color(digits):
    pair = domain_pair(digits, "color", seed=0)
    assert pair.shapes["x_target"] == (3, 8, 8)
    # the source is grey in the target's layout, so one extractor reads both domains
    assert pair.shapes["x"] == (3, 8, 8) and pair.train["x"].shape[1:] == (3, 8, 8)
    assert torch.equal(pair.train["x"][:, 0], pair.train["x"][:, 2])
    assert pair.train["x_target"].shape[1:] == (3, 8, 8)
    assert pair.meta["target_image_shape"] == (3, 8, 8)
    assert pair.name == "digits-to-color"


def test_bad_requests_are_refused(digits):
    with pytest.raises(DataError, match="kind='blur'"):
        shifted(digits, "blur")
    with pytest.raises(DataError, match="before .flatten"):
        shifted(digits.flatten(), "color")
    with pytest.raises(DataError, match="binarize=None"):
        domain_pair(load("digits"), "invert")
    with pytest.raises(DataError, match="labels 'y'"):
        domain_pair(load("ring8"), "invert")
