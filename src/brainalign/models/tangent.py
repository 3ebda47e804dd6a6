"""Riemannian tangent-space encoder: covariance -> log-map at a reference -> MLP.

The classical pipelines that work on small EEG sets (xDAWN covariances + tangent space +
LR for ERPs, covariance tangent space + LR for spectral and clinical contrasts) read the
spatial covariance of each trial, mapped to the tangent space of the SPD manifold at the
Riemannian mean of the training covariances. This encoder does the same in the network:

1. optional spatial filters ``F`` and prototype responses ``P`` (xDAWN covariances,
   Barachant & Congedo 2014): the matrix is the covariance of ``[P; F x]``; by default
   the covariance of the channels themselves;
2. the covariance, shrunk with Oracle Approximating Shrinkage (as scikit-learn's ``oas``,
   which pyriemann's ``estimator="oas"`` calls) or a fixed ``shrinkage``;
3. ``S = logm(R^{-1/2} C R^{-1/2})`` at the reference ``R`` (the Riemannian mean of the
   training matrices, or their log-Euclidean mean with ``reference="logeuclid"``, one pass
   instead of an iteration: cheaper for many channels), vectorised as pyriemann's
   ``TangentSpace`` does (upper triangle, off-diagonal terms times sqrt 2);
4. a fixed standardisation of the tangent vector, then an MLP.

:meth:`TangentEncoder.fit_reference` fits ``F``, ``P`` (pyriemann ``XdawnCovariances``),
``R`` (pyriemann ``mean_riemann``) and the standardisation on *training* trials only; they
are buffers, saved with the weights. Steps 1-3 carry no trainable parameter
(:meth:`features`), step 4 is :meth:`head`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from brainalign.errors import ConfigError
from brainalign.models.feature_head import StandardisedHead
from brainalign.models.registry import register_encoder


def oas_covariance(z: torch.Tensor) -> torch.Tensor:
    """``(batch, channels, times)`` -> ``(batch, channels, channels)`` OAS-shrunk covariances
    (scikit-learn's ``oas`` on each trial's ``times x channels`` matrix, mean removed)."""
    n, d = z.shape[-1], z.shape[-2]
    zc = z - z.mean(-1, keepdim=True)
    emp = zc @ zc.transpose(-1, -2) / n
    alpha = emp.pow(2).mean(dim=(-1, -2))
    mu = torch.diagonal(emp, dim1=-2, dim2=-1).sum(-1) / d
    num = alpha + mu.pow(2)
    den = (n + 1) * (alpha - mu.pow(2) / d)
    shrink = torch.where(den > 0, torch.clamp(num / den.clamp_min(1e-30), max=1.0), torch.ones_like(den))
    eye = torch.eye(d, dtype=z.dtype, device=z.device)
    return (1 - shrink)[:, None, None] * emp + (shrink * mu)[:, None, None] * eye


def shrunk_covariance(z: torch.Tensor, shrinkage: float) -> torch.Tensor:
    """Sample covariance with a fixed shrinkage towards ``trace/d * I``."""
    n, d = z.shape[-1], z.shape[-2]
    zc = z - z.mean(-1, keepdim=True)
    emp = zc @ zc.transpose(-1, -2) / max(1, n - 1)
    mu = torch.diagonal(emp, dim1=-2, dim2=-1).sum(-1) / d
    eye = torch.eye(d, dtype=z.dtype, device=z.device)
    return (1 - shrinkage) * emp + shrinkage * mu[:, None, None] * eye


def _sym_fun(c: torch.Tensor, fun) -> torch.Tensor:
    vals, vecs = torch.linalg.eigh(c)
    return (vecs * fun(vals).unsqueeze(-2)) @ vecs.transpose(-1, -2)


def upper_vector(s: torch.Tensor) -> torch.Tensor:
    """pyriemann's ``upper``: the upper triangle row by row, off-diagonal terms times sqrt 2."""
    d = s.shape[-1]
    rows, cols = torch.triu_indices(d, d, device=s.device)
    coef = torch.where(
        rows == cols,
        torch.ones((), dtype=s.dtype, device=s.device),
        torch.full((), math.sqrt(2.0), dtype=s.dtype, device=s.device),
    )
    return s[..., rows, cols] * coef


class TangentEncoder(StandardisedHead):
    """Covariance (optionally of xDAWN-filtered signals and prototypes) -> tangent space -> MLP."""

    encoder_name = "tangent"
    # buffers (register_buffer), typed for mypy
    spatial: torch.Tensor
    prototypes: torch.Tensor
    reference_isqrt: torch.Tensor
    fitted: torch.Tensor

    def __init__(
        self,
        n_chans: int,
        n_times: int,
        sfreq: float,
        emb_dim: int = 64,
        ch_names: Sequence[str] | None = None,
        modality: str = "eeg",
        xdawn_filters: int = 0,
        n_classes: int = 2,
        estimator: str = "oas",
        shrinkage: float = 0.0,
        reference: str = "riemann",
        hidden: int = 64,
        depth: int = 1,
        dropout: float = 0.2,
    ) -> None:
        super().__init__(n_chans, n_times, sfreq, emb_dim, ch_names, modality)
        if reference not in ("riemann", "logeuclid"):
            raise ConfigError(f"tangent: reference must be 'riemann' or 'logeuclid', not {reference!r}")
        self.reference = reference
        if estimator not in ("oas", "shrunk"):
            raise ConfigError(f"tangent: estimator must be 'oas' or 'shrunk', not {estimator!r}")
        if not 0.0 <= shrinkage <= 1.0:
            raise ConfigError(f"tangent: shrinkage must lie in [0, 1], got {shrinkage}")
        self.estimator, self.shrinkage = estimator, float(shrinkage)
        self.xdawn_filters, self.n_classes = int(xdawn_filters), int(n_classes)
        if self.xdawn_filters:
            n_filt = self.n_classes * min(self.xdawn_filters, n_chans)
            # until fit_reference: the first channels (a PD, if uninformative, front end)
            self.register_buffer("spatial", torch.eye(n_filt, n_chans))
            self.register_buffer("prototypes", torch.zeros(n_filt, n_times))
            dim = 2 * n_filt
        else:
            self.register_buffer("spatial", torch.eye(n_chans))
            self.register_buffer("prototypes", torch.zeros(0, n_times))
            dim = n_chans
        self.dim = dim
        self.register_buffer("reference_isqrt", torch.eye(dim))
        self.register_buffer("fitted", torch.zeros((), dtype=torch.bool))
        self._build_head(dim * (dim + 1) // 2, emb_dim, hidden, depth, dropout)

    # ---------------------------------------------------------------- front end
    def covariances(self, x: torch.Tensor) -> torch.Tensor:
        """``(batch, channels, times)`` -> the SPD matrices this encoder maps."""
        x = x.to(self.spatial.dtype)
        z = self.spatial @ x
        if self.prototypes.shape[0]:
            z = torch.cat([self.prototypes.expand(len(x), -1, -1), z], dim=1)
        return oas_covariance(z) if self.estimator == "oas" else shrunk_covariance(z, self.shrinkage)

    def tangent(self, c: torch.Tensor) -> torch.Tensor:
        """Tangent vectors of SPD matrices at the reference."""
        r = self.reference_isqrt
        return upper_vector(_sym_fun(r @ c @ r, torch.log))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.tangent(self.covariances(x))

    @torch.no_grad()
    def fit_reference(self, x: Any, y: Any | None = None) -> TangentEncoder:
        """Fit xDAWN filters/prototypes (when ``xdawn_filters``; needs labels ``y``), the
        Riemannian mean reference and the feature standardisation on *training* trials."""
        x_np = np.asarray(x, dtype=np.float64)
        if self.xdawn_filters:
            from pyriemann.spatialfilters import Xdawn

            if y is None:
                raise ConfigError("tangent: xdawn_filters need training labels to fit")
            xd = Xdawn(nfilter=self.xdawn_filters, estimator="scm").fit(x_np, np.asarray(y))
            filters, evoked = np.asarray(xd.filters_), np.asarray(xd.evokeds_)
            if filters.shape != tuple(self.spatial.shape):
                raise ConfigError(
                    f"tangent: xDAWN gave {filters.shape[0]} filters, the encoder expects "
                    f"{self.spatial.shape[0]} ({self.n_classes} classes x {self.xdawn_filters})"
                )
            self.spatial.copy_(torch.as_tensor(filters, dtype=self.spatial.dtype))
            self.prototypes.copy_(torch.as_tensor(evoked, dtype=self.prototypes.dtype))
        covs = self.covariances(torch.as_tensor(x_np, dtype=self.spatial.dtype)).double().numpy()
        return self.set_reference(covs)

    @torch.no_grad()
    def set_reference(self, covs: Any) -> TangentEncoder:
        """Reference (pyriemann ``mean_riemann``, or ``mean_logeuclid`` with
        ``reference="logeuclid"``) and feature standardisation from the training trials' SPD
        matrices (as :meth:`covariances` computes them, e.g. cached)."""
        from pyriemann.utils.mean import mean_logeuclid, mean_riemann

        covs = np.asarray(covs, dtype=np.float64)
        if covs.shape[1:] != (self.dim, self.dim):
            raise ConfigError(f"tangent: reference needs {self.dim} x {self.dim} matrices, got {covs.shape[1:]}")
        # the Riemannian mean's fixed-point iteration is started at the log-Euclidean mean; for
        # many large matrices (SMNI: 480 x 61 x 61 per fold) even that takes minutes per fold,
        # and reference="logeuclid" takes the log-Euclidean mean itself (one pass)
        ref = mean_logeuclid(covs)
        if self.reference == "riemann":
            ref = mean_riemann(covs, init=ref)
        vals, vecs = np.linalg.eigh(ref)
        self.reference_isqrt.copy_(torch.as_tensor((vecs / np.sqrt(vals)) @ vecs.T, dtype=self.spatial.dtype))
        feats = self.tangent(torch.as_tensor(covs, dtype=self.spatial.dtype))
        self.feature_mean.copy_(feats.mean(0))
        self.feature_std.copy_(feats.std(0).clamp_min(1e-6))
        self.fitted.fill_(True)
        return self


register_encoder(
    "tangent",
    TangentEncoder,
    default_emb_dim=64,
    description="covariance (optionally xDAWN filters + prototypes, OAS) -> Riemannian tangent space at the "
    "training mean (pyriemann) -> MLP",
)
