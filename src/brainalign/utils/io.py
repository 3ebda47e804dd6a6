"""Atomic writes and file hashing.

Everything brainalign writes goes to a temporary name in the destination folder
and is renamed into place only when complete, so a reader never sees a
half-written file, even after a crash or SIGKILL.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(dest: str | os.PathLike, *, is_dir: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``dest``; on success rename it to ``dest``.

    On any exception the temporary file or folder is removed and ``dest`` is left
    untouched.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if is_dir:
        tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent))
    else:
        fd, name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
        os.close(fd)
        tmp = Path(name)
    try:
        yield tmp
        # mkstemp/mkdtemp create private (0600/0700) entries: give the result the
        # permissions a plain open()/mkdir() would have under the current umask
        umask = os.umask(0)
        os.umask(umask)
        if tmp.exists():
            os.chmod(tmp, (0o777 if tmp.is_dir() else 0o666) & ~umask)
        aside = None
        if is_dir and dest.exists():
            # never delete the old folder in place (a kill would expose it half
            # deleted): rename it aside, swap the new one in, then delete it
            aside = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".old", dir=dest.parent))
            os.replace(dest, aside / dest.name)
        os.replace(tmp, dest)
        if aside is not None:
            shutil.rmtree(aside, ignore_errors=True)
    except BaseException:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        raise


def atomic_write_bytes(dest: str | os.PathLike, data: bytes) -> Path:
    with atomic_path(dest) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    return Path(dest)


def atomic_write_text(dest: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(dest, text.encode("utf-8"))


def file_digest(path: str | os.PathLike, algorithm: str = "sha256", chunk: int = 1 << 20) -> str:
    """Hex digest of a file's content."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()
