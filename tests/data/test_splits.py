"""DataSplits: flatten, to, num_examples, construction checks."""

import pytest
import torch

from unidgm.data import DataSplits, load_digits, ring8
from unidgm.errors import DataError


def small(**overrides):
    fields = dict(
        name="tiny",
        train={"x": torch.rand(4, 1, 2, 3), "y": torch.zeros(4, dtype=torch.int64)},
        val={"x": torch.rand(2, 1, 2, 3), "y": torch.zeros(2, dtype=torch.int64)},
        test={"x": torch.rand(3, 1, 2, 3), "y": torch.zeros(3, dtype=torch.int64)},
        shapes={"x": (1, 2, 3), "y": (10,)},
        families={"x": "normal", "y": "categorical"},
    )
    fields.update(overrides)
    return DataSplits(**fields)


def test_flatten():
    data = load_digits()
    flat = data.flatten()
    assert flat.train["x"].shape == (1300, 64)
    assert flat.shapes == {"x": (64,), "y": (10,)}
    assert flat.train["y"] is data.train["y"]
    assert flat.meta["image_shape"] == (1, 8, 8)
    assert flat.binarize == data.binarize and data.train["x"].shape == (1300, 1, 8, 8)
    assert torch.equal(flat.test["x"].reshape(-1, 1, 8, 8), data.test["x"])
    assert ring8().flatten().shapes == {"x": (2,)}  # already flat: unchanged


def test_to_moves_everything_into_a_new_object():
    data = ring8(n=10, n_val=2, n_test=2)
    moved = data.to(torch.device("cpu"))
    assert moved is not data and moved.meta["centers"].device.type == "cpu"
    assert moved.to("meta").train["x"].device.type == "meta"
    assert moved.to("meta").meta["centers"].device.type == "meta"


def test_num_examples_and_repr():
    data = small()
    assert [data.num_examples(s) for s in ("train", "val", "test")] == [4, 2, 3]
    with pytest.raises(DataError, match="split"):
        data.num_examples("training")
    assert "train=4" in repr(data) and "tensor" not in repr(data)


@pytest.mark.parametrize(
    "overrides, words",
    [
        (dict(binarize="maybe"), "binarize"),
        (dict(families={"x": "normal"}), "families"),
        (dict(families={"x": "poisson", "y": "categorical"}), "poisson"),
        (dict(val={"x": torch.rand(2, 1, 2, 3)}), "'val'"),
        (dict(test={"x": torch.rand(3, 1, 2, 3), "y": torch.zeros(2)}), "first dimensions"),
        (dict(train={"x": torch.rand(4, 6), "y": torch.zeros(4)}), "(N, *(1, 2, 3))"),
        (dict(train={"x": torch.rand(4, 1, 2, 3), "y": torch.zeros(4, 10)}), "'y'"),
        (dict(train={"x": torch.rand(4, 1, 2, 3), "y": torch.zeros(4)}), "integer class"),
    ],
)
def test_construction_checks(overrides, words):
    with pytest.raises(DataError) as info:
        small(**overrides)
    assert words in str(info.value)
