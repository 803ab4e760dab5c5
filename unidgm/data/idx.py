"""Reader for the IDX file format in which MNIST is distributed.

Format (LeCun, Cortes & Burges, "The MNIST database of handwritten digits",
http://yann.lecun.com/exdb/mnist/, section "File formats"): a 4-byte magic number made of
two zero bytes, a type byte (0x08 = unsigned byte) and a byte giving the number of
dimensions; then one big-endian int32 per dimension; then the data, row-major.

Only the unsigned-byte type is supported, which is what MNIST uses. Files may be raw or
gzip-compressed; gzip is recognised by its magic bytes 1f 8b, not by the file name, so a
decompressed file that kept its ``.gz`` name still reads. Nothing is ever downloaded.
"""

from __future__ import annotations

import gzip
import math
import struct
import zlib
from pathlib import Path

import torch

from unidgm.errors import DataError

GZIP_MAGIC = b"\x1f\x8b"
UBYTE = 0x08
# The other IDX types, named so an error can say which one it met.
IDX_TYPES = {
    0x08: "uint8",
    0x09: "int8",
    0x0B: "int16",
    0x0C: "int32",
    0x0D: "float32",
    0x0E: "float64",
}


def read_idx(path: str | Path) -> torch.Tensor:
    """Read an IDX file of unsigned bytes (raw or gzip) into a uint8 tensor of its shape.

    Raises `DataError`, naming the file, if it is missing, is a corrupt gzip stream, has a
    bad magic number or an unsupported type, or holds fewer or more data bytes than the
    product of the dimensions in its header.
    """
    path = Path(path)
    if not path.is_file():
        what = "is a directory, not a file" if path.is_dir() else "does not exist"
        raise DataError(f"IDX file {path} {what}; check the path or the data directory.")
    raw = path.read_bytes()
    if raw[:2] == GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as err:
            # EOFError: the stream ends early (a cut-off download); OSError/zlib.error: bad bytes.
            raise DataError(
                f"IDX file {path}: corrupt or truncated gzip stream ({err}); "
                "replace the file with a fresh copy."
            ) from err

    if len(raw) < 4:
        raise DataError(
            f"IDX file {path} is truncated: {len(raw)} bytes, fewer than the 4-byte magic "
            "number; replace the file with a fresh copy."
        )
    zero0, zero1, dtype, ndim = raw[0], raw[1], raw[2], raw[3]
    if zero0 != 0 or zero1 != 0 or dtype not in IDX_TYPES:
        raise DataError(
            f"IDX file {path}: bad magic number {raw[:4].hex(' ')} (expected 00 00 08 <ndim>); "
            "this is not an IDX file, or it is damaged."
        )
    if dtype != UBYTE:
        raise DataError(
            f"IDX file {path}: data type {IDX_TYPES[dtype]} (0x{dtype:02x}) is not supported; "
            "only unsigned bytes (0x08), as in MNIST, are read."
        )
    if ndim == 0:
        raise DataError(f"IDX file {path}: header declares 0 dimensions; the file is damaged.")

    header_size = 4 + 4 * ndim
    if len(raw) < header_size:
        raise DataError(
            f"IDX file {path} is truncated: the header promises {ndim} dimensions "
            f"({header_size} header bytes) but the file has {len(raw)} bytes; "
            "replace the file with a fresh copy."
        )
    dims = struct.unpack(f">{ndim}i", raw[4:header_size])
    if any(d < 0 for d in dims):
        raise DataError(
            f"IDX file {path}: negative dimension in header {dims}; the file is damaged."
        )
    expected = math.prod(dims)
    got = len(raw) - header_size
    if got != expected:
        problem = "is truncated" if got < expected else "has extra bytes"
        raise DataError(
            f"IDX file {path} {problem}: the header promises shape {tuple(dims)} = {expected} "
            f"data bytes but {got} follow it; replace the file with a fresh copy."
        )
    if expected == 0:
        return torch.zeros(dims, dtype=torch.uint8)
    # bytearray gives torch a writable buffer (frombuffer on bytes warns); the memoryview
    # slice keeps that the only copy of the payload.
    payload = bytearray(memoryview(raw)[header_size:])
    return torch.frombuffer(payload, dtype=torch.uint8).reshape(dims)
