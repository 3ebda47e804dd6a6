"""The compact CLIP / CE head training of brainalign.experiments.fair on a synthetic problem."""

from __future__ import annotations

import numpy as np
import torch

from brainalign.experiments import fair

torch.set_num_threads(1)


def _alpha_windows(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = np.arange(200) / 100.0
    y = rng.integers(0, 2, n)
    x = rng.standard_normal((n, 3, 200)) * 5
    x[:, 1] += (y[:, None] * 8) * np.sin(2 * np.pi * 10 * t + rng.uniform(0, 6.28, (n, 1)))
    return x, y


def test_clip_head_aligns_band_power_with_texts_and_zero_shot_reads_it():
    x, y = _alpha_windows(240, 0)
    cfg = fair.HeadConfig(epochs=30, emb_dim=16, hidden=16)
    enc = fair._new_head_encoder("bandpower", 3, 200, 100.0, cfg, seed=0)
    feats = enc.features(torch.as_tensor(x)).numpy()
    enc.set_feature_stats(feats[:160].mean(0), feats[:160].std(0))
    texts = ["EEG of a relaxed person with strong alpha", "EEG of a busy person without alpha"]
    pair_index = np.where(y == 1, 0, 1)  # class 1 (alpha) <-> text 0
    proj = fair.train_clip_head(enc, feats[:160], pair_index[:160], fair.text_embeddings(texts), cfg, seed=0)
    sim = fair.zero_shot_scores(enc, proj, feats[160:], {"no_alpha": [texts[1]], "alpha": [texts[0]]})
    accuracy = ((sim[:, 1] > sim[:, 0]).astype(int) == y[160:]).mean()
    assert accuracy >= 0.9, accuracy
    # shuffled texts carry no information: zero-shot falls to chance
    enc_s = fair._new_head_encoder("bandpower", 3, 200, 100.0, cfg, seed=0)
    enc_s.set_feature_stats(feats[:160].mean(0), feats[:160].std(0))
    shuffled = np.random.default_rng(1).permutation(pair_index[:160])
    proj_s = fair.train_clip_head(enc_s, feats[:160], shuffled, fair.text_embeddings(texts), cfg, seed=0)
    sim_s = fair.zero_shot_scores(enc_s, proj_s, feats[160:], {"no_alpha": [texts[1]], "alpha": [texts[0]]})
    assert abs(((sim_s[:, 1] > sim_s[:, 0]).astype(int) == y[160:]).mean() - 0.5) < 0.2
    # the same network on the labels
    enc_c = fair._new_head_encoder("bandpower", 3, 200, 100.0, fair.HeadConfig(emb_dim=16, hidden=16), seed=0)
    enc_c.set_feature_stats(feats[:160].mean(0), feats[:160].std(0))
    clf = fair.train_ce_head(enc_c, feats[:160], y[:160], fair.HeadConfig(epochs=100, emb_dim=16, hidden=16), seed=0)
    with torch.no_grad():
        pred = clf(enc_c.head(torch.as_tensor(feats[160:], dtype=torch.float32))).argmax(1).numpy()
    assert (pred == y[160:]).mean() >= 0.9


def test_paired_subject_bootstrap_and_probe():
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(20), 10)
    y = np.tile([0, 1], 100)
    good = np.where(rng.random(200) < 0.8, y, 1 - y)
    bad = np.where(rng.random(200) < 0.55, y, 1 - y)
    diff = fair.paired_subject_bootstrap(y, good, bad, groups, n_boot=500)
    assert diff["difference"] > 0.1 and diff["ci_low"] > 0 and diff["p_a_not_above_b"] < 0.05
    low, high = fair.subject_bootstrap(y, good, groups, n_boot=500)
    realised = float((good == y).mean())
    assert low < realised < high and high - low < 0.2
    emb = np.column_stack([y + 0.3 * rng.standard_normal(200), rng.standard_normal(200)])
    prob = fair._probe(emb[:100], y[:100], emb[100:], 0.1, seed=0)
    assert ((prob > 0.5) == y[100:]).mean() > 0.9
