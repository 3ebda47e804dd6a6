"""Masked pre-training of EEG and ECG encoders, then EEG+ECG fusion on eegmat (rest vs arithmetic).

:func:`run_fusion_benchmark` is the whole experiment as one benchmark task:

1. **Masked pre-training** (CBraMod-style dual masking, :class:`~brainalign.models.cbramod_mae.CBraModMAE`).
   One EEG encoder is pre-trained on every unlabelled EEG window available - eegmat, EEGMMIDB,
   the N170 (Muse) set and the N400 epochs, four montages (19, 64, 4 and 32 leads) - and one
   ECG encoder on the eegmat ECG lead. Everything is band-passed 0.5-40 Hz where the rate
   allows, resampled to :data:`SFREQ` Hz, cut into 2 s windows (two 1 s patches per lead)
   and standardised per channel with statistics of each dataset (eegmat: of the fold's
   pre-training subjects). The encoder has no channel table, so one set of weights serves
   every montage (:func:`montage_view`); each batch holds windows of one dataset, the
   batches of all datasets are interleaved at random. The N400 epochs last 1.2 s, so two
   consecutive epochs are joined at the patch boundary into one 2 s window
   (:func:`splice_epochs`). **No test subject is ever seen**: pre-training is redone in
   every fold on the other datasets plus the fold's eegmat *training* subjects; its
   validation subjects give the held-out reconstruction loss.
2. **Downstream**, rest vs mental arithmetic, subject-disjoint: ``group_kfold`` by subject
   (4 folds, each subject tested once), two validation subjects per fold taken from the
   training subjects for early stopping. Windows: 2 s, EEG and ECG of the same span
   (:func:`align_windows`), the last 60 s of each rest recording and the whole 62 s task
   recording (:func:`downstream_mask`), as the data README's reference protocol. Variants,
   each fine-tuned end to end (:class:`~brainalign.models.fusion.FusionClassifier`):
   ``eeg_only``, ``ecg_only``, ``fused`` (concatenated embeddings), ``fused_xattn``
   (cross-attention over both encoders' patch tokens), ``scratch`` (the EEG encoder of
   ``eeg_only`` with random weights). ``pretrained`` is ``eeg_only`` under the name that
   pairs it with ``scratch``: same architecture, data and training, pre-trained vs random.
3. **Scores**: out-of-fold predictions pooled over folds; balanced accuracy with a
   bootstrap interval resampling recordings and a permutation p-value that permutes
   recording labels within subject (:func:`~brainalign.evaluation.stats.score_with_stats`).
   The classical baselines ``bandpower_lr`` and ``ecg_hrv_lr``
   (:mod:`brainalign.evaluation.baselines`) run on the same windows and folds.
"""
from __future__ import annotations

import copy
import dataclasses
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import torch
from torch import nn

from brainalign.data.base import open_dataset
from brainalign.data.catalog import find_dataset
from brainalign.data.splits import Split, group_kfold
from brainalign.errors import ConfigError, DataError
from brainalign.evaluation.baselines import run_baseline
from brainalign.evaluation.metrics import balanced_accuracy
from brainalign.evaluation.stats import bootstrap_ci, chance_level, score_with_stats
from brainalign.models.cbramod_mae import CBraModMAE
from brainalign.models.fusion import FusionClassifier, load_pretrained_encoder
from brainalign.models.registry import create_encoder
from brainalign.objectives.loss import MaskedReconstructionLoss
from brainalign.preprocessing.cache import cached_windows
from brainalign.preprocessing.pipeline import Pipeline, Windows, align_windows
from brainalign.preprocessing.presets import get_preset
from brainalign.preprocessing.steps import CheckFinite, Filter, Resample, Window
from brainalign.results import Score, TaskResult
from brainalign.utils.io import atomic_write_text

__all__ = [
    "FULL",
    "QUICK",
    "FusionBudget",
    "downstream_mask",
    "finetune",
    "montage_view",
    "pretrain",
    "run_fusion_benchmark",
    "splice_epochs",
    "standardise_per_recording",
]

#: Common rate of every pre-training and downstream window (Hz).
SFREQ = 100.0
#: Window length (s); the downstream protocol's 2 s windows.
WINDOW_S = 2.0
#: Patch length (s): CBraMod's 1 s patches, two per window and lead.
PATCH_S = 1.0
#: Seconds kept at the end of each rest recording, to balance the 62 s task recordings.
REST_KEEP_S = 60.0
#: The two conditions, negative class first.
CLASSES = ("rest", "arithmetic")
#: Standardised samples are clipped to this many standard deviations (artefacts).
CLIP_SD = 10.0
#: Unlabelled EEG sets pre-trained on besides eegmat: folder -> windows are cut from
#: continuous recordings ("continuous") or are the published epochs ("epochs").
EXTRA_EEG = {"eegmmidb": "continuous", "eegnb_n170": "continuous", "n400": "epochs"}


@dataclasses.dataclass(frozen=True)
class FusionBudget:
    """Sizes and training lengths of one run (see :data:`FULL` and :data:`QUICK`)."""

    n_folds: int = 4
    n_val_subjects: int = 2
    width: int = 64
    depth: int = 2
    heads: int = 4
    emb_dim: int = 64
    pretrain_epochs: int = 12
    #: at most this many windows of each pre-training dataset per fold (None: all)
    max_pretrain_windows: int | None = None
    finetune_epochs: int = 20
    patience: int = 5
    batch_size: int = 64
    pretrain_lr: float = 1e-3
    finetune_lr: float = 5e-4
    weight_decay: float = 1e-2
    n_boot: int = 1000
    n_perm: int = 1000
    cross_attention: bool = True


#: About 6 minutes on one free CPU core.
FULL = FusionBudget()
#: Under a minute on one free CPU core: the same protocol with little training, for tests and demos.
QUICK = FusionBudget(pretrain_epochs=2, max_pretrain_windows=192, finetune_epochs=3, patience=3,
                     n_boot=200, n_perm=200)


# ============================================================================ windows
def downstream_mask(table: pd.DataFrame, rest_label: str = CLASSES[0], keep_s: float = REST_KEEP_S,
                    window_s: float = WINDOW_S) -> np.ndarray:
    """Boolean mask of the windows of the downstream task: every window of a non-rest
    recording, and the windows of a rest recording that start in its last ``keep_s``
    seconds (its end being its last window's start plus ``window_s``)."""
    for col in ("recording", "start", "label"):
        if col not in table.columns:
            raise DataError(None, f"window table has no {col!r} column")
    start = table["start"].to_numpy(dtype=float)
    end = table.groupby("recording")["start"].transform("max").to_numpy(dtype=float) + window_s
    rest = (table["label"] == rest_label).to_numpy()
    return ~rest | (start >= end - keep_s - 1e-9)


def splice_epochs(windows: Windows, n_samples: int) -> Windows:
    """Join the first ``n_samples`` of consecutive epochs (0+1, 2+3...) into windows
    twice as long; the table row is the first epoch's. For sets of epochs shorter than
    the window: with ``n_samples`` one patch, each patch is one whole epoch's signal,
    so the splice falls on a patch boundary. An odd last epoch is dropped."""
    if windows.n_times < n_samples:
        raise DataError(None, f"epochs of {windows.n_times} samples are shorter than {n_samples}")
    n_pairs = len(windows) // 2
    if n_pairs == 0:
        raise DataError(None, "fewer than two epochs to splice")
    head = np.asarray(windows.data[: 2 * n_pairs, :, :n_samples])
    data = np.concatenate([head[0::2], head[1::2]], axis=-1)
    table = windows.table.iloc[0: 2 * n_pairs: 2].reset_index(drop=True)
    return dataclasses.replace(windows, data=np.ascontiguousarray(data), table=table)


def _continuous_pipeline() -> Pipeline:
    """Unlabelled 2 s windows of a continuous EEG recording at :data:`SFREQ` Hz, in µV."""
    return Pipeline([CheckFinite(), Filter(0.5, 40.0), Resample(SFREQ), Window(WINDOW_S)])


def _epochs_pipeline() -> Pipeline:
    """Published epochs, checked and resampled to :data:`SFREQ` Hz, in µV."""
    return Pipeline([CheckFinite(), Resample(SFREQ)])


def _load_eegmat(data_dir: str | os.PathLike | None) -> tuple[Windows, Windows]:
    """Aligned EEG (19 channels) and ECG (1 lead) windows of every eegmat recording."""
    reader = open_dataset(find_dataset("eegmat", data_dir))
    eeg = cached_windows(reader, get_preset("eegmat_windows", sfreq=SFREQ, window_s=WINDOW_S, stride_s=WINDOW_S),
                         progress=False)
    ecg = cached_windows(reader, get_preset("eegmat_ecg_windows", sfreq=SFREQ, window_s=WINDOW_S,
                                            stride_s=WINDOW_S), progress=False)
    return align_windows(eeg, ecg)


def _load_extra_eeg(data_dir: str | os.PathLike | None, notes: list[str]) -> dict[str, np.ndarray]:
    """Windows of the other EEG sets present in the data directory, each standardised with
    its own per-channel statistics; an absent set is skipped with a note."""
    patch = int(round(PATCH_S * SFREQ))
    corpora: dict[str, np.ndarray] = {}
    for name, kind in EXTRA_EEG.items():
        try:
            reader = open_dataset(find_dataset(name, data_dir))
        except DataError:
            notes.append(f"pre-training: the {name} folder is absent from the data directory; skipped.")
            continue
        if kind == "continuous":
            windows = cached_windows(reader, _continuous_pipeline(), progress=False)
        else:
            windows = splice_epochs(cached_windows(reader, _epochs_pipeline(), progress=False), patch)
        data = np.asarray(windows.data)
        corpora[name] = _ChannelScaler.fit(data).transform(data)
    return corpora


class _ChannelScaler(NamedTuple):
    """Per-channel robust standardisation with fixed statistics: the median and
    1.4826 x the median absolute deviation (the standard deviation for Gaussian data,
    but not inflated by the few large artefacts: blinks, movement, electrode pops)."""

    center: np.ndarray
    scale: np.ndarray

    @classmethod
    def fit(cls, data: np.ndarray) -> _ChannelScaler:
        x = np.moveaxis(np.asarray(data, dtype=np.float64), 1, 0).reshape(np.shape(data)[1], -1)
        if not np.isfinite(x).all():
            raise DataError(None, "windows contain NaN or Inf")
        center = np.median(x, axis=1)
        scale = 1.4826 * np.median(np.abs(x - center[:, None]), axis=1)
        return cls(center[:, None], np.maximum(scale, 1e-6)[:, None])

    def transform(self, data: np.ndarray) -> np.ndarray:
        out = (np.asarray(data, dtype=np.float64) - self.center) / self.scale
        return np.clip(out, -CLIP_SD, CLIP_SD).astype(np.float32)


def standardise_per_recording(windows: Windows) -> np.ndarray:
    """Windows standardised with each recording's own robust channel statistics.

    Used for the ECG, whose amplitude depends on electrode placement and contact in each
    recording and says nothing about the task, while its rhythm does. The statistics are
    the recording's own (no label, no other subject), so test recordings may use them.
    """
    out = np.empty(windows.data.shape, dtype=np.float32)
    recordings = windows.table["recording"].astype(str).to_numpy()
    for rec in np.unique(recordings):
        rows = np.flatnonzero(recordings == rec)
        out[rows] = _ChannelScaler.fit(windows.data[rows]).transform(windows.data[rows])
    return out


# ============================================================================ models
def montage_view(encoder: CBraModMAE, n_chans: int) -> CBraModMAE:
    """The same encoder (every parameter shared, not copied) accepting ``n_chans`` leads.

    :class:`CBraModMAE` has no per-channel weights: its patch embedding, positional
    convolution and criss-cross layers apply to any number of leads; only its input
    check and mask sampling read ``n_chans``. A shallow copy with another ``n_chans``
    therefore trains the one set of weights on every montage.
    """
    if n_chans == encoder.n_chans:
        return encoder
    view = copy.copy(encoder)
    view.n_chans = int(n_chans)
    return view


def _encoder(n_chans: int, budget: FusionBudget, modality: str) -> CBraModMAE:
    patch = int(round(PATCH_S * SFREQ))
    return create_encoder(
        "cbramod_mae", n_chans=n_chans, n_times=int(round(WINDOW_S * SFREQ)), sfreq=SFREQ, emb_dim=budget.emb_dim,
        modality=modality, patch_size=patch, width=budget.width, depth=budget.depth, heads=budget.heads,
        dim_feedforward=2 * budget.width, dropout=0.1,
    )


def _batches(n: int, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Shuffled index batches of ``range(n)``; a last batch of one window is dropped."""
    order = rng.permutation(n)
    return [b for b in np.array_split(order, max(1, int(np.ceil(n / batch_size)))) if len(b) > 1]


def _reconstruction_loss(encoder: CBraModMAE, data: np.ndarray, batch_size: int, seed: int) -> float:
    """Masked-patch MSE on ``data`` with masks fixed by ``seed`` (comparable across epochs)."""
    loss_fn = MaskedReconstructionLoss()
    generator = torch.Generator().manual_seed(seed)
    view = montage_view(encoder, data.shape[1])
    encoder.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(data), batch_size):
            x = torch.from_numpy(data[start:start + batch_size])
            mask = view.sample_mask(len(x), generator=generator)
            out = view.forward_mae(x, mask)
            total += float(loss_fn(out.pred, out.target, out.mask.bool())) * len(x)
            count += len(x)
    encoder.train()
    return total / max(1, count)


def pretrain(encoder: CBraModMAE, corpora: Sequence[np.ndarray], val: np.ndarray | None, epochs: int,
             batch_size: int, lr: float, weight_decay: float, seed: int,
             progress: Callable[[str], None] | None = None) -> list[dict[str, float]]:
    """Dual-masked reconstruction training of ``encoder`` on a mixed stream of corpora.

    Each corpus is ``(windows, leads, times)`` standardised data of one montage; every
    batch comes from one corpus and the batches of all corpora are interleaved at
    random each epoch. AdamW with a cosine-decayed rate and gradient clipping at 1.
    Returns one row per epoch: ``train_loss`` (mean masked MSE over the epoch's batches)
    and, with ``val``, ``val_loss`` (fixed masks).
    """
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    loss_fn = MaskedReconstructionLoss()
    opt = torch.optim.AdamW(encoder.parameters(), lr=lr, weight_decay=weight_decay)
    n_steps = epochs * sum(len(_batches(len(c), batch_size, rng)) for c in corpora)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, n_steps))
    views = {c.shape[1]: montage_view(encoder, c.shape[1]) for c in corpora}
    history = []
    encoder.train()
    for epoch in range(epochs):
        plan = [(k, b) for k, c in enumerate(corpora) for b in _batches(len(c), batch_size, rng)]
        order = rng.permutation(len(plan))
        losses = []
        for i in order:
            k, rows = plan[i]
            x = torch.from_numpy(corpora[k][np.sort(rows)])
            out = views[x.shape[1]].forward_mae(x)
            loss = loss_fn(out.pred, out.target, out.mask.bool())
            opt.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(encoder.parameters(), 1.0)
            opt.step()
            sched.step()
            losses.append(float(loss.detach()))
        row = {"epoch": epoch + 1, "train_loss": float(np.mean(losses))}
        if val is not None and len(val):
            row["val_loss"] = _reconstruction_loss(encoder, val, batch_size, seed)
        history.append(row)
        if progress is not None:
            progress(f"epoch {epoch + 1}/{epochs} loss {row['train_loss']:.3f}")
    encoder.eval()
    return history


class _Part(NamedTuple):
    """One part of a fold: standardised EEG and ECG windows and integer labels."""

    eeg: torch.Tensor
    ecg: torch.Tensor
    y: torch.Tensor


def _logits(model: FusionClassifier, part: _Part, batch_size: int) -> torch.Tensor:
    model.eval()
    with torch.no_grad():
        return torch.cat([model(part.eeg[i:i + batch_size], part.ecg[i:i + batch_size])
                          for i in range(0, len(part.y), batch_size)])


def finetune(model: FusionClassifier, train: _Part, val: _Part, budget: FusionBudget, seed: int) -> FusionClassifier:
    """Train ``model`` (encoders and head) with cross-entropy; keep the weights of the
    epoch with the lowest validation loss, stop after ``budget.patience`` epochs without
    improvement."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=budget.finetune_lr,
                            weight_decay=budget.weight_decay)
    loss_fn = nn.CrossEntropyLoss()
    best, best_state, waited = np.inf, copy.deepcopy(model.state_dict()), 0
    for _ in range(budget.finetune_epochs):
        model.train()
        for rows in _batches(len(train.y), budget.batch_size, rng):
            idx = torch.from_numpy(np.sort(rows))
            loss = loss_fn(model(train.eeg[idx], train.ecg[idx]), train.y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
        val_loss = float(loss_fn(_logits(model, val, 256), val.y))
        if val_loss < best - 1e-4:
            best, best_state, waited = val_loss, copy.deepcopy(model.state_dict()), 0
        else:
            waited += 1
            if waited >= budget.patience:
                break
    model.load_state_dict(best_state)
    return model.eval()


def _variant_specs(cross_attention: bool) -> dict[str, tuple[str, bool]]:
    """Variant name -> (FusionClassifier mode, encoders pre-trained?)."""
    specs = {"eeg_only": ("eeg_only", True), "ecg_only": ("ecg_only", True), "fused": ("concat", True)}
    if cross_attention:
        specs["fused_xattn"] = ("cross_attention", True)
    specs["scratch"] = ("eeg_only", False)
    return specs


# ============================================================================ figures
def _plot_reconstruction(examples: Sequence[tuple[str, np.ndarray, np.ndarray, np.ndarray]], path: Path) -> Path:
    """True (black) vs reconstructed (blue) traces, hidden patches shaded; one row per
    ``(name, true, reconstruction, hidden)`` example, each ``(times,)``."""
    from brainalign.report.figures import plt, save_figure

    fig, axes = plt.subplots(len(examples), 1, figsize=(8, 1.4 * len(examples) + 0.6), sharex=True, squeeze=False)
    t = np.arange(len(examples[0][1])) / SFREQ
    for ax, (name, true, recon, hidden) in zip(axes[:, 0], examples):
        ax.fill_between(t, 0, 1, where=hidden, transform=ax.get_xaxis_transform(), color="0.9", step="mid",
                        label="hidden patch")
        ax.plot(t, true, color="0.1", lw=0.8, label="true")
        ax.plot(t, recon, color="tab:blue", lw=0.8, label="reconstruction")
        ax.set_ylabel(name, fontsize=8)
        ax.spines[["top", "right"]].set_visible(False)
    axes[0, 0].legend(fontsize=7, frameon=False, ncol=3, loc="lower left", bbox_to_anchor=(0.0, 1.0))
    axes[-1, 0].set_xlabel("time (s); standardised units")
    fig.suptitle("masked reconstruction of held-out (validation-subject) windows, fold 1", fontsize=9, y=1.02)
    fig.tight_layout()
    return save_figure(fig, path)


def _reconstruction_examples(eeg_encoder: CBraModMAE, ecg_encoder: CBraModMAE, eeg: np.ndarray,
                             ecg: np.ndarray, ch_names: Sequence[str], seed: int
                             ) -> list[tuple[str, np.ndarray, np.ndarray, np.ndarray]]:
    """Four EEG channels and the ECG of one held-out window, through :meth:`CBraModMAE.reconstruct`."""
    torch.manual_seed(seed)
    out = []
    for encoder, x, names in ((eeg_encoder, eeg, ch_names), (ecg_encoder, ecg, ["ECG"])):
        _, recon, hidden = encoder.reconstruct(torch.from_numpy(x[None]))
        for c in range(min(4, x.shape[0])):
            out.append((str(names[c]), x[c], recon[0, c].numpy(), hidden[0, c].numpy()))
    return out


# ============================================================================ scoring
def _difference(y: np.ndarray, a: np.ndarray, b: np.ndarray, groups: np.ndarray, n_boot: int, seed: int) -> str:
    """``bacc(a) - bacc(b)`` with a subject-clustered bootstrap interval, as text."""
    def diff(yt: np.ndarray, pair: np.ndarray) -> float:
        return balanced_accuracy(yt, pair[:, 0]) - balanced_accuracy(yt, pair[:, 1])

    pair = np.column_stack([a, b])
    low, high = bootstrap_ci(diff, y, pair, n_boot=n_boot, seed=seed, groups=groups)
    return f"{diff(y, pair):+.3f} [{low:+.3f}, {high:+.3f}]"


def _mean_baseline(per_fold: list[dict[str, Any]]) -> dict[str, float]:
    """Fold scores averaged with the test sizes as weights."""
    w = np.array([f["n_test"] for f in per_fold], dtype=float)
    out = {"balanced_accuracy": float(np.average([f["balanced_accuracy"] for f in per_fold], weights=w))}
    if all("auc" in f for f in per_fold):
        out["auc"] = float(np.average([f["auc"] for f in per_fold], weights=w))
    return out


# ============================================================================ the task
def _fold_subjects(split: Split) -> dict[str, set[str]]:
    return {part: {str(g) for g in split.groups.get(part, [])} for part in ("train", "val", "test")}


def _subsample(data: np.ndarray, limit: int | None, rng: np.random.Generator) -> np.ndarray:
    if limit is None or len(data) <= limit:
        return data
    return data[np.sort(rng.choice(len(data), limit, replace=False))]


def run_fusion_benchmark(data_dir: str | os.PathLike | None = None, out_dir: str | os.PathLike | None = None,
                         seed: int = 0, quick: bool = False, *, progress: bool = True,
                         threads: int | None = None) -> TaskResult:
    """Run the pre-training + fusion experiment (module docstring) and return its task entry.

    ``out_dir`` (required) receives the figures and ``predictions.csv`` (out-of-fold
    class-1 probabilities of every variant). ``quick`` uses :data:`QUICK` (same
    protocol, little training). ``threads``: torch CPU threads (default: the cores this
    process may use); the previous setting is restored afterwards.

    Returns ``{"description", "protocol", "metrics": {variant: {value, ci_low, ci_high,
    p_value, chance}}, "baselines": {name: {"balanced_accuracy", "auc"}}, "figures":
    {name: png path}, "notes": [...]}``.
    """
    if out_dir is None:
        raise ConfigError("run_fusion_benchmark: out_dir is required")
    import mne
    from tqdm.auto import tqdm

    budget = QUICK if quick else FULL
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(threads or len(os.sched_getaffinity(0)))
    started = time.perf_counter()
    try:
        with mne.utils.use_log_level("error"):
            return _run(data_dir, out, seed, budget, quick, progress, tqdm, started)
    finally:
        torch.set_num_threads(previous_threads)


def _run(data_dir: str | os.PathLike | None, out: Path, seed: int, budget: FusionBudget, quick: bool,
         progress: bool, tqdm: Any, started: float) -> TaskResult:
    notes: list[str] = []
    eeg_all, ecg_all = _load_eegmat(data_dir)
    extra = _load_extra_eeg(data_dir, notes)
    keep = downstream_mask(eeg_all.table)
    eeg_down, ecg_down = eeg_all.select(keep), ecg_all.select(keep)
    table = eeg_down.table
    labels = table["label"].astype(str).to_numpy()
    unknown = sorted(set(labels) - set(CLASSES))
    if unknown:
        raise DataError(None, f"eegmat windows carry unexpected labels {unknown}")
    y = (labels == CLASSES[1]).astype(np.int64)
    subjects_all = eeg_all.table["subject"].astype(str).to_numpy()
    ecg_std = standardise_per_recording(ecg_all)
    ecg_std_down = ecg_std[keep]

    specs = _variant_specs(budget.cross_attention)
    proba = {name: np.full(len(y), np.nan) for name in specs}
    baseline_folds: dict[str, list[dict[str, Any]]] = {"bandpower_lr": [], "ecg_hrv_lr": []}
    curves: list[list[dict[str, float]]] = []
    figures: dict[str, str] = {}
    pretrain_counts: dict[str, int] = {}

    folds = list(group_kfold(table, by="subject", n_splits=budget.n_folds, seed=seed, val=budget.n_val_subjects))
    bar = tqdm(total=len(folds) * (2 + len(specs)), desc="fusion", unit="stage", disable=not progress)
    for split in folds:
        fold = int(split.fold or 0)
        split.check(table)
        groups = _fold_subjects(split)
        rng = np.random.default_rng([seed, fold])
        fold_seed = seed * 1000 + fold * 10

        # --- pre-training: other sets + this fold's eegmat training subjects only
        pre_rows = np.isin(subjects_all, sorted(groups["train"]))
        val_rows = np.isin(subjects_all, sorted(groups["val"]))
        eeg_scaler = _ChannelScaler.fit(eeg_all.data[pre_rows])
        eeg_corpora = {"eegmat": eeg_scaler.transform(eeg_all.data[pre_rows]), **extra}
        eeg_corpora = {k: _subsample(v, budget.max_pretrain_windows, rng) for k, v in eeg_corpora.items()}
        ecg_corpus = _subsample(ecg_std[pre_rows], budget.max_pretrain_windows, rng)
        val_eeg = _subsample(eeg_scaler.transform(eeg_all.data[val_rows]), 256, rng)
        val_ecg = _subsample(ecg_std[val_rows], 256, rng)
        if fold == 0:
            pretrain_counts = {k: len(v) for k, v in eeg_corpora.items()} | {"eegmat_ecg": len(ecg_corpus)}

        def report(stage: str, fold: int = fold) -> Callable[[str], None]:
            return lambda msg: bar.set_postfix_str(f"fold {fold + 1} {stage} {msg}")

        torch.manual_seed(fold_seed)
        eeg_encoder = _encoder(eeg_all.n_channels, budget, "eeg")
        eeg_hist = pretrain(eeg_encoder, list(eeg_corpora.values()), val_eeg, budget.pretrain_epochs,
                            budget.batch_size, budget.pretrain_lr, budget.weight_decay, fold_seed + 1,
                            report("EEG pre-training"))
        bar.update()
        torch.manual_seed(fold_seed + 2)
        ecg_encoder = _encoder(1, budget, "ecg")
        ecg_hist = pretrain(ecg_encoder, [ecg_corpus], val_ecg, budget.pretrain_epochs, budget.batch_size,
                            budget.pretrain_lr, budget.weight_decay, fold_seed + 3, report("ECG pre-training"))
        bar.update()
        curves.append([{"epoch": e["epoch"], "eeg_train_loss": e["train_loss"], "eeg_val_loss": e["val_loss"],
                        "ecg_train_loss": c["train_loss"], "ecg_val_loss": c["val_loss"]}
                       for e, c in zip(eeg_hist, ecg_hist)])
        if fold == 0:
            examples = _reconstruction_examples(eeg_encoder, ecg_encoder, val_eeg[0], val_ecg[0],
                                                eeg_all.ch_names, fold_seed + 4)
            figures["reconstruction"] = str(_plot_reconstruction(examples, out / "reconstruction.png"))

        # --- downstream: fine-tune every variant on this fold
        def part(name: str, split: Split = split, eeg_scaler: _ChannelScaler = eeg_scaler) -> _Part:
            rows = split.part(name)
            return _Part(torch.from_numpy(eeg_scaler.transform(eeg_down.data[rows])),
                         torch.from_numpy(ecg_std_down[rows]),
                         torch.from_numpy(y[rows]))

        train, val, test = part("train"), part("val"), part("test")
        eeg_state, ecg_state = eeg_encoder.state_dict(), ecg_encoder.state_dict()
        for k, (name, (mode, pretrained)) in enumerate(specs.items()):
            bar.set_postfix_str(f"fold {fold + 1} fine-tuning {name}")
            torch.manual_seed(fold_seed + 5 + k)
            eeg_enc = _encoder(eeg_all.n_channels, budget, "eeg") if mode != "ecg_only" else None
            ecg_enc = _encoder(1, budget, "ecg") if mode != "eeg_only" else None
            if pretrained:
                eeg_enc = eeg_enc if eeg_enc is None else load_pretrained_encoder(eeg_state, eeg_enc, prefix="")
                ecg_enc = ecg_enc if ecg_enc is None else load_pretrained_encoder(ecg_state, ecg_enc, prefix="")
            model = FusionClassifier(eeg_enc, ecg_enc, n_classes=2, mode=mode, hidden=budget.emb_dim)
            model = finetune(model, train, val, budget, fold_seed + 5 + k)
            proba[name][split.test] = torch.softmax(_logits(model, test, 256), dim=1)[:, 1].numpy()
            bar.update()

        # --- classical baselines on the same windows and fold
        baseline_folds["bandpower_lr"].append(run_baseline("bandpower_lr", eeg_down, split, seed=seed))
        baseline_folds["ecg_hrv_lr"].append(run_baseline("ecg_hrv_lr", eeg_down, split, seed=seed,
                                                         ecg_windows=ecg_down))
    bar.close()

    if any(np.isnan(p).any() for p in proba.values()):
        raise DataError(None, "some windows were never tested (folds do not cover every subject)")
    subjects = table["subject"].astype(str).to_numpy()
    recordings = table["recording"].astype(str).to_numpy()
    chance = chance_level(y, "balanced_accuracy")
    predictions = {name: (p >= 0.5).astype(np.int64) for name, p in proba.items()}
    metrics: dict[str, Score] = {}
    for name, pred in predictions.items():
        metrics[name] = score_with_stats(balanced_accuracy, y, pred, chance, n_boot=budget.n_boot,
                                         n_perm=budget.n_perm, seed=seed, groups=subjects, units=recordings)
    metrics["pretrained"] = metrics["eeg_only"]

    pd_out = table[["recording", "subject", "start", "label"]].copy()
    for name, p in proba.items():
        pd_out[f"p_{name}"] = p
    atomic_write_text(out / "predictions.csv", pd_out.to_csv(index=False))

    mean_curve = [{key: float(np.mean([c[e][key] for c in curves])) for key in curves[0][e]}
                  for e in range(len(curves[0]))]
    from brainalign.report.plots import plot_scores_with_ci
    from brainalign.training.curves import plot_training_curves

    figures["pretraining_loss"] = str(plot_training_curves(mean_curve, out / "pretraining_loss.png"))
    baselines = {name: _mean_baseline(folds_) for name, folds_ in baseline_folds.items()}

    def diff(a: str, b: str) -> str:
        return _difference(y, predictions[a], predictions[b], subjects, budget.n_boot, seed)

    notes += [
        f"{'QUICK mode (little training: for tests and demos, not for conclusions). ' if quick else ''}"
        f"Ran in {time.perf_counter() - started:.0f} s on {torch.get_num_threads()} CPU thread(s).",
        "Pre-training never sees a test subject: in every fold the EEG encoder is pre-trained on EEGMMIDB, "
        "N170 and N400 windows plus the eegmat windows (whole recordings) of that fold's training subjects; "
        "its validation subjects give the held-out reconstruction loss (curves: mean over folds; an encoder "
        "predicting zeros scores 1.0 on standardised data); the ECG encoder likewise on eegmat ECG.",
        f"Pre-training windows per fold (fold 1): {pretrain_counts}. Masking: 50% of the 1 s patches of each "
        "lead and 20% of whole EEG leads (none for the single ECG lead); "
        f"encoder width {budget.width}, depth {budget.depth}, {budget.pretrain_epochs} epochs.",
        "N400 epochs (1.2 s at 50 Hz) are shorter than a window: two consecutive epochs, 1 s each at 100 Hz, "
        "are joined at the patch boundary.",
        "Downstream windows: the last 60 s of each rest recording and the whole 62 s task recording (2 s windows, "
        "EEG and ECG of the same span), band-passed 0.5-40 Hz (above ~40 Hz the files were filtered differently "
        "by condition, data README). EEG standardised per channel (median, MAD) with the fold's training-subject "
        "statistics, ECG with each recording's own (its amplitude depends on the electrodes, its rhythm on the "
        "task); the other EEG sets with their own.",
        "'pretrained' is 'eeg_only' (pre-trained EEG encoder, fine-tuned) under the name that pairs it with "
        "'scratch' (the same EEG encoder and training from random weights).",
        f"Paired differences (balanced accuracy, 95% subject-bootstrap interval): pretrained - scratch "
        f"{diff('eeg_only', 'scratch')}; fused - eeg_only {diff('fused', 'eeg_only')}; fused - ecg_only "
        f"{diff('fused', 'ecg_only')}.",
        "Baselines: brainalign.evaluation.baselines (bandpower_lr: log band power <= 40 Hz + LR; ecg_hrv_lr: "
        "HR/HRV from R peaks + LR) fitted on each fold's training + validation subjects, scores averaged over "
        "folds weighted by test size. Data README reference: ECG HR/HRV + LR 0.707, EEG band power + LR 0.605.",
        "The ECG of Subject02_1 and Subject13_1 shows no heartbeat (data README); those recordings are kept.",
    ]
    entry = TaskResult(
        description="Masked (CBraMod dual-mask) pre-training of EEG and ECG encoders, then EEG+ECG fusion: "
                       "eegmat rest vs mental arithmetic",
        protocol=f"GroupKFold by subject ({budget.n_folds} folds, 16 subjects each tested once, "
                    f"{budget.n_val_subjects} validation subjects per fold for early stopping); 2 s windows at "
                    f"{SFREQ:g} Hz; out-of-fold predictions pooled; balanced accuracy, bootstrap over recordings, "
                    "permutation of recording labels within subject",
        metrics=metrics,
        baselines=baselines,
        figures=figures,
        notes=notes,
    )
    figures["scores"] = str(plot_scores_with_ci(entry.to_dict(), out / "scores.png"))
    return entry


def task_fusion(b: Any) -> dict[str, TaskResult]:
    """The benchmark task: :func:`run_fusion_benchmark` with the run's budget."""
    res = run_fusion_benchmark(data_dir=b.data_dir, out_dir=b.out / "fusion", seed=b.seed,
                               quick=b.budget.fusion_quick, progress=False)
    return {"eegmat_fusion": res.headline("fused")}
