"""Training on arrays already in memory: CLIP heads, classifiers, masked pre-training.

The recipe trainer (:mod:`brainalign.training.trainer`) reads windows from a recipe's
dataset and preset. The experiments that train many small models fold by fold on
features computed once (several datasets at once, per-fold front ends, pre-training
corpora assembled from several readers) call these functions instead, so that no
training loop lives in the app. Every function is deterministic given ``seed`` (its own
torch and numpy generators), trains for a fixed number of epochs (nothing is selected
on test data) and leaves the module in eval mode.

* :func:`fit_clip`: a module mapping inputs to embeddings, aligned by the project's
  :class:`~brainalign.objectives.loss.ClipLoss` with frozen text (or image) embeddings
  through a trainable linear projection; rows sharing a text are not each other's
  negatives.
* :func:`fit_classifier`: the same kind of module plus a linear classifier, trained by
  class-weighted cross-entropy (the supervised comparator, or fine-tuning).
* :func:`pretrain_masked`: masked reconstruction of an encoder with ``forward_mae``
  (:class:`~brainalign.models.cbramod_mae.CBraModMAE`) on unlabelled windows.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from brainalign.objectives.loss import ClipLoss, MaskedReconstructionLoss

__all__ = [
    "FitConfig",
    "embed",
    "epoch_batches",
    "fit_classifier",
    "fit_clip",
    "masked_loss",
    "pretrain_masked",
    "project",
]


@dataclasses.dataclass(frozen=True)
class FitConfig:
    """Optimisation of one fit: AdamW, fixed epochs, shuffled mini-batches."""

    epochs: int = 40
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 1e-2
    temperature: float = 0.07
    grad_clip: float | None = None


def _tensors(arrays: Sequence[np.ndarray]) -> list[torch.Tensor]:
    return [
        torch.as_tensor(a, dtype=torch.long if np.issubdtype(np.asarray(a).dtype, np.integer) else torch.float32)
        for a in arrays
    ]


def epoch_batches(n: int, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """One epoch's mini-batches: a permutation of ``range(n)`` cut into ``batch_size`` pieces."""
    order = rng.permutation(n)
    return [order[i : i + batch_size] for i in range(0, n, batch_size)]


def _step(opt: torch.optim.Optimizer, loss: torch.Tensor, params: list[nn.Parameter], clip: float | None) -> None:
    opt.zero_grad()
    loss.backward()
    if clip:
        nn.utils.clip_grad_norm_(params, clip)
    opt.step()


def fit_clip(
    module: nn.Module,
    inputs: Sequence[np.ndarray],
    pair_index: np.ndarray,
    pair_emb: np.ndarray,
    cfg: FitConfig,
    seed: int,
    emb_dim: int | None = None,
) -> nn.Linear:
    """Train ``module(*inputs[rows])`` -> embeddings with CLIP against ``pair_emb[pair_index]``.

    ``inputs``: arrays with one row per sample (e.g. features and a dataset index),
    passed to ``module`` batch by batch; ``pair_emb``: frozen embeddings of the distinct
    texts (or images), ``pair_index`` the row's text. Returns the trained linear text
    projection (``pair_emb`` dimension -> ``emb_dim``, default the module's output
    width)."""
    torch.manual_seed(seed)
    tensors = _tensors(inputs)
    if emb_dim is None:
        with torch.no_grad():
            module.eval()
            emb_dim = int(module(*(t[:2] for t in tensors)).shape[-1])
    proj = nn.Linear(pair_emb.shape[1], emb_dim)
    loss_fn = ClipLoss(temperature=cfg.temperature)
    params = [p for p in module.parameters() if p.requires_grad] + list(proj.parameters()) + list(loss_fn.parameters())
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    text = torch.as_tensor(pair_emb, dtype=torch.float32)
    ids = torch.as_tensor(pair_index, dtype=torch.long)
    rng = np.random.default_rng(seed)
    for _ in range(cfg.epochs):
        module.train()
        for b in epoch_batches(len(ids), cfg.batch_size, rng):
            if len(b) < 2:
                continue
            bt = torch.as_tensor(b)
            loss = loss_fn(module(*(t[bt] for t in tensors)), proj(text[ids[bt]]), pair_ids=ids[bt])
            _step(opt, loss, params, cfg.grad_clip)
    module.eval()
    proj.eval()
    return proj


def fit_classifier(
    module: nn.Module,
    inputs: Sequence[np.ndarray],
    y: np.ndarray,
    cfg: FitConfig,
    seed: int,
    emb_dim: int | None = None,
    trainable: Sequence[nn.Parameter] | None = None,
) -> nn.Linear:
    """Train ``module`` and a linear classifier on its output with class-weighted
    cross-entropy (balanced weights). ``trainable``: the parameters to update (default:
    every parameter of ``module`` that requires grad, and the classifier's; pass only the
    classifier's for a frozen probe). Returns the classifier (logits = ``clf(module(...))``)."""
    torch.manual_seed(seed)
    tensors = _tensors(inputs)
    y = np.asarray(y, dtype=np.int64)
    if emb_dim is None:
        with torch.no_grad():
            module.eval()
            emb_dim = int(module(*(t[:2] for t in tensors)).shape[-1])
    n_classes = int(y.max()) + 1
    clf = nn.Linear(emb_dim, n_classes)
    counts = np.bincount(y, minlength=n_classes).astype(np.float64)
    weight = torch.as_tensor(len(y) / (n_classes * np.maximum(counts, 1)), dtype=torch.float32)
    params = ([p for p in module.parameters() if p.requires_grad] if trainable is None else list(trainable)) + list(
        clf.parameters()
    )
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    yt = torch.as_tensor(y)
    rng = np.random.default_rng(seed)
    for _ in range(cfg.epochs):
        module.train()
        for b in epoch_batches(len(y), cfg.batch_size, rng):
            bt = torch.as_tensor(b)
            logits = clf(module(*(t[bt] for t in tensors)))
            _step(opt, nn.functional.cross_entropy(logits, yt[bt], weight=weight), params, cfg.grad_clip)
    module.eval()
    clf.eval()
    return clf


@torch.no_grad()
def embed(module: nn.Module, inputs: Sequence[np.ndarray], batch_size: int = 512) -> np.ndarray:
    """``module(*inputs)`` in eval mode, batch by batch, as a numpy array."""
    module.eval()
    tensors = _tensors(inputs)
    n = len(tensors[0])
    return torch.cat([module(*(t[i : i + batch_size] for t in tensors)) for i in range(0, n, batch_size)]).numpy()


@torch.no_grad()
def project(layer: nn.Module, x: np.ndarray) -> np.ndarray:
    """``layer(x)`` (a text projection or classifier) as a numpy array."""
    return layer(torch.as_tensor(np.asarray(x), dtype=torch.float32)).numpy()


def pretrain_masked(encoder: nn.Module, windows: np.ndarray, cfg: FitConfig, seed: int) -> list[float]:
    """Masked reconstruction (``encoder.forward_mae``, a fresh dual mask per batch) on
    unlabelled ``windows`` (n, leads, times); the loss is the MSE over hidden patches
    (:class:`~brainalign.objectives.loss.MaskedReconstructionLoss`). Returns the mean
    training loss of each epoch."""
    torch.manual_seed(seed)
    x = torch.as_tensor(np.asarray(windows), dtype=torch.float32)
    loss_fn = MaskedReconstructionLoss()
    params = [p for p in encoder.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    rng = np.random.default_rng(seed)
    history = []
    for _ in range(cfg.epochs):
        encoder.train()
        losses = []
        for b in epoch_batches(len(x), cfg.batch_size, rng):
            out = encoder.forward_mae(x[torch.as_tensor(b)])  # type: ignore[operator]
            loss = loss_fn(out.pred, out.target, out.mask)
            _step(opt, loss, params, cfg.grad_clip)
            losses.append(float(loss.detach()))
        history.append(float(np.mean(losses)))
    encoder.eval()
    return history


@torch.no_grad()
def masked_loss(encoder: nn.Module, windows: np.ndarray, seed: int = 0, batch_size: int = 256) -> dict[str, float]:
    """Masked-reconstruction MSE of ``encoder`` on ``windows`` with seeded masks, beside
    the MSE of predicting zero for every hidden patch (the signal's mean power: a
    reconstruction no better than this has learnt nothing about the signal)."""
    encoder.eval()
    gen = torch.Generator().manual_seed(seed)
    x = torch.as_tensor(np.asarray(windows), dtype=torch.float32)
    loss_fn = MaskedReconstructionLoss()
    model, zero, n = 0.0, 0.0, 0
    for i in range(0, len(x), batch_size):
        xb = x[i : i + batch_size]
        mask = encoder.sample_mask(len(xb), generator=gen)  # type: ignore[operator]
        out = encoder.forward_mae(xb, mask)  # type: ignore[operator]
        model += float(loss_fn(out.pred, out.target, out.mask)) * len(xb)
        zero += float(loss_fn(torch.zeros_like(out.target), out.target, out.mask)) * len(xb)
        n += len(xb)
    return {"masked_mse": model / n, "zero_mse": zero / n}
