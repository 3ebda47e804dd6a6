"""Array inputs checked once, for every metric, statistic and plot."""

from __future__ import annotations

from typing import Any

import numpy as np

from brainalign.errors import DataError


def as_array(x: Any, name: str, *, ndim: int | None = None, finite: bool = False) -> np.ndarray:
    """Return ``x`` (numpy array, torch tensor or sequence) as a non-empty numpy array.

    Torch tensors are detached and moved to the CPU. ``ndim`` fixes the number of
    dimensions; ``finite`` rejects NaN/Inf (needed for embeddings and scores, whose NaNs
    would otherwise silently sort first or last). Any violation raises
    :class:`DataError` naming the argument.
    """
    if hasattr(x, "detach") and hasattr(x, "cpu"):  # torch.Tensor, without importing torch
        x = x.detach().cpu().numpy()
    arr = np.asarray(x)
    if arr.size == 0:
        raise DataError(None, f"{name} is empty")
    if ndim is not None and arr.ndim != ndim:
        raise DataError(None, f"{name} must have {ndim} dimension(s), got shape {arr.shape}")
    if finite:
        if not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.complexfloating):
            raise DataError(None, f"{name} must be real numbers, got dtype {arr.dtype}")
        if not np.isfinite(arr).all():
            raise DataError(None, f"{name} contains {int((~np.isfinite(arr)).sum())} NaN or Inf values")
    return arr
