"""The trainable head shared by the encoders that are a fixed front end plus a small MLP.

``bandpower``, ``erp``, ``tangent`` and ``spatial_filter`` compute classical features in the
network (band power, binned ERP amplitude, tangent vectors, spatially filtered signals) and
train only what follows. :func:`mlp_head` is that MLP; :class:`StandardisedHead` adds the fixed
feature standardisation (``feature_mean`` / ``feature_std`` buffers, set from e.g. training
statistics by :meth:`StandardisedHead.set_feature_stats`) and ``embed = head(features(x))``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from brainalign.errors import ConfigError
from brainalign.models.registry import EEGEncoder

__all__ = ["StandardisedHead", "mlp_head"]


def mlp_head(n_in: int, emb_dim: int, hidden: int, depth: int, dropout: float) -> nn.Sequential:
    """``depth`` x (dropout, linear to ``hidden``, GELU), then dropout and a linear layer to ``emb_dim``."""
    layers: list[nn.Module] = []
    width = n_in
    for _ in range(max(0, int(depth))):
        layers += [nn.Dropout(dropout), nn.Linear(width, hidden), nn.GELU()]
        width = hidden
    layers += [nn.Dropout(dropout), nn.Linear(width, emb_dim)]
    return nn.Sequential(*layers)


class StandardisedHead(EEGEncoder):
    """An encoder whose ``features(x)`` are standardised with fixed statistics, then mapped
    by :func:`mlp_head`. Subclasses define ``features`` and call :meth:`_build_head` once."""

    #: the encoder's registry name, for messages
    encoder_name = "encoder"
    n_features: int
    # buffers (register_buffer), typed for mypy
    feature_mean: torch.Tensor
    feature_std: torch.Tensor

    def _build_head(self, n_features: int, emb_dim: int, hidden: int, depth: int, dropout: float) -> None:
        self.n_features = int(n_features)
        self.register_buffer("feature_mean", torch.zeros(self.n_features))
        self.register_buffer("feature_std", torch.ones(self.n_features))
        self.mlp = mlp_head(self.n_features, emb_dim, hidden, depth, dropout)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def set_feature_stats(self, mean: Any, std: Any) -> None:
        """Fix the standardisation of the features (e.g. training-subject statistics)."""
        mean_t = torch.as_tensor(np.asarray(mean, dtype=np.float32).reshape(-1))
        std_t = torch.as_tensor(np.asarray(std, dtype=np.float32).reshape(-1))
        if mean_t.numel() != self.n_features or std_t.numel() != self.n_features:
            raise ConfigError(f"{self.encoder_name}: feature statistics need {self.n_features} values")
        self.feature_mean.copy_(mean_t)
        self.feature_std.copy_(std_t.clamp_min(1e-6))

    def head(self, features: torch.Tensor) -> torch.Tensor:
        """Standardised features -> embedding."""
        return self.mlp((features - self.feature_mean) / self.feature_std)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))
