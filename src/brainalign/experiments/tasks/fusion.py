"""Masked pre-training of EEG and ECG encoders, then EEG+ECG fusion on eegmat (rest vs arithmetic).

:func:`run_fusion_benchmark` is the whole experiment as one benchmark task. It trains nothing
itself: every model is a run of the one trainer (:func:`brainalign.training.trainer.train`)
on a shipped recipe plus overrides, fold by fold; this module pools the runs' test
predictions and scores them.

1. **Masked pre-training** (CBraMod-style dual masking, ``cbramod_mae``), per fold:
   ``pretrain_eeg_all`` (eegmat + EEGMMIDB, N170 and N400 windows: four montages, one
   encoder, batches of one corpus each, interleaved) and ``pretrain_ecg_eegmat`` (the eegmat
   ECG lead), both with the fold's split (``data.split.kind=kfold``...), so that **no test
   subject is ever seen**: eegmat enters pre-training through its training subjects only;
   its validation subjects give the held-out reconstruction loss. The extra sets a data
   directory lacks are left out of ``data.extra`` with a note.
2. **Downstream**, rest vs mental arithmetic, subject-disjoint: ``group_kfold`` by subject
   (4 folds, each subject tested once, two validation subjects per fold for early stopping),
   recipe ``eegmat_fusion`` (last 60 s of each rest recording and the whole 62 s task, EEG and
   ECG of the same 2 s span) with ``model.classifier=mlp``
   (:class:`~brainalign.models.fusion.FusionClassifier`). Variants: ``eeg_only``
   (``model.fusion=eeg``), ``ecg_only`` (``pair``), ``fused`` (``concat``), ``fused_xattn``
   (``cross_attention``), each from the pre-trained encoders (``init_from``), and ``scratch``
   (``eeg`` without ``init_from``). ``pretrained`` is ``eeg_only`` under the name that pairs
   it with ``scratch``.
3. **Scores**: out-of-fold predictions (each run's ``test_predictions.csv``) pooled over folds;
   balanced accuracy with a bootstrap interval resampling recordings and a permutation
   p-value that permutes recording labels within subject
   (:func:`~brainalign.evaluation.stats.score_with_stats`). The classical baselines
   ``bandpower_lr`` and ``ecg_hrv_lr`` (:mod:`brainalign.evaluation.baselines`) run on the same
   windows and folds.

Budgets (:data:`~brainalign.experiments.budgets.FUSION_FULL` / ``FUSION_QUICK``) are recipe
overrides.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import yaml

from brainalign.data.catalog import find_dataset, open_named
from brainalign.data.splits import Split, group_kfold
from brainalign.errors import ConfigError, DataError
from brainalign.evaluation.baselines import run_baseline
from brainalign.evaluation.metrics import balanced_accuracy
from brainalign.evaluation.stats import bootstrap_ci, chance_level, score_with_stats
from brainalign.experiments.budgets import FUSION_FULL, FUSION_QUICK, FusionBudget
from brainalign.models.cbramod_mae import CBraModMAE
from brainalign.preprocessing.cache import cached_windows
from brainalign.preprocessing.pipeline import Windows, align_windows
from brainalign.preprocessing.presets import get_preset
from brainalign.recipes import recipe_path
from brainalign.results import Score, TaskResult
from brainalign.training.data import last_seconds_mask
from brainalign.training.recipe import Recipe, load_recipe
from brainalign.utils.io import atomic_write_text

__all__ = ["CLASSES", "VARIANTS", "recipe_overrides", "run_fusion_benchmark", "task_fusion"]

#: Common rate of every pre-training and downstream window (Hz).
SFREQ = 100.0
#: Window length (s); the downstream protocol's 2 s windows.
WINDOW_S = 2.0
#: The two conditions, negative class first.
CLASSES = ("rest", "arithmetic")
#: Variant -> (model.fusion of eegmat_fusion, encoders pre-trained?)
VARIANTS: dict[str, tuple[str, bool]] = {
    "eeg_only": ("eeg", True),
    "ecg_only": ("pair", True),
    "fused": ("concat", True),
    "fused_xattn": ("cross_attention", True),
    "scratch": ("eeg", False),
}


# ============================================================================ recipes
def _split_overrides(fold: int, budget: FusionBudget, seed: int) -> list[str]:
    return [
        "data.split.kind=kfold",
        "data.split.by=subject",
        f"data.split.n_splits={budget.n_folds}",
        f"data.split.fold={fold}",
        f"data.split.val={budget.n_val_subjects}",
        f"data.split.seed={seed}",
    ]


def _present_extra(
    recipe: Recipe, data_dir: str | os.PathLike | None, budget: FusionBudget, notes: list[str]
) -> list[dict[str, Any]]:
    """The recipe's extra pre-training corpora that the data directory holds, capped by the budget."""
    out = []
    for extra in recipe.data.extra:
        try:
            find_dataset(extra.dataset, data_dir)
        except DataError:
            notes.append(f"pre-training: the {extra.dataset} folder is absent from the data directory; skipped.")
            continue
        entry = {
            "dataset": extra.dataset,
            "preset": extra.preset,
            "reader_params": extra.reader_params,
            "preset_params": extra.preset_params,
            "join_epochs": extra.join_epochs,
            "max_windows": budget.max_pretrain_windows if extra.max_windows is None else extra.max_windows,
        }
        out.append(entry)
    return out


def recipe_overrides(
    kind: str,
    fold: int,
    budget: FusionBudget,
    seed: int,
    *,
    variant: str = "",
    init: tuple[str, str] = ("", ""),
    extra: Sequence[dict[str, Any]] | None = None,
) -> list[str]:
    """The ``--set`` items of one run: ``kind`` ``eeg`` / ``ecg`` (pre-training) or
    ``finetune`` (``variant`` of :data:`VARIANTS`, ``init``: the EEG and ECG pre-training runs)."""
    fold_seed = seed * 1000 + fold * 10
    items = _split_overrides(fold, budget, seed)
    if kind in ("eeg", "ecg"):
        items += list(budget.pretrain) + [f"seed={fold_seed + (1 if kind == 'eeg' else 3)}"]
        if budget.max_pretrain_windows is not None:
            # a random subset before the split: about this many of the training subjects' windows
            items.append(f"data.max_windows={int(round(budget.max_pretrain_windows * 1.5))}")
        if kind == "eeg" and extra is not None:
            items.append("data.extra=" + yaml.safe_dump(list(extra), default_flow_style=True, width=10**6).strip())
        return items
    if variant not in VARIANTS:
        raise ConfigError(f"fusion: unknown variant {variant!r}; choose from {list(VARIANTS)}")
    fusion, pretrained = VARIANTS[variant]
    k = list(VARIANTS).index(variant)
    items += list(budget.finetune) + ["model.classifier=mlp", f"model.fusion={fusion}", f"seed={fold_seed + 5 + k}"]
    if pretrained:
        if fusion != "pair":
            items.append(f"model.eeg.init_from={init[0]}")
        if fusion != "eeg":
            items.append(f"model.pair.init_from={init[1]}")
    return items


def _train(name: str, overrides: list[str], run: Path, data_dir: str | os.PathLike | None) -> dict[str, Any]:
    from brainalign.training.trainer import train

    recipe = load_recipe(recipe_path(name), overrides)
    if (run / "metrics.json").is_file():  # finished before (a resumed experiment): reuse it
        return json.loads((run / "metrics.json").read_text())
    return train(recipe, run, data_dir=data_dir, progress=False, resume=(run / "checkpoints").is_dir())


def _split_subjects(run: Path) -> dict[str, set[str]]:
    split = json.loads((run / "config.json").read_text())["split"]
    return {part: {str(g) for g in split["groups"].get(part, [])} for part in ("train", "val", "test")}


# ============================================================================ figures
def _plot_reconstruction(examples: Sequence[tuple[str, np.ndarray, np.ndarray, np.ndarray]], path: Path) -> Path:
    """True (black) vs reconstructed (blue) traces, hidden patches shaded; one row per
    ``(name, true, reconstruction, hidden)`` example, each ``(times,)``."""
    from brainalign.report.figures import plt, save_figure

    fig, axes = plt.subplots(len(examples), 1, figsize=(8, 1.4 * len(examples) + 0.6), sharex=True, squeeze=False)
    t = np.arange(len(examples[0][1])) / SFREQ
    for ax, (name, true, recon, hidden) in zip(axes[:, 0], examples):
        ax.fill_between(
            t, 0, 1, where=hidden, transform=ax.get_xaxis_transform(), color="0.9", step="mid", label="hidden patch"
        )
        ax.plot(t, true, color="0.1", lw=0.8, label="true")
        ax.plot(t, recon, color="tab:blue", lw=0.8, label="reconstruction")
        ax.set_ylabel(name, fontsize=8)
        ax.spines[["top", "right"]].set_visible(False)
    axes[0, 0].legend(fontsize=7, frameon=False, ncol=3, loc="lower left", bbox_to_anchor=(0.0, 1.0))
    axes[-1, 0].set_xlabel("time (s); standardised units")
    fig.suptitle("masked reconstruction of held-out (validation-subject) windows, fold 1", fontsize=9, y=1.02)
    fig.tight_layout()
    return save_figure(fig, path)


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


def _load_eegmat(data_dir: str | os.PathLike | None) -> tuple[Windows, Windows]:
    """Aligned EEG (19 channels) and ECG (1 lead) windows of the downstream protocol, for the
    baselines and the pooled table (the runs read the same windows through the recipe)."""
    recipe = load_recipe(recipe_path("eegmat_fusion"))
    reader = open_named(recipe.data.dataset, data_dir)
    eeg = cached_windows(reader, get_preset(recipe.data.preset, **recipe.data.preset_params), progress=False)
    ecg = cached_windows(reader, get_preset(recipe.data.pair_preset, **recipe.data.pair_preset_params), progress=False)
    eeg, ecg = align_windows(eeg, ecg)
    keep = np.flatnonzero(last_seconds_mask(eeg.table, recipe.data.last_s, eeg.n_times / eeg.sfreq))
    return eeg.select(keep), ecg.select(keep)


def _pooled(proba: np.ndarray, run: Path, table: pd.DataFrame, fold: int) -> None:
    """Write the run's test probabilities of class 1 into ``proba`` at their rows of ``table``."""
    pred = pd.read_csv(run / "test_predictions.csv", dtype={"recording": str, "subject": str})
    index = pd.Series(
        np.arange(len(table)),
        index=pd.MultiIndex.from_arrays([table["recording"].astype(str), table["start"].astype(float).round(6)]),
    )
    rows = index.reindex(pd.MultiIndex.from_arrays([pred["recording"], pred["start"].astype(float).round(6)]))
    if rows.isna().any():
        raise DataError(run / "test_predictions.csv", f"fold {fold + 1}: windows absent from the downstream table")
    proba[rows.to_numpy(dtype=np.int64)] = pred[f"p_{CLASSES[1]}"].to_numpy(dtype=float)


def _reconstruction_figure(runs: tuple[Path, Path], data_dir: str | os.PathLike | None, out: Path, seed: int) -> Path:
    """True vs reconstructed traces of one validation window of fold 1, per pre-trained encoder."""
    from brainalign.models.aligned import build_model
    from brainalign.training.checkpoint import load_weights
    from brainalign.training.data import build_paired_data

    examples = []
    torch.manual_seed(seed)
    for run in runs:
        config = json.loads((run / "config.json").read_text())
        model = build_model(config["spec"])
        load_weights(model, run / "model.safetensors")
        recipe = load_recipe(
            recipe_path(config["recipe"]["name"]),
            [
                f"data.split.{k}={v}"
                for k, v in config["recipe"]["data"]["split"].items()
                if k in ("kind", "by", "n_splits", "fold", "val", "seed")
            ]
            + [
                f"data.max_windows={config['recipe']['data']['max_windows'] or 'null'}",
                f"seed={config['recipe']['seed']}",
                "data.extra=[]",
            ],
        )
        data = build_paired_data(recipe.data, data_dir, progress=False, seed=recipe.seed)
        x = np.asarray(data.windows.data[data.part("val")[0]], dtype=np.float32)
        encoder: CBraModMAE = model.eeg_encoder
        _, recon, hidden = encoder.reconstruct(torch.from_numpy(x[None]))
        names = list(data.windows.ch_names)
        for c in range(min(4, x.shape[0])):
            examples.append((str(names[c]), x[c], recon[0, c].numpy(), hidden[0, c].numpy()))
    return _plot_reconstruction(examples, out / "reconstruction.png")


def _curve(run: Path) -> list[dict[str, float]]:
    log = pd.read_csv(run / "log.csv")
    return [
        {"epoch": int(r.epoch) + 1, "train_loss": float(r.train_loss), "val_loss": float(r.val_loss)}
        for r in log.itertuples()
    ]


def run_fusion_benchmark(
    data_dir: str | os.PathLike | None = None,
    out_dir: str | os.PathLike | None = None,
    seed: int = 0,
    quick: bool = False,
    *,
    progress: bool = True,
    threads: int | None = None,
) -> TaskResult:
    """Run the pre-training + fusion experiment (module docstring) and return its task entry.

    ``out_dir`` (required) receives the figures, ``predictions.csv`` (out-of-fold class-1
    probabilities of every variant) and the run folders (``runs/fold{k}/...``). ``quick``
    uses :data:`~brainalign.experiments.budgets.FUSION_QUICK` (same protocol, little
    training). ``threads``: torch CPU threads (default: the cores this process may use);
    the previous setting is restored afterwards.
    """
    if out_dir is None:
        raise ConfigError("run_fusion_benchmark: out_dir is required")
    import mne
    from tqdm.auto import tqdm

    budget = FUSION_QUICK if quick else FUSION_FULL
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


def _run(
    data_dir: str | os.PathLike | None,
    out: Path,
    seed: int,
    budget: FusionBudget,
    quick: bool,
    progress: bool,
    tqdm: Any,
    started: float,
) -> TaskResult:
    notes: list[str] = []
    eeg_down, ecg_down = _load_eegmat(data_dir)
    table = eeg_down.table
    labels = table["label"].astype(str).to_numpy()
    unknown = sorted(set(labels) - set(CLASSES))
    if unknown:
        raise DataError(None, f"eegmat windows carry unexpected labels {unknown}")
    y = (labels == CLASSES[1]).astype(np.int64)
    extra = _present_extra(load_recipe(recipe_path("pretrain_eeg_all")), data_dir, budget, notes)

    specs = {k: v for k, v in VARIANTS.items() if budget.cross_attention or v[0] != "cross_attention"}
    proba = {name: np.full(len(y), np.nan) for name in specs}
    baseline_folds: dict[str, list[dict[str, Any]]] = {"bandpower_lr": [], "ecg_hrv_lr": []}
    curves: list[list[dict[str, float]]] = []
    figures: dict[str, str] = {}
    pretrain_counts: dict[str, int] = {}

    folds = list(group_kfold(table, by="subject", n_splits=budget.n_folds, seed=seed, val=budget.n_val_subjects))
    bar = tqdm(total=len(folds) * (2 + len(specs)), desc="fusion", unit="run", disable=not progress)
    for split in folds:
        fold = int(split.fold or 0)
        split.check(table)
        groups = _fold_subjects(split)
        runs = out / "runs" / f"fold{fold + 1}"

        # --- pre-training: other sets + this fold's eegmat training subjects only
        pre = {kind: runs / f"pretrain_{kind}" for kind in ("eeg", "ecg")}
        for kind, name in (("eeg", "pretrain_eeg_all"), ("ecg", "pretrain_ecg_eegmat")):
            bar.set_postfix_str(f"fold {fold + 1} {kind.upper()} pre-training")
            _train(name, recipe_overrides(kind, fold, budget, seed, extra=extra), pre[kind], data_dir)
            seen = _split_subjects(pre[kind])
            if seen["test"] != groups["test"] or seen["train"] != groups["train"]:
                raise DataError(pre[kind], f"fold {fold + 1}: pre-training split differs from the downstream fold")
            bar.update()
        eeg_log, ecg_log = _curve(pre["eeg"]), _curve(pre["ecg"])
        curves.append(
            [
                {
                    "epoch": e["epoch"],
                    "eeg_train_loss": e["train_loss"],
                    "eeg_val_loss": e["val_loss"],
                    "ecg_train_loss": c["train_loss"],
                    "ecg_val_loss": c["val_loss"],
                }
                for e, c in zip(eeg_log, ecg_log)
            ]
        )
        if fold == 0:
            described = json.loads((pre["eeg"] / "config.json").read_text())["data"]
            ecg_described = json.loads((pre["ecg"] / "config.json").read_text())["data"]
            pretrain_counts = {
                "eegmat": described["train"]["windows"],
                **{k: v["windows"] for k, v in described.get("extra", {}).items()},
                "eegmat_ecg": ecg_described["train"]["windows"],
            }
            figures["reconstruction"] = str(
                _reconstruction_figure((pre["eeg"], pre["ecg"]), data_dir, out, seed * 1000 + 4)
            )

        # --- downstream: fine-tune every variant on this fold
        for name in specs:
            bar.set_postfix_str(f"fold {fold + 1} fine-tuning {name}")
            run = runs / name
            _train(
                "eegmat_fusion",
                recipe_overrides("finetune", fold, budget, seed, variant=name, init=(str(pre["eeg"]), str(pre["ecg"]))),
                run,
                data_dir,
            )
            if _split_subjects(run)["test"] != groups["test"]:
                raise DataError(run, f"fold {fold + 1}: the run's test subjects differ from the fold's")
            _pooled(proba[name], run, table, fold)
            bar.update()

        # --- classical baselines on the same windows and fold
        baseline_folds["bandpower_lr"].append(run_baseline("bandpower_lr", eeg_down, split, seed=seed))
        baseline_folds["ecg_hrv_lr"].append(
            run_baseline("ecg_hrv_lr", eeg_down, split, seed=seed, ecg_windows=ecg_down)
        )
    bar.close()

    if any(np.isnan(p).any() for p in proba.values()):
        raise DataError(None, "some windows were never tested (folds do not cover every subject)")
    subjects = table["subject"].astype(str).to_numpy()
    recordings = table["recording"].astype(str).to_numpy()
    chance = chance_level(y, "balanced_accuracy")
    predictions = {name: (p >= 0.5).astype(np.int64) for name, p in proba.items()}
    metrics: dict[str, Score] = {}
    for name, pred in predictions.items():
        metrics[name] = score_with_stats(
            balanced_accuracy,
            y,
            pred,
            chance,
            n_boot=budget.n_boot,
            n_perm=budget.n_perm,
            seed=seed,
            groups=subjects,
            units=recordings,
        )
    metrics["pretrained"] = metrics["eeg_only"]

    pd_out = table[["recording", "subject", "start", "label"]].copy()
    for name, p in proba.items():
        pd_out[f"p_{name}"] = p
    atomic_write_text(out / "predictions.csv", pd_out.to_csv(index=False))

    mean_curve = [
        {key: float(np.mean([c[e][key] for c in curves])) for key in curves[0][e]}
        for e in range(min(len(c) for c in curves))
    ]
    from brainalign.report.plots import plot_scores_with_ci
    from brainalign.training.curves import plot_training_curves

    figures["pretraining_loss"] = str(plot_training_curves(mean_curve, out / "pretraining_loss.png"))
    baselines = {name: _mean_baseline(folds_) for name, folds_ in baseline_folds.items()}

    def diff(a: str, b: str) -> str:
        return _difference(y, predictions[a], predictions[b], subjects, budget.n_boot, seed)

    epochs = next((o.split("=")[1] for o in budget.pretrain if o.startswith("train.epochs=")), "?")
    notes += [
        f"{'QUICK mode (little training: for tests and demos, not for conclusions). ' if quick else ''}"
        f"Ran in {time.perf_counter() - started:.0f} s on {torch.get_num_threads()} CPU thread(s).",
        "Every model is a run of the one trainer (brainalign.training) on a shipped recipe plus overrides: "
        "pretrain_eeg_all, pretrain_ecg_eegmat and eegmat_fusion per fold and variant; run folders under runs/.",
        "Pre-training never sees a test subject: in every fold the EEG encoder is pre-trained on EEGMMIDB, "
        "N170 and N400 windows plus the eegmat windows (whole recordings) of that fold's training subjects; "
        "its validation subjects give the held-out reconstruction loss (curves: mean over folds; an encoder "
        "predicting zeros scores 1.0 on standardised data); the ECG encoder likewise on eegmat ECG.",
        f"Pre-training windows per fold (fold 1): {pretrain_counts}. Masking: 50% of the 1 s patches of each "
        "lead and 20% of whole EEG leads (none for the single ECG lead); "
        f"encoder width 64, depth 2, {epochs} epochs.",
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
        protocol=f"GroupKFold by subject ({budget.n_folds} folds, each subject tested once, "
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
    res = run_fusion_benchmark(
        data_dir=b.data_dir, out_dir=b.out / "fusion", seed=b.seed, quick=b.budget.fusion_quick, progress=False
    )
    return {"eegmat_fusion": res.headline("fused")}
