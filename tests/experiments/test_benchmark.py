"""A quick benchmark run on real data: results.json in the documented shape,
baselines and controls beside the scores, and the HTML report."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.realdata

FIELDS = {"value", "ci_low", "ci_high", "p_value", "chance"}


def test_quick_benchmark_writes_results_and_report(data_root: Path, tmp_path: Path, monkeypatch):
    from brainalign.experiments.benchmark import headline_rows, run_real_benchmark

    monkeypatch.setenv("BRAINALIGN_DATA", str(data_root))
    results = run_real_benchmark(tmp_path, quick=True, tasks=["n400_text"], log=lambda _m: None)
    on_disk = json.loads((tmp_path / "results.json").read_text())
    assert on_disk["tasks"].keys() == results.tasks.keys() == {"n400_text"}
    task = on_disk["tasks"]["n400_text"]
    for name, score in task["metrics"].items():
        assert set(score) == FIELDS, name
    assert {"chance", "erp_lr", "xdawn_ts_lr", "eegclassifier"} <= set(task["baselines"])
    assert task["baselines"]["chance"]["balanced_accuracy"] == pytest.approx(0.5)
    assert "shuffled_pairing" in task["controls"]
    assert (tmp_path / "report.html").stat().st_size > 10_000
    assert "References (not EEG methods)" in (tmp_path / "report.html").read_text()
    assert headline_rows(on_disk)[0][0] == "n400_text"
    # the words alone, as a reference: above the 0.5 of chance, below 1
    assert "text_only_cosine" not in task["baselines"]  # not an EEG method: a reference of its own
    text_only = task["references"]["text_only_cosine"]
    assert 0.5 < text_only["auc"] < 1.0


def test_eegmmidb_directions_are_run_disjoint_and_cover_both_runs(data_root: Path):
    """R03 -> R04 and R04 -> R03: each test run is never trained or validated on, and
    the two test parts together hold every left/right trial once."""
    from brainalign.experiments.tasks.triplet import _MMIDB_DIRECTIONS
    from brainalign.recipes import recipe_path
    from brainalign.training.data import build_paired_data
    from brainalign.training.recipe import load_recipe

    tested = []
    for _, group in _MMIDB_DIRECTIONS:
        rec = load_recipe(recipe_path("eegmmidb_triplet"), [f"data.split.test_groups=[{group}]"])
        data = build_paired_data(rec.data, data_root, progress=False)
        table = data.windows.table
        assert set(table["recording"].iloc[data.split.test]) == {group}
        assert group not in set(table["recording"].iloc[np.r_[data.split.train, data.split.val]])
        assert set(table["label"]) == {"left_fist", "right_fist"}
        tested.append(len(data.split.test))
    assert sum(tested) == len(table)
