"""The run log: a CSV row per epoch, and a curve figure that is redrawn sparingly but
always holds every epoch once the run is closed."""

from __future__ import annotations

import csv

from brainalign.training import runlog
from brainalign.training.runlog import RunLogger


def test_curves_are_throttled_during_training_and_complete_at_close(tmp_path, monkeypatch):
    drawn: list[int] = []
    monkeypatch.setattr(runlog.RunLogger, "plot", lambda self: (drawn.append(len(self.rows)), _mark(self)))
    clock = iter([0.0, 1.0, 2.0, 40.0, 41.0, 42.0, 43.0, 44.0])
    monkeypatch.setattr(runlog.time, "monotonic", lambda: next(clock))
    log = RunLogger(tmp_path, enabled=True, plot_every_s=30.0)
    for epoch in range(5):
        log.log({"epoch": epoch, "train_loss": 1.0 / (epoch + 1), "val_loss": 1.0})
    log.close()
    # first epoch drawn, then none until 30 s have passed, then the final state at close
    assert drawn[0] == 1 and drawn[-1] == 5
    assert len(drawn) < 5
    with open(tmp_path / "log.csv") as fh:
        assert [int(r["epoch"]) for r in csv.DictReader(fh)] == list(range(5))


def _mark(logger: RunLogger) -> None:
    logger._plotted_at, logger._plotted_rows = runlog.time.monotonic(), len(logger.rows)


def test_close_draws_the_real_figure(tmp_path):
    log = RunLogger(tmp_path, enabled=True, plot_every_s=1e9)
    log.log({"epoch": 0, "train_loss": 2.0, "val_loss": 2.1})
    log.log({"epoch": 1, "train_loss": 1.0, "val_loss": 1.5})
    log.close()
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
