"""The main job behind ``make demo``.

For every dataset in the data directory: read it, preprocess it with its preset
(cached), summarise it (counts, shapes, classes) and save one figure. Later
stages (training, evaluation) extend this job.

The data directory is ``--data-dir``, else ``$BRAINALIGN_DATA``, else
``../shared/data`` when it exists, else ``~/brainalign_data``. On a fresh machine
(no such folder, or one holding none of the demo's sets) the demo sets are
downloaded into it first with :func:`brainalign.data.fetch.fetch` (checksummed,
resumable; ``$BRAINALIGN_FETCH_BASE_URL`` names a mirror); without a network the
demo ends with one line saying what to do.
"""

from __future__ import annotations

import errno
import json
import os
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from brainalign.config import DATA_ENV
from brainalign.config import data_dir as resolve_data_dir
from brainalign.data.base import detect_reader, open_dataset
from brainalign.data.catalog import dataset_folders
from brainalign.errors import BrainalignError, DataError
from brainalign.report.figures import plot_recording, plot_windows_summary
from brainalign.utils.io import atomic_write_text

#: reader name -> preprocessing preset used by the demo
DEMO_PRESETS: dict[str, str] = {
    "eegmat": "eegmat_windows",
    "eegnb": "n170_epochs",
    "eegmmidb": "eegmmidb_mi",
    "fif": "n400_epochs",
}


#: the benchmark tasks the demo runs (quick budget): issue 10's fair protocol on eegmat (the
#: aligned model beside band power + LR, the same network on labels and the shuffled-text
#: control), P300 and SMNI, and generation from EEG (the 64 px generator of
#: :data:`~brainalign.experiments.budgets.GENERATION_DEMO`). ``brainalign benchmark real --quick``
#: runs every task (an hour or more on two cores).
DEMO_TASKS: tuple[str, ...] = ("eegmat_fair", "p300_fair", "smni_fair", "generation")
#: reader names of the data sets those tasks read
DEMO_BENCHMARK_READERS: frozenset[str] = frozenset({"eegmat", "eegnb", "eegmmidb", "smni"})


#: what the demo downloads on a machine without data: (registry name, subjects); small
#: on purpose (about 35 MB): four eegmat subjects (rest and arithmetic, with ECG) and
#: two N170 subjects with the 96 stimulus images
DEMO_FETCH: tuple[tuple[str, tuple[int, ...]], ...] = (("eegmat", (0, 1, 2, 3)), ("n170", (1, 2)))


def demo_data_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """``data_dir``, else ``$BRAINALIGN_DATA``, else ``../shared/data`` (beside the
    checkout the demo runs from) when it exists, else the default data directory."""
    if data_dir or os.environ.get(DATA_ENV):
        return resolve_data_dir(data_dir)
    shared = Path.cwd().parent / "shared" / "data"
    return shared.resolve() if shared.is_dir() else resolve_data_dir()


def _has_demo_sets(root: Path) -> bool:
    if not root.is_dir():
        return False
    return any(getattr(detect_reader(f), "name", None) in DEMO_PRESETS for f in dataset_folders(root))


def ensure_demo_data(root: Path, progress: bool = True) -> list[str]:
    """Download the demo sets (:data:`DEMO_FETCH`) into ``root`` when it is absent or
    holds none of the sets the demo preprocesses; returns the names fetched. A
    failed download is one DataError line saying what to do instead."""
    if _has_demo_sets(root):
        return []
    from brainalign.data.fetch import fetch

    names = [name for name, _ in DEMO_FETCH]
    print(
        f"brainalign demo: no demo data in {root}; downloading {', '.join(names)} (checksummed, resumable)", flush=True
    )
    for name, subjects in DEMO_FETCH:
        try:
            fetch(name, data_dir=root, subjects=subjects, progress=progress)
        except (DataError, OSError) as err:
            reason = " ".join(str(err).split())  # one line, whatever the cause
            raise DataError(
                None,
                f"no data to show: {root} holds none of the demo sets and downloading "
                f"{name} failed ({reason}). Set BRAINALIGN_DATA (or --data-dir) to a folder of "
                f"recordings, or run `brainalign fetch {name}` when online",
            ) from None
    return names


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
    windows = None
    if preset is not None:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                windows = cached_windows(reader, get_preset(preset), progress=progress)
            except DataError:
                # the reader's layout but not the preset's paradigm (eeg-notebooks P300 or cueing
                # recordings hold no N170 face/house marker): show a recording instead, and
                # keep quiet about the recordings the preset skipped
                row["note"] = f"preset {preset} gives no window here"
                preset = None
        if windows is not None:
            for w in caught:
                warnings.showwarning(w.message, w.category, w.filename, w.lineno)
    if windows is None:
        plot_recording(reader.load(reader.refs()[0]), fig_path)
        row.update(preset=None, windows=None)
    else:
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


def run_demo(
    out: Path, data_dir: str | os.PathLike | None = None, benchmark: bool = True, progress: bool = True
) -> int:
    """Summarise every dataset of ``data_dir`` into ``out`` (one figure each and
    ``datasets.json``), printing one line per dataset; then, with ``benchmark``
    and when the data directory holds their datasets, run the quick benchmark's
    :data:`DEMO_TASKS` into ``out/benchmark`` and print its headline table. Prints the
    total time; ``progress`` shows preprocessing and download bars. The data
    directory is :func:`demo_data_dir`; the demo sets are downloaded into it first
    when it holds none (:func:`ensure_demo_data`). A dataset that cannot be read is
    named and skipped. Returns the exit code (0)."""
    t0 = time.perf_counter()
    if out.exists() and not out.is_dir():  # an unusable --out fails before anything is downloaded
        raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(out))
    root = demo_data_dir(data_dir)
    ensure_demo_data(root, progress)
    data_dir = root
    out.mkdir(parents=True, exist_ok=True)
    folders = dataset_folders(data_dir)
    print(f"brainalign demo: {len(folders)} datasets in the data directory")
    rows = []
    for folder in folders:
        print(f"- {folder.name}: reading and preprocessing ...", flush=True)
        try:
            row = summarise_dataset(folder, out, progress)
        except BrainalignError as err:
            print(f"  skipped: {' '.join(str(err).split())[:300]}", flush=True)
            continue
        rows.append(row)
        shape = "x".join(map(str, row["windows"])) if row.get("windows") else "-"
        extra = f", classes {row['classes']}" if row.get("classes") else ""
        extra += f" ({row['note']})" if row.get("note") else ""
        print(
            f"  {row['subjects']} subjects, {row['recordings']} recordings, modalities "
            f"{','.join(row['modalities'])}; windows {shape}{extra} ({row['seconds']} s) -> {row['figure']}",
            flush=True,
        )
    atomic_write_text(out / "datasets.json", json.dumps(rows, indent=2, default=str))
    print(f"brainalign demo: datasets summarised in {time.perf_counter() - t0:.1f} s")
    needed = set(DEMO_BENCHMARK_READERS)
    have = {r["reader"] for r in rows}
    if benchmark and not needed <= have:
        print(f"brainalign demo: no benchmark (it needs the {', '.join(sorted(needed - have))} datasets)")
    elif benchmark:
        from brainalign.experiments.benchmark import format_headline, run_real_benchmark

        print(
            f"brainalign demo: quick benchmark of {', '.join(DEMO_TASKS)} (small budget; "
            "`brainalign benchmark real --quick` runs every task, `brainalign benchmark real` the full budget)",
            flush=True,
        )
        from brainalign.experiments.budgets import DEMO

        results = run_real_benchmark(
            out / "benchmark", data_dir=data_dir, quick=True, tasks=list(DEMO_TASKS), budget=DEMO
        )
        print(format_headline(results))
        print(f"report: {out / 'benchmark' / 'report.html'}")
    print(f"brainalign demo: done in {time.perf_counter() - t0:.1f} s; outputs in {out}")
    return 0
