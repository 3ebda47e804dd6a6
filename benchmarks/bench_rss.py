"""Benchmark: memory over many epochs of the largest real set's cached windows.

Preprocesses every eegmat recording (the largest set in the shared data) with the
``eegmat_windows`` preset through the window cache (memory-mapped), then iterates
``--epochs`` epochs over all windows in shuffled batches, as training does (a
:func:`brainalign.utils.loader.make_loader` DataLoader, ``--workers`` worker
processes), computing each batch's per-channel log-variance so that every sample
is read. After each epoch it prints the resident set size (RSS) and the peak RSS
during that epoch (``VmHWM``, reset before each epoch through
``/proc/self/clear_refs``, Linux), and at the end the growth of the peak from the
second epoch to the last: flat memory means no leak per epoch (the first epoch
pays for mapping the cache entry).

Usage: python benchmarks/bench_rss.py [--data DIR] [--epochs 20] [--workers 0] [--batch 64]
Data: ``--data``, else ``$BRAINALIGN_DATA``, else ``../shared/data`` beside the checkout.
Not a test: the first run preprocesses eegmat (about a minute), each epoch takes seconds.
Exits with status 1 when the peak grows by more than ``--max-growth-mb`` (default 50).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from brainalign.data import open_dataset
from brainalign.preprocessing import cached_windows, get_preset
from brainalign.utils.loader import make_loader

REPO = Path(__file__).resolve().parents[1]


def data_root(arg: str | None) -> Path:
    if arg:
        return Path(arg)
    env = os.environ.get("BRAINALIGN_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data"


def _status_kb(field: str) -> int:
    """A ``kB`` field of /proc/self/status (VmRSS, VmHWM)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def reset_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0); False where not allowed."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


class WindowSet(Dataset):
    """Windows of a memory-mapped array, copied out one at a time (as training reads them)."""

    def __init__(self, data: np.ndarray):
        self.data = data

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, i: int) -> torch.Tensor:
        return torch.from_numpy(np.array(self.data[i], dtype=np.float32))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=None)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--cache", default=None, help="cache folder (default: a temporary one)")
    parser.add_argument("--max-growth-mb", type=float, default=50.0)
    args = parser.parse_args(argv)

    import mne

    mne.set_log_level("ERROR")
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(args.cache) if args.cache else Path(tmp)
        t0 = time.perf_counter()
        reader = open_dataset(data_root(args.data) / "eegmat")
        windows = cached_windows(reader, get_preset("eegmat_windows"), cache, progress=False)
        size_mb = windows.data.nbytes / 2**20
        print(
            f"eegmat_windows: {windows.data.shape} float32 ({size_mb:.0f} MiB, memory-mapped), "
            f"ready in {time.perf_counter() - t0:.0f} s; RSS {_status_kb('VmRSS') / 1024:.0f} MiB"
        )
        loader = make_loader(
            WindowSet(windows.data),
            batch_size=args.batch,
            shuffle=True,
            num_workers=args.workers,
            generator=torch.Generator().manual_seed(0),
        )
        can_reset = reset_peak()
        print(
            f"{'epoch':>5}  {'seconds':>7}  {'RSS MiB':>8}  {'peak MiB':>8}"
            + ("" if can_reset else "  (peak since start: /proc/self/clear_refs not writable)")
        )
        peaks = []
        for epoch in range(1, args.epochs + 1):
            reset_peak()
            start = time.perf_counter()
            total = 0.0
            for batch in loader:
                total += float(torch.log(batch.var(dim=-1) + 1e-6).mean())
            rss, peak = _status_kb("VmRSS") / 1024, _status_kb("VmHWM") / 1024
            peaks.append(peak)
            print(f"{epoch:>5}  {time.perf_counter() - start:>7.2f}  {rss:>8.0f}  {peak:>8.0f}", flush=True)
        del loader, windows
    if len(peaks) < 3:
        return 0
    growth = peaks[-1] - peaks[1]
    per_epoch = growth / (len(peaks) - 2)
    print(
        f"peak RSS from epoch 2 to {len(peaks)}: {peaks[1]:.0f} -> {peaks[-1]:.0f} MiB "
        f"({growth:+.1f} MiB, {per_epoch:+.2f} MiB per epoch)"
    )
    return 1 if growth > args.max_growth_mb else 0


if __name__ == "__main__":
    sys.exit(main())
