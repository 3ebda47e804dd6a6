"""Shared state and helpers of the real-data benchmark's tasks: training a recipe
into the run folder (reused when already finished), baselines measured once per
data set-up and split, cross-validated tasks with pooled out-of-fold predictions."""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from brainalign.errors import DataError
from brainalign.evaluation.protocols import (
    EvalSet,
    TaskPredictions,
    label_predictions,
    score_predictions,
)
from brainalign.experiments.budgets import Budget
from brainalign.experiments.evaluate import load_eval_set
from brainalign.recipes import recipe_path
from brainalign.results import Score

__all__ = ["Bench", "fold_overrides", "mean_baselines", "pooled", "strip_baselines"]


class Bench:
    """Shared state of one benchmark run: where runs go, data, budget, timing."""

    def __init__(
        self, out: Path, data_dir: str | os.PathLike | None, budget: Budget, seed: int, log: Callable[[str], None]
    ):
        self.out, self.data_dir, self.budget, self.seed, self.log = out, data_dir, budget, seed, log
        self.runs = out / "runs"
        self._baselines: dict[str, dict[str, dict[str, Any]]] = {}
        self.figures = out / "figures"
        self.figures.mkdir(parents=True, exist_ok=True)

    # ---------------------------------------------------------------- training
    def train(self, recipe: str, run: str, overrides: list[str]) -> Path:
        """Train ``recipe`` into ``runs/run`` (reused when it already finished with
        the same recipe and overrides: a benchmark can be resumed)."""
        from brainalign.training.recipe import load_recipe, recorded_recipe
        from brainalign.training.trainer import train

        rec = load_recipe(recipe_path(recipe), [f"seed={self.seed}", *overrides])
        folder = self.runs / run
        done = folder / "metrics.json"
        if done.exists():
            cfg = json.loads((folder / "config.json").read_text())
            if recorded_recipe(cfg.get("recipe")) == json.loads(json.dumps(rec.to_dict(), default=str)):
                return folder
            shutil.rmtree(folder)
        elif folder.exists():
            shutil.rmtree(folder)
        t0 = time.perf_counter()
        train(rec, folder, data_dir=self.data_dir, progress=False)
        self.log(f"    trained {run} in {time.perf_counter() - t0:.0f} s")
        return folder

    def eval_set(self, run: Path) -> EvalSet:
        return load_eval_set(run, self.data_dir)

    # ---------------------------------------------------------------- baselines
    def baselines(
        self,
        recipe: str,
        overrides: list[str],
        names: list[str],
        options: dict[str, dict[str, Any]] | None = None,
        ecg: bool = False,
        label_col: str = "label",
    ) -> dict[str, dict[str, Any]]:
        """Baselines on exactly the split the recipe (with overrides) trains on, predicting ``label_col``."""
        from brainalign.evaluation.baselines import run_baselines
        from brainalign.training.data import build_paired_data
        from brainalign.training.recipe import load_recipe

        rec = load_recipe(recipe_path(recipe), [f"seed={self.seed}", *overrides])
        # two recipes that differ only in the model (e.g. eegmat_text and eegmat_text_spectral)
        # share data and split, so their baselines are measured once
        key = json.dumps([rec.to_dict()["data"], names, options or {}, ecg, label_col], sort_keys=True, default=str)
        if key not in self._baselines:
            data = build_paired_data(rec.data, self.data_dir, progress=False, seed=self.seed)
            ecg_windows = ecg_windows_like(rec, data.windows, self.data_dir) if ecg else None
            self._baselines[key] = run_baselines(
                names,
                data.windows,
                data.split,
                label_col=label_col,
                seed=self.seed,
                ecg_windows=ecg_windows,
                options=options or {},
            )
        return self._baselines[key]

    def cv_baselines(
        self,
        recipe: str,
        n_folds: int,
        by: str,
        extra: list[str],
        names: list[str],
        options: dict[str, dict[str, Any]] | None = None,
        ecg: bool = False,
        label_col: str = "label",
    ) -> dict[str, dict[str, float]]:
        """Baselines on each fold of a cross-validated task, averaged (weighted by test size)."""
        return mean_baselines(
            [
                self.baselines(
                    recipe, [*fold_overrides(n_folds, by, f), *extra], names, options, ecg=ecg, label_col=label_col
                )
                for f in range(n_folds)
            ]
        )

    # ---------------------------------------------------------------- folds
    def cv_task(
        self,
        recipe: str,
        prefix: str,
        n_folds: int,
        by: str,
        columns: list[str],
        extra: list[str],
        shuffle: bool = False,
    ) -> tuple[dict[str, list[TaskPredictions]], list[Path]]:
        preds: dict[str, list[TaskPredictions]] = {c: [] for c in columns}
        runs = []
        for fold in range(n_folds):
            ov = [*fold_overrides(n_folds, by, fold), *extra]
            if shuffle:
                ov.append("data.shuffle_pairs=true")
            run = self.train(recipe, f"{prefix}{'_shuffled' if shuffle else ''}_fold{fold}", ov)
            runs.append(run)
            ev = self.eval_set(run)
            for c in columns:
                if c in ev.test and ev.test[c].notna().any():
                    preds[c].append(label_predictions(ev, c, few_shot=c == columns[0], seed=self.seed))
        return preds, runs


def fold_overrides(n_folds: int, by: str, fold: int) -> list[str]:
    return ["data.split.kind=kfold", f"data.split.by={by}", f"data.split.n_splits={n_folds}", f"data.split.fold={fold}"]


def ecg_windows_like(rec: Any, windows: Any, data_dir: Any) -> Any:
    """ECG windows cut exactly like ``windows`` (same recordings and starts): the
    recipe's preset run with the ECG modality as output."""
    from brainalign.preprocessing import Pipeline, cached_windows
    from brainalign.training.data import open_reader

    spec = dict(windows.pipeline)
    spec["modality"] = "ecg"
    # the EEG's own steps (filter, resample, ...) applied to the ECG instead; channel picks dropped
    spec["steps"] = [
        {**s, "modality": "ecg"} if s.get("modality") == "eeg" else s
        for s in spec["steps"]
        if s.get("step") != "PickChannels"
    ]
    ecg = cached_windows(open_reader(rec.data, data_dir), Pipeline.from_dict(spec), progress=False)
    key = ["recording", "start"]
    pos = pd.Series(np.arange(len(ecg)), index=pd.MultiIndex.from_frame(ecg.table[key].astype(str)))
    rows = pos.reindex(pd.MultiIndex.from_frame(windows.table[key].astype(str))).to_numpy()
    if np.isnan(rows.astype(float)).any():
        raise DataError(None, "ECG windows do not align with the EEG windows")
    return ecg.select(rows.astype(int))


def mean_baselines(per_fold: list[dict[str, dict[str, Any]]]) -> dict[str, dict[str, float]]:
    """Baseline scores averaged over folds, weighted by test size."""
    out: dict[str, dict[str, float]] = {}
    for name in per_fold[0]:
        w = np.array([f[name]["n_test"] for f in per_fold], dtype=float)
        vals = {}
        for metric in ("balanced_accuracy", "auc"):
            xs = [f[name].get(metric) for f in per_fold]
            if all(x is not None for x in xs):
                vals[metric] = float(np.average(xs, weights=w))
        out[name] = vals
    return out


def pooled(preds: list[Any], kw: dict[str, Any], keep: tuple[str, ...]) -> dict[str, Score]:
    """The pooled scores whose metric name starts with one of ``keep`` (e.g. a control's few)."""
    return {k: v for k, v in score_predictions(preds, **kw).items() if k.startswith(keep)}


def strip_baselines(metrics: dict[str, Any]) -> dict[str, float]:
    return {k: v for k, v in metrics.items() if k in ("balanced_accuracy", "auc")}
