"""training.heads: the head trainer moved out of experiments/fair.py gives the same numbers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from brainalign.training import heads

torch.set_num_threads(1)


def _problem() -> tuple[np.ndarray, np.ndarray, np.ndarray, heads.HeadConfig]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((60, 3, 200)).astype(np.float32)
    y = rng.integers(0, 2, 60)
    pair_emb = rng.standard_normal((2, 384)).astype(np.float32)
    return x, y, pair_emb, heads.HeadConfig(epochs=3, emb_dim=8, hidden=8, batch_size=16)


def _clip(seed: int = 3) -> tuple[np.ndarray, float]:
    x, y, pair_emb, cfg = _problem()
    enc = heads.new_head_encoder("bandpower", 3, 200, 100.0, cfg, seed=seed)
    feats = enc.features(torch.as_tensor(x)).numpy()
    enc.set_feature_stats(feats.mean(0), feats.std(0))
    proj = heads.train_clip_head(enc, feats, y, pair_emb, cfg, seed=seed)
    return heads.embed(enc, feats), float(proj.weight.detach().sum())


def _ce(seed: int = 4) -> np.ndarray:
    x, y, _, cfg = _problem()
    enc = heads.new_head_encoder("bandpower", 3, 200, 100.0, cfg, seed=seed)
    feats = enc.features(torch.as_tensor(x)).numpy()
    enc.set_feature_stats(feats.mean(0), feats.std(0))
    clf = heads.train_ce_head(enc, feats, y, cfg, seed=seed)
    return heads.project(clf, heads.embed(enc, feats))


def test_head_training_reproduces_the_loops_it_replaced():
    """Fingerprints of experiments/fair.py's own loops (commit 850351e) on this input:
    the library trainer (create_objective("clip") / ("ce", class weights)) matches them."""
    emb, proj_sum = _clip()
    assert float(emb.sum()) == pytest.approx(31.272626876831055, rel=1e-4)
    assert float(np.abs(emb).sum()) == pytest.approx(110.31471252441406, rel=1e-4)
    assert proj_sum == pytest.approx(0.2339933216571808, rel=1e-4)
    logits = _ce()
    assert float(logits.sum()) == pytest.approx(-17.76156997680664, rel=1e-4)
    assert float(np.abs(logits).sum()) == pytest.approx(25.907115936279297, rel=1e-4)


def test_head_training_is_deterministic_and_fair_uses_it():
    a, pa = _clip()
    b, pb = _clip()
    np.testing.assert_array_equal(a, b)
    assert pa == pb
    np.testing.assert_array_equal(_ce(), _ce())
    from brainalign.experiments import fair

    assert fair.train_clip_head is heads.train_clip_head and fair.train_ce_head is heads.train_ce_head
    assert fair.HeadConfig is heads.HeadConfig
