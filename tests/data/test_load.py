"""`unidgm.data.load` by name."""

import pytest

from unidgm import data as datasets
from unidgm.errors import DataError

from .conftest import fake_images, fake_labels


def test_names():
    assert datasets.DATASETS == ("digits", "mnist", "ring8", "grid25", "swissroll", "digits-captions", "mnist-captions",
                                 "digits-add1", "mnist-add1")


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(DataError) as info:
        datasets.load("cifar10")
    for name in datasets.DATASETS:
        assert name in str(info.value)


def test_load_digits_flat():
    data = datasets.load("digits", flatten=True, binarize="threshold")
    assert data.name == "digits" and data.shapes["x"] == (64,)
    assert data.binarize == "threshold"


@pytest.mark.parametrize("name", ["ring8", "grid25", "swissroll"])
def test_toys_ignore_binarize(name):
    data = datasets.load(name, binarize="static", seed=3)
    assert data.name == name and data.binarize is None and data.shapes == {"x": (2,)}


def test_load_mnist_with_data_dir(fake_mnist, write_idx):
    # load keeps load_mnist's val_size of 1000, so give it more training images than that.
    write_idx(fake_mnist / "train-images-idx3-ubyte", fake_images(1005, 7))
    write_idx(fake_mnist / "train-labels-idx1-ubyte", fake_labels(1005, 8))
    data = datasets.load("mnist", data_dir=fake_mnist, flatten=True)
    assert data.shapes["x"] == (784,) and data.train["x"].shape == (5, 784)
    assert data.num_examples("val") == 1000 and data.num_examples("test") == 10
