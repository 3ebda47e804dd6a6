"""Issue 10: masked pre-training on unlabelled Muse recordings (``muse_cueing``), then
fine-tuning on P300 and N170, against the same network from scratch and against xDAWN +
tangent space + LR (plain functions returning JSON-able dicts, like
:mod:`brainalign.experiments.fair`).

Data (fixed before any run). Every set is the Muse's TP9, AF7, AF8, TP10, band-passed
1-30 Hz and resampled to 100 Hz, in µV; inputs are divided by one scale, the standard
deviation of the pre-training corpus (no statistic of an evaluated set is used).

* Pre-training corpus: every 1 s window of ``muse_cueing`` (10 subjects, about 0.67 h;
  never evaluated, so no fold's test data is seen), windows above 100 µV peak-to-peak
  dropped (the eeg-notebooks rejection, also applied to the epochs).
* P300 (target vs non-target) and N170 (face vs house) epochs of -0.1..0.9 s (100
  samples), epochs above 100 µV dropped; N170 baseline-corrected before onset as its
  preset does.

Network: :class:`~brainalign.models.cbramod_mae.CBraModMAE` (0.25 s patches, so 4 leads x
4 patches = 16 tokens; width 32, 2 criss-cross layers, 2 heads; 50 % patch + 20 % whole-lead
dual masking), embedding = the mean token mapped linearly. Small because every fit runs on
a shared 2-core CPU (one step of a width-64 model took about 1 s under that load). ``pretrained``: masked reconstruction on the corpus
(:func:`brainalign.training.arrays.pretrain_masked`), then every weight fine-tuned with a
linear classifier by class-weighted cross-entropy
(:func:`brainalign.training.arrays.fit_classifier`); ``scratch``: the same network, the
same seed and fine-tuning, from its random initialisation. Also reported, as the measured
reason when pre-training does not help: LR probes on the frozen pre-trained and frozen
random embeddings, and the masked-reconstruction error of the pre-trained network on
held-out corpus windows and on the evaluated epochs, beside predicting zero.

Protocols (:data:`RUNS`): P300 ``within`` and N170 ``within`` (one network for all
subjects; fold k tests session k of every subject with several sessions and the k-th
stratified part of the others; the classical pipeline is fitted per subject on that
subject's training epochs) and N170 ``loso`` (leave one subject out; classical pooled).
The classical pipeline: xDAWN (4 filters/class + prototypes, OAS) covariances + tangent
space + class-balanced LR, through the ``tangent`` encoder's front end (as
``fair.p300_aligned``; pyriemann's per-epoch OAS was too slow here for every fold).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import StratifiedKFold

from brainalign.evaluation.stats import permutation_pvalue
from brainalign.experiments import fair

__all__ = ["RUNS", "MuseConfig", "muse_epochs", "muse_pretraining_corpus", "muse_pretrain_finetune", "within_folds"]


@dataclass(frozen=True)
class MuseConfig:
    """Network and optimisation, fixed before any run."""

    patch_size: int = 25
    width: int = 32
    depth: int = 2
    heads: int = 2
    dim_feedforward: int = 64
    dropout: float = 0.1
    emb_dim: int = 32
    pretrain_epochs: int = 10
    finetune_epochs: int = 5
    batch_size: int = 128
    pretrain_lr: float = 1e-3
    finetune_lr: float = 5e-4
    weight_decay: float = 1e-2
    reject_uv: float = 100.0


def _reject(data: np.ndarray, reject_uv: float) -> np.ndarray:
    return np.flatnonzero(np.ptp(data, axis=-1).max(axis=1) <= reject_uv)


def muse_pretraining_corpus(
    cfg: MuseConfig, data_dir: str | os.PathLike | None = None, max_windows: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``muse_cueing`` 1 s windows (n, 4, 100) in µV after rejection, and their subjects."""
    w = fair._windows("muse_cueing", "pretrain_windows", data_dir, window_s=1.0, sfreq=100.0, l_freq=1.0, h_freq=30.0)
    data = np.asarray(w.data, dtype=np.float32)
    keep = _reject(data, cfg.reject_uv)
    if max_windows is not None and len(keep) > max_windows:
        keep = np.sort(np.random.default_rng(0).choice(keep, max_windows, replace=False))
    return data[keep], w.table["subject"].astype(str).to_numpy()[keep]


def muse_epochs(
    dataset: str, cfg: MuseConfig, data_dir: str | os.PathLike | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(x, y, subjects, sessions)`` of the P300 (``"p300"``: y = target) or N170
    (``"n170"``: y = face) epochs, -0.1..0.9 s at 100 Hz, after rejection."""
    if dataset == "p300":
        w = fair._windows("eegnb_p300", "p300_epochs", data_dir, sfreq=100.0, tmin=-0.1, tmax=0.9)
        positive = "target"
    elif dataset == "n170":
        w = fair._windows("eegnb_n170", "n170_epochs", data_dir, sfreq=100.0, tmin=-0.1, tmax=0.9)
        positive = "face"
    else:
        raise ValueError(f"unknown Muse dataset {dataset!r}")
    data = np.asarray(w.data, dtype=np.float32)
    data = data[..., : (data.shape[-1] // cfg.patch_size) * cfg.patch_size]
    keep = _reject(data, cfg.reject_uv)
    t = w.table.iloc[keep]
    return (
        data[keep],
        (t["label"] == positive).to_numpy().astype(int),
        t["subject"].astype(str).to_numpy(),
        t["session"].astype(str).to_numpy(),
    )


def within_folds(
    subjects: np.ndarray, sessions: np.ndarray, y: np.ndarray, n_splits: int, seed: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """``n_splits`` folds, one model for all subjects: fold k tests the k-th session (in
    sorted order, k < number of sessions) of every subject with several sessions and the
    k-th stratified part of every subject with one session; trains on everything else."""
    tests: list[list[np.ndarray]] = [[] for _ in range(n_splits)]
    for s in sorted(set(subjects)):
        rows = np.flatnonzero(subjects == s)
        sess = sorted(set(sessions[rows]))
        if len(sess) > 1:
            for k, v in enumerate(sess):
                tests[k % n_splits].append(rows[sessions[rows] == v])
        else:
            n = min(n_splits, int(np.bincount(y[rows], minlength=2).min()))
            if n < 2:
                continue
            for k, (_, te) in enumerate(StratifiedKFold(n, shuffle=True, random_state=seed).split(rows, y[rows])):
                tests[k].append(rows[te])
    out = []
    for parts in tests:
        test = np.sort(np.concatenate(parts)) if parts else np.zeros(0, dtype=int)
        out.append((np.setdiff1d(np.arange(len(y)), test), test))
    return [f for f in out if len(f[1])]


def _loso_folds(subjects: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    return [(np.flatnonzero(subjects != s), np.flatnonzero(subjects == s)) for s in sorted(set(subjects))]


def _encoder(cfg: MuseConfig, n_times: int, seed: int) -> Any:
    import torch

    from brainalign.models import create_encoder

    torch.manual_seed(seed)
    return create_encoder(
        "cbramod_mae",
        n_chans=4,
        n_times=n_times,
        sfreq=100.0,
        emb_dim=cfg.emb_dim,
        patch_size=cfg.patch_size,
        width=cfg.width,
        depth=cfg.depth,
        heads=cfg.heads,
        dim_feedforward=cfg.dim_feedforward,
        dropout=cfg.dropout,
        patch_mask_ratio=0.5,
        lead_mask_ratio=0.2,
    )


def _scores(y: np.ndarray, score: np.ndarray, units: np.ndarray) -> dict[str, float]:
    per_unit = [
        balanced_accuracy_score(y[units == u], score[units == u] > 0)
        for u in pd.unique(units)
        if len(np.unique(y[units == u])) == 2
    ]
    return {
        "balanced_accuracy": float(balanced_accuracy_score(y, score > 0)),
        "auc": fair._auc(y, score),
        "balanced_accuracy_mean_of_subjects": float(np.mean(per_unit)) if per_unit else float("nan"),
    }


#: (dataset, protocol) pairs of the task: P300 within subject (session-disjoint), N170 both ways
RUNS: tuple[tuple[str, str], ...] = (("p300", "within"), ("n170", "within"), ("n170", "loso"))


def _xdawn_tangent_lr(x: np.ndarray, y: np.ndarray, train: np.ndarray, test: np.ndarray, seed: int) -> np.ndarray:
    """xDAWN (4 filters/class + prototypes, OAS) covariances + tangent space at the training
    Riemannian mean + class-balanced LR, fitted on ``train`` (the tangent encoder's front
    end, as ``fair.p300_aligned``); LR probability of class 1 minus 0.5 on ``test``."""
    import torch
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from brainalign.models import create_encoder

    enc: Any = create_encoder("tangent", n_chans=x.shape[1], n_times=x.shape[2], sfreq=100.0, xdawn_filters=4)
    enc.fit_reference(x[train].astype(np.float64), y[train])
    with torch.no_grad():
        f = enc.features(torch.as_tensor(x[np.concatenate([train, test])], dtype=torch.float32)).numpy()
    lr = make_pipeline(StandardScaler(), fair._logreg(seed)).fit(f[: len(train)], y[train])
    return lr.predict_proba(f[len(train) :])[:, 1] - 0.5


def muse_pretrain_finetune(
    runs: Sequence[tuple[str, str]] = RUNS,
    seeds: Sequence[int] = (0,),
    n_splits: int = 3,
    cfg: MuseConfig | None = None,
    max_pretrain_windows: int | None = None,
    n_boot: int = 2000,
    n_perm: int = 1000,
    data_dir: str | os.PathLike | None = None,
    log: Callable[[str], None] = lambda s: None,
) -> dict[str, Any]:
    """Pre-train on ``muse_cueing`` once per seed, then fine-tune on each dataset and
    protocol (module docstring). Per (dataset, protocol): pooled balanced accuracy and AUC
    of ``pretrained``, ``scratch``, ``probe_pretrained``, ``probe_random`` and
    ``xdawn_ts_lr`` (mean and sd over seeds), the paired bootstrap difference
    ``pretrained - scratch`` and ``pretrained - xdawn_ts_lr`` (subjects x sessions
    resampled, seeds stacked), for ``pretrained`` a bootstrap interval and a permutation
    p-value (labels permuted within subject x session, seed 0), and the reconstruction
    diagnostics."""
    from brainalign.training.arrays import FitConfig, embed, fit_classifier, masked_loss, pretrain_masked, project

    fair._torch_threads()
    cfg = cfg or MuseConfig()
    t_start = time.perf_counter()
    corpus, corpus_subjects = muse_pretraining_corpus(cfg, data_dir, max_pretrain_windows)
    scale = float(corpus.std())
    held = np.isin(corpus_subjects, sorted(set(corpus_subjects))[-2:])  # two subjects held out for the diagnostic
    sets = {d: muse_epochs(d, cfg, data_dir) for d in dict.fromkeys(d for d, _ in runs)}
    n_times = corpus.shape[-1]
    pre_fit = FitConfig(
        epochs=cfg.pretrain_epochs,
        batch_size=cfg.batch_size,
        lr=cfg.pretrain_lr,
        weight_decay=cfg.weight_decay,
        grad_clip=1.0,
    )
    ft_fit = FitConfig(
        epochs=cfg.finetune_epochs,
        batch_size=cfg.batch_size,
        lr=cfg.finetune_lr,
        weight_decay=cfg.weight_decay,
        grad_clip=1.0,
    )
    methods = ("pretrained", "scratch", "probe_pretrained", "probe_random", "xdawn_ts_lr")
    scores: dict[str, dict[str, dict[int, np.ndarray]]] = {}
    diagnostics: dict[str, Any] = {}
    labels: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for seed in seeds:
        t0 = time.perf_counter()
        enc = _encoder(cfg, n_times, seed)
        random_state = {k: v.clone() for k, v in enc.state_dict().items()}
        before = masked_loss(enc, corpus[held] / scale, seed=seed)
        history = pretrain_masked(enc, corpus[~held] / scale, pre_fit, seed)
        pre_state = {k: v.clone() for k, v in enc.state_dict().items()}
        diag: dict[str, Any] = {
            "pretrain_loss_per_epoch": history,
            "heldout_corpus_random_init": before,
            "heldout_corpus_pretrained": masked_loss(enc, corpus[held] / scale, seed=seed),
            "pretrain_windows": int((~held).sum()),
            "pretrain_seconds": round(time.perf_counter() - t0, 1),
        }
        log(
            f"    muse pretraining seed {seed}: {time.perf_counter() - t0:.0f} s, loss {history[0]:.3f} -> {history[-1]:.3f}"
        )
        # the pre-training (held-out diagnostic subjects included) saw only muse_cueing; fine-tuning below
        for d, (x, y, subjects, sessions) in sets.items():
            xs = x / scale
            diag[f"{d}_epochs_pretrained"] = masked_loss(enc, xs, seed=seed)
            rand = _encoder(cfg, n_times, seed)
            rand.load_state_dict(random_state)
            diag[f"{d}_epochs_random_init"] = masked_loss(rand, xs, seed=seed)
            emb_pre = embed(enc, [xs])
            emb_rand = embed(rand, [xs])
            units = np.char.add(np.char.add(subjects.astype(str), "/"), sessions.astype(str))
            for protocol in [p for dd, p in runs if dd == d]:
                key = f"{d}_{protocol}"
                scores.setdefault(key, {m: {} for m in methods})
                folds = (
                    within_folds(subjects, sessions, y, n_splits, seed)
                    if protocol == "within"
                    else _loso_folds(subjects)
                )
                out = {m: np.full(len(y), np.nan) for m in methods}
                for k, (train, test) in enumerate(folds):
                    run_seed = 1000 * seed + k
                    for arm, state in (("pretrained", pre_state), ("scratch", random_state)):
                        net = _encoder(cfg, n_times, seed)
                        net.load_state_dict(state)
                        clf = fit_classifier(net, [xs[train]], y[train], ft_fit, run_seed)
                        logits = project(clf, embed(net, [xs[test]]))
                        out[arm][test] = logits[:, 1] - logits[:, 0]
                    for arm, emb in (("probe_pretrained", emb_pre), ("probe_random", emb_rand)):
                        out[arm][test] = fair._probe(emb[train], y[train], emb[test], 1.0, run_seed) - 0.5
                    if protocol == "within":
                        for s in sorted(set(subjects[test])):
                            tr, te = train[subjects[train] == s], test[subjects[test] == s]
                            if len(np.unique(y[tr])) < 2:
                                continue
                            out["xdawn_ts_lr"][te] = _xdawn_tangent_lr(x, y, tr, te, run_seed)
                    else:
                        out["xdawn_ts_lr"][test] = _xdawn_tangent_lr(x, y, train, test, run_seed)
                for m in methods:
                    scores[key][m][seed] = out[m]
                labels[key] = (y, units)
                log(f"    muse {key} seed {seed}: {len(folds)} folds done at {time.perf_counter() - t0:.0f} s")
        diagnostics[str(seed)] = diag
    results: dict[str, Any] = {}
    for key, per in scores.items():
        y, units = labels[key]
        tested = ~np.isnan(per["pretrained"][seeds[0]])
        res: dict[str, Any] = {
            "n_epochs": int(len(y)),
            "n_tested": int(tested.sum()),
            "n_positive": int(y.sum()),
            "methods": {},
        }
        for m in methods:
            rows = []
            for s in seeds:
                ok = tested & ~np.isnan(per[m][s])
                rows.append(_scores(y[ok], per[m][s][ok], units[ok]))
            res["methods"][m] = fair.summarise(rows)
        ok = tested & ~np.isnan(per["xdawn_ts_lr"][seeds[0]])
        ys, us = np.tile(y[ok], len(seeds)), np.tile(units[ok], len(seeds))
        stacked = {m: np.concatenate([per[m][s][ok] for s in seeds]) > 0 for m in methods}
        low, high = fair.subject_bootstrap(ys, stacked["pretrained"].astype(int), us, n_boot=n_boot)
        res["methods"]["pretrained"]["ci_bootstrap"] = [low, high]
        res["methods"]["pretrained"]["p_permutation_seed0"] = float(
            permutation_pvalue(
                balanced_accuracy_score,
                y[ok],
                (per["pretrained"][seeds[0]][ok] > 0).astype(int),
                n_perm=n_perm,
                seed=0,
                groups=units[ok],
            )
        )
        for other in ("scratch", "xdawn_ts_lr"):
            res[f"pretrained_minus_{other}"] = fair.paired_subject_bootstrap(
                ys, stacked["pretrained"].astype(int), stacked[other].astype(int), us, n_boot=n_boot
            )
        res["bootstrap_unit"] = "subject x session"
        results[key] = res
    return {
        "task": "masked pre-training on muse_cueing, fine-tuning on P300 / N170, vs scratch and xDAWN + TS + LR",
        "config": asdict(cfg),
        "input_scale_uv": scale,
        "seeds": list(seeds),
        "n_splits_within": n_splits,
        "corpus": {"dataset": "muse_cueing", "windows": int(len(corpus)), "subjects": len(set(corpus_subjects))},
        "results": results,
        "diagnostics": diagnostics,
        "seconds": round(time.perf_counter() - t_start, 1),
    }
