"""Reading raw EEG files so that a bad file gives one clear DataError.

MNE reads a truncated EDF without complaint (it infers the record count from the
file size and only warns), and its readers fail on empty or corrupt files with
``ValueError("Bad EDF file provided.")`` and similar messages that do not say which
file. :func:`read_raw_safely` checks the EDF/BDF header against the file size first
and turns every failure into :class:`~brainalign.errors.DataError` naming the file;
:func:`check_finite` rejects NaN/Inf samples.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import mne
import numpy as np

from brainalign.errors import DataError

#: Extensions whose header :func:`check_edf_size` validates, with bytes per sample.
_EDF_SAMPLE_BYTES = {".edf": 2, ".bdf": 3}
_FIXED_HEADER = 256
_SIGNAL_HEADER = 256
# Offset of the "samples per record" fields inside the signal headers, per signal:
# label 16 + transducer 80 + unit 8 + physical min/max 16 + digital min/max 16 + prefilter 80.
_SAMPLES_FIELD = 216


def _header_int(path: Path, header: bytes, start: int, stop: int, field: str) -> int:
    raw = header[start:stop].decode("ascii", errors="replace").strip()
    try:
        return int(raw)
    except ValueError:
        raise DataError(path, f"corrupt EDF header: {field} is {raw!r}, not a number") from None


def check_edf_size(path: str | os.PathLike) -> None:
    """Check that an EDF/BDF file holds exactly the data records its header announces.

    A header record count of -1 (recording not closed) is accepted when the data part
    is a whole number of records. Raises DataError for an empty file, a truncated
    header, a truncated data part or extra bytes after the last record.
    """
    path = Path(path)
    sample_bytes = _EDF_SAMPLE_BYTES[path.suffix.lower()]
    size = path.stat().st_size
    if size == 0:
        raise DataError(path, "empty file (0 bytes)")
    with open(path, "rb") as fh:
        fixed = fh.read(_FIXED_HEADER)
        if len(fixed) < _FIXED_HEADER:
            raise DataError(path, f"truncated EDF header ({size} bytes, the fixed header alone is 256)")
        n_signals = _header_int(path, fixed, 252, 256, "the number of signals")
        header_bytes = _header_int(path, fixed, 184, 192, "the header size")
        n_records = _header_int(path, fixed, 236, 244, "the number of data records")
        if n_records < -1:
            raise DataError(path, f"corrupt EDF header: {n_records} data records")
        if n_signals <= 0 or header_bytes != _FIXED_HEADER + _SIGNAL_HEADER * n_signals:
            raise DataError(
                path,
                f"corrupt EDF header: {n_signals} signals but a header of {header_bytes} bytes",
            )
        if size < header_bytes:
            raise DataError(path, f"truncated EDF header ({size} of {header_bytes} bytes)")
        signal_headers = fh.read(_SIGNAL_HEADER * n_signals)
    offset = _SAMPLES_FIELD * n_signals
    samples = [
        _header_int(path, signal_headers, start, start + 8, f"samples per record of signal {i}")
        for i, start in enumerate(range(offset, offset + 8 * n_signals, 8))
    ]
    record_bytes = sum(samples) * sample_bytes
    data_bytes = size - header_bytes
    if record_bytes <= 0:
        raise DataError(path, "corrupt EDF header: data records hold no samples")
    if n_records == -1:
        if data_bytes % record_bytes:
            raise DataError(
                path, f"truncated: last data record incomplete ({data_bytes % record_bytes} of {record_bytes} bytes)"
            )
        return
    expected = n_records * record_bytes
    if data_bytes < expected:
        raise DataError(
            path,
            f"truncated: header announces {n_records} data records ({expected} bytes) but the file "
            f"holds {data_bytes} bytes of data ({data_bytes // record_bytes} complete records)",
        )
    if data_bytes > expected:
        raise DataError(
            path,
            f"corrupt: {data_bytes - expected} bytes after the {n_records} data records the header announces",
        )


def check_file(path: str | os.PathLike) -> None:
    """Cheap check, reading headers only, that ``path`` can hold a recording: it
    exists, a file is not empty, and an EDF/BDF header agrees with the file size
    (:func:`check_edf_size`). Used by listings to skip unreadable files."""
    path = Path(path)
    if not path.exists():
        raise DataError(path, "file does not exist")
    if not path.is_file():
        return
    if path.stat().st_size == 0:
        raise DataError(path, "empty file (0 bytes)")
    if path.suffix.lower() in _EDF_SAMPLE_BYTES:
        check_edf_size(path)


def read_raw_safely(path: str | os.PathLike, **kwargs: Any) -> mne.io.BaseRaw:
    """Read any MNE-readable raw file (``mne.io.read_raw``), failing with DataError.

    ``kwargs`` go to the MNE reader (``preload``, ``encoding``...); ``verbose``
    defaults to ``"error"``. EDF/BDF files are first checked by
    :func:`check_edf_size`, because MNE reads truncated ones silently.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "file does not exist")
    if path.stat().st_size == 0:
        raise DataError(path, "empty file (0 bytes)")
    if path.suffix.lower() in _EDF_SAMPLE_BYTES:
        check_edf_size(path)
    if path.suffix.lower() == ".set":
        from brainalign.data.matfile import check_mat5, is_mat5

        if is_mat5(path):
            check_mat5(path)
    kwargs.setdefault("verbose", "error")
    preload = kwargs.pop("preload", False)
    try:
        raw = mne.io.read_raw(path, preload=False, **kwargs)
        check_data_size(raw, path)
        if preload:
            raw.load_data(verbose=kwargs["verbose"])
        return raw
    except DataError:
        raise
    except Exception as err:  # any reader failure on a bad file becomes one clear error
        raise DataError(path, f"cannot be read ({type(err).__name__}: {' '.join(str(err).split())})") from err


def check_data_size(raw: mne.io.BaseRaw, path: str | os.PathLike) -> None:
    """DataError when the header of ``raw`` announces more samples than its data
    files can hold (every format MNE reads stores a sample in at least one byte):
    a corrupt header would otherwise make the reader allocate, and try to fill,
    an array of that size before anything fails."""
    files = [Path(f) for f in (raw.filenames or ()) if f is not None]
    if not files or any(f.suffix.lower() == ".gz" or not f.is_file() for f in files):
        return
    on_disk = sum(f.stat().st_size for f in files)
    samples = int(raw.n_times) * len(raw.ch_names)
    if samples > on_disk:
        raise DataError(
            path,
            f"corrupt header: it announces {raw.n_times} samples x {len(raw.ch_names)} channels, "
            f"more than the {on_disk} bytes of data on disk can hold",
        )


def check_finite(
    data: mne.io.BaseRaw | mne.BaseEpochs | np.ndarray,
    path: str | os.PathLike,
    ch_names: list[str] | None = None,
    line_offset: int | None = None,
) -> None:
    """Raise DataError when ``data`` holds NaN or Inf samples, saying how many, in
    which channels and where the first one is (or samples that are not real
    numbers: complex, text).

    ``data`` is an MNE Raw/Epochs (channel names taken from it) or an array whose
    second-to-last axis is channels, i.e. ``(channels, times)`` or ``(trials,
    channels, times)`` (a 1-D array is one channel); ``ch_names`` names those
    channels. For text formats where sample ``i`` sits on line ``i + line_offset``,
    give ``line_offset`` and the first bad sample is reported by its line.
    """
    if isinstance(data, (mne.io.BaseRaw, mne.BaseEpochs)):
        ch_names = list(data.ch_names)
        data = data.get_data()
    array = np.asarray(data)
    if np.iscomplexobj(array) or not np.issubdtype(array.dtype, np.number):
        raise DataError(path, f"samples of type {array.dtype}, not real numbers")
    if array.ndim == 1:
        array = array[np.newaxis]
    bad = ~np.isfinite(array)
    if not bad.any():
        return
    per_sample = bad.reshape(-1, *bad.shape[-2:])
    per_channel = per_sample.sum(axis=(0, 2))
    first = int(np.flatnonzero(per_sample.any(axis=(0, 1)))[0])
    names = ch_names or [str(i) for i in range(len(per_channel))]
    listed = [f"{names[i]} ({int(per_channel[i])})" for i in np.flatnonzero(per_channel)]
    shown = ", ".join(listed[:5]) + (f" and {len(listed) - 5} more" if len(listed) > 5 else "")
    where = f"line {first + line_offset}" if line_offset is not None else f"sample {first}"
    raise DataError(path, f"{int(bad.sum())} NaN/Inf samples in channel(s) {shown}; first at {where}")
