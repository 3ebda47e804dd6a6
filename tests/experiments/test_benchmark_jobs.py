"""``brainalign benchmark real --jobs N``: tasks in worker processes, results in task order."""

from __future__ import annotations

import json
import multiprocessing
import os
from pathlib import Path

import pytest

from brainalign.errors import DataError
from brainalign.experiments import benchmark
from brainalign.results import Score, TaskResult


def _fake(name: str, value: float):
    def task(b) -> dict[str, TaskResult]:
        metric = Score(value, value - 0.1, value + 0.1, 0.01, 0.5)
        return {name: TaskResult(f"{name} in {os.getpid()}", "fake", {"acc": metric}).headline("acc")}

    return task


@pytest.fixture
def fake_tasks(monkeypatch):
    tasks = {"a": _fake("a", 0.9), "b": _fake("b", 0.7), "c": _fake("c", 0.6)}
    monkeypatch.setattr(benchmark, "TASKS", tasks)
    # forked workers see the patched table (the real run spawns, which re-imports the module)
    fork = multiprocessing.get_context("fork")
    monkeypatch.setattr(multiprocessing, "get_context", lambda _name=None: fork)
    import brainalign.report.html as html

    monkeypatch.setattr(html, "write_report", lambda *a, **k: None)
    return tasks


def test_jobs_run_tasks_in_workers_and_keep_the_task_order(fake_tasks, tmp_path: Path):
    serial = benchmark.run_real_benchmark(tmp_path / "serial", tasks=["c", "a", "b"], log=lambda _m: None)
    parallel = benchmark.run_real_benchmark(tmp_path / "par", tasks=["c", "a", "b"], jobs=2, log=lambda _m: None)
    assert list(parallel.tasks) == list(serial.tasks) == ["c", "a", "b"]
    for name in "abc":
        assert parallel.tasks[name].metrics["acc"].value == serial.tasks[name].metrics["acc"].value
    workers = {parallel.tasks[n].description.split()[-1] for n in "abc"}
    assert str(os.getpid()) not in workers  # every task ran in a worker process
    on_disk = json.loads((tmp_path / "par" / "results.json").read_text())
    assert list(on_disk["tasks"]) == ["c", "a", "b"] and on_disk["meta"]["jobs"] == 2


def test_bad_jobs_and_unknown_tasks_fail_before_any_work(fake_tasks, tmp_path: Path):
    with pytest.raises(DataError, match="jobs"):
        benchmark.run_real_benchmark(tmp_path, tasks=["a"], jobs=0)
    with pytest.raises(DataError, match="unknown benchmark task 'zzz'"):
        benchmark.run_real_benchmark(tmp_path, tasks=["a", "zzz"], jobs=2)
    assert not (tmp_path / "results.json").exists()


def test_longest_tasks_start_first_and_every_task_is_timed(fake_tasks, tmp_path: Path, monkeypatch):
    monkeypatch.setattr(benchmark, "TASK_SECONDS", {"b": 900.0, "c": 30.0})
    assert benchmark.submission_order(["a", "c", "b"]) == ["b", "c", "a"]  # unlisted last
    result = benchmark.run_real_benchmark(tmp_path, tasks=["a", "c", "b"], jobs=2, log=lambda _m: None)
    assert list(result.tasks) == ["a", "c", "b"]  # reported in the order asked for
    seconds = json.loads((tmp_path / "results.json").read_text())["meta"]["task_seconds"]
    assert list(seconds) == ["a", "c", "b"] and all(v >= 0 for v in seconds.values())


def test_every_timed_task_is_a_benchmark_task():
    assert set(benchmark.TASK_SECONDS) <= set(benchmark.TASKS)


def test_default_run_leaves_out_only_the_extended_studies_and_all_runs_everything(tmp_path: Path, monkeypatch):
    assert set(benchmark.DEFAULT_TASKS) | set(benchmark.EXTENDED_TASKS) == set(benchmark.TASKS)
    assert not set(benchmark.DEFAULT_TASKS) & set(benchmark.EXTENDED_TASKS)
    ran: list[str] = []
    fakes = {n: (lambda b, n=n: ran.append(n) or {}) for n in benchmark.TASKS}
    monkeypatch.setattr(benchmark, "TASKS", fakes)
    import brainalign.report.html as html

    monkeypatch.setattr(html, "write_report", lambda *a, **k: None)
    benchmark.run_real_benchmark(tmp_path / "default", log=lambda _m: None)
    assert ran == list(benchmark.DEFAULT_TASKS)
    ran.clear()
    benchmark.run_real_benchmark(tmp_path / "all", tasks=["all"], log=lambda _m: None)
    assert ran == list(fakes)
