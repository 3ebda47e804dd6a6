"""Training a trainable head on precomputed front-end features.

Encoders such as ``bandpower`` and ``tangent`` split into a parameter-free front end
(``encoder.features`` / ``encoder.tangent``: spectra, covariances, tangent vectors) and a
trainable ``encoder.head``. When the front end is fixed for a fold (its statistics fitted on
the training rows only), it is computed once per window and only the head is trained here,
through the array trainer of :mod:`brainalign.training.arrays`: CLIP against frozen paired
embeddings, or class-weighted cross-entropy on the labels (the supervised comparator of the
same network).

Why not :func:`brainalign.training.trainer.train`: the trainer reads windows from a recipe's
dataset and preset and has no place for a per-subject normaliser fitted per fold (nor for a
calibration block taken from another recording of the subject); this loop trains the same
network the same way without recomputing spectra every epoch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["HeadConfig", "embed", "head_batches", "new_head_encoder", "project", "train_ce_head", "train_clip_head"]


@dataclass
class HeadConfig:
    """Hyper-parameters of an aligned / supervised head, fixed before any run."""

    emb_dim: int = 64
    hidden: int = 64
    depth: int = 1
    dropout: float = 0.2
    epochs: int = 40
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 1e-2
    temperature: float = 0.07


def new_head_encoder(
    name: str, n_chans: int, n_times: int, sfreq: float, cfg: HeadConfig, seed: int, **kwargs: Any
) -> Any:
    """The registered encoder ``name`` with ``cfg``'s head size, initialised from ``seed``."""
    import torch

    from brainalign.models import create_encoder

    torch.manual_seed(seed)
    return create_encoder(
        name,
        n_chans=n_chans,
        n_times=n_times,
        sfreq=sfreq,
        emb_dim=cfg.emb_dim,
        hidden=cfg.hidden,
        depth=cfg.depth,
        dropout=cfg.dropout,
        **kwargs,
    )


def head_batches(n: int, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """One epoch's mini-batches: a permutation of ``range(n)`` cut into ``batch_size`` pieces."""
    from brainalign.training.arrays import epoch_batches

    return epoch_batches(n, batch_size, rng)


def _head_module(encoder: Any) -> Any:
    """``encoder.head`` as a module that owns the encoder (its parameters, its train/eval mode)."""
    from torch import nn

    class _Head(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = encoder

        def forward(self, feats: Any) -> Any:
            return self.encoder.head(feats)

    return _Head()


def _fit_config(cfg: HeadConfig) -> Any:
    from brainalign.training.arrays import FitConfig

    return FitConfig(
        epochs=cfg.epochs,
        batch_size=cfg.batch_size,
        lr=cfg.lr,
        weight_decay=cfg.weight_decay,
        temperature=cfg.temperature,
    )


def train_clip_head(
    encoder: Any, feats: np.ndarray, pair_index: np.ndarray, pair_emb: np.ndarray, cfg: HeadConfig, seed: int
) -> Any:
    """Train ``encoder.head`` on front-end ``feats`` with CLIP against the frozen
    embeddings ``pair_emb[pair_index]`` through a trainable linear projection
    (:func:`brainalign.training.arrays.fit_clip`). Windows sharing a partner are not each
    other's negatives. Returns the projection; the encoder is left in eval mode. Same
    seed, same result."""
    from brainalign.training.arrays import fit_clip

    proj = fit_clip(_head_module(encoder), [feats], pair_index, pair_emb, _fit_config(cfg), seed, emb_dim=cfg.emb_dim)
    encoder.eval()
    return proj


def train_ce_head(encoder: Any, feats: np.ndarray, y: np.ndarray, cfg: HeadConfig, seed: int) -> Any:
    """The same head trained on integer labels ``y`` (class-weighted cross-entropy through
    a linear classifier on the embedding, :func:`brainalign.training.arrays.fit_classifier`):
    the supervised comparator. Returns the classifier; the encoder is left in eval mode."""
    from brainalign.training.arrays import fit_classifier

    clf = fit_classifier(_head_module(encoder), [feats], y, _fit_config(cfg), seed, emb_dim=cfg.emb_dim)
    encoder.eval()
    return clf


def embed(encoder: Any, feats: np.ndarray) -> np.ndarray:
    """``encoder.head`` on front-end features, without gradients."""
    import torch

    with torch.no_grad():
        return np.asarray(encoder.head(torch.as_tensor(feats, dtype=torch.float32)).numpy())


def project(proj: Any, emb: np.ndarray) -> np.ndarray:
    """A trained projection (e.g. of :func:`train_clip_head`) on embeddings, without gradients."""
    import torch

    with torch.no_grad():
        return np.asarray(proj(torch.as_tensor(emb, dtype=torch.float32)).numpy())
