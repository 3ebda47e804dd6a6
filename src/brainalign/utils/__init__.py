"""Small shared utilities (atomic file writes, hashing, progress)."""

from brainalign.utils.io import (
    atomic_path,
    atomic_write_bytes,
    atomic_write_text,
    file_digest,
)

__all__ = ["atomic_path", "atomic_write_bytes", "atomic_write_text", "file_digest"]
