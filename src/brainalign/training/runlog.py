"""Training logs: CSV, TensorBoard, and a plot of the training curves."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from brainalign.utils.io import atomic_path


class RunLogger:
    """Appends one row per epoch to ``log.csv`` and to TensorBoard (``tb/``)."""

    def __init__(self, run_dir: Path, enabled: bool = True):
        self.run_dir = run_dir
        self.enabled = enabled
        self.rows: list[dict[str, Any]] = []
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

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()
