"""One head for several datasets of different montages: per-dataset input adapters
into a shared trunk.

Each dataset ``d`` brings a feature vector of its own width ``dims[d]`` (band powers
of its channels, tangent vectors of its covariances, ...). A linear adapter per dataset
maps it to ``hidden``; one shared trunk (GELU, dropout, linear layers) maps that to the
embedding. Rows of several datasets are fed together as a zero-padded ``(n, max(dims))``
array and a dataset index per row, so one mini-batch can mix datasets (CLIP then uses the
other datasets' texts as negatives too).

With a single entry in ``dims`` the module is the per-dataset encoder: the same network
trained on one dataset, the comparator of the joint one.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

__all__ = ["MultiAdapterHead", "pad_features"]


class MultiAdapterHead(nn.Module):
    """``forward(x, dataset)``: ``x`` ``(n, max(dims))`` zero-padded features,
    ``dataset`` ``(n,)`` integer index into ``dims``; returns ``(n, emb_dim)``."""

    def __init__(
        self, dims: Sequence[int], hidden: int = 64, emb_dim: int = 64, depth: int = 1, dropout: float = 0.2
    ) -> None:
        super().__init__()
        self.dims = [int(d) for d in dims]
        self.hidden = hidden
        self.adapters = nn.ModuleList(nn.Linear(d, hidden) for d in self.dims)
        layers: list[nn.Module] = []
        for _ in range(depth):
            layers += [nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, hidden)]
        layers += [nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, emb_dim)]
        self.trunk = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, dataset: torch.Tensor) -> torch.Tensor:
        h = x.new_zeros((len(x), self.hidden))
        for d, adapter in enumerate(self.adapters):
            rows = dataset == d
            if bool(rows.any()):
                h[rows] = adapter(x[rows, : self.dims[d]])
        return self.trunk(h)


def pad_features(blocks: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Stack feature blocks ``(n_d, dims[d])`` of different widths into ``(padded,
    dataset index)``: ``(sum n_d, max dims)`` float32 and ``(sum n_d,)`` int64."""
    arrays = [np.asarray(b, dtype=np.float32) for b in blocks]
    width = max(a.shape[1] for a in arrays)
    padded = np.zeros((sum(len(a) for a in arrays), width), dtype=np.float32)
    index = np.zeros(len(padded), dtype=np.int64)
    start = 0
    for d, a in enumerate(arrays):
        padded[start : start + len(a), : a.shape[1]] = a
        index[start : start + len(a)] = d
        start += len(a)
    return padded, index
