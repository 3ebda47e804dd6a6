"""Array-level training functions (brainalign.training.arrays): shapes, determinism,
and that each fit learns a separable toy problem."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from brainalign.models import create_encoder
from brainalign.models.multi_adapter import MultiAdapterHead, pad_features
from brainalign.training.arrays import FitConfig, embed, fit_classifier, fit_clip, masked_loss, pretrain_masked, project


def _toy(n: int = 200, dim: int = 6, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    x = rng.normal(size=(n, dim)).astype(np.float32)
    x[:, 0] += 2.0 * (2 * y - 1)
    return x, y


def test_pad_features_and_multi_adapter_head_shapes():
    a, b = np.ones((3, 4)), np.full((2, 7), 2.0)
    padded, index = pad_features([a, b])
    assert padded.shape == (5, 7) and index.tolist() == [0, 0, 0, 1, 1]
    assert (padded[:3, 4:] == 0).all() and (padded[3:] == 2).all()
    head = MultiAdapterHead([4, 7], hidden=8, emb_dim=5)
    out = head(torch.as_tensor(padded), torch.as_tensor(index))
    assert out.shape == (5, 5)
    # a row's embedding depends only on its own dataset's adapter and columns
    alone = head(torch.as_tensor(padded[:1]), torch.as_tensor(index[:1]))
    head.eval()
    assert torch.allclose(
        head(torch.as_tensor(padded), torch.as_tensor(index))[:1],
        head(torch.as_tensor(padded[:1]), torch.as_tensor(index[:1])),
    )
    assert alone.shape == (1, 5)


def test_fit_clip_aligns_classes_with_their_texts_and_is_deterministic():
    x, y = _toy()
    d = np.zeros(len(y), dtype=np.int64)
    texts = np.eye(2, 8, dtype=np.float32)  # two "texts"
    cfg = FitConfig(epochs=15, batch_size=32)
    runs = []
    for _ in range(2):
        torch.manual_seed(0)
        head = MultiAdapterHead([x.shape[1]], hidden=16, emb_dim=8)
        proj = fit_clip(head, [x, d], y, texts, cfg, seed=3)
        emb = embed(head, [x, d])
        t = project(proj, texts)
        sim = (emb / np.linalg.norm(emb, axis=1, keepdims=True)) @ (t / np.linalg.norm(t, axis=1, keepdims=True)).T
        runs.append(sim)
    assert np.allclose(runs[0], runs[1])
    assert ((runs[0][:, 1] > runs[0][:, 0]) == (y == 1)).mean() > 0.8


def test_fit_classifier_learns_and_a_frozen_probe_keeps_the_module():
    x, y = _toy()
    d = np.zeros(len(y), dtype=np.int64)
    head = MultiAdapterHead([x.shape[1]], hidden=16, emb_dim=8)
    clf = fit_classifier(head, [x, d], y, FitConfig(epochs=10, batch_size=32), seed=0)
    logits = project(clf, embed(head, [x, d]))
    assert (logits.argmax(1) == y).mean() > 0.85
    frozen = MultiAdapterHead([x.shape[1]], hidden=16, emb_dim=8)
    before = [p.detach().clone() for p in frozen.parameters()]
    fit_classifier(frozen, [x, d], y, FitConfig(epochs=2, batch_size=32), seed=0, trainable=[])
    assert all(torch.equal(a, b) for a, b in zip(before, frozen.parameters()))


def test_pretrain_masked_lowers_the_reconstruction_error():
    rng = np.random.default_rng(0)
    t = np.arange(40) / 40.0
    phase = rng.uniform(0, 2 * np.pi, (128, 1, 1))
    windows = np.sin(2 * np.pi * 3 * t + phase) * np.ones((1, 4, 1)) + 0.05 * rng.normal(size=(128, 4, 40))
    enc = create_encoder(
        "cbramod_mae",
        n_chans=4,
        n_times=40,
        sfreq=40.0,
        emb_dim=8,
        patch_size=10,
        width=16,
        depth=1,
        heads=2,
        dim_feedforward=32,
        dropout=0.0,
    )
    before = masked_loss(enc, windows, seed=1)
    history = pretrain_masked(enc, windows, FitConfig(epochs=8, batch_size=32, lr=3e-3, grad_clip=1.0), seed=0)
    after = masked_loss(enc, windows, seed=1)
    assert len(history) == 8 and history[-1] < history[0]
    assert after["masked_mse"] < before["masked_mse"]
    assert after["zero_mse"] == pytest.approx(before["zero_mse"])  # same seeded masks
