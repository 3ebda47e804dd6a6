"""eegmat EEG+ECG fusion under the fair protocol of issue 10 (plain functions, like
:mod:`brainalign.experiments.fair`, whose folds, normalisation, statistics and head training
it reuses).

Same windows, folds and normalisation for every model: 30 eegmat subjects, rest (the last
60 s of the rest recording) vs mental arithmetic (the whole task recording), ``window_s``
EEG windows, GroupKFold by subject (``n_splits`` folds x ``seeds``), out-of-fold predictions
pooled. Features of one window:

* **EEG**: absolute log band power (1-4-8-13-30-40 Hz, 19 channels x 5 bands; the features
  of :func:`brainalign.experiments.fair.eegmat_set`);
* **ECG**: heart rate and HRV (:func:`brainalign.evaluation.baselines.hrv_features`: beat
  count rate, mean heart rate from RR, SDNN, RMSSD) of the ``ecg_window_s`` of ECG centred
  on the EEG window (clipped to its recording; the issue's re-analysis measured 10 s ECG
  windows: two seconds hold two or three beats);
* **fused**: the two concatenated.

Normalisation, the same for both modalities (each its own statistics): ``calibration``
(headline: each subject z-scored with its calibration block, the first 60 s of the rest
recording, never evaluated), ``train`` (one scaler from the training subjects) or ``own``
(each subject z-scored with its own evaluated windows: transductive; with half rest / half
task windows it turns "above this subject's mean heart rate" into the label, so it is
reported beside the headline, never as it).

Models on each fold: class-balanced LR on EEG, on ECG, on the concatenation
(``fused_lr``), the mean of the EEG and ECG LR probabilities (``late_lr``, late fusion), and
their stacking (``stacked_lr``, :func:`stacked_fusion`: the EEG and ECG LRs combined by an LR
fitted on their out-of-fold log-odds from an inner GroupKFold of the training subjects, so the
modality weights are chosen without a test row);
with ``aligned``, the same MLP head (the ``bandpower`` encoder's head: fixed
standardisation, one hidden layer, ``emb_dim`` output) aligned by CLIP to frozen MiniLM
embeddings of each recording's text on EEG, ECG and fused features, read zero-shot with
the reworded prompts :data:`~brainalign.experiments.fair.EEGMAT_PROMPTS` (with only the
two training classes, text-prototype classification), the fused head's shuffled-text
control and the fused head trained on the labels (CE comparator).
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import balanced_accuracy_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from torch import nn

from brainalign.errors import DataError
from brainalign.evaluation.baselines import hrv_features
from brainalign.experiments.fair import (
    EEGMAT_PROMPTS,
    SEEDS,
    EEGMatSet,
    HeadConfig,
    _auc,
    _logreg,
    _normalise_fold,
    _subject_folds,
    _torch_threads,
    _windows,
    cached_array,
    eegmat_set,
    paired_subject_bootstrap,
    recording_permutation_p,
    subject_bootstrap,
    summarise,
    text_embeddings,
    train_ce_head,
    train_clip_head,
    zero_shot_scores,
)
from brainalign.preprocessing.normalize import make_normalizer

__all__ = [
    "ECG_FEATURES",
    "FeatureHead",
    "FusionSet",
    "eegmat_fusion",
    "eegmat_fusion_set",
    "stacked_fusion",
    "context_rows",
    "ecg_context_features",
]

#: the columns of :func:`brainalign.evaluation.baselines.hrv_features`
ECG_FEATURES = ("beat_rate_bpm", "mean_hr_bpm", "sdnn_ms", "rmssd_ms")
#: recordings whose ECG shows no heartbeat (shared data README); kept, as in every eegmat task
NO_HEARTBEAT = ("Subject02_1", "Subject13_1", "Subject20_2")


def ecg_context_features(
    table: pd.DataFrame, window_s: float, ecg_window_s: float = 10.0, data_dir: str | os.PathLike | None = None
) -> np.ndarray:
    """HR/HRV features (``(len(table), 4)``, :data:`ECG_FEATURES`) of the ``ecg_window_s``
    of ECG centred on each EEG window of ``table`` (columns ``recording``, ``start``): the
    ECG windows of preset ``eegmat_ecg_windows`` (0.5-40 Hz, 100 Hz) at 1 s stride, the one
    whose centre is nearest the EEG window's centre (clipped to the recording)."""
    ecg = _windows("eegmat", "eegmat_ecg_windows", data_dir, window_s=ecg_window_s, stride_s=1.0)
    feats = cached_array(
        "eegmat_ecg_hrv", [ecg_window_s, ecg.pipeline, len(ecg)], lambda: hrv_features(ecg.data[:, 0, :], ecg.sfreq)
    )
    return feats[context_rows(table, ecg.table, window_s, ecg_window_s)]


def context_rows(table: pd.DataFrame, ecg_table: pd.DataFrame, window_s: float, ecg_window_s: float) -> np.ndarray:
    """Position in ``ecg_table`` of the ECG window (``ecg_window_s`` long) of the same
    recording whose centre is nearest the centre of each ``window_s`` window of ``table``;
    near a recording's edges that is the first / last ECG window (clipped)."""
    starts_by_rec = {
        str(r): (g["start"].to_numpy(dtype=float), np.flatnonzero(ecg_table["recording"].astype(str) == str(r)))
        for r, g in ecg_table.groupby(ecg_table["recording"].astype(str), sort=False)
    }
    rows = np.empty(len(table), dtype=np.int64)
    for i, (rec, start) in enumerate(zip(table["recording"].astype(str), table["start"].astype(float))):
        if rec not in starts_by_rec:
            raise DataError(None, f"no ECG window of recording {rec!r}")
        starts, positions = starts_by_rec[rec]
        want = start + window_s / 2 - ecg_window_s / 2
        rows[i] = positions[int(np.argmin(np.abs(starts - want)))]
    return rows


class FusionSet:
    """eegmat EEG band power (:class:`~brainalign.experiments.fair.EEGMatSet`) with the ECG
    features of the same windows (rows of ``eeg.windows``)."""

    def __init__(self, eeg: EEGMatSet, ecg_features: np.ndarray, ecg_window_s: float):
        self.eeg, self.ecg_features, self.ecg_window_s = eeg, ecg_features, ecg_window_s

    def parts(self) -> dict[str, Any]:
        """Evaluated rows (``x_eeg``, ``x_ecg``, ``y``, ``groups``, ``recordings``, ``texts``)
        and calibration rows (``cal_eeg``, ``cal_ecg``, ``cal_groups``)."""
        x, y, groups, recordings = self.eeg.eval_part()
        cal_x, cal_g = self.eeg.calib_part()
        return {
            "x_eeg": x,
            "x_ecg": self.ecg_features[self.eeg.eval_rows],
            "y": y,
            "groups": groups,
            "recordings": recordings,
            "texts": self.eeg.table["text"].iloc[self.eeg.eval_rows].astype(str).to_numpy(),
            "cal_eeg": cal_x,
            "cal_ecg": self.ecg_features[self.eeg.calib_rows],
            "cal_groups": cal_g,
        }


def eegmat_fusion_set(
    window_s: float = 2.0, ecg_window_s: float = 10.0, data_dir: str | os.PathLike | None = None
) -> FusionSet:
    """:func:`~brainalign.experiments.fair.eegmat_set` plus :func:`ecg_context_features` of its windows."""
    eeg = eegmat_set(window_s, data_dir)
    ecg = ecg_context_features(eeg.table, window_s, ecg_window_s, data_dir)
    return FusionSet(eeg, ecg, ecg_window_s)


class FeatureHead(nn.Module):
    """The ``bandpower`` encoder's head on any feature vector: fixed standardisation
    (training statistics), ``depth`` x (dropout, linear, GELU), dropout, linear to
    ``emb_dim``. The same network for EEG, ECG and fused features."""

    feature_mean: torch.Tensor
    feature_std: torch.Tensor

    def __init__(self, n_features: int, cfg: HeadConfig, seed: int) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.register_buffer("feature_mean", torch.zeros(n_features))
        self.register_buffer("feature_std", torch.ones(n_features))
        layers: list[nn.Module] = []
        width = n_features
        for _ in range(max(0, int(cfg.depth))):
            layers += [nn.Dropout(cfg.dropout), nn.Linear(width, cfg.hidden), nn.GELU()]
            width = cfg.hidden
        layers += [nn.Dropout(cfg.dropout), nn.Linear(width, cfg.emb_dim)]
        self.mlp = nn.Sequential(*layers)

    def set_feature_stats(self, mean: np.ndarray, std: np.ndarray) -> None:
        self.feature_mean.copy_(torch.as_tensor(np.asarray(mean, dtype=np.float32)))
        self.feature_std.copy_(torch.as_tensor(np.asarray(std, dtype=np.float32)).clamp_min(1e-6))

    def head(self, features: torch.Tensor) -> torch.Tensor:
        return self.mlp((features - self.feature_mean) / self.feature_std)


def _lr_scores(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, seed: int) -> np.ndarray:
    """StandardScaler + class-balanced LR; probability of class 1 minus 0.5 (> 0: class 1)."""
    model = make_pipeline(StandardScaler(), _logreg(seed)).fit(x_train, y_train)
    return model.predict_proba(x_test)[:, 1] - 0.5


def _lr_log_odds(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, seed: int) -> np.ndarray:
    """StandardScaler + class-balanced LR; the log-odds of class 1 on ``x_test``."""
    return make_pipeline(StandardScaler(), _logreg(seed)).fit(x_train, y_train).decision_function(x_test)


def stacked_fusion(
    parts: Sequence[np.ndarray],
    y: np.ndarray,
    groups: np.ndarray,
    train: np.ndarray,
    test: np.ndarray,
    seed: int,
    inner_splits: int = 5,
) -> tuple[np.ndarray, np.ndarray]:
    """Stacked generalisation (Wolpert 1992) of one LR per modality, fitted on ``train`` rows only.

    Inner GroupKFold by subject (``inner_splits`` folds of the training subjects): each
    modality's LR gives out-of-fold log-odds on every training row; a class-balanced LR on
    those log-odds (one weight per modality and an intercept) is the combiner. The modality
    LRs are then refitted on all training rows and their log-odds on ``test`` combined.
    The weights are chosen by the training subjects' out-of-fold predictions alone (a
    modality that adds nothing gets a small weight), never by a test row. Returns the
    combined log-odds of ``test`` (> 0: class 1) and the combiner's weights."""
    inner = np.zeros((len(train), len(parts)))
    for tr, va in _subject_folds(groups[train], inner_splits, seed):
        for j, x in enumerate(parts):
            inner[va, j] = _lr_log_odds(x[train][tr], y[train][tr], x[train][va], seed)
    combiner = _logreg(seed).fit(inner, y[train])
    outer = np.column_stack([_lr_log_odds(x[train], y[train], x[test], seed) for x in parts])
    return combiner.decision_function(outer), np.r_[combiner.coef_.ravel(), combiner.intercept_]


def eegmat_fusion(
    window_s: float = 2.0,
    normalization: str = "calibration",
    ecg_window_s: float = 10.0,
    seeds: Sequence[int] = SEEDS,
    n_splits: int = 5,
    aligned: bool = True,
    cfg: HeadConfig | None = None,
    n_boot: int = 2000,
    n_perm: int = 1000,
    data_dir: str | os.PathLike | None = None,
    fusion_set: FusionSet | None = None,
) -> dict[str, Any]:
    """The fair EEG / ECG / fused comparison of the module docstring; ``{"methods": {name:
    {balanced_accuracy, auc, per_seed, ci_subject_bootstrap}}, "differences": {"a - b":
    paired subject bootstrap}, ...}``. ``fusion_set`` overrides the data (tests)."""
    started = time.perf_counter()
    cfg = cfg or HeadConfig()
    data = fusion_set or eegmat_fusion_set(window_s, ecg_window_s, data_dir)
    p = data.parts()
    y, groups, recordings = p["y"], p["groups"], p["recordings"]
    methods = ["eeg_lr", "ecg_lr", "stacked_lr", "fused_lr", "late_lr"]
    weights: list[list[float]] = []
    if aligned:
        _torch_threads()
        methods += ["zero_shot_eeg", "zero_shot_ecg", "zero_shot_fused", "shuffled_fused", "ce_fused"]
        pair_values, pair_index = np.unique(p["texts"], return_inverse=True)
        pair_emb = text_embeddings(list(pair_values))
    scores = {m: {s: np.zeros(len(y)) for s in seeds} for m in methods}
    for seed in seeds:
        for fold, (train, test) in enumerate(_subject_folds(groups, n_splits, seed)):
            run_seed = 1000 * seed + fold
            xe, _ = _normalise_fold(normalization, p["x_eeg"], groups, train, p["cal_eeg"], p["cal_groups"], labels=y)
            xc, _ = _normalise_fold(normalization, p["x_ecg"], groups, train, p["cal_ecg"], p["cal_groups"], labels=y)
            xf = np.concatenate([xe, xc], axis=1)
            for name, feats in (("eeg", xe), ("ecg", xc), ("fused", xf)):
                scores[f"{name}_lr"][seed][test] = _lr_scores(feats[train], y[train], feats[test], run_seed)
            scores["late_lr"][seed][test] = (scores["eeg_lr"][seed][test] + scores["ecg_lr"][seed][test]) / 2
            scores["stacked_lr"][seed][test], w = stacked_fusion((xe, xc), y, groups, train, test, run_seed)
            weights.append([float(v) for v in w])
            if not aligned:
                continue
            for name, feats in (("eeg", xe), ("ecg", xc), ("fused", xf)):
                head = FeatureHead(feats.shape[1], cfg, run_seed)
                head.set_feature_stats(feats[train].mean(0), feats[train].std(0))
                proj = train_clip_head(head, feats[train], pair_index[train], pair_emb, cfg, run_seed)
                sim = zero_shot_scores(head, proj, feats[test], EEGMAT_PROMPTS)
                scores[f"zero_shot_{name}"][seed][test] = sim[:, 1] - sim[:, 0]
            head = FeatureHead(xf.shape[1], cfg, run_seed)
            head.set_feature_stats(xf[train].mean(0), xf[train].std(0))
            shuffled = pair_index[train][np.random.default_rng(run_seed + 7919).permutation(len(train))]
            proj = train_clip_head(head, xf[train], shuffled, pair_emb, cfg, run_seed)
            sim = zero_shot_scores(head, proj, xf[test], EEGMAT_PROMPTS)
            scores["shuffled_fused"][seed][test] = sim[:, 1] - sim[:, 0]
            head = FeatureHead(xf.shape[1], cfg, run_seed)
            head.set_feature_stats(xf[train].mean(0), xf[train].std(0))
            clf = train_ce_head(head, xf[train], y[train], cfg, run_seed)
            with torch.no_grad():
                logits = clf(head.head(torch.as_tensor(xf[test], dtype=torch.float32))).numpy()
            scores["ce_fused"][seed][test] = logits[:, 1] - logits[:, 0]

    ys, gs = np.tile(y, len(seeds)), np.tile(groups, len(seeds))
    stacked = {m: (np.concatenate([scores[m][s] for s in seeds]) > 0).astype(int) for m in methods}
    results: dict[str, Any] = {}
    for m in methods:
        r = summarise(
            [
                {"balanced_accuracy": float(balanced_accuracy_score(y, scores[m][s] > 0)), "auc": _auc(y, scores[m][s])}
                for s in seeds
            ]
        )
        r["ci_subject_bootstrap"] = list(subject_bootstrap(ys, stacked[m], gs, n_boot=n_boot))
        r["p_permutation_seed0"] = recording_permutation_p(
            y, (scores[m][seeds[0]] > 0).astype(int), groups, recordings, n_perm=n_perm
        )
        results[m] = r
    pairs = [
        ("stacked_lr", "eeg_lr"),
        ("stacked_lr", "ecg_lr"),
        ("fused_lr", "eeg_lr"),
        ("fused_lr", "ecg_lr"),
        ("late_lr", "eeg_lr"),
        ("late_lr", "ecg_lr"),
        ("stacked_lr", "fused_lr"),
    ]
    if aligned:
        pairs += [
            ("zero_shot_fused", "zero_shot_eeg"),
            ("zero_shot_fused", "zero_shot_ecg"),
            ("zero_shot_fused", "fused_lr"),
            ("zero_shot_fused", "ce_fused"),
        ]
    differences = {
        f"{a} - {b}": paired_subject_bootstrap(ys, stacked[a], stacked[b], gs, n_boot=n_boot) for a, b in pairs
    }
    norm = make_normalizer(normalization)
    return {
        "task": "eegmat rest vs arithmetic, EEG vs ECG vs EEG+ECG",
        "window_s": window_s,
        "ecg_window_s": data.ecg_window_s,
        "n_windows": len(y),
        "n_subjects": len(set(groups)),
        "protocol": f"GroupKFold by subject, {n_splits} folds x {len(seeds)} seeds, pooled out-of-fold",
        "normalization": norm.record(),
        "features": {
            "eeg": "log10 band power 1-4-8-13-30-40 Hz, 19 channels x 5 bands",
            "ecg": f"HR/HRV ({', '.join(ECG_FEATURES)}) of the {data.ecg_window_s:g} s of ECG centred on the window",
            "fused": "both, concatenated (each normalised with its own statistics)",
            "stacked": "one LR per modality, combined by an LR on their inner out-of-fold log-odds (training "
            "subjects only, inner GroupKFold 5)",
        },
        "stacking_weights": {
            "columns": ["eeg", "ecg", "intercept"],
            "mean": [float(v) for v in np.mean(weights, axis=0)],
            "min": [float(v) for v in np.min(weights, axis=0)],
            "max": [float(v) for v in np.max(weights, axis=0)],
        },
        "methods": results,
        "differences": differences,
        "head_config": cfg.__dict__ if aligned else None,
        "prompts": EEGMAT_PROMPTS if aligned else None,
        "seeds": list(seeds),
        "no_heartbeat_recordings_kept": list(NO_HEARTBEAT),
        "seconds": time.perf_counter() - started,
    }
