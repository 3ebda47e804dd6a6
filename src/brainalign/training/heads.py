"""Training a trainable head on precomputed front-end features.

Encoders such as ``bandpower`` and ``tangent`` split into a parameter-free front end
(``encoder.features`` / ``encoder.tangent``: spectra, covariances, tangent vectors) and a
trainable ``encoder.head``. When the front end is fixed for a fold (its statistics fitted on
the training rows only), it is computed once per window and only the head is trained here,
with the project's objectives (:func:`brainalign.objectives.create_objective`): CLIP against
frozen paired embeddings (``"clip"``), or class-weighted cross-entropy on the labels
(``"ce"``, the supervised comparator of the same network).

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
    order = rng.permutation(n)
    return [order[i : i + batch_size] for i in range(0, n, batch_size)]


def train_clip_head(
    encoder: Any, feats: np.ndarray, pair_index: np.ndarray, pair_emb: np.ndarray, cfg: HeadConfig, seed: int
) -> Any:
    """Train ``encoder.head`` on front-end ``feats`` with CLIP (the ``"clip"`` objective)
    against the frozen embeddings ``pair_emb[pair_index]`` through a trainable linear
    projection. Windows sharing a partner are not each other's negatives (``pair_ids``).
    Returns the projection; the encoder is left in eval mode. Same seed, same result."""
    import torch
    from torch import nn

    from brainalign.objectives.loss import create_objective

    torch.manual_seed(seed)
    proj = nn.Linear(pair_emb.shape[1], cfg.emb_dim)
    loss_fn = create_objective("clip", temperature=cfg.temperature)
    params = [p for p in encoder.parameters() if p.requires_grad] + list(proj.parameters()) + list(loss_fn.parameters())
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    f = torch.as_tensor(feats, dtype=torch.float32)
    t = torch.as_tensor(pair_emb, dtype=torch.float32)
    ids = torch.as_tensor(pair_index, dtype=torch.long)
    rng = np.random.default_rng(seed)
    for _ in range(cfg.epochs):
        encoder.train()
        for b in head_batches(len(f), cfg.batch_size, rng):
            if len(b) < 2:
                continue
            bt = torch.as_tensor(b)
            loss = loss_fn(encoder.head(f[bt]), proj(t[ids[bt]]), pair_ids=ids[bt])
            opt.zero_grad()
            loss.backward()
            opt.step()
    encoder.eval()
    proj.eval()
    return proj


def train_ce_head(encoder: Any, feats: np.ndarray, y: np.ndarray, cfg: HeadConfig, seed: int) -> Any:
    """The same head trained on integer labels ``y`` (the ``"ce"`` objective with balanced
    class weights, through a linear classifier on the embedding): the supervised
    comparator. Returns the classifier; the encoder is left in eval mode."""
    import torch
    from torch import nn

    from brainalign.objectives.loss import create_objective

    torch.manual_seed(seed)
    n_classes = int(y.max()) + 1
    clf = nn.Linear(cfg.emb_dim, n_classes)
    counts = np.bincount(y, minlength=n_classes).astype(np.float64)
    loss_fn = create_objective("ce", class_weights=(len(y) / (n_classes * np.maximum(counts, 1))).tolist())
    opt = torch.optim.AdamW(
        list(encoder.parameters()) + list(clf.parameters()), lr=cfg.lr, weight_decay=cfg.weight_decay
    )
    f = torch.as_tensor(feats, dtype=torch.float32)
    yt = torch.as_tensor(y, dtype=torch.long)
    rng = np.random.default_rng(seed)
    for _ in range(cfg.epochs):
        encoder.train()
        for b in head_batches(len(f), cfg.batch_size, rng):
            bt = torch.as_tensor(b)
            loss = loss_fn(clf(encoder.head(f[bt])), yt[bt])
            opt.zero_grad()
            loss.backward()
            opt.step()
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
