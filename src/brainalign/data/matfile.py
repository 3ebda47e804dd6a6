"""A cheap structural check of MATLAB 5 files before SciPy reads them.

A corrupted dimension field of a struct or cell array (one flipped byte, found by
the fuzz tests in an EEGLAB ``.set``) makes ``scipy.io.loadmat`` loop over
millions of phantom elements in compiled code for minutes, growing to gigabytes,
where no signal handler can interrupt it. :func:`check_mat5` walks the file's
element tags instead (reading no data), and refuses a struct or cell array that
announces more elements than its bytes can hold: every element is at least one
8-byte tag. Compressed elements are decompressed (at most zlib's 1032:1 ratio)
and walked too. MATLAB 7.3 files (HDF5) are not MATLAB 5 files and are left alone.
"""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

from brainalign.errors import DataError

_HEADER = 128
MI_MATRIX, MI_COMPRESSED = 14, 15
MX_CELL, MX_STRUCT, MX_OBJECT = 1, 2, 3
_TAG = 8
#: zlib cannot compress more than this (its deflate format's limit), so a larger
#: output is corrupt
_MAX_RATIO = 1032
_MAX_DEPTH = 64


class _Corrupt(Exception):
    pass


def is_mat5(path: str | os.PathLike) -> bool:
    with open(path, "rb") as fh:
        head = fh.read(_HEADER)
    return len(head) == _HEADER and head[126:128] in (b"IM", b"MI") and not head.startswith(b"\x89HDF")


def check_mat5(path: str | os.PathLike) -> None:
    """DataError naming ``path`` when its MATLAB 5 element structure is impossible
    (an element running past its parent, a struct or cell announcing more elements
    than its bytes can hold, an undecodable compressed element)."""
    path = Path(path)
    data = path.read_bytes()
    if len(data) < _HEADER:
        raise DataError(path, f"truncated MATLAB file ({len(data)} bytes, the header alone is 128)")
    endian = "<" if data[126:128] == b"IM" else ">"
    try:
        _walk(data, _HEADER, len(data), endian, 0)
    except _Corrupt as err:
        raise DataError(path, f"corrupt MATLAB file: {err}") from None
    except (struct.error, zlib.error, IndexError, ValueError) as err:
        raise DataError(path, f"corrupt MATLAB file ({type(err).__name__}: {err})") from None


def _tag(buf: bytes, pos: int, end: int, endian: str) -> tuple[int, int, int, int]:
    """(type, nbytes, data start, next element) of the tag at ``pos``."""
    if pos + _TAG > end:
        raise _Corrupt(f"element tag at byte {pos} runs past its parent (ends at {end})")
    first, second = struct.unpack_from(endian + "II", buf, pos)
    if first >> 16:  # small data element: type and size in the first 4 bytes, data in the next 4
        return first & 0xFFFF, first >> 16, pos + 4, pos + _TAG
    start = pos + _TAG
    if start + second > end:
        raise _Corrupt(f"element at byte {pos} announces {second} bytes, past its parent (ends at {end})")
    padded = second if first == MI_COMPRESSED else (second + 7) // 8 * 8
    return first, second, start, min(start + padded, end)


def _walk(buf: bytes, pos: int, end: int, endian: str, depth: int) -> None:
    while pos < end:
        kind, nbytes, start, pos = _tag(buf, pos, end, endian)
        if kind == MI_COMPRESSED:
            inflater = zlib.decompressobj()
            inner = inflater.decompress(buf[start : start + nbytes], _MAX_RATIO * max(nbytes, 1))
            _walk(inner, 0, len(inner), endian, depth + 1)
        elif kind == MI_MATRIX:
            _matrix(buf, start, start + nbytes, endian, depth + 1)


def _matrix(buf: bytes, pos: int, end: int, endian: str, depth: int) -> None:
    if pos == end:  # an empty array
        return
    if depth > _MAX_DEPTH:
        raise _Corrupt(f"arrays nested more than {_MAX_DEPTH} deep")
    _, _, flags_at, pos = _tag(buf, pos, end, endian)  # array flags
    mx_class = struct.unpack_from(endian + "I", buf, flags_at)[0] & 0xFF
    _, dims_bytes, dims_at, pos = _tag(buf, pos, end, endian)  # dimensions
    dims = struct.unpack_from(endian + f"{dims_bytes // 4}i", buf, dims_at)
    if any(d < 0 for d in dims):
        raise _Corrupt(f"negative dimension in {dims}")
    count = 1
    for d in dims:
        count *= d
    _, _, _, pos = _tag(buf, pos, end, endian)  # array name
    if mx_class not in (MX_CELL, MX_STRUCT, MX_OBJECT):
        return
    if mx_class == MX_OBJECT:
        _, _, _, pos = _tag(buf, pos, end, endian)  # class name
    if mx_class != MX_CELL:
        _, _, length_at, pos = _tag(buf, pos, end, endian)  # field name length
        length = struct.unpack_from(endian + "i", buf, length_at)[0]
        _, names_bytes, _, pos = _tag(buf, pos, end, endian)  # field names
        if length <= 0 and names_bytes:
            raise _Corrupt(f"field name length {length}")
        count *= names_bytes // length if length > 0 else 0
    if count * _TAG > end - pos:
        raise _Corrupt(
            f"a {'x'.join(map(str, dims))} {('cell', 'struct', 'object')[mx_class - 1]} array "
            f"needs {count} elements, more than its {end - pos} bytes can hold"
        )
    for _ in range(count):
        kind, nbytes, start, pos = _tag(buf, pos, end, endian)
        if kind != MI_MATRIX:
            raise _Corrupt(f"element of type {kind} where an array was expected")
        _matrix(buf, start, start + nbytes, endian, depth + 1)
