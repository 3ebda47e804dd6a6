"""Spatial-filter encoder: CSP/xDAWN-style spatial filters -> log-variance (and ERP) -> MLP.

Motor imagery and ERPs are decoded classically by a handful of spatial filters: CSP
filters whose log-variance separates band-power states (Koles 1991; Ramoser et al.
2000), xDAWN filters whose filtered time course enhances the evoked response (Rivet et
al. 2009). This encoder is that front end with learnable filters:

1. ``z = W x`` with ``W`` ``(n_filters, channels)``, a parameter, initialised at random
   (orthogonal) or from pyriemann's CSP / xDAWN on training trials
   (:meth:`SpatialFilterEncoder.init_filters`);
2. ``"logvar"``: ``log(var(z))`` per filter; ``"erp"``: the filtered time courses averaged
   into ``n_bins`` time bins; ``"both"``: the two concatenated;
3. BatchNorm (statistics of the training batches; eval mode uses their running mean),
   then an MLP.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from brainalign.errors import ConfigError
from brainalign.models.feature_head import mlp_head
from brainalign.models.registry import EEGEncoder, register_encoder

MODES = ("logvar", "erp", "both")


class SpatialFilterEncoder(EEGEncoder):
    """Learnable spatial filters -> log-variance and/or binned ERP -> BatchNorm -> MLP."""

    def __init__(
        self,
        n_chans: int,
        n_times: int,
        sfreq: float,
        emb_dim: int = 64,
        ch_names: Sequence[str] | None = None,
        modality: str = "eeg",
        n_filters: int = 8,
        mode: str = "logvar",
        n_bins: int = 16,
        learn_filters: bool = True,
        hidden: int = 64,
        depth: int = 1,
        dropout: float = 0.2,
    ) -> None:
        super().__init__(n_chans, n_times, sfreq, emb_dim, ch_names, modality)
        if mode not in MODES:
            raise ConfigError(f"spatial_filter: mode must be one of {MODES}, not {mode!r}")
        if n_filters < 1:
            raise ConfigError(f"spatial_filter: n_filters must be positive, got {n_filters}")
        if mode != "logvar" and not 1 <= n_bins <= n_times:
            raise ConfigError(f"spatial_filter: n_bins must lie in 1..{n_times}, got {n_bins}")
        self.mode, self.n_filters, self.n_bins = mode, int(n_filters), int(n_bins)
        weight = torch.empty(n_filters, n_chans)
        nn.init.orthogonal_(weight)
        self.filters = nn.Parameter(weight, requires_grad=bool(learn_filters))
        n_features = (n_filters if mode in ("logvar", "both") else 0) + (n_filters * n_bins if mode != "logvar" else 0)
        self.n_features = n_features
        self.norm = nn.BatchNorm1d(n_features)
        self.mlp = mlp_head(n_features, emb_dim, hidden, depth, dropout)

    @torch.no_grad()
    def init_filters(self, x: Any, y: Any, method: str = "csp") -> SpatialFilterEncoder:
        """Set ``W`` from pyriemann's CSP (on OAS covariances; ``n_filters`` filters) or
        xDAWN (``n_filters // n_classes`` per class) fitted on *training* trials."""
        x_np, y_np = np.asarray(x, dtype=np.float64), np.asarray(y)
        if method == "csp":
            from pyriemann.estimation import Covariances
            from pyriemann.spatialfilters import CSP

            covs = Covariances(estimator="oas").fit_transform(x_np)
            filters = CSP(nfilter=self.n_filters, log=True).fit(covs, y_np).filters_
        elif method == "xdawn":
            from pyriemann.spatialfilters import Xdawn

            n_classes = len(np.unique(y_np))
            per_class = max(1, self.n_filters // n_classes)
            filters = Xdawn(nfilter=per_class).fit(x_np, y_np).filters_
        else:
            raise ConfigError(f"spatial_filter: init method must be 'csp' or 'xdawn', not {method!r}")
        filters = np.asarray(filters, dtype=np.float64)
        if filters.shape[0] < self.n_filters:  # fewer filters than asked: keep the random rest
            filters = np.concatenate([filters, self.filters.detach().double().numpy()[filters.shape[0] :]])
        filters = filters[: self.n_filters]
        filters /= np.linalg.norm(filters, axis=1, keepdims=True).clip(1e-12)
        self.filters.copy_(torch.as_tensor(filters, dtype=self.filters.dtype))
        return self

    def features(self, x: torch.Tensor) -> torch.Tensor:
        z = self.filters @ x.to(self.filters.dtype)
        parts = []
        if self.mode in ("logvar", "both"):
            parts.append(torch.log(z.var(dim=-1) + 1e-8))
        if self.mode in ("erp", "both"):
            parts.append(nn.functional.adaptive_avg_pool1d(z, self.n_bins).reshape(len(x), -1))
        return torch.cat(parts, dim=1)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.mlp(self.norm(self.features(x)))


register_encoder(
    "spatial_filter",
    SpatialFilterEncoder,
    default_emb_dim=64,
    description="learnable spatial filters (random, CSP or xDAWN init, pyriemann) -> log-variance / binned ERP -> MLP",
)
