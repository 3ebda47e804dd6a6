"""A quick benchmark run on real data: results.json in the documented shape,
baselines and controls beside the scores, and the HTML report."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.realdata

FIELDS = {"value", "ci_low", "ci_high", "p_value", "chance"}


def test_quick_benchmark_writes_results_and_report(data_root: Path, tmp_path: Path, monkeypatch):
    from brainalign.evaluation.benchmark import headline_rows, run_real_benchmark

    monkeypatch.setenv("BRAINALIGN_DATA", str(data_root))
    results = run_real_benchmark(tmp_path, quick=True, tasks=["n400_text"], log=lambda _m: None)
    on_disk = json.loads((tmp_path / "results.json").read_text())
    assert on_disk["tasks"].keys() == results["tasks"].keys() == {"n400_text"}
    task = on_disk["tasks"]["n400_text"]
    for name, score in task["metrics"].items():
        assert set(score) == FIELDS, name
    assert {"chance", "erp_lr", "xdawn_ts_lr", "eegclassifier"} <= set(task["baselines"])
    assert task["baselines"]["chance"]["balanced_accuracy"] == pytest.approx(0.5)
    assert "shuffled_pairing" in task["controls"]
    assert (tmp_path / "report.html").stat().st_size > 10_000
    assert headline_rows(on_disk)[0][0] == "n400_text"
