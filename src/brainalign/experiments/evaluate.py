"""``brainalign evaluate RUN_DIR``: every protocol on a trained model.

Without ``dataset=`` the run's own split is rebuilt from the data directory (and
checked identical to the saved one) and its test part is scored. With
``dataset=`` (another folder in the training data's layout, e.g. new subjects)
every window of that folder is scored (but each subject's calibration block, when the
model normalises subjects from one), and the run folder alone stands in for
the training data: the training windows' embeddings and table
(``train_embeddings.npy``, ``train_windows.json``, ``pair_embeddings.npy``, saved
at the end of training), the reader and its parameters and the resolved pipeline
(``config.json``). The training data directory is not read. The protocols
themselves are :mod:`brainalign.evaluation.protocols`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from brainalign.errors import DataError
from brainalign.evaluation.protocols import EvalSet, evaluate_task, label_columns
from brainalign.preprocessing import Pipeline, cached_windows
from brainalign.preprocessing.normalize import check_disjoint
from brainalign.training.api import TrainedModel, load
from brainalign.training.data import build_paired_data, calibration_block, last_seconds_mask, open_reader
from brainalign.training.recipe import recipe_from_dict
from brainalign.training.trainer import PAIR_EMBEDDINGS, TRAIN_EMBEDDINGS, TRAIN_WINDOWS, table_from_json

__all__ = ["evaluate_run", "load_eval_set"]


class _RunPairs:
    """The trained model as the protocols see it, with the training pair values'
    embeddings read from the run folder (``pair_embeddings.npy``) instead of being
    recomputed: image prototypes then need no training image. Anything else (class
    prompts, new images) goes through the model's own tower."""

    def __init__(self, model: TrainedModel, embeddings: np.ndarray):
        self.model = model
        self.config = model.config
        self._known = {v: i for i, v in enumerate(model.pair_values)}
        self._emb = embeddings

    def __getattr__(self, name: str) -> Any:
        return getattr(self.model, name)

    def encode_pairs(self, items: Sequence[str] | np.ndarray | None = None) -> np.ndarray:
        items = list(self.model.pair_values if items is None else items)
        rows = [self._known.get(str(v)) for v in items]
        if all(r is not None for r in rows):
            return self._emb[np.asarray(rows, dtype=np.int64)]
        out = np.zeros((len(items), self._emb.shape[1]), dtype=np.float32)
        known = np.array([r is not None for r in rows])
        if known.any():
            out[known] = self._emb[np.asarray([r for r in rows if r is not None], dtype=np.int64)]
        out[~known] = self.model.encode_pairs([v for v, r in zip(items, rows) if r is None])
        return out


def _run_file(run_dir: Path, name: str) -> Path:
    path = run_dir / name
    if not path.is_file():
        raise DataError(
            path,
            "missing: this run folder was written before runs kept their training "
            "embeddings; evaluate it without --dataset (needs its training data), or retrain",
        )
    return path


def _training_reference(run_dir: Path, model: TrainedModel) -> tuple[np.ndarray, Any, Any]:
    """(training embeddings, training window table, model for the protocols) from the run folder."""
    z_path, t_path = _run_file(run_dir, TRAIN_EMBEDDINGS), _run_file(run_dir, TRAIN_WINDOWS)
    try:
        z_train = np.load(z_path, allow_pickle=False)
    except (OSError, ValueError) as err:
        raise DataError(z_path, f"cannot read the training embeddings ({err})") from None
    try:
        train = table_from_json(json.loads(t_path.read_text(encoding="utf-8")), t_path)
    except (OSError, ValueError) as err:
        raise DataError(t_path, f"cannot read the training window table ({err})") from None
    if z_train.ndim != 2 or len(z_train) != len(train):
        raise DataError(z_path, f"{z_train.shape} embeddings for {len(train)} training windows")
    protocol_model: Any = model
    pair_path = run_dir / PAIR_EMBEDDINGS
    if pair_path.is_file():
        pairs = np.load(pair_path, allow_pickle=False)
        if len(pairs) != len(model.pair_values):
            raise DataError(pair_path, f"{len(pairs)} pair embeddings for {len(model.pair_values)} pair values")
        protocol_model = _RunPairs(model, pairs)
    return z_train, train, protocol_model


def _new_windows(model: TrainedModel, dataset: str, data_dir: str | os.PathLike | None) -> tuple[Any, str]:
    """Every window of ``dataset`` cut as the training windows were: the reader of
    the recipe (else the one training used, else detected) and the pipeline stored
    in config.json; the recipe's label filter applies."""
    config = model.config
    recipe = recipe_from_dict(config["recipe"])
    spec = config.get("pipeline") or config["contract"].get("preprocessing")
    if not spec:
        raise DataError(model.run_dir / "config.json", "no preprocessing pipeline recorded")
    try:
        pipeline = Pipeline.from_dict(spec)
    except Exception as err:  # noqa: BLE001 - a hand-edited config.json
        raise DataError(model.run_dir / "config.json", f"recorded pipeline unusable: {err}") from None
    trained_with = (config.get("reader") or {}).get("name") or None
    reader = open_reader(recipe.data, data_dir, dataset=dataset, reader=recipe.data.reader or trained_with)
    windows = cached_windows(reader, pipeline, progress=False)
    if recipe.data.labels and recipe.data.label in windows.table:
        keep = windows.table[recipe.data.label].astype(str).isin([str(x) for x in recipe.data.labels]).to_numpy()
        if not keep.any():
            raise DataError(reader.root, f"no window labelled {', '.join(map(str, recipe.data.labels))}")
        windows = windows.select(np.flatnonzero(keep))
    return windows, reader.name


def _encode_new_subjects(model: TrainedModel, windows: Any) -> tuple[np.ndarray, Any]:
    """Embeddings and table of the windows of a new folder that are scored. Without a
    subject normalisation in the model's contract: every window. With one from a
    calibration block: each subject's block (the contract's ``calibration`` selection, e.g.
    its first 60 s of rest) gives that subject's statistics and is never scored; a
    transductive one uses each subject's own scored windows; training statistics need
    nothing. The recipe's ``data.last_s`` selects the scored windows, as in training."""
    recipe = recipe_from_dict(model.config["recipe"])
    table = windows.table.reset_index(drop=True)
    scored = np.ones(len(table), dtype=bool)
    norm = model.normalizer
    groups: np.ndarray | None = None
    calibration = None
    if norm is not None and norm.per_group:
        if norm.by not in table:
            raise DataError(
                None, f"the model normalises each {norm.by}, but the new windows have no {norm.by!r} column"
            )
        groups = table[norm.by].astype(str).to_numpy()
        if norm.source == "calibration":
            spec = (model.contract.normalization or {}).get("calibration") or {}
            block = calibration_block(table, spec, norm.by)
            calibration = (np.asarray(windows.data[np.flatnonzero(block)]), groups[block])
            scored &= ~block
    if recipe.data.last_s:
        scored &= last_seconds_mask(table, recipe.data.last_s, windows.n_times / windows.sfreq, recipe.data.label)
    if calibration is not None:
        check_disjoint(block, scored)
    rows = np.flatnonzero(scored)
    if not len(rows):
        raise DataError(None, "no window of the new folder is left to score")
    z = model.encode_eeg(
        np.asarray(windows.data[rows]),
        ch_names=windows.ch_names,
        sfreq=windows.sfreq,
        units=windows.unit,
        groups=None if groups is None else groups[rows],
        calibration=calibration,
    )
    return z, table.iloc[rows].reset_index(drop=True)


def load_eval_set(
    run_dir: str | os.PathLike, data_dir: str | os.PathLike | None = None, dataset: str | None = None
) -> EvalSet:
    model = load(run_dir)
    if dataset is not None:
        z_train, train, protocol_model = _training_reference(Path(run_dir), model)
        other, reader = _new_windows(model, dataset, data_dir)
        z_test, test_table = _encode_new_subjects(model, other)
        return EvalSet(z_train, train, z_test, test_table, reader, protocol_model)
    recipe = recipe_from_dict(model.config["recipe"])
    data = build_paired_data(recipe.data, data_dir, progress=False, seed=recipe.seed)
    if data.split.to_dict() != model.config["split"]:
        raise DataError(run_dir, "the data directory no longer yields the split this model was trained with")
    tr, te = data.part("train"), data.part("test")
    # build_paired_data applied the run's subject normalisation already
    z_train = model.encode_eeg(np.asarray(data.windows.data[tr]), normalized=True)
    z_test = model.encode_eeg(np.asarray(data.windows.data[te]), normalized=True)
    train = data.windows.table.iloc[tr].reset_index(drop=True)
    test = data.windows.table.iloc[te].reset_index(drop=True)
    return EvalSet(z_train, train, z_test, test, data.reader, model)


def evaluate_run(
    run_dir: str | os.PathLike,
    data_dir: str | os.PathLike | None = None,
    dataset: str | None = None,
    n_boot: int = 1000,
    n_perm: int = 1000,
    seed: int = 0,
) -> dict[str, dict[str, dict[str, float]]]:
    """``{task: {metric: {value, ci_low, ci_high, p_value, chance}}}`` for a run folder."""
    ev = load_eval_set(run_dir, data_dir, dataset)
    name = ev.model.config["recipe"]["name"]
    results = {}
    for column in label_columns(ev):
        if ev.test[column].dropna().astype(str).nunique() < 2:
            continue  # the scored windows hold one class: nothing to decode
        scores = evaluate_task(
            ev, column, n_boot=n_boot, n_perm=n_perm, seed=seed, few_shot=column == label_columns(ev)[0]
        )
        results[f"{name}:{column}"] = {metric: score.to_dict() for metric, score in scores.items()}
    return results
