"""Uncertainty for every reported score: chance level, bootstrap interval, permutation p-value.

A decoding score means little on its own: 0.6 balanced accuracy is excellent with 40
classes and nothing with two. Every score this package reports therefore travels as a
:class:`Score` holding the value, its chance level, a percentile-bootstrap confidence
interval and a label-permutation p-value.

* :func:`bootstrap_ci` resamples trials with replacement, or whole groups (subjects,
  sessions) when ``groups`` is given, the clustered bootstrap: trials of one subject
  are not independent, so resampling trials alone gives intervals that are too narrow.
* :func:`permutation_pvalue` shuffles the true labels (within each group when given, so
  that per-subject label balance is kept) and counts how often the shuffled score
  reaches the observed one, ``p = (1 + #{null >= observed}) / (1 + n_perm)`` (the
  smallest attainable value is ``1 / (1 + n_perm)``, never 0).
* :func:`chance_level` gives the score of an uninformed predictor for the usual metrics.

Metrics are any ``metric_fn(y_true, y_pred) -> float`` where higher is better;
``y_pred`` may be predicted labels, scores, or a 2-D score matrix (rows are trials).
Inputs may be numpy arrays, torch tensors or sequences; :func:`as_array` converts them
and turns malformed input into :class:`~brainalign.errors.DataError`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from brainalign.errors import DataError
from brainalign.results import Score  # re-exported: the record every score is
from brainalign.utils.arrays import as_array  # re-exported

__all__ = [
    "Score",
    "as_array",
    "bootstrap_ci",
    "permutation_pvalue",
    "score_with_stats",
    "chance_level",
]

MetricFn = Callable[[np.ndarray, np.ndarray], float]


def _paired(y_true: Any, y_pred: Any, groups: Any | None) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Convert the metric inputs and check that they (and ``groups``) have one row per trial."""
    yt = as_array(y_true, "y_true")
    yp = as_array(y_pred, "y_pred")
    if len(yt) != len(yp):
        raise DataError(None, f"y_true has {len(yt)} trials but y_pred has {len(yp)}")
    g = None
    if groups is not None:
        g = as_array(groups, "groups", ndim=1)
        if len(g) != len(yt):
            raise DataError(None, f"groups has {len(g)} entries but there are {len(yt)} trials")
    return yt, yp, g


def _check_count(n: int, name: str) -> None:
    if not (isinstance(n, (int, np.integer)) and n >= 1):
        raise DataError(None, f"{name} must be a positive integer, got {n!r}")


def bootstrap_ci(
    metric_fn: MetricFn,
    y_true: Any,
    y_score_or_pred: Any,
    n_boot: int = 1000,
    seed: int = 0,
    groups: Any | None = None,
    level: float = 0.95,
) -> tuple[float, float]:
    """Percentile bootstrap interval ``(low, high)`` of ``metric_fn(y_true, y_score_or_pred)``.

    Each of ``n_boot`` draws resamples the trials with replacement, or, when ``groups``
    (one id per trial) is given, resamples the groups with replacement and keeps all
    trials of every drawn group (clustered bootstrap). The metric is first computed on
    all trials, so input it cannot score fails there with its own error. A draw on
    which it is undefined (it raises ``ValueError`` or :class:`DataError`, e.g. AUC on
    a single-class resample, or returns NaN) is dropped; if more than 10 % of the draws
    are undefined the data are too small for an interval and :class:`DataError` is
    raised. Repeats exactly for a given ``seed``.
    """
    _check_count(n_boot, "n_boot")
    if not 0.0 < level < 1.0:
        raise DataError(None, f"level must lie in (0, 1), got {level}")
    yt, yp, g = _paired(y_true, y_score_or_pred, groups)
    metric_fn(yt, yp)
    rng = np.random.default_rng(seed)
    if g is None:
        members = [np.array([i]) for i in range(len(yt))]
    else:
        members = [np.flatnonzero(g == u) for u in np.unique(g)]
    values = []
    for _ in range(n_boot):
        drawn = rng.integers(0, len(members), size=len(members))
        idx = np.concatenate([members[j] for j in drawn])
        try:
            value = float(metric_fn(yt[idx], yp[idx]))
        except (ValueError, DataError):
            continue
        if np.isfinite(value):
            values.append(value)
    if len(values) < 0.9 * n_boot:
        raise DataError(
            None,
            f"the metric is undefined on {n_boot - len(values)} of {n_boot} bootstrap draws; "
            "too few trials or groups for an interval",
        )
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(values, [alpha, 1.0 - alpha])
    return float(low), float(high)


def permutation_pvalue(
    metric_fn: MetricFn,
    y_true: Any,
    y_pred: Any,
    n_perm: int = 1000,
    seed: int = 0,
    groups: Any | None = None,
    units: Any | None = None,
) -> float:
    """One-sided p-value of ``metric_fn(y_true, y_pred)`` against shuffled labels.

    The null distribution is the metric after permuting ``y_true`` across trials, or
    within each group when ``groups`` is given (labels never move between subjects).
    ``units`` (one id per trial) makes whole units the exchangeable items: every
    trial of a unit (e.g. the windows of one recording, which share its label and
    are not independent) keeps one label, and unit labels are permuted (within
    groups). Without it, correlated windows would make the test anti-conservative.
    ``p = (1 + #{null >= observed}) / (1 + n_perm)``, so a perfect classifier on
    enough trials gets ``1 / (1 + n_perm)``. Higher metric values must mean better.
    """
    _check_count(n_perm, "n_perm")
    yt, yp, g = _paired(y_true, y_pred, groups)
    observed = float(metric_fn(yt, yp))
    rng = np.random.default_rng(seed)
    if units is None:
        unit_of = np.arange(len(yt))
    else:
        _, unit_of = np.unique(as_array(units, "units", ndim=1), return_inverse=True)
        if len(unit_of) != len(yt):
            raise DataError(None, f"units has {len(unit_of)} entries for {len(yt)} trials")
    n_units = int(unit_of.max()) + 1
    first = np.array([np.flatnonzero(unit_of == u)[0] for u in range(n_units)])
    if np.any(yt != yt[first][unit_of]):
        raise DataError(None, "every trial of a permutation unit must have the same label")
    unit_group = np.zeros(n_units, dtype=np.int64) if g is None else np.unique(g, return_inverse=True)[1][first]
    blocks = [np.flatnonzero(unit_group == b) for b in np.unique(unit_group)]
    unit_labels = yt[first]
    exceed = 0
    for _ in range(n_perm):
        order = np.arange(n_units)
        for block in blocks:
            order[block] = rng.permutation(block)
        exceed += float(metric_fn(unit_labels[order][unit_of], yp)) >= observed
    return (1.0 + exceed) / (1.0 + n_perm)


def score_with_stats(
    metric_fn: MetricFn,
    y_true: Any,
    y_pred: Any,
    chance: float,
    n_boot: int = 1000,
    n_perm: int = 1000,
    seed: int = 0,
    groups: Any | None = None,
    level: float = 0.95,
    units: Any | None = None,
) -> Score:
    """The metric with its bootstrap interval (clustered by ``units`` when given,
    else by ``groups``), permutation p-value (see :func:`permutation_pvalue`) and
    the given chance level."""
    yt, yp, g = _paired(y_true, y_pred, groups)
    boot_groups = g if units is None else as_array(units, "units", ndim=1)
    low, high = bootstrap_ci(metric_fn, yt, yp, n_boot=n_boot, seed=seed, groups=boot_groups, level=level)
    p = permutation_pvalue(metric_fn, yt, yp, n_perm=n_perm, seed=seed, groups=g, units=units)
    return Score(value=float(metric_fn(yt, yp)), ci_low=low, ci_high=high, p_value=p, chance=float(chance))


def chance_level(y: Any, metric: str, k: int = 1, n_way: int | None = None) -> float:
    """Score of an uninformed predictor for ``metric`` on true labels ``y``.

    * ``"accuracy"``: always predicting the majority class, its share of ``y``.
    * ``"balanced_accuracy"``: ``1 / n_classes`` (any constant or random predictor).
    * ``"auc"``: 0.5.
    * ``"top_k"``: ``min(k, N) / N`` with ``N = n_way`` or, when omitted, the number of
      classes in ``y`` (the true class is one of N equally likely candidates).
    """
    labels = as_array(y, "y", ndim=1)
    _, counts = np.unique(labels, return_counts=True)
    if metric == "accuracy":
        return float(counts.max() / counts.sum())
    if metric == "balanced_accuracy":
        return 1.0 / len(counts)
    if metric == "auc":
        return 0.5
    if metric == "top_k":
        _check_count(k, "k")
        n = len(counts) if n_way is None else n_way
        _check_count(n, "n_way")
        return min(k, n) / n
    raise DataError(None, f"unknown metric {metric!r}; known: accuracy, balanced_accuracy, auc, top_k")
