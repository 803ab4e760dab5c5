"""The IDX reader: round trips, gzip detection by content, and every corruption it names."""

import gzip

import pytest
import torch

from unidgm.data import read_idx
from unidgm.errors import DataError

from .conftest import encode_idx


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("shape", [(7,), (5, 4, 3), (0, 28, 28)])
def test_round_trip(tmp_path, write_idx, shape, gz):
    array = torch.randint(0, 256, shape, dtype=torch.uint8)
    path = write_idx(tmp_path / "a-idx", array, gz=gz)
    out = read_idx(path)
    assert out.dtype == torch.uint8
    assert out.shape == shape
    assert torch.equal(out, array)


def test_gzip_detected_by_content_not_name(tmp_path, write_idx):
    array = torch.arange(24, dtype=torch.uint8).reshape(2, 3, 4)
    gz_without_suffix = write_idx(tmp_path / "images-idx3-ubyte", array, gz=True)
    raw_with_suffix = write_idx(tmp_path / "images-idx3-ubyte.gz", array, gz=False)
    assert torch.equal(read_idx(gz_without_suffix), array)
    assert torch.equal(read_idx(raw_with_suffix), array)


def test_result_is_writable(tmp_path, write_idx):
    out = read_idx(write_idx(tmp_path / "a", torch.zeros(3, dtype=torch.uint8)))
    out += 1  # a read-only buffer would fail here
    assert out.tolist() == [1, 1, 1]


def check_error(path, *words):
    with pytest.raises(DataError) as info:
        read_idx(path)
    message = str(info.value)
    assert str(path) in message
    for word in words:
        assert word in message
    return message


def test_missing_file(tmp_path):
    check_error(tmp_path / "nope-idx3-ubyte.gz", "does not exist")


def test_directory_instead_of_file(tmp_path):
    check_error(tmp_path, "directory")


@pytest.mark.parametrize("gz", [False, True])
def test_truncated_payload(tmp_path, gz):
    data = encode_idx(torch.ones(4, 5, 5, dtype=torch.uint8))[:-7]
    path = tmp_path / "short"
    path.write_bytes(gzip.compress(data) if gz else data)
    check_error(path, "truncated", "(4, 5, 5)")


def test_truncated_header(tmp_path):
    path = tmp_path / "short-header"
    path.write_bytes(bytes([0, 0, 8, 3]) + b"\x00\x00\x00\x04")  # 3 dims promised, 1 given
    check_error(path, "truncated")
    path.write_bytes(b"\x00\x00")
    check_error(path, "truncated")


def test_extra_bytes(tmp_path):
    path = tmp_path / "long"
    path.write_bytes(encode_idx(torch.ones(6, dtype=torch.uint8)) + b"\x00")
    check_error(path, "extra bytes")


@pytest.mark.parametrize(
    "header", [b"\x01\x00\x08\x01", b"\x00\x07\x08\x01", b"\x00\x00\x42\x01"]
)
def test_bad_magic(tmp_path, header):
    path = tmp_path / "bad-magic"
    path.write_bytes(header + b"\x00\x00\x00\x01" + b"\x05")
    check_error(path, "magic")


def test_unsupported_type(tmp_path):
    path = tmp_path / "floats"
    path.write_bytes(bytes([0, 0, 0x0D, 1]) + b"\x00\x00\x00\x01" + b"\x00" * 4)
    check_error(path, "float32", "not supported")


def test_zero_dims(tmp_path):
    path = tmp_path / "scalar"
    path.write_bytes(bytes([0, 0, 8, 0]) + b"\x05")
    check_error(path, "0 dimensions")


def test_corrupt_gzip(tmp_path):
    good = gzip.compress(encode_idx(torch.ones(100, dtype=torch.uint8)))
    path = tmp_path / "garbled.gz"
    path.write_bytes(good[:10] + bytes(b ^ 0xFF for b in good[10:]))
    check_error(path, "gzip")
    path.write_bytes(good[: len(good) // 2])  # a cut-off download
    check_error(path, "gzip")
