"""Benchmark: cold vs cached windows on the real eegmat recordings.

Runs the ``eegmat_windows`` preset over every eegmat recording twice through
:func:`brainalign.preprocessing.cached_windows`, into a fresh temporary cache:
the first (cold) run reads the EDFs, filters, resamples, windows and writes the
cache entry; the second reads the entry back. Both timings include one full pass
over the window array, so the cached run pays for actually reading its data
from the memory map. Prints both times and their ratio; exits with status 1 when
the ratio is under ``--min-ratio`` (default 20).

Usage: python benchmarks/bench_cache.py [--data DIR] [--min-ratio 20]
Data: ``--data``, else ``$BRAINALIGN_DATA``, else ``../shared/data`` beside the checkout.
Not a test: it takes about a minute.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import mne
import numpy as np

from brainalign.data import open_dataset
from brainalign.preprocessing import cached_windows, get_preset

REPO = Path(__file__).resolve().parents[1]


def data_root(arg: str | None) -> Path:
    if arg:
        return Path(arg)
    env = os.environ.get("BRAINALIGN_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data"


def timed_run(reader, pipeline, cache: Path) -> tuple[float, float, tuple[int, ...]]:
    """Seconds for cached_windows plus a full read of the data; (time, checksum, shape)."""
    start = time.perf_counter()
    windows = cached_windows(reader, pipeline, cache, progress=False)
    checksum = float(np.asarray(windows.data, dtype=np.float64).sum())
    return time.perf_counter() - start, checksum, windows.data.shape


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="folder holding eegmat/")
    parser.add_argument("--min-ratio", type=float, default=20.0)
    args = parser.parse_args()
    mne.set_log_level("ERROR")

    reader = open_dataset(data_root(args.data) / "eegmat")
    pipeline = get_preset("eegmat_windows")
    print(f"eegmat: {len(reader)} recordings, pipeline {pipeline.hash()}")
    with tempfile.TemporaryDirectory(prefix="brainalign-bench-") as tmp:
        cold, sum_cold, shape = timed_run(reader, pipeline, Path(tmp))
        warm, sum_warm, _ = timed_run(reader, pipeline, Path(tmp))
    if sum_cold != sum_warm:
        print("cached windows differ from the computed ones", file=sys.stderr)
        return 1
    ratio = cold / warm
    print(f"windows {shape} float32")
    print(f"cold (read + preprocess + write): {cold:8.3f} s")
    print(f"cached (key + memory-map + read): {warm:8.3f} s")
    print(f"speed-up: {ratio:.0f}x (required >= {args.min_ratio:g}x)")
    return 0 if ratio >= args.min_ratio else 1


if __name__ == "__main__":
    sys.exit(main())
