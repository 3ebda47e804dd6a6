"""Typed scores of the fair-protocol tasks (issue 10) from out-of-fold decision scores.

:mod:`brainalign.experiments.fair` returns, with ``return_scores=True``, each method's
out-of-fold decision scores per seed (``> 0`` predicts the positive class). Here they become
:class:`~brainalign.results.Score` objects: the value is the mean over seeds (as ``fair``
reports it); the 95 % interval is a percentile bootstrap of the seeds' stacked predictions
that resamples whole *units* (subjects, or epochs within each subject where there are too
few subjects), the same draw for every seed; the p-value permutes the labels of whole
*permutation units* (recordings, subjects, epochs) within *permutation groups* (subjects)
and scores the stacked predictions against them. Paired differences (aligned minus a
baseline) use the same draws for both methods.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.stats import rankdata

from brainalign.evaluation.stats import permutation_pvalue
from brainalign.results import Score
from brainalign.utils.io import atomic_write_text

if TYPE_CHECKING:
    from brainalign.experiments.common import Bench

__all__ = [
    "FairScorer",
    "baseline_entry",
    "cached_fair_call",
    "mean_of_groups",
    "method_figure",
    "pooled_auc",
    "pooled_bacc",
]

#: ``metric(y, score, by)``: ``score > 0`` predicts class 1; ``by`` (e.g. subject of each row)
Metric = Callable[[np.ndarray, np.ndarray, np.ndarray], float]


def pooled_bacc(y: np.ndarray, score: np.ndarray, by: np.ndarray) -> float:
    """Balanced accuracy of ``score > 0`` over all rows (binary ``y``; a class absent from
    ``y`` is left out of the mean, as scikit-learn does). Plain numpy: the bootstrap and the
    permutation test call it thousands of times, where scikit-learn's input checks dominate."""
    pred = np.asarray(score) > 0
    pos = np.asarray(y) == 1
    recalls = [float(np.mean(pred[pos])) if pos.any() else np.nan]
    recalls.append(float(np.mean(~pred[~pos])) if (~pos).any() else np.nan)
    return float(np.nanmean(recalls))


def pooled_auc(y: np.ndarray, score: np.ndarray, by: np.ndarray) -> float:
    """ROC AUC of the decision score over all rows (Mann-Whitney with average ranks for
    ties, equal to scikit-learn's ``roc_auc_score``; NaN with one class)."""
    pos = np.asarray(y) == 1
    n1, n0 = int(pos.sum()), int((~pos).sum())
    if n1 == 0 or n0 == 0:
        return float("nan")
    ranks = rankdata(score)
    return float((ranks[pos].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def mean_of_groups(metric: Metric) -> Metric:
    """``metric`` within each group of ``by`` (e.g. subject), then the mean over groups."""

    def fn(y: np.ndarray, score: np.ndarray, by: np.ndarray) -> float:
        return float(np.mean([metric(y[by == g], score[by == g], by[by == g]) for g in np.unique(by)]))

    return fn


@dataclass
class FairScorer:
    """Scores one protocol's out-of-fold predictions.

    ``y``, ``by``: labels and the metric's grouping, one per row; ``scores[method][seed]``:
    decision scores per row; ``boot_units`` (one id per row): what the bootstrap resamples,
    within each ``boot_strata`` (None: one stratum); ``perm_units`` / ``perm_groups``: what
    the permutation test exchanges, and within what."""

    y: np.ndarray
    by: np.ndarray
    scores: Mapping[str, Mapping[int, np.ndarray]]
    boot_units: np.ndarray
    perm_units: np.ndarray
    boot_strata: np.ndarray | None = None
    perm_groups: np.ndarray | None = None
    n_boot: int = 1000
    n_perm: int = 1000
    seed: int = 0

    def __post_init__(self) -> None:
        first = next(iter(self.scores.values()))
        self.seeds: list[int] = list(first)
        k = len(self.seeds)
        self._y, self._by = np.tile(self.y, k), np.tile(self.by, k)
        self._draws = self._make_draws()

    def _make_draws(self) -> list[np.ndarray]:
        k, n = len(self.seeds), len(self.y)
        rows_of: dict[Any, list[int]] = {}
        for i, u in enumerate(self.boot_units):
            rows_of.setdefault(u, []).append(i)
        members = {u: np.concatenate([np.asarray(r) + j * n for j in range(k)]) for u, r in rows_of.items()}
        strata = np.zeros(n, dtype=int) if self.boot_strata is None else self.boot_strata
        units_in = [list(dict.fromkeys(self.boot_units[strata == s])) for s in dict.fromkeys(strata)]
        rng = np.random.default_rng(self.seed)
        draws = []
        for _ in range(self.n_boot):
            parts = [members[units[j]] for units in units_in for j in rng.integers(0, len(units), len(units))]
            draws.append(np.concatenate(parts))
        return draws

    def stacked(self, method: str) -> np.ndarray:
        return np.concatenate([np.asarray(self.scores[method][s], dtype=float) for s in self.seeds])

    def value(self, method: str, metric: Metric = pooled_bacc) -> float:
        """Mean over seeds of ``metric``."""
        return float(np.mean([metric(self.y, np.asarray(self.scores[method][s]), self.by) for s in self.seeds]))

    def _boot(self, fn: Callable[[np.ndarray], float]) -> np.ndarray:
        values = []
        for idx in self._draws:
            if len(np.unique(self._y[idx])) < 2:
                continue
            v = fn(idx)
            if np.isfinite(v):
                values.append(v)
        return np.asarray(values)

    def score(self, method: str, metric: Metric = pooled_bacc, chance: float = 0.5, p: bool = True) -> Score:
        """``method``'s mean over seeds with its bootstrap interval and permutation p-value."""
        s = self.stacked(method)
        draws = self._boot(lambda idx: metric(self._y[idx], s[idx], self._by[idx]))
        low, high = np.quantile(draws, [0.025, 0.975]) if len(draws) else (np.nan, np.nan)
        p_value = float("nan")
        if p:
            k = len(self.seeds)
            p_value = permutation_pvalue(
                lambda yt, _: metric(yt, s, self._by),
                self._y,
                s,
                n_perm=self.n_perm,
                seed=self.seed,
                groups=None if self.perm_groups is None else np.tile(self.perm_groups, k),
                units=np.tile(self.perm_units, k),
            )
        return Score(self.value(method, metric), float(low), float(high), float(p_value), float(chance))

    def difference(self, a: str, b: str, metric: Metric = pooled_bacc) -> dict[str, float]:
        """``metric(a) - metric(b)`` (means over seeds), its paired bootstrap interval, and the
        share of draws where ``a`` is not above ``b`` (one-sided p for "a beats b")."""
        sa, sb = self.stacked(a), self.stacked(b)
        draws = self._boot(
            lambda idx: metric(self._y[idx], sa[idx], self._by[idx]) - metric(self._y[idx], sb[idx], self._by[idx])
        )
        low, high = np.quantile(draws, [0.025, 0.975])
        return {
            "difference": self.value(a, metric) - self.value(b, metric),
            "ci_low": float(low),
            "ci_high": float(high),
            "p_a_not_above_b": float((draws <= 0).mean()),
        }

    def difference_score(self, a: str, b: str, metric: Metric = pooled_bacc) -> Score:
        """:meth:`difference` as a Score: value, interval, one-sided p ("a is not above b"),
        and 0 as its chance (no difference)."""
        d = self.difference(a, b, metric)
        return Score(d["difference"], d["ci_low"], d["ci_high"], d["p_a_not_above_b"], 0.0)

    def sd(self, method: str, metric: Metric = pooled_bacc) -> float:
        """Standard deviation over seeds."""
        return float(np.std([metric(self.y, np.asarray(self.scores[method][s]), self.by) for s in self.seeds]))


def baseline_entry(scorer: FairScorer, method: str, metrics: Sequence[tuple[str, Metric]]) -> dict[str, float]:
    """A baseline's ``{metric: mean over seeds}`` plus ``balanced_accuracy_sd``."""
    out = {name: scorer.value(method, fn) for name, fn in metrics}
    out["balanced_accuracy_sd"] = scorer.sd(method, metrics[0][1])
    return out


def cached_fair_call(folder: Path, name: str, fn: Callable[..., dict[str, Any]], **kwargs: Any) -> dict[str, Any]:
    """``fn(**kwargs, return_scores=True)``, stored in ``folder`` (JSON for the summary, ``.npz``
    for the arrays) and reused when the same call was stored before: a benchmark run can be
    resumed, and its reports rebuilt, without retraining. ``data_dir`` is not part of the key;
    ``fn``'s module's ``PROTOCOL_VERSION`` is (a changed protocol never reuses an old run)."""
    import sys

    version = getattr(sys.modules.get(fn.__module__), "PROTOCOL_VERSION", 1)
    key = json.dumps(
        {"fn": fn.__name__, "version": version, **{k: v for k, v in kwargs.items() if k != "data_dir"}}, default=str
    )
    stem = folder / f"{name}-{hashlib.sha256(key.encode()).hexdigest()[:12]}"
    if stem.with_suffix(".json").exists() and stem.with_suffix(".npz").exists():
        out = json.loads(stem.with_suffix(".json").read_text())
        with np.load(stem.with_suffix(".npz"), allow_pickle=False) as arrays:
            scores: dict[str, dict[int, np.ndarray]] = {}
            for k in arrays.files:
                if k.startswith("scores|"):
                    _, method, seed = k.split("|")
                    scores.setdefault(method, {})[int(seed)] = arrays[k]
                else:
                    out[k] = arrays[k]
        out["scores"] = scores
        return out
    result = fn(**kwargs, return_scores=True)
    arrays_out = {f"scores|{m}|{s}": v for m, by_seed in result["scores"].items() for s, v in by_seed.items()}
    plain = {}
    for k, v in result.items():
        if isinstance(v, np.ndarray):
            arrays_out[k] = v.astype(str) if v.dtype == object else v
        elif k != "scores":
            plain[k] = v
    folder.mkdir(parents=True, exist_ok=True)
    np.savez(stem.with_suffix(".npz"), **arrays_out)
    atomic_write_text(stem.with_suffix(".json"), json.dumps(plain, default=_plain_json))
    return result


def _plain_json(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return str(obj)


def method_figure(folder: Path, name: str, scores: Mapping[str, Score], title: str) -> dict[str, str]:
    """Bar chart of the methods' balanced accuracies with their intervals and chance
    (:func:`brainalign.report.plots.plot_method_bars`): ``{caption: path}``. Bars named with
    "shuffled" are controls, with "LR" or "CE" baselines, the rest the aligned model."""
    from brainalign.report.plots import plot_method_bars

    kinds = {k: "control" if "shuffled" in k else "baseline" if "LR" in k or "CE" in k else "model" for k in scores}
    path = plot_method_bars(scores, folder / f"{name}_methods.png", title, kinds=kinds)
    return {"methods: balanced accuracy with 95 % CI (hatched: not above chance at p < 0.05)": str(path)}


def run_fair_variants(
    b: Bench,
    fn: Callable[..., dict[str, Any]],
    to_result: Callable[..., tuple[Any, ...]],
    variants: Sequence[tuple[str, str, tuple[int, ...]]],
    bars: Callable[[Any, FairScorer], Mapping[str, Score]],
    title: Callable[[str], str],
    **kwargs: Any,
) -> dict[str, Any]:
    """One fair task's normalisation variants: for each ``(name, normalisation, seeds)``,
    ``fn`` (a :mod:`~brainalign.experiments.fair` protocol) through :func:`cached_fair_call`
    with the benchmark's fair budget (head epochs, draws) and ``kwargs``; ``to_result(r,
    n_boot, n_perm, seed)`` -> ``(TaskResult, scorer, ...)``; the method bar chart of
    ``bars(result, scorer)`` titled ``title(normalisation)``. ``{name: TaskResult}``."""
    import time

    from brainalign.training.heads import HeadConfig

    fb = b.budget.fair
    out: dict[str, Any] = {}
    for name, norm, seeds in variants:
        t0 = time.perf_counter()
        r = cached_fair_call(
            b.out / "fair_runs",
            name,
            fn,
            normalization=norm,
            seeds=seeds,
            cfg=HeadConfig(epochs=fb.epochs),
            n_boot=fb.n_boot,
            n_perm=fb.n_perm,
            data_dir=b.data_dir,
            **kwargs,
        )
        res, scorer, *_ = to_result(r, fb.n_boot, fb.n_perm, b.seed)
        b.log(f"    {name}: {time.perf_counter() - t0:.0f} s")
        res.figures.update(method_figure(b.figures, name, bars(res, scorer), title(norm)))
        out[name] = res
    return out
