"""Probes on frozen embeddings: how linearly (or locally) decodable the labels are.

A probe is a scikit-learn pipeline, ``StandardScaler`` followed by a simple classifier,
fitted on the training embeddings only (the scaler too, so nothing leaks from the test
set) and scored on the test embeddings:

* ``"logreg"``: L2-regularised logistic regression;
* ``"svm"``: linear support-vector machine (``LinearSVC``);
* ``"knn"``: k-nearest neighbours (k = 5, or fewer when the training set is smaller).

:func:`few_shot_curve` repeats the probe on stratified subsets of the training labels
(1 % ... 100 %) to show how label-efficient the representation is, optionally beside a
caller-supplied baseline scored on the very same subsets (e.g. the encoder trained from
scratch on those labels).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from brainalign.errors import DataError
from brainalign.evaluation.metrics import auc, balanced_accuracy
from brainalign.evaluation.stats import as_array

__all__ = ["PROBES", "fit_probe", "probe_scores", "stratified_subset", "few_shot_curve"]

ProbeKind = Literal["logreg", "svm", "knn"]
PROBES: tuple[str, ...] = ("logreg", "svm", "knn")
_KNN_NEIGHBOURS = 5


def _classifier(kind: str, n_train: int) -> ClassifierMixin:
    """The unfitted classifier behind probe ``kind``."""
    if kind == "logreg":
        return LogisticRegression(max_iter=2000)
    if kind == "svm":
        return LinearSVC(random_state=0)
    if kind == "knn":
        return KNeighborsClassifier(n_neighbors=min(_KNN_NEIGHBOURS, n_train))
    raise DataError(None, f"unknown probe {kind!r}; known: {', '.join(PROBES)}")


def _xy(X: Any, y: Any, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Checked ``(n, dim)`` embeddings and ``(n,)`` labels of one split."""
    x = as_array(X, f"X_{split}", ndim=2, finite=True)
    labels = as_array(y, f"y_{split}", ndim=1)
    if len(x) != len(labels):
        raise DataError(None, f"X_{split} has {len(x)} rows but y_{split} has {len(labels)} labels")
    return x, labels


def fit_probe(kind: ProbeKind, X_train: Any, y_train: Any) -> Pipeline:
    """Fit ``StandardScaler`` + the ``kind`` classifier on the training embeddings."""
    x, y = _xy(X_train, y_train, "train")
    if len(np.unique(y)) < 2:
        raise DataError(None, "y_train holds a single class; a probe needs at least two")
    return make_pipeline(StandardScaler(), _classifier(kind, len(x))).fit(x, y)


def probe_scores(kind: ProbeKind, X_train: Any, y_train: Any, X_test: Any, y_test: Any) -> dict[str, float]:
    """Fit a probe on train, score on test: ``balanced_accuracy``, ``accuracy`` and, for
    two classes, ``auc`` (from the decision function, or kNN's neighbour vote share)."""
    x_test, y_test_arr = _xy(X_test, y_test, "test")
    model = fit_probe(kind, X_train, y_train)
    if x_test.shape[1] != model.n_features_in_:
        raise DataError(None, f"X_test has {x_test.shape[1]} features, X_train {model.n_features_in_}")
    unseen = np.setdiff1d(y_test_arr, model.classes_)
    if len(unseen):
        raise DataError(None, f"y_test has labels absent from y_train: {unseen[:5].tolist()}")
    pred = model.predict(x_test)
    scores = {
        "balanced_accuracy": balanced_accuracy(y_test_arr, pred),
        "accuracy": float(accuracy_score(y_test_arr, pred)),
    }
    if len(model.classes_) == 2:
        positive = (
            model.decision_function(x_test)
            if hasattr(model, "decision_function")
            else model.predict_proba(x_test)[:, 1]
        )
        scores["auc"] = auc(y_test_arr, positive, labels=model.classes_)
    return scores


def stratified_subset(y: Any, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Sorted indices of a random ``fraction`` of each class of ``y``, at least one per class.

    Each class keeps ``max(1, round(fraction * count))`` of its samples, so the class
    proportions are preserved and no class disappears.
    """
    labels = as_array(y, "y", ndim=1)
    if not 0.0 < fraction <= 1.0:
        raise DataError(None, f"fraction must lie in (0, 1], got {fraction}")
    chosen = []
    for cls in np.unique(labels):
        members = np.flatnonzero(labels == cls)
        n_keep = max(1, int(round(fraction * len(members))))
        chosen.append(rng.choice(members, size=n_keep, replace=False))
    return np.sort(np.concatenate(chosen))


def few_shot_curve(
    X_train: Any,
    y_train: Any,
    X_test: Any,
    y_test: Any,
    fractions: Sequence[float] = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0),
    seed: int = 0,
    kind: ProbeKind = "logreg",
    n_repeats: int = 3,
    metric: str = "balanced_accuracy",
    scratch_fn: Callable[[float, np.ndarray], float] | None = None,
) -> dict[str, Any]:
    """Probe score against the fraction of training labels used.

    For each fraction and each of ``n_repeats`` repeats, a stratified subset of the
    training set (:func:`stratified_subset`, seeded by ``(seed, fraction index, repeat)``
    so that repeats differ and runs repeat exactly) trains the probe, scored on
    the full test set with ``metric`` (a key of :func:`probe_scores`). When the subset
    is the whole training set the repeats would coincide, so it is scored once.

    ``scratch_fn(fraction, train_idx) -> score``, when given, is called on the same
    subsets so that both curves are paired. Returns::

        {"fractions": [...], "n_train": [...],
         "probe": {"mean": [...], "std": [...], "scores": [[...], ...]},
         "scratch": {...}}  # only with scratch_fn
    """
    x_train, labels = _xy(X_train, y_train, "train")
    if not (isinstance(n_repeats, (int, np.integer)) and n_repeats >= 1):
        raise DataError(None, f"n_repeats must be a positive integer, got {n_repeats!r}")
    curves: dict[str, list[list[float]]] = {"probe": []}
    if scratch_fn is not None:
        curves["scratch"] = []
    n_train = []
    for f_index, fraction in enumerate(fractions):
        runs: dict[str, list[float]] = {name: [] for name in curves}
        for repeat in range(n_repeats):
            idx = stratified_subset(labels, fraction, np.random.default_rng((seed, f_index, repeat)))
            probe = probe_scores(kind, x_train[idx], labels[idx], X_test, y_test)
            if metric not in probe:
                raise DataError(None, f"unknown metric {metric!r}; the probe gives {sorted(probe)}")
            runs["probe"].append(probe[metric])
            if scratch_fn is not None:
                runs["scratch"].append(float(scratch_fn(float(fraction), idx)))
            if len(idx) == len(labels):
                break
        n_train.append(len(idx))
        for name, values in runs.items():
            curves[name].append(values)
    result: dict[str, Any] = {"fractions": [float(f) for f in fractions], "n_train": n_train}
    for name, per_fraction in curves.items():
        result[name] = {
            "mean": [float(np.mean(v)) for v in per_fraction],
            "std": [float(np.std(v)) for v in per_fraction],
            "scores": per_fraction,
        }
    return result
