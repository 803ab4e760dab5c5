"""Shared fixtures for the data tests: an IDX writer, a small fake MNIST folder, and the real
MNIST folder at ../shared/data/mnist (tests that need it skip where it is absent)."""

import gzip
import struct
from pathlib import Path

import pytest
import torch

# tests/data/conftest.py -> parents[2] is the repo root; shared/ sits beside it.
REPO_ROOT = Path(__file__).resolve().parents[2]
REAL_MNIST_DIR = REPO_ROOT.parent / "shared" / "data" / "mnist"


def encode_idx(array: torch.Tensor) -> bytes:
    """The IDX bytes of a uint8 tensor: 00 00 08 <ndim>, big-endian int32 dims, data."""
    header = bytes([0, 0, 0x08, array.dim()]) + struct.pack(f">{array.dim()}i", *array.shape)
    return header + array.contiguous().numpy().tobytes()


@pytest.fixture
def write_idx():
    """write_idx(path, array, gz=False) writes `array` as an IDX file and returns the path."""

    def write(path, array, gz=False):
        data = encode_idx(array)
        Path(path).write_bytes(gzip.compress(data) if gz else data)
        return Path(path)

    return write


def fake_images(n, seed):
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 28, 28), dtype=torch.uint8, generator=generator)


def fake_labels(n, seed):
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 10, (n,), dtype=torch.uint8, generator=generator)


@pytest.fixture
def fake_mnist(tmp_path, write_idx):
    """A folder with a 30-image 'train-12k' pair (gzipped) and a 10-image t10k pair (raw)."""
    folder = tmp_path / "mnist"
    folder.mkdir()
    write_idx(folder / "train-12k-images-idx3-ubyte.gz", fake_images(30, 1), gz=True)
    write_idx(folder / "train-12k-labels-idx1-ubyte.gz", fake_labels(30, 2), gz=True)
    write_idx(folder / "t10k-images-idx3-ubyte", fake_images(10, 3))
    write_idx(folder / "t10k-labels-idx1-ubyte", fake_labels(10, 4))
    return folder


@pytest.fixture(scope="session")
def real_mnist_dir():
    if not REAL_MNIST_DIR.is_dir():
        pytest.skip(f"real MNIST folder {REAL_MNIST_DIR} is absent")
    return REAL_MNIST_DIR
