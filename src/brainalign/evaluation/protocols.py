"""Evaluation protocols on embeddings: every score of a model's windows.

An :class:`EvalSet` holds the embeddings and tables of the training windows and
of the windows scored (built by :mod:`brainalign.experiments.evaluate` from a
run folder); training embeddings serve only as probe / prototype training data.
Nothing here trains a network or reads a run folder. Every score comes as
``{value, ci_low, ci_high, p_value, chance}``:

* the bootstrap resamples whole recordings when the label is constant within
  a recording (windows of one recording are not independent), else trials;
* the permutation test moves labels between those same units, within subjects.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from brainalign.errors import DataError
from brainalign.evaluation.clustering import cluster_accuracy
from brainalign.evaluation.metrics import (
    balanced_accuracy,
    relevance_from_labels,
    retrieval_from_scores,
)
from brainalign.evaluation.probes import fit_probe, stratified_subset
from brainalign.evaluation.prompts import prompts_for
from brainalign.evaluation.stats import Score, bootstrap_ci, permutation_pvalue
from brainalign.evaluation.zeroshot import (
    build_text_classifier,
    class_prototypes,
    nway_hits,
)

FEW_SHOT_FRACTIONS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0)


@dataclasses.dataclass
class EvalSet:
    """Embeddings and tables of the training windows and of the windows scored."""

    z_train: np.ndarray
    train: pd.DataFrame
    z_test: np.ndarray
    test: pd.DataFrame
    reader: str
    model: Any  # TrainedModel


def _constant_within(table: pd.DataFrame, column: str, labels: np.ndarray) -> np.ndarray | None:
    """The values of ``column`` when every group of it holds a single label (and
    there are fewer groups than rows), else None."""
    if column not in table:
        return None
    groups = table[column].astype(str).to_numpy()
    per = pd.Series(labels).groupby(groups).nunique()
    return groups if (per <= 1).all() and per.size < len(groups) else None


def _score(
    fn: Callable,
    y: np.ndarray,
    pred: np.ndarray,
    chance: float,
    table: pd.DataFrame,
    n_boot: int,
    n_perm: int,
    seed: int,
) -> Score:
    """The score with its interval and p-value. The exchangeable units of the
    permutation test are the coarsest grouping that carries one label: subjects
    for subject-level labels (sex), recordings for recording-level labels (rest vs
    task), else trials; labels are permuted within subjects unless the units are
    subjects themselves. The bootstrap resamples those units (or subjects) when
    there are at least 5 of them, else trials."""
    units = _constant_within(table, "subject", y)
    within = None
    if units is None:
        units = _constant_within(table, "recording", y)
        within = table["subject"].astype(str).to_numpy() if "subject" in table else None
        if within is not None and len(np.unique(within)) < 2:
            within = None
    clusters = next((c for c in (units, within) if c is not None and len(np.unique(c)) >= 5), None)
    low, high = bootstrap_ci(fn, y, pred, n_boot=n_boot, seed=seed, groups=clusters)
    p = permutation_pvalue(fn, y, pred, n_perm=n_perm, seed=seed, groups=within, units=units)
    return Score(float(fn(y, pred)), low, high, p, float(chance))


def _per_query_rr(scores: np.ndarray, relevance: np.ndarray) -> np.ndarray:
    """Reciprocal rank of the first relevant item, ties ranked pessimistically
    (as :func:`retrieval_from_scores`), per query: used for intervals and
    permutation tests, whose point value comes from torchmetrics."""
    out = np.zeros(len(scores))
    for i, (s, r) in enumerate(zip(scores, relevance)):
        best = s[r].max()
        out[i] = 1.0 / (1 + int((s > best).sum()) + int(((s == best) & ~r).sum()))
    return out


@dataclasses.dataclass
class TaskPredictions:
    """Predicted labels of the scored windows, per metric, with each metric's chance."""

    y: np.ndarray
    table: pd.DataFrame
    preds: dict[str, tuple[np.ndarray, float]]
    #: labelled training windows each few-shot probe was fitted on
    n_train: dict[str, int] = dataclasses.field(default_factory=dict)


def _labelled(ev: EvalSet, column: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, pd.DataFrame]:
    if column not in ev.train or column not in ev.test:
        raise DataError(None, f"no column {column!r} in the windows")
    mtr, mte = ev.train[column].notna().to_numpy(), ev.test[column].notna().to_numpy()
    ytr = ev.train[column][mtr].astype(str).to_numpy()
    yte = ev.test[column][mte].astype(str).to_numpy()
    return ev.z_train[mtr], ytr, ev.z_test[mte], yte, ev.test[mte].reset_index(drop=True)


def prototypes(ev: EvalSet, column: str, classes: list[str]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Class prototypes in the shared space: from text prompts (text models),
    from the paired images of each class (image models), and class centres of
    the training embeddings."""
    model, kind = ev.model, ev.model.config.get("pair_kind")
    ztr, ytr, _, _, _ = _labelled(ev, column)
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    prompts = prompts_for(ev.reader, column, classes) if kind == "text" else None
    if prompts:
        names, proto = build_text_classifier(prompts, lambda t: model.encode_pairs(t))
        out["text"] = (np.asarray(names).astype(str), proto)
    if kind == "image" and "image" in ev.train:
        pairs = ev.train[["image", column]].dropna().drop_duplicates()
        cls, proto = class_prototypes(model.encode_pairs(pairs["image"].tolist()), pairs[column].astype(str).to_numpy())
        out["image"] = (np.asarray(cls).astype(str), proto)
    cls, proto = class_prototypes(ztr, ytr)
    out["centroid"] = (np.asarray(cls).astype(str), proto)
    return out


def label_predictions(ev: EvalSet, column: str, *, few_shot: bool = True, seed: int = 0) -> TaskPredictions:
    """Zero-shot (text prompts / image prototypes), class-centre, probe and
    few-shot predictions of ``column`` for the scored windows."""
    ztr, ytr, zte, yte, table = _labelled(ev, column)
    classes = sorted(set(ytr) | set(yte))
    chance = 1.0 / len(classes)
    preds: dict[str, tuple[np.ndarray, float]] = {}
    for name, (cls, proto) in prototypes(ev, column, classes).items():
        if set(yte) <= set(cls):
            key = "prototype_bacc" if name == "centroid" else f"zeroshot_{name}_bacc"
            preds[key] = (cls[(zte @ proto.T).argmax(axis=1)], chance)
    n_train: dict[str, int] = {}
    if len(set(ytr)) < 2:  # e.g. every training subject of a fold has the same sex
        return TaskPredictions(yte, table, preds)
    for probe in ("logreg", "svm", "knn"):
        preds[f"{probe}_bacc"] = (fit_probe(probe, ztr, ytr).predict(zte), chance)
    if few_shot:
        for frac in FEW_SHOT_FRACTIONS:
            idx = stratified_subset(ytr, frac, np.random.default_rng(seed))
            if len(np.unique(ytr[idx])) >= 2:
                key = f"fewshot_{int(round(frac * 100))}pct_bacc"
                preds[key] = (fit_probe("logreg", ztr[idx], ytr[idx]).predict(zte), chance)
                n_train[key] = len(idx)
    return TaskPredictions(yte, table, preds, n_train)


def score_predictions(
    folds: list[TaskPredictions], *, n_boot: int = 1000, n_perm: int = 1000, seed: int = 0
) -> dict[str, Score]:
    """Pool the out-of-fold predictions of several folds and score each metric
    present in every fold (balanced accuracy with interval and p-value)."""
    y = np.concatenate([f.y for f in folds])
    table = pd.concat([f.table for f in folds], ignore_index=True)
    metrics = [m for m in folds[0].preds if all(m in f.preds for f in folds)]
    out = {}
    for m in metrics:
        pred = np.concatenate([f.preds[m][0] for f in folds])
        out[m] = _score(balanced_accuracy, y, pred, folds[0].preds[m][1], table, n_boot, n_perm, seed)
    return out


def evaluate_task(
    ev: EvalSet, column: str, *, n_boot: int = 1000, n_perm: int = 1000, seed: int = 0, few_shot: bool = True
) -> dict[str, Score]:
    """Every protocol for the label ``column``: zero-shot (text prompts, image or
    class prototypes), N-way top-k, retrieval EEG -> paired modality, probes,
    k-means and few-shot."""
    tp = label_predictions(ev, column, few_shot=few_shot, seed=seed)
    out = score_predictions([tp], n_boot=n_boot, n_perm=n_perm, seed=seed)
    _, ytr, zte, yte, table = _labelled(ev, column)
    classes = sorted(set(ytr) | set(yte))
    protos = prototypes(ev, column, classes)
    pos = np.arange(len(yte))
    # N-way top-k against the best available prototypes (text > image > class
    # centres). The metric functions take query positions as "predictions", so the
    # bootstrap resamples queries and the permutation test shuffles their labels.
    cls, proto = next(protos[k] for k in ("text", "image", "centroid") if k in protos)
    if set(yte) <= set(cls):
        n_way = len(cls)
        for k in tuple(k for k in (1, 3, 5) if k < n_way) or (1,):
            hits = nway_hits(zte, yte, proto, cls, n_way=n_way, ks=(k,), n_trials=10, seed=seed)[:, 0]

            def topk(y: np.ndarray, idx: np.ndarray, k: int = k, hits: np.ndarray = hits) -> float:
                if np.array_equal(y, yte[idx]):  # a bootstrap draw: queries resampled with their labels
                    return float(hits[idx].mean())
                return float(
                    nway_hits(
                        zte[idx], y, proto, cls, n_way=n_way, ks=(k,), n_trials=10, seed=seed, query_ids=idx
                    ).mean()
                )

            out[f"nway{n_way}_top{k}"] = _score(
                topk, yte, pos, min(k, n_way) / n_way, table, n_boot, max(1, n_perm // 5), seed
            )
    # retrieval EEG -> paired modality, relevance = same class; the point value is
    # torchmetrics' MRR, intervals and p-values use per-query reciprocal ranks
    kind = ev.model.config.get("pair_kind")
    if kind in protos:
        g_cls, g_emb = protos[kind]
        scores = zte @ g_emb.T
        if relevance_from_labels(yte, g_cls).any(axis=1).all():

            def mrr(y: np.ndarray, idx: np.ndarray) -> float:
                return float(_per_query_rr(scores[idx], relevance_from_labels(y, g_cls)).mean())

            chance = float(np.mean(1.0 / np.arange(1, len(g_cls) + 1)))
            sc = _score(mrr, yte, pos, chance, table, n_boot, n_perm, seed)
            value = retrieval_from_scores(scores, relevance_from_labels(yte, g_cls), ks=(1,))["mrr"]
            out["retrieval_eeg2pair_mrr"] = dataclasses.replace(sc, value=float(value))
    from sklearn.cluster import KMeans

    km = KMeans(n_clusters=len(classes), n_init=10, random_state=seed).fit_predict(zte)
    majority = float(pd.Series(yte).value_counts(normalize=True).max())
    out["kmeans_acc"] = _score(cluster_accuracy, yte, km, majority, table, n_boot, n_perm, seed)
    return out


def label_columns(ev: EvalSet) -> list[str]:
    """The recipe's label, then metadata columns that have prompts for this layout."""
    from brainalign.evaluation.prompts import CLASS_PROMPTS

    label = ev.model.config["recipe"]["data"]["label"]
    extra = [c for (r, c) in CLASS_PROMPTS if r == ev.reader and c != label and c in ev.test]
    if ev.model.config.get("pair_kind") != "text":
        extra = []
    return [label] + extra


__all__ = [
    "EvalSet",
    "TaskPredictions",
    "evaluate_task",
    "label_columns",
    "label_predictions",
    "prototypes",
    "score_predictions",
]
