"""``brainalign evaluate`` on a finished run: the JSON shape, repeatability, and
scoring another folder in the training data's layout."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.realdata

FIELDS = {"value", "ci_low", "ci_high", "p_value", "chance"}


def _evaluate(cli, run: Path, *extra: str) -> dict:
    proc = cli("evaluate", run, "--json", "--n-boot", "50", "--n-perm", "50", *extra, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_json_shape_and_repeatability(cli, trained_run: Path):
    first = _evaluate(cli, trained_run)
    assert list(first) == ["tiny_n400:label"]
    metrics = first["tiny_n400:label"]
    for name in ("prototype_bacc", "logreg_bacc", "svm_bacc", "knn_bacc", "kmeans_acc", "fewshot_10pct_bacc"):
        assert set(metrics[name]) == FIELDS, name
    for name, s in metrics.items():
        assert 0.0 <= s["value"] <= 1.0, name
        assert s["ci_low"] <= s["ci_high"], name
        assert 0.0 < s["p_value"] <= 1.0, name
    assert metrics["logreg_bacc"]["chance"] == 0.5
    assert _evaluate(cli, trained_run) == first  # fixed seeds: the same numbers


def test_another_folder_in_the_same_layout(cli, trained_run: Path, data_root: Path, tmp_path: Path):
    """Any folder in the layout of the training data can be scored (here: a copy
    of the N400 folder under another name)."""
    other = tmp_path / "n400_other"
    other.mkdir()
    (other / "subject04-epo.fif").symlink_to(data_root / "n400" / "subject04-epo.fif")
    results = _evaluate(cli, trained_run, "--dataset", str(other))
    assert set(results["tiny_n400:label"]["logreg_bacc"]) == FIELDS


def test_evaluate_refuses_a_folder_that_is_not_a_run(cli, tmp_path: Path):
    proc = cli("evaluate", tmp_path)
    assert proc.returncode == 2
    assert "not a run folder" in proc.stderr and "Traceback" not in proc.stderr
