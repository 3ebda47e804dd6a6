"""Training logs: CSV, TensorBoard, and a plot of the training curves."""

from __future__ import annotations

import csv
import time
from pathlib import Path
from typing import Any

from brainalign.utils.io import atomic_path


class RunLogger:
    """Appends one row per epoch to ``log.csv`` and to TensorBoard (``tb/``), and
    redraws ``curves.png``: at most every ``plot_every_s`` seconds while training
    (drawing costs seconds, as much as an epoch of a small model) and always at
    :meth:`close`, so the finished run's figure holds every epoch."""

    def __init__(self, run_dir: Path, enabled: bool = True, plot_every_s: float = 30.0):
        self.run_dir = run_dir
        self.enabled = enabled
        self.plot_every_s = plot_every_s
        self.rows: list[dict[str, Any]] = []
        self._plotted_at: float | None = None
        self._plotted_rows = 0
        self._tb = None
        if enabled:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self._tb = SummaryWriter(log_dir=str(run_dir / "tb"))
            except ImportError:  # tensorboard is optional
                self._tb = None

    def restore(self, rows: list[dict[str, Any]]) -> None:
        self.rows = list(rows)

    def log(self, row: dict[str, Any]) -> None:
        self.rows.append(row)
        if not self.enabled:
            return
        if self._tb is not None:
            for k, v in row.items():
                if k != "epoch" and isinstance(v, (int, float)):
                    self._tb.add_scalar(k, v, row["epoch"])
            self._tb.flush()
        self.write_csv()
        if self._plotted_at is None or time.monotonic() - self._plotted_at >= self.plot_every_s:
            self.plot()

    def write_csv(self) -> None:
        keys: list[str] = []
        for r in self.rows:
            keys += [k for k in r if k not in keys]
        with atomic_path(self.run_dir / "log.csv") as tmp:
            with open(tmp, "w", newline="") as fh:
                w = csv.DictWriter(fh, fieldnames=keys)
                w.writeheader()
                w.writerows(self.rows)

    def plot(self) -> None:
        from brainalign.training.curves import plot_training_curves

        plot_training_curves(self.rows, self.run_dir / "curves.png")
        self._plotted_at, self._plotted_rows = time.monotonic(), len(self.rows)

    def close(self) -> None:
        if self.enabled and self.rows and self._plotted_rows != len(self.rows):
            self.plot()
        if self._tb is not None:
            self._tb.close()
