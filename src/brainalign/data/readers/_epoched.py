"""Helpers shared by the readers of benchmarks distributed as epoched arrays
(THINGS-EEG2, EEGCVPR40, ThoughtViz, the Kaneshiro object set): turn a
``(trials, channels, times)`` array into MNE epochs, build the trials table, list
stimulus images. Kept in one place so that every such reader validates alike."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import mne
import numpy as np
import pandas as pd

from brainalign.errors import DataError

#: File suffixes taken for stimulus images (compared lower-case).
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"})


def epochs_from_array(
    data: np.ndarray,
    ch_names: Sequence[str],
    sfreq: float,
    *,
    path: str | os.PathLike,
    tmin: float = 0.0,
    ch_types: str | Sequence[str] = "eeg",
) -> mne.EpochsArray:
    """MNE epochs from ``data`` of shape ``(trials, channels, times)``.

    Raises :class:`DataError` naming ``path`` when the array is not 3-D, does not
    match ``ch_names``, is empty, or holds NaN/Inf samples.
    """
    data = np.asarray(data)
    if data.ndim != 3:
        raise DataError(path, f"expected trials x channels x times, got shape {data.shape}")
    if data.shape[1] != len(ch_names):
        raise DataError(path, f"{data.shape[1]} channels in the data but {len(ch_names)} channel names")
    if data.shape[0] == 0 or data.shape[2] == 0:
        raise DataError(path, f"no samples (shape {data.shape})")
    if not np.issubdtype(data.dtype, np.floating):
        raise DataError(path, f"EEG samples should be floating point, found {data.dtype}")
    if not np.isfinite(data).all():
        bad = int((~np.isfinite(data)).any(axis=(1, 2)).sum())
        raise DataError(path, f"NaN or Inf samples in {bad} trial(s)")
    if not (np.isfinite(sfreq) and sfreq > 0):
        raise DataError(path, f"invalid sampling rate {sfreq!r}")
    info = mne.create_info(list(ch_names), float(sfreq), ch_types)
    return mne.EpochsArray(data, info, tmin=float(tmin), verbose="error")


def trials_frame(n: int, **columns: Any) -> pd.DataFrame:
    """Trials table for epoched data: ``onset`` NaN (no continuous time axis), then
    ``columns`` (each a scalar or ``n`` values)."""
    frame = pd.DataFrame({"onset": np.full(n, np.nan)})
    for name, values in columns.items():
        frame[name] = values
    return frame


def image_files(folder: Path) -> list[Path]:
    """Image files directly in ``folder``, sorted by name."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
