"""Loading pickled containers without running the code they may carry.

Several published EEG benchmarks ship their data as pickles: THINGS-EEG2 saves a
dict with ``np.save(allow_pickle=True)``, ThoughtViz a Python 2 ``pickle`` of
numpy arrays, EEGCVPR40 a ``torch.save`` dict. ``pickle.load`` (and therefore
``np.load(allow_pickle=True)`` and ``torch.load(weights_only=False)``) calls any
importable function the file names, so a tampered download could run arbitrary
code. Everything here only ever builds objects from an explicit allowlist of
globals and raises :class:`~brainalign.errors.DataError` naming the file for
anything else, and for truncated or corrupt files.
"""

from __future__ import annotations

import importlib
import os
import pickle
import struct
from pathlib import Path
from typing import IO, Any

import numpy as np

from brainalign.errors import DataError

#: Globals needed to rebuild numpy arrays, dtypes and scalars (as written by numpy
#: 1.x under ``numpy.core`` and by numpy 2.x under ``numpy._core``, with pickle
#: protocols 2 to 5), plus the two harmless helpers Python itself emits for bytes
#: under protocol 2 and for ordered dicts. Each rebuilds data; none runs code.
NUMPY_GLOBALS: frozenset[tuple[str, str]] = frozenset(
    {(f"numpy.{core}.multiarray", name) for core in ("core", "_core") for name in ("_reconstruct", "scalar")}
    | {(f"numpy.{core}.numeric", "_frombuffer") for core in ("core", "_core")}
    | {("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"), ("collections", "OrderedDict")}
)

#: What is refused is reported with this phrase, so that callers and users can
#: tell an unsafe file from a merely damaged one.
REFUSED = "contains pickled code objects; refusing to load"

_NPY_MAGIC = b"\x93NUMPY"
#: Errors that unpickling a truncated or corrupt stream raises.
_CORRUPT = (
    pickle.UnpicklingError,
    EOFError,
    ValueError,
    TypeError,
    AttributeError,
    IndexError,
    KeyError,
    struct.error,
    UnicodeDecodeError,
    MemoryError,
    OverflowError,
)


class _RefusedGlobal(pickle.UnpicklingError):
    """A pickle named a global outside the allowlist."""


def _resolve(module: str, name: str) -> Any:
    """Import ``module.name``; numpy 1.x's ``numpy.core`` paths are mapped to
    numpy 2.x's ``numpy._core`` so old files load without the deprecation shim."""
    if module.startswith("numpy.core") and hasattr(np, "_core"):
        module = "numpy._core" + module[len("numpy.core") :]
    return getattr(importlib.import_module(module), name)


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, fileobj: IO[bytes], allowed: set[tuple[str, str]] | frozenset[tuple[str, str]], encoding: str):
        super().__init__(fileobj, encoding=encoding)
        self._allowed = allowed

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self._allowed:
            raise _RefusedGlobal(f"{module}.{name}")
        return _resolve(module, name)

    def persistent_load(self, pid: Any) -> Any:
        raise _RefusedGlobal(f"persistent id {pid!r}")


def restricted_unpickle(
    fileobj: IO[bytes],
    allowed: set[tuple[str, str]] | frozenset[tuple[str, str]],
    path: str | os.PathLike,
    *,
    encoding: str = "latin1",
) -> Any:
    """Unpickle one object from ``fileobj``, allowing only the ``(module, name)``
    globals in ``allowed``.

    ``encoding`` decodes Python 2 byte strings; ``"latin1"`` is what numpy arrays
    pickled by Python 2 need. Raises :class:`DataError` (naming ``path``) when the
    pickle names any other global, or is truncated or corrupt.
    """
    try:
        return _RestrictedUnpickler(fileobj, allowed, encoding).load()
    except _RefusedGlobal as err:
        raise DataError(path, f"{REFUSED} (it names {err})") from None
    except _CORRUPT as err:
        raise DataError(path, f"truncated or corrupt pickle ({type(err).__name__}: {err})") from None


def load_pickle_safely(
    path: str | os.PathLike,
    allowed: set[tuple[str, str]] | frozenset[tuple[str, str]] = NUMPY_GLOBALS,
    *,
    encoding: str = "latin1",
) -> Any:
    """Read a pickle file that may hold only builtin containers, strings, numbers
    and numpy arrays (or the globals in ``allowed``)."""
    path = Path(path)
    with _open(path) as fh:
        return restricted_unpickle(fh, allowed, path, encoding=encoding)


def load_numpy_pickle(path: str | os.PathLike) -> Any:
    """What ``np.load(path, allow_pickle=True)`` returns, without running code.

    The ``.npy`` header is parsed with :mod:`numpy.lib.format`; an object array's
    pickled payload goes through the restricted unpickler (numpy arrays and builtin
    containers only). A file that holds a bare pickle (some pipelines write
    ``pickle.dump`` output under a ``.npy`` name) is read the same way.
    ``np.save(path, some_dict)`` therefore comes back as a 0-d object array: call
    ``.item()`` on it, as with ``np.load``.
    """
    path = Path(path)
    with _open(path) as fh:
        head = fh.read(len(_NPY_MAGIC))
        fh.seek(0)
        if not head:
            raise DataError(path, "empty file")
        if head != _NPY_MAGIC:
            if head[:1] == pickle.PROTO:
                return restricted_unpickle(fh, NUMPY_GLOBALS, path)
            raise DataError(path, "not a .npy file (no NUMPY magic) and not a pickle")
        try:
            version = np.lib.format.read_magic(fh)
            if version not in ((1, 0), (2, 0)):
                # format 3.0 only differs in header text encoding; numpy reads it
                # without unpickling, and refuses object arrays by itself
                fh.seek(0)
                return np.lib.format.read_array(fh, allow_pickle=False)
            read_header = (
                np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            )
            shape, _fortran, dtype = read_header(fh)
            if not dtype.hasobject:
                fh.seek(0)
                return np.lib.format.read_array(fh, allow_pickle=False)
        except (ValueError, OSError, EOFError, SyntaxError) as err:
            raise DataError(path, f"truncated or corrupt .npy file ({err})") from None
        arr = restricted_unpickle(fh, NUMPY_GLOBALS, path)
    if not isinstance(arr, np.ndarray) or arr.shape != tuple(shape):
        raise DataError(
            path, f".npy header says an object array of shape {tuple(shape)}, the payload holds {type(arr).__name__}"
        )
    return arr


def load_torch_safely(path: str | os.PathLike) -> Any:
    """``torch.load(path, weights_only=True)`` on the CPU: tensors, dicts, lists,
    tuples, numbers and strings load; anything else is refused with
    :class:`DataError` ("contains pickled code objects"), as are truncated files."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise DataError(path, "file does not exist")
    if path.stat().st_size == 0:
        raise DataError(path, "empty file")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        text = str(err)
        if "Weights only load failed" in text:
            detail = next((line.strip() for line in text.splitlines() if "GLOBAL" in line or "Unsupported" in line), "")
            raise DataError(path, f"{REFUSED}" + (f" ({detail})" if detail else "")) from None
        raise DataError(path, f"truncated or corrupt torch file ({text})") from None
    except (RuntimeError, OSError, *_CORRUPT) as err:
        raise DataError(
            path,
            f"truncated or corrupt torch file ({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''})",
        ) from None


def _open(path: Path) -> IO[bytes]:
    try:
        return open(path, "rb")
    except FileNotFoundError:
        raise DataError(path, "file does not exist") from None
    except OSError as err:
        raise DataError(path, f"cannot open ({err.strerror})") from None
