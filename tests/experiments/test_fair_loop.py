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


def _smni_like(n_subjects: int = 12, seed: int = 0) -> dict:
    """SMNI-shaped synthetic trials: 10 per condition and subject, 4 channels x 64 samples at
    64 Hz; S2 trials carry an evoked bump on channel 1, S2 no-match a second one on channel 2;
    each subject has its own offset on every channel (what per-subject normalisation removes)."""
    import types

    import pandas as pd

    from brainalign.data.readers.smni import CONDITION_TEXT, GROUP_TEXT

    rng = np.random.default_rng(seed)
    conditions = np.tile(np.repeat(list(fair.SMNI_CONDITIONS), 10), n_subjects)
    subjects = np.repeat([f"co2{'ac'[i % 2]}{i:07d}" for i in range(n_subjects)], 30)
    x = rng.standard_normal((len(conditions), 4, 64)) + rng.standard_normal((n_subjects, 4, 1)).repeat(30, 0) * 2
    x[conditions != "S1", 1, 20:30] += 2.0
    x[conditions == "S2_nomatch", 2, 30:40] += 2.0
    group = np.array(["alcoholic" if s[3] == "a" else "control" for s in subjects])
    table = pd.DataFrame(
        {
            "subject": subjects,
            "condition": conditions,
            "condition_text": [CONDITION_TEXT[c] for c in conditions],
            "text": [f"{GROUP_TEXT[g]} viewing {CONDITION_TEXT[c]}" for g, c in zip(group, conditions)],
        }
    )
    windows = types.SimpleNamespace(table=table, n_channels=4, n_times=64, sfreq=64.0)
    return {"windows": windows, "subjects": subjects, "condition": conditions, "erp": fair.erp_bins(x, 64.0)}


def test_smni_condition_aligned_reads_the_condition_from_text(monkeypatch):
    data = _smni_like()
    monkeypatch.setattr(fair, "_smni_parts", lambda data_dir=None: data)
    for text in (t for c in fair.SMNI_CONDITION_PROMPTS.values() for prompts in c.values() for t in prompts):
        assert not any(train in text or text in train for train in data["windows"].table["text"])
        assert "viewing" not in text  # no prompt repeats a training text's wording
    cfg = fair.HeadConfig(epochs=30, emb_dim=16, hidden=16)
    r = fair.smni_condition_aligned(seeds=(0,), n_splits=3, cfg=cfg, n_boot=100, n_perm=100, return_scores=True)
    m = r["methods"]
    assert r["normalization"]["transductive"] is False
    assert m["zero_shot"]["auc"] >= 0.85 and m["erp_lr"]["balanced_accuracy"] >= 0.8, m
    assert m["zero_shot_train_threshold"]["balanced_accuracy"] >= 0.75
    assert abs(m["shuffled"]["auc"] - 0.5) < 0.15
    assert m["zero_shot_3way"]["balanced_accuracy"] > 0.5 and m["zero_shot"]["p_permutation_seed0"] < 0.05
    assert set(np.unique(r["scores"]["zero_shot_3way"][0])) <= {0, 1, 2}
    assert r["zero_shot_minus_erp_lr"]["ci_low"] <= r["zero_shot_minus_erp_lr"]["difference"]
    # the condition varies within subjects: the transductive per-subject variant is allowed, and labelled
    own = fair.smni_condition_aligned(seeds=(0,), n_splits=3, cfg=cfg, normalization="own", n_boot=50, n_perm=50)
    assert own["normalization"]["transductive"] is True
    assert own["methods"]["erp_lr"]["balanced_accuracy"] >= 0.8
    # each subject's offset is removed by its own statistics, not by the training subjects'
    assert own["methods"]["zero_shot"]["auc"] > m["zero_shot"]["auc"]
