"""scikit-learn's digits: shapes, split sizes, a seeded permutation that covers every image."""

import pytest
import torch

from unidgm.data import load_digits


@pytest.fixture(scope="module")
def digits():
    return load_digits(binarize=None)


def test_shapes_and_sizes(digits):
    assert [digits.num_examples(s) for s in ("train", "val", "test")] == [1300, 200, 297]
    assert digits.train["x"].shape == (1300, 1, 8, 8)
    assert digits.train["x"].dtype == torch.float32
    assert digits.test["y"].shape == (297,) and digits.test["y"].dtype == torch.int64
    assert digits.shapes == {"x": (1, 8, 8), "y": (10,)}
    assert digits.families == {"x": "normal", "y": "categorical"}
    assert float(digits.train["x"].min()) == 0.0 and float(digits.train["x"].max()) == 1.0


def test_splits_partition_the_dataset(digits):
    from sklearn.datasets import load_digits as sklearn_digits

    every = torch.cat([digits.train["x"], digits.val["x"], digits.test["x"]]).flatten(1)
    original = torch.as_tensor(sklearn_digits().data, dtype=torch.float32) / 16
    # The same multiset of images: compare the rows sorted lexicographically.
    assert sorted(map(tuple, every.tolist())) == sorted(map(tuple, original.tolist()))


def test_seeded_permutation(digits):
    assert torch.equal(load_digits(binarize=None, seed=0).test["x"], digits.test["x"])
    assert not torch.equal(load_digits(binarize=None, seed=1).test["x"], digits.test["x"])
