"""The main job behind ``make demo``.

For every dataset in the data directory: read it, preprocess it with its preset
(cached), summarise it (counts, shapes, classes) and save one figure. Later
stages (training, evaluation) extend this job.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from brainalign.data.base import open_dataset
from brainalign.data.catalog import dataset_folders
from brainalign.report.figures import plot_recording, plot_windows_summary
from brainalign.utils.io import atomic_write_text

#: reader name -> preprocessing preset used by the demo
DEMO_PRESETS: dict[str, str] = {
    "eegmat": "eegmat_windows",
    "eegnb": "n170_epochs",
    "eegmmidb": "eegmmidb_mi",
    "fif": "n400_epochs",
}


def _window_tmin(pipeline: dict[str, Any]) -> float:
    """Start of each window relative to its event (EventWindow's tmin), else 0."""
    return next((float(s["tmin"]) for s in pipeline.get("steps", []) if s.get("step") == "EventWindow"), 0.0)


def summarise_dataset(folder: Path, out: Path, progress: bool = True) -> dict[str, Any]:
    """Read, preprocess and plot one dataset; returns its summary row.
    ``progress`` shows the preprocessing bar."""
    from brainalign.preprocessing import cached_windows, get_preset

    reader = open_dataset(folder)
    row: dict[str, Any] = reader.summary()
    t0 = time.perf_counter()
    preset = DEMO_PRESETS.get(reader.name)
    fig_path = out / f"{folder.name}.png"
    if preset is None:
        rec = reader.load(reader.refs()[0])
        plot_recording(rec, fig_path)
        row.update(preset=None, windows=None)
    else:
        windows = cached_windows(reader, get_preset(preset), progress=progress)
        labels = windows.table["label"].astype(str).tolist() if "label" in windows.table else None
        images = None
        if "image" in windows.table and windows.table["image"].notna().any():
            images = {
                str(lab): sorted({Path(p) for p in grp["image"].dropna()})[:6]
                for lab, grp in windows.table.groupby("label")
            }
        plot_windows_summary(
            np.asarray(windows.data[: min(len(windows.data), 4000)]),
            None if labels is None else labels[: min(len(labels), 4000)],
            windows.ch_names,
            windows.sfreq,
            fig_path,
            title=f"{folder.name} ({reader.name} reader, preset {preset}): {windows.data.shape[0]} windows",
            unit=windows.unit,
            images=images,
            tmin=_window_tmin(windows.pipeline or {}),
        )
        classes = windows.table["label"].astype(str).value_counts().to_dict() if labels else {}
        row.update(preset=preset, windows=list(windows.data.shape), sfreq=windows.sfreq, classes=classes)
    row["seconds"] = round(time.perf_counter() - t0, 2)
    row["figure"] = str(fig_path)
    return row


def run_demo(out: Path, data_dir: str | os.PathLike | None = None, benchmark: bool = True,
             progress: bool = True) -> int:
    """Summarise every dataset of ``data_dir`` into ``out`` (one figure each and
    ``datasets.json``), printing one line per dataset; then, with ``benchmark``
    and when the data directory holds the benchmark's datasets, run the quick
    benchmark into ``out/benchmark`` and print its headline table. Prints the
    total time; ``progress`` shows preprocessing bars. Returns the exit code (0)."""
    t0 = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    folders = dataset_folders(data_dir)
    print(f"brainalign demo: {len(folders)} datasets in the data directory")
    rows = []
    for folder in folders:
        print(f"- {folder.name}: reading and preprocessing ...", flush=True)
        row = summarise_dataset(folder, out, progress)
        rows.append(row)
        shape = "x".join(map(str, row["windows"])) if row.get("windows") else "-"
        extra = f", classes {row['classes']}" if row.get("classes") else ""
        print(
            f"  {row['subjects']} subjects, {row['recordings']} recordings, modalities "
            f"{','.join(row['modalities'])}; windows {shape}{extra} ({row['seconds']} s) -> {row['figure']}",
            flush=True,
        )
    atomic_write_text(out / "datasets.json", json.dumps(rows, indent=2, default=str))
    print(f"brainalign demo: datasets summarised in {time.perf_counter() - t0:.1f} s")
    needed = {"eegmat", "eegnb", "eegmmidb", "fif"}
    have = {r["reader"] for r in rows}
    if benchmark and not needed <= have:
        print(f"brainalign demo: no benchmark (it needs the {', '.join(sorted(needed - have))} datasets)")
    elif benchmark:
        from brainalign.experiments.benchmark import format_headline, run_real_benchmark

        print("brainalign demo: quick benchmark (small budget; `brainalign benchmark real` runs the full one)",
              flush=True)
        results = run_real_benchmark(out / "benchmark", data_dir=data_dir, quick=True)
        print(format_headline(results))
        print(f"report: {out / 'benchmark' / 'report.html'}")
    print(f"brainalign demo: done in {time.perf_counter() - t0:.1f} s; outputs in {out}")
    return 0
