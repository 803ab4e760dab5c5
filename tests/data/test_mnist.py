"""MNIST: file discovery, checks, splits; the real data where ../shared/data/mnist exists."""

import pytest
import torch

from unidgm.data import load_mnist
from unidgm.errors import DataError

from .conftest import REPO_ROOT, fake_images, fake_labels


def test_fake_mnist_shapes_and_val_split(fake_mnist):
    data = load_mnist(fake_mnist, binarize=None, val_size=5)
    assert data.num_examples("train") == 25
    assert data.num_examples("val") == 5
    assert data.num_examples("test") == 10
    assert data.train["x"].shape == (25, 1, 28, 28)
    assert data.train["x"].dtype == torch.float32
    assert data.train["y"].dtype == torch.int64 and data.train["y"].shape == (25,)
    assert data.shapes == {"x": (1, 28, 28), "y": (10,)}
    assert data.families == {"x": "normal", "y": "categorical"}
    # The validation split is the LAST val_size training images, scaled by 1/255.
    images = fake_images(30, 1).float() / 255
    assert torch.equal(data.val["x"][:, 0], images[25:])
    assert torch.equal(data.train["x"][:, 0], images[:25])
    assert torch.equal(data.val["y"], fake_labels(30, 2)[25:].long())


def test_data_dir_may_be_the_parent_folder(fake_mnist):
    assert load_mnist(fake_mnist.parent, val_size=5).num_examples("test") == 10


def test_full_training_files_preferred(fake_mnist, write_idx):
    write_idx(fake_mnist / "train-images-idx3-ubyte", fake_images(12, 5))
    write_idx(fake_mnist / "train-labels-idx1-ubyte", fake_labels(12, 6))
    assert load_mnist(fake_mnist, val_size=2).num_examples("train") == 10


def test_count_mismatch_names_both_files(fake_mnist, write_idx):
    labels = write_idx(fake_mnist / "t10k-labels-idx1-ubyte", fake_labels(9, 4))
    with pytest.raises(DataError) as info:
        load_mnist(fake_mnist, val_size=5)
    assert str(labels) in str(info.value)
    assert str(fake_mnist / "t10k-images-idx3-ubyte") in str(info.value)


def test_label_out_of_range(fake_mnist, write_idx):
    bad = torch.full((10,), 10, dtype=torch.uint8)
    path = write_idx(fake_mnist / "t10k-labels-idx1-ubyte", bad)
    with pytest.raises(DataError, match="label 10") as info:
        load_mnist(fake_mnist, val_size=5)
    assert str(path) in str(info.value)


def test_corrupt_file_is_named(fake_mnist):
    path = fake_mnist / "train-12k-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(DataError) as info:
        load_mnist(fake_mnist)
    assert str(path) in str(info.value)


def test_bad_val_size(fake_mnist):
    with pytest.raises(DataError, match="val_size"):
        load_mnist(fake_mnist, val_size=30)


def test_bad_binarize_fails_before_reading(tmp_path):
    with pytest.raises(DataError, match="binarize"):
        load_mnist(tmp_path / "nowhere", binarize="sometimes")


def test_incomplete_folder_says_what_is_missing(fake_mnist):
    (fake_mnist / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(DataError) as info:
        load_mnist(fake_mnist)
    assert "t10k-labels-idx1-ubyte" in str(info.value)
    assert str(fake_mnist) in str(info.value)


def test_search_order_env_then_cwd(tmp_path, fake_mnist, monkeypatch):
    elsewhere = tmp_path / "a" / "b"
    elsewhere.mkdir(parents=True)
    monkeypatch.chdir(elsewhere)
    monkeypatch.setenv("UNIDGM_DATA_DIR", str(fake_mnist.parent))  # found in its mnist/
    assert load_mnist(val_size=5).num_examples("train") == 25

    monkeypatch.delenv("UNIDGM_DATA_DIR")
    (elsewhere / "data").mkdir()
    fake_mnist.rename(elsewhere / "data" / "mnist")  # ./data/mnist
    assert load_mnist(val_size=5).num_examples("train") == 25


def test_not_found_lists_places_and_the_fix(tmp_path, monkeypatch):
    monkeypatch.delenv("UNIDGM_DATA_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DataError) as info:
        load_mnist()
    message = str(info.value)
    assert str(tmp_path / "data" / "mnist") in message
    assert str(tmp_path.parent / "shared" / "data" / "mnist") in message
    assert "data_dir" in message and "--data-dir" in message and "UNIDGM_DATA_DIR" in message


@pytest.fixture(scope="module")
def real_mnist(real_mnist_dir):
    return load_mnist(real_mnist_dir, binarize=None)


def test_real_mnist(real_mnist):
    assert real_mnist.num_examples("train") == 11_484
    assert real_mnist.num_examples("val") == 1_000
    assert real_mnist.num_examples("test") == 10_000
    for split in (real_mnist.train, real_mnist.val, real_mnist.test):
        x = split["x"]
        assert x.shape[1:] == (1, 28, 28) and x.dtype == torch.float32
        assert 0.0 <= float(x.min()) and float(x.max()) <= 1.0
        assert split["y"].dtype == torch.int64 and int(split["y"].max()) == 9
    assert real_mnist.train["y"][:5].tolist() == [5, 0, 4, 1, 9]  # MNIST's first labels
    assert real_mnist.test["y"][:5].tolist() == [7, 2, 1, 0, 4]


def test_real_mnist_found_from_repo_root(real_mnist_dir, monkeypatch):
    monkeypatch.delenv("UNIDGM_DATA_DIR", raising=False)
    monkeypatch.chdir(REPO_ROOT)  # ../shared/data/mnist from here
    data = load_mnist(binarize="threshold", val_size=1000)
    assert data.num_examples("test") == 10_000
    assert set(data.test["x"].unique().tolist()) == {0.0, 1.0}
