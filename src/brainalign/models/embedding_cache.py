"""On-disk cache of the embeddings of frozen towers.

A frozen text or image tower gives the same embedding for the same input every
epoch, so it is computed once and stored as
``<cache_dir>/embeddings/<tower_id>/<sha256 of the input>.npy``. The key of a text is
the SHA-256 of its UTF-8 bytes, the key of an image the SHA-256 of the file's
content (a moved or renamed image is still found; an edited one is recomputed).
Precomputed features (towers that read "key" inputs) are already on disk and pass
through unchanged.
``tower_id`` changes with the tower's weights and settings. Files are written
atomically; an unreadable or mis-shaped entry is recomputed and replaced.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from brainalign.config import cache_dir
from brainalign.errors import ContractError, DataError
from brainalign.models.towers import Tower
from brainalign.utils.io import atomic_path, file_digest

__all__ = ["EmbeddingCache"]


class EmbeddingCache:
    """Embeddings of a frozen ``tower`` read from and written to ``root`` (default
    ``brainalign.config.cache_dir() / "embeddings"``)."""

    def __init__(self, tower: Tower, root: str | os.PathLike | None = None, *, batch_size: int = 64):
        if not tower.frozen:
            raise ContractError(f"tower {tower.name!r} is trainable: its embeddings cannot be cached")
        self.tower = tower
        self.batch_size = batch_size
        self.dir = Path(root if root is not None else cache_dir() / "embeddings") / tower.tower_id

    def key(self, item: str | os.PathLike) -> str:
        """Cache key of one input: hash of the text, or of the image file's bytes."""
        if self.tower.input_kind == "text":
            if not isinstance(item, str):
                raise ContractError(f"text tower {self.tower.name!r} got {type(item).__name__}, not str")
            return hashlib.sha256(item.encode("utf-8")).hexdigest()
        try:
            return file_digest(item)
        except FileNotFoundError:
            raise DataError(Path(item), "image file not found") from None
        except OSError as err:
            raise DataError(Path(item), f"cannot read the image: {err}") from None

    def _read(self, key: str) -> np.ndarray | None:
        path = self.dir / f"{key}.npy"
        if not path.is_file():
            return None
        try:
            vector = np.load(path, allow_pickle=False)
        except (ValueError, OSError, EOFError):
            return None
        if vector.shape != (self.tower.dim,) or vector.dtype != np.float32:
            return None
        return vector

    def _write(self, key: str, vector: np.ndarray) -> None:
        with atomic_path(self.dir / f"{key}.npy") as tmp:
            with open(tmp, "wb") as fh:
                np.save(fh, np.ascontiguousarray(vector, dtype=np.float32))

    def encode(self, items: Sequence[str | os.PathLike]) -> torch.Tensor:
        """Embeddings ``(len(items), dim)`` (float32, CPU): cached ones are read, the
        others computed in batches of ``batch_size`` and stored."""
        if self.tower.input_kind == "key":
            return self.tower.encode(items).float().cpu()
        keys = [self.key(item) for item in items]
        found: dict[str, np.ndarray] = {}
        todo: dict[str, str | os.PathLike] = {}
        for key, item in zip(keys, items):
            if key in found or key in todo:
                continue
            vector = self._read(key)
            if vector is None:
                todo[key] = item
            else:
                found[key] = vector
        pending = list(todo.items())
        for start in range(0, len(pending), self.batch_size):
            chunk = pending[start : start + self.batch_size]
            with torch.no_grad():
                vectors = self.tower.encode([item for _, item in chunk]).float().cpu().numpy()
            for (key, _), vector in zip(chunk, vectors):
                self._write(key, vector)
                found[key] = vector
        if not keys:
            return torch.zeros(0, self.tower.dim)
        return torch.from_numpy(np.stack([found[k] for k in keys]))
