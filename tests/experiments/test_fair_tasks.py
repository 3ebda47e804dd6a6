"""The fair-protocol benchmark tasks (eegmat_fair, p300_fair, smni_fair) turn the fair.py
results into typed TaskResults: synthetic stand-ins for the fair.py functions, so it is fast."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from brainalign.experiments import fair
from brainalign.experiments.benchmark import TASKS, format_headline
from brainalign.experiments.budgets import QUICK
from brainalign.experiments.common import Bench
from brainalign.experiments.fair_scores import FairScorer, mean_of_groups, pooled_bacc
from brainalign.results import BenchmarkResult, Score, TaskResult


def _scores(y: np.ndarray, seeds: Any, methods: Any, rng: np.random.Generator) -> dict[str, dict[int, np.ndarray]]:
    signal = {m: (0.0 if "shuffled" in m else 1.0) for m in methods}
    return {m: {s: signal[m] * (y - 0.5) + rng.standard_normal(len(y)) for s in seeds} for m in methods}


def _eegmat_aligned(window_s: float, normalization: str, seeds: Any = (0,), **kw: Any) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    subjects = np.repeat([f"s{i}" for i in range(8)], 10)
    y = np.tile(np.repeat([0, 1], 5), 8)
    recordings = np.char.add(subjects, y.astype(str))
    methods = ("zero_shot", "zero_shot_raw", "lr", "ce", "shuffled", "probe_full", "probe_0.1")
    return {
        "protocol": "GroupKFold by subject",
        "normalization": {"source": normalization, "transductive": normalization == "own"},
        "head_config": {},
        "training_texts": "2 texts",
        "prompts": fair.EEGMAT_PROMPTS,
        "scores": _scores(y, seeds, methods, rng),
        "y": y,
        "subjects": subjects,
        "recordings": recordings,
    }


def _bandpower_lr(window_s: float, normalization: str, **kw: Any) -> dict[str, Any]:
    return {"balanced_accuracy": 0.66, "auc": 0.72, "reference": {"balanced_accuracy": 0.658}}


def _eyes(*a: Any, **kw: Any) -> dict[str, Any]:
    return {
        "balanced_accuracy": 0.8,
        "auc": 0.9,
        "prompts": fair.EYES_PROMPTS,
        "n_windows": 60,
        "fraction_closer_to_rest_prompts": {"eyes_open": 1.0, "eyes_closed": 1.0},
    }


def _p300_aligned(protocol: str, seeds: Any = (0,), **kw: Any) -> dict[str, Any]:
    rng = np.random.default_rng(1)
    subjects = np.repeat(["1", "3", "4"], 40)
    y = np.tile(np.r_[np.zeros(30, int), np.ones(10, int)], 3)
    methods = ("zero_shot", "train_texts", "ce", "xdawn_ts_lr", "shuffled")
    return {
        "protocol": protocol,
        "protocol_detail": protocol,
        "normalization": {"transductive": False},
        "training_texts": fair.P300_TEXTS,
        "prompts": fair.P300_PROMPTS,
        "head_config": {},
        "seeds": list(seeds),
        "n_epochs": len(y),
        "zero_shot_subject_1": 0.6,
        "scores": _scores(y, seeds, methods, rng),
        "y": y,
        "subjects": subjects,
        "sessions": np.zeros(len(y), int).astype(str),
    }


def _p300_reference(protocol: str = "within", **kw: Any) -> dict[str, Any]:
    ba = {"within": 0.58, "loso_session": 0.63}[protocol]
    return {"balanced_accuracy": ba, "auc": 0.64, "reference": {"balanced_accuracy": ba - 0.002}}


def _smni_aligned(seeds: Any = (0,), **kw: Any) -> dict[str, Any]:
    rng = np.random.default_rng(2)
    subjects = np.repeat([f"c{i}" for i in range(12)], 6)
    y = np.repeat(np.arange(12) % 2, 6)
    methods = ("zero_shot_issue", "zero_shot_reworded", "ce", "tangent_lr", "erp_lr", "shuffled")
    return {
        "protocol": "GroupKFold by subject",
        "normalization": {"transductive": False},
        "training_texts": "4 texts",
        "prompts": fair.SMNI_PROMPTS,
        "n_subjects": 12,
        "n_trials": len(y),
        "references": {},
        "scores": _scores(y, seeds, methods, rng),
        "y": y,
        "subjects": subjects,
    }


def _smni_condition_aligned(seeds: Any = (0,), normalization: str = "train", **kw: Any) -> dict[str, Any]:
    rng = np.random.default_rng(3)
    subjects = np.repeat([f"c{i}" for i in range(10)], 9)
    y3 = np.tile(np.repeat([0, 1, 2], 3), 10)
    y = (y3 > 0).astype(int)
    methods = ("zero_shot", "zero_shot_train_threshold", "zero_shot_reader_texts", "ce", "erp_lr", "shuffled")
    scores = _scores(y, seeds, methods, rng)
    for m in ("zero_shot_3way", "erp_lr_3way"):
        scores[m] = {s: np.where(rng.random(len(y)) < 0.7, y3, rng.integers(0, 3, len(y))) for s in seeds}
    return {
        "protocol": "GroupKFold by subject",
        "normalization": {"source": normalization, "transductive": normalization == "own"},
        "training_texts": {"S1": "EEG of a subject viewing a single picture"},
        "reader_texts": "6 texts",
        "prompts": fair.SMNI_CONDITION_PROMPTS,
        "n_subjects": 10,
        "n_trials": len(y),
        "seeds": list(seeds),
        "references": {},
        "scores": scores,
        "y": y,
        "y3": y3,
        "subjects": subjects,
    }


@pytest.fixture()
def bench(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Bench:
    for name, fn in (
        ("eegmat_aligned", _eegmat_aligned),
        ("eegmat_bandpower_lr", _bandpower_lr),
        ("eyes_zero_shot", _eyes),
        ("p300_aligned", _p300_aligned),
        ("p300_xdawn_reference", _p300_reference),
        ("smni_aligned", _smni_aligned),
        ("smni_condition_aligned", _smni_condition_aligned),
    ):
        monkeypatch.setattr(fair, name, fn)
    return Bench(tmp_path, None, QUICK, 0, lambda _m: None)


EXPECTED = {
    "eegmat_fair": {
        "eegmat_fair": {"zeroshot_text_bacc", "zeroshot_text_auc", "ce_bacc", "probe_full_bacc", "probe_10pct_bacc"},
        "eegmat_fair_own_transductive": {"zeroshot_text_bacc", "ce_bacc"},
        "eegmat_eyes_zero_shot": {"zeroshot_eyes_bacc", "zeroshot_eyes_auc"},
    },
    "p300_fair": {
        "p300_fair_within": {"zeroshot_text_bacc", "train_texts_prototype_bacc", "ce_bacc"},
        "p300_fair_loso_subject": {"zeroshot_text_bacc", "ce_bacc"},
    },
    "smni_fair": {
        "smni_fair": {"zeroshot_text_bacc", "zeroshot_issue_prompts_bacc", "ce_bacc", "zeroshot_text_trial_bacc"},
        "smni_condition": {"zeroshot_text_bacc", "zeroshot_text_auc", "ce_bacc", "zeroshot_3way_bacc"},
        "smni_condition_own_transductive": {"zeroshot_text_bacc", "zeroshot_3way_bacc"},
    },
}


@pytest.mark.parametrize("task", sorted(EXPECTED))
def test_fair_task_returns_typed_results(bench: Bench, task: str):
    out = TASKS[task](bench)
    assert set(out) == set(EXPECTED[task])
    for name, result in out.items():
        assert isinstance(result, TaskResult)
        assert EXPECTED[task][name] <= set(result.metrics), (name, sorted(result.metrics))
        assert all(isinstance(s, Score) for s in result.metrics.values())
        assert result.primary_metric in result.metrics
        assert result.baselines["chance"]["balanced_accuracy"] == 0.5
        for path in result.figures.values():
            assert Path(path).exists()
        if name != "eegmat_eyes_zero_shot":
            head = result.metrics[result.primary_metric]
            assert head.ci_low <= head.value <= head.ci_high and 0 < head.p_value <= 1
            assert "zeroshot_text_bacc" in result.controls["shuffled_pairing"]
    # round-trips through results.json, and the headline table has a row per result
    run = BenchmarkResult(meta={}, tasks=out)
    assert BenchmarkResult.from_dict(run.to_dict()).tasks.keys() == out.keys()
    assert all(name in format_headline(run) for name in out)
    from brainalign.report.html import write_report

    assert Path(write_report(run, bench.out, base_dir=bench.out)).exists()


def test_p300_references_use_the_readme_protocols(bench: Bench):
    base = TASKS["p300_fair"](bench)["p300_fair_within"].references
    assert base["xdawn_ts_lr_readme_within_5fold"]["balanced_accuracy"] == 0.58
    assert base["xdawn_ts_lr_readme_loso_session"]["balanced_accuracy"] == 0.63


def test_transductive_variant_is_labelled(bench: Bench):
    out = TASKS["eegmat_fair"](bench)
    assert "'transductive': False" in out["eegmat_fair"].notes[0]
    assert "'transductive': True" in out["eegmat_fair_own_transductive"].notes[0]
    assert "TRANSDUCTIVE" in out["eegmat_fair_own_transductive"].protocol
    assert "bandpower_lr_readme_own_transductive" in out["eegmat_fair_own_transductive"].references
    assert not any("transductive" in k for k in out["eegmat_fair"].references)


def test_smni_condition_reports_the_three_way_against_a_third_and_labels_transductive(bench: Bench):
    out = TASKS["smni_fair"](bench)
    cond, own = out["smni_condition"], out["smni_condition_own_transductive"]
    three = cond.metrics["zeroshot_3way_bacc"]
    assert three.chance == pytest.approx(1 / 3) and three.value > 0.6 and three.p_value < 0.05
    assert cond.baselines["erp_lr_3way"]["chance"] == pytest.approx(1 / 3)
    assert "zero_shot - erp_lr" in cond.controls["paired_subject_bootstrap_difference"]
    assert "TRANSDUCTIVE" in own.protocol and "TRANSDUCTIVE" not in cond.protocol
    assert cond.controls["shuffled_pairing"]["zeroshot_text_bacc"].value < 0.65


def test_predicted_label_bacc_equals_scikit_learn():
    from sklearn.metrics import balanced_accuracy_score

    from brainalign.experiments.tasks.smni_fair import predicted_label_bacc

    rng = np.random.default_rng(5)
    y = rng.integers(0, 3, 200)
    pred = np.where(rng.random(200) < 0.5, y, rng.integers(0, 3, 200)).astype(float)
    assert predicted_label_bacc(y, pred, y) == pytest.approx(balanced_accuracy_score(y, pred.astype(int)), abs=1e-12)


def test_fair_scorer_value_interval_and_paired_difference():
    rng = np.random.default_rng(0)
    subjects = np.repeat(np.arange(20), 10)
    y = np.tile([0, 1], 100)
    good = {s: np.where(rng.random(200) < 0.8, y, 1 - y) - 0.5 for s in (0, 1)}
    bad = {s: np.where(rng.random(200) < 0.5, y, 1 - y) - 0.5 for s in (0, 1)}
    sc = FairScorer(y, subjects, {"good": good, "bad": bad}, subjects, np.arange(200), n_boot=300, n_perm=300)
    s = sc.score("good")
    assert s.ci_low < s.value < s.ci_high and s.p_value < 0.01 and s.chance == 0.5
    assert sc.score("bad").p_value > 0.01
    d = sc.difference("good", "bad")
    assert d["difference"] > 0.2 and d["ci_low"] > 0 and d["p_a_not_above_b"] < 0.01
    # mean over groups equals the pooled value when every group is balanced the same way
    assert sc.value("good", mean_of_groups(pooled_bacc)) == pytest.approx(
        np.mean([np.mean([(good[k][subjects == g] > 0) == y[subjects == g]]) for g in range(20) for k in (0, 1)]),
        abs=1e-9,
    )


def test_fast_metrics_equal_scikit_learn():
    from sklearn.metrics import balanced_accuracy_score, roc_auc_score

    from brainalign.experiments.fair_scores import pooled_auc

    rng = np.random.default_rng(3)
    y = (rng.random(300) < 0.3).astype(int)
    score = np.round(rng.standard_normal(300) + y, 1)  # ties
    assert pooled_bacc(y, score, y) == pytest.approx(balanced_accuracy_score(y, score > 0), abs=1e-12)
    assert pooled_auc(y, score, y) == pytest.approx(roc_auc_score(y, score), abs=1e-12)


def test_cached_fair_call_stores_and_reuses(tmp_path: Path):
    from brainalign.experiments.fair_scores import cached_fair_call

    calls = []

    def fake(window_s: float, normalization: str, return_scores: bool = False, **kw: Any) -> dict[str, Any]:
        calls.append(1)
        return _eegmat_aligned(window_s, normalization, seeds=(0, 1))

    first = cached_fair_call(tmp_path, "x", fake, window_s=2.0, normalization="calibration", data_dir="/a")
    again = cached_fair_call(tmp_path, "x", fake, window_s=2.0, normalization="calibration", data_dir="/b")
    assert len(calls) == 1
    np.testing.assert_array_equal(first["scores"]["zero_shot"][1], again["scores"]["zero_shot"][1])
    np.testing.assert_array_equal(first["recordings"], again["recordings"])
    assert again["normalization"] == first["normalization"]
    cached_fair_call(tmp_path, "x", fake, window_s=4.0, normalization="calibration")
    assert len(calls) == 2
    # a new protocol version of the function's module never reuses a stored run
    import sys

    module = sys.modules[fake.__module__]
    old = getattr(module, "PROTOCOL_VERSION", 1)
    try:
        module.PROTOCOL_VERSION = old + 1  # type: ignore[attr-defined]
        cached_fair_call(tmp_path, "x", fake, window_s=2.0, normalization="calibration")
        assert len(calls) == 3
    finally:
        module.PROTOCOL_VERSION = old  # type: ignore[attr-defined]
