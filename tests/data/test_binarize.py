"""Binarization modes: dynamic (per batch, global RNG), static (seeded, once), threshold, none."""

import pytest
import torch

from unidgm.data import load_digits
from unidgm.errors import DataError


def is_binary(x):
    return bool(((x == 0) | (x == 1)).all())


def test_dynamic_redraws_each_call_and_follows_global_seed():
    data = load_digits(binarize="dynamic")
    assert data.families["x"] == "bernoulli"
    batch = {"x": data.train["x"][:64], "y": data.train["y"][:64]}
    assert not is_binary(batch["x"])  # grey values kept until prepare
    torch.manual_seed(123)
    first, second = data.prepare(batch), data.prepare(batch)
    assert is_binary(first["x"]) and first["x"].shape == batch["x"].shape
    assert not torch.equal(first["x"], second["x"])
    assert first["y"] is batch["y"]
    assert first is not batch and not is_binary(batch["x"])  # the input is left alone
    torch.manual_seed(123)
    assert torch.equal(data.prepare(batch)["x"], first["x"])


@pytest.mark.parametrize("mode", ["static", "threshold", None])
def test_other_modes_prepare_is_identity(mode):
    data = load_digits(binarize=mode)
    batch = {"x": data.train["x"][:8]}
    assert data.prepare(batch) is batch


def test_static_is_binary_fixed_and_seeded():
    a, b = load_digits(binarize="static"), load_digits(binarize="static")
    for split in ("train", "val", "test"):
        assert is_binary(getattr(a, split)["x"])
        assert torch.equal(getattr(a, split)["x"], getattr(b, split)["x"])
    grey = load_digits(binarize=None)
    # Where the grey value is 0 or 1 the draw is certain.
    assert torch.equal(a.train["x"][grey.train["x"] == 0], grey.train["x"][grey.train["x"] == 0])
    assert bool((a.train["x"][grey.train["x"] == 1] == 1).all())
    # The static draw does not touch the global RNG that dynamic draws and training use.
    torch.manual_seed(0)
    before = torch.get_rng_state()
    load_digits(binarize="static")
    assert torch.equal(torch.get_rng_state(), before)


def test_threshold():
    grey, data = load_digits(binarize=None), load_digits(binarize="threshold")
    assert torch.equal(data.train["x"], (grey.train["x"] > 0.5).float())
    assert data.families["x"] == "bernoulli"


def test_unknown_mode():
    with pytest.raises(DataError, match="binarize"):
        load_digits(binarize="always")
