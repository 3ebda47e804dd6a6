"""``brainalign demo`` end to end, on a data folder holding only the two small sets
(links to the N400 epochs and the WFDB records), run once for the whole module."""

from __future__ import annotations

import json
import os
import re
import stat
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.test_cli import CliResult, is_png, run_cli

DATASETS = ("n400", "wfdb")


@dataclass(frozen=True)
class DemoRun:
    result: CliResult
    out: Path
    cache: Path
    wall_s: float


@pytest.fixture(scope="module")
def demo(data_root: Path, tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    base = tmp_path_factory.mktemp("demo")
    data = base / "data"
    data.mkdir()
    for name in DATASETS:
        (data / name).symlink_to(data_root / name)
    out, cache = base / "out", base / "cache"
    t0 = time.perf_counter()
    result = run_cli("demo", "--out", out, data_dir=data, cache_dir=cache)
    wall_s = time.perf_counter() - t0
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return DemoRun(result, out, cache, wall_s)


@pytest.mark.realdata
def test_one_png_per_dataset_and_nothing_else(demo: DemoRun):
    assert sorted(os.listdir(demo.out)) == sorted([f"{name}.png" for name in DATASETS] + ["datasets.json"])
    for name in DATASETS:
        assert is_png(demo.out / f"{name}.png")


@pytest.mark.realdata
def test_datasets_json(demo: DemoRun):
    rows = {row["name"]: row for row in json.loads((demo.out / "datasets.json").read_text())}
    assert set(rows) == set(DATASETS)
    n400 = rows["n400"]
    assert (n400["reader"], n400["preset"]) == ("fif", "n400_epochs")
    assert n400["windows"] == [200, 32, 60]  # data README: 200 epochs, 32 channels, -0.2..0.98 s at 50 Hz
    assert set(n400["classes"]) == {"related", "unrelated"} and sum(n400["classes"].values()) == 200
    wfdb = rows["wfdb"]
    assert (wfdb["reader"], wfdb["recordings"], wfdb["windows"]) == ("wfdb", 3, None)
    for name, row in rows.items():
        assert row["figure"] == str(demo.out / f"{name}.png")
        assert 0 <= row["seconds"] < demo.wall_s


@pytest.mark.realdata
def test_lines_printed(demo: DemoRun):
    lines = demo.result.stdout.splitlines()
    assert lines[0] == f"brainalign demo: {len(DATASETS)} datasets in the data directory"
    assert any("windows 200x32x60" in line and line.endswith(f"-> {demo.out / 'n400.png'}") for line in lines)
    assert any(line.endswith(f"-> {demo.out / 'wfdb.png'}") for line in lines)
    done = re.fullmatch(r"brainalign demo: done in (\d+\.\d) s; outputs in (.+)", lines[-1])
    assert "brainalign demo: no benchmark (it needs the eegmat, eegmmidb, eegnb, smni datasets)" in lines
    assert done, lines[-1]
    assert 0 < float(done.group(1)) < demo.wall_s and done.group(2) == str(demo.out)
    assert demo.result.other_stderr_lines == []  # no progress bar when stderr is not a terminal


@pytest.mark.realdata
def test_windows_cached_once(demo: DemoRun):
    """Only the N400 set has a preset; its windows sit in the cache as one entry."""
    (entry,) = (demo.cache / "windows").iterdir()
    meta = json.loads((entry / "meta.json").read_text())
    assert meta["shape"] == [200, 32, 60]


@pytest.mark.realdata
def test_outputs_have_the_usual_permissions(demo: DemoRun):
    mask = os.umask(0o022)
    os.umask(mask)
    for path in demo.out.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask, path


def test_demo_tasks_are_benchmark_tasks():
    from brainalign.experiments.benchmark import TASKS
    from brainalign.experiments.demo import DEMO_TASKS

    assert DEMO_TASKS and set(DEMO_TASKS) <= set(TASKS)
