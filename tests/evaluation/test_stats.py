"""Bootstrap intervals, permutation p-values, chance levels and the Score record."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from brainalign.errors import DataError
from brainalign.evaluation.metrics import auc, balanced_accuracy
from brainalign.evaluation.stats import (
    Score,
    as_array,
    bootstrap_ci,
    chance_level,
    permutation_pvalue,
    score_with_stats,
)

N_BOOT = N_PERM = 200


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(np.mean(y_true == y_pred))


def _noisy_predictions(n: int, p_correct: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    pred = np.where(rng.random(n) < p_correct, y, 1 - y)
    return y, pred


def test_bootstrap_ci_contains_estimate_and_narrows_with_more_data():
    widths = []
    for n in (40, 640):
        y = np.tile([0, 1], n // 2)
        pred = np.where(np.arange(n) % 4 == 3, 1 - y, y)  # exactly 75 % right
        low, high = bootstrap_ci(accuracy, y, pred, n_boot=N_BOOT, seed=0)
        assert low <= accuracy(y, pred) <= high
        widths.append(high - low)
    # the width shrinks like 1/sqrt(n): 16x the trials -> about 4x narrower
    assert widths[1] < widths[0] / 2.5


def test_bootstrap_is_reproducible_and_seed_dependent():
    y, pred = _noisy_predictions(60, 0.7, seed=1)
    first = bootstrap_ci(accuracy, y, pred, n_boot=N_BOOT, seed=3)
    assert bootstrap_ci(accuracy, y, pred, n_boot=N_BOOT, seed=3) == first
    assert bootstrap_ci(accuracy, y, pred, n_boot=N_BOOT, seed=4) != first


def test_clustered_bootstrap_resamples_whole_groups():
    # 4 subjects of 10 trials; every trial of subjects 0 and 1 is right, of 2 and 3 wrong.
    y = np.zeros(40, dtype=int)
    pred = np.repeat([0, 0, 1, 1], 10)
    groups = np.repeat(["s0", "s1", "s2", "s3"], 10)
    seen: list[int] = []

    def n_trials(yt: np.ndarray, yp: np.ndarray) -> float:
        seen.append(len(yt))
        return accuracy(yt, yp)

    low, high = bootstrap_ci(n_trials, y, pred, n_boot=N_BOOT, seed=0, groups=groups)
    assert set(seen) == {40}  # 4 groups drawn, each with its 10 trials
    # subject-level accuracy is k/4 for k right subjects drawn, so every draw is a multiple of 1/4
    assert low in (0.0, 0.25) and high in (0.75, 1.0)
    # resampling trials instead treats the 40 trials as independent: a far narrower interval
    t_low, t_high = bootstrap_ci(accuracy, y, pred, n_boot=N_BOOT, seed=0)
    assert (t_high - t_low) < (high - low) / 2


def test_bootstrap_drops_undefined_draws_but_not_too_many():
    # 19 negatives and one positive: ~36 % of resamples miss the positive, AUC undefined there
    y = np.array([0] * 19 + [1])
    score = np.linspace(0, 1, 20)
    with pytest.raises(DataError, match="bootstrap draws"):
        bootstrap_ci(auc, y, score, n_boot=N_BOOT)
    y = np.array([0, 1] * 15)
    low, high = bootstrap_ci(auc, y, np.where(y == 1, 0.9, 0.1), n_boot=N_BOOT)
    assert low == high == 1.0


def test_permutation_pvalue_perfect_and_random():
    y = np.repeat([0, 1], 30)
    # perfect: no permutation of 60 balanced labels reaches accuracy 1 in practice
    assert permutation_pvalue(accuracy, y, y.copy(), n_perm=N_PERM) == pytest.approx(1 / (N_PERM + 1))
    rng = np.random.default_rng(0)
    pvalues = [permutation_pvalue(accuracy, y, rng.integers(0, 2, 60), n_perm=N_PERM, seed=s) for s in range(20)]
    assert 0.3 < np.mean(pvalues) < 0.7  # uniform under the null: mean 1/2
    assert min(pvalues) >= 1 / (N_PERM + 1)


def test_permutation_within_groups_keeps_labels_in_their_group():
    # group "a" holds only label 0, group "b" only label 1: within-group shuffles change nothing
    y = np.array([0, 0, 0, 1, 1, 1])
    pred = np.array([0, 0, 0, 1, 1, 1])
    groups = ["a", "a", "a", "b", "b", "b"]
    assert permutation_pvalue(accuracy, y, pred, n_perm=50, groups=groups) == 1.0
    assert permutation_pvalue(accuracy, y, pred, n_perm=50) < 0.2


def test_score_with_stats_and_to_dict():
    y, pred = _noisy_predictions(80, 0.9, seed=5)
    s = score_with_stats(
        balanced_accuracy, torch.as_tensor(y), torch.as_tensor(pred), chance=0.5, n_boot=N_BOOT, n_perm=N_PERM, seed=0
    )
    assert isinstance(s, Score)
    assert s.value == pytest.approx(balanced_accuracy(y, pred))
    assert s.ci_low <= s.value <= s.ci_high and s.ci_low > s.chance
    assert s.p_value == pytest.approx(1 / (N_PERM + 1))
    d = s.to_dict()
    assert list(d) == ["value", "ci_low", "ci_high", "p_value", "chance"]
    assert json.loads(json.dumps(d)) == d


def test_chance_levels():
    y = np.array(["a"] * 6 + ["b"] * 3 + ["c"] * 1)
    assert chance_level(y, "accuracy") == pytest.approx(6 / 10)
    assert chance_level(y, "balanced_accuracy") == pytest.approx(1 / 3)
    assert chance_level(y, "auc") == 0.5
    assert chance_level(y, "top_k", k=2) == pytest.approx(2 / 3)
    assert chance_level(y, "top_k", k=5, n_way=200) == pytest.approx(5 / 200)
    assert chance_level(y, "top_k", k=5, n_way=2) == 1.0
    with pytest.raises(DataError, match="unknown metric"):
        chance_level(y, "f1")


def test_bad_inputs_raise_data_error():
    with pytest.raises(DataError, match="y_pred has 2"):
        bootstrap_ci(accuracy, [0, 1, 1], [0, 1], n_boot=10)
    with pytest.raises(DataError, match="groups has 2"):
        permutation_pvalue(accuracy, [0, 1, 1], [0, 1, 1], n_perm=10, groups=[0, 1])
    with pytest.raises(DataError, match="n_boot"):
        bootstrap_ci(accuracy, [0, 1], [0, 1], n_boot=0)
    with pytest.raises(DataError, match="empty"):
        permutation_pvalue(accuracy, [], [], n_perm=10)
    with pytest.raises(DataError, match="NaN"):
        as_array([1.0, float("nan")], "scores", finite=True)


def test_unit_permutation_respects_correlated_windows():
    """Windows of one recording share its label: with 3 subjects x 2 recordings,
    only 2**3 label assignments exist, so even a perfect classifier cannot reach
    p < 1/8 -- while a window-level permutation would claim p ~ 1/(n_perm+1)."""
    from brainalign.evaluation.stats import permutation_pvalue

    rec = np.repeat(np.arange(6), 10)  # 6 recordings x 10 windows
    subject = rec // 2  # 3 subjects, one rest + one task each
    y = (rec % 2).astype(int)
    acc = lambda a, b: float(np.mean(a == b))  # noqa: E731
    naive = permutation_pvalue(acc, y, y.copy(), n_perm=500, seed=0, groups=subject)
    blocked = permutation_pvalue(acc, y, y.copy(), n_perm=500, seed=0, groups=subject, units=rec)
    assert naive < 0.01
    assert blocked > 1 / 8 - 0.05
