"""``brainalign evaluate RUN_DIR``: every protocol on a trained model.

The run's own split is rebuilt (and checked identical to the saved one); the
test part is scored, or, with ``dataset=``, every window of another folder in
the same layout (other subjects). The protocols themselves are
:mod:`brainalign.evaluation.protocols`.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from brainalign.data.catalog import open_named
from brainalign.errors import DataError
from brainalign.evaluation.protocols import EvalSet, evaluate_task, label_columns
from brainalign.training.api import load
from brainalign.training.data import build_paired_data, load_windows
from brainalign.training.recipe import recipe_from_dict

__all__ = ["evaluate_run", "load_eval_set"]


def load_eval_set(run_dir: str | os.PathLike, data_dir: str | os.PathLike | None = None,
                  dataset: str | None = None) -> EvalSet:
    model = load(run_dir)
    recipe = recipe_from_dict(model.config["recipe"])
    data = build_paired_data(recipe.data, data_dir, progress=False, seed=recipe.seed)
    if data.split.to_dict() != model.config["split"]:
        raise DataError(run_dir, "the data directory no longer yields the split this model was trained with")
    tr = data.part("train")
    z_train = model.encode_eeg(np.asarray(data.windows.data[tr]))
    train = data.windows.table.iloc[tr].reset_index(drop=True)
    reader = open_named(recipe.data.dataset, data_dir).name
    if dataset is None:
        te = data.part("test")
        z_test = model.encode_eeg(np.asarray(data.windows.data[te]))
        test = data.windows.table.iloc[te].reset_index(drop=True)
    else:
        other = load_windows(dataclasses.replace(recipe.data, dataset=dataset), data_dir, progress=False)
        z_test = model.encode_eeg(np.asarray(other.data), ch_names=other.ch_names, sfreq=other.sfreq,
                                  units=other.unit)
        test = other.table.reset_index(drop=True)
        reader = open_named(dataset, data_dir).name
    return EvalSet(z_train, train, z_test, test, reader, model)


def evaluate_run(run_dir: str | os.PathLike, data_dir: str | os.PathLike | None = None,
                 dataset: str | None = None, n_boot: int = 1000, n_perm: int = 1000,
                 seed: int = 0) -> dict[str, dict[str, dict[str, float]]]:
    """``{task: {metric: {value, ci_low, ci_high, p_value, chance}}}`` for a run folder."""
    ev = load_eval_set(run_dir, data_dir, dataset)
    name = ev.model.config["recipe"]["name"]
    results = {}
    for column in label_columns(ev):
        if ev.test[column].dropna().astype(str).nunique() < 2:
            continue  # the scored windows hold one class: nothing to decode
        scores = evaluate_task(ev, column, n_boot=n_boot, n_perm=n_perm, seed=seed,
                               few_shot=column == label_columns(ev)[0])
        results[f"{name}:{column}"] = {metric: score.to_dict() for metric, score in scores.items()}
    return results
