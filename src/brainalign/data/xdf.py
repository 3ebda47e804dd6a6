"""XDF, Lab Streaming Layer recordings (``.xdf``, ``.xdfz``), read through pyxdf into a Recording.

The reader of a folder of them is :class:`~brainalign.data.readers.xdf.XdfReader`; the
generic reader reads single XDF files with :func:`read_xdf` too.

An XDF file holds several streams, each with its own clock. pyxdf reads them and,
from the file's ClockOffset chunks, maps every stream's time stamps onto the
recording computer's clock (``synchronize_clocks``) and removes the jitter of
regularly sampled streams; this reader builds one Recording per file from that:

* **Signals.** The streams of type EEG (case-insensitive) with a regular rate give
  ``signals["eeg"]``; ECG, EOG and EMG streams their own modality. Several such
  streams must share the EEG's nominal rate: each is interpolated onto the first
  EEG stream's time stamps and the recording is cropped to the span they all
  cover (streams at another rate are left out with a warning). Channel names come
  from the stream's ``desc/channels`` (else ``<stream> 1``, ``<stream> 2``...), their
  types from each channel's ``type`` or else the stream's, and then from the name
  (:func:`~brainalign.data.channels.retype_channels`). Samples are converted to
  volts from each channel's ``unit`` (microvolts when none is given, the XDF
  meta-data convention for EEG).
* **Markers.** Every string stream, and every irregular numeric stream of a marker
  type (Markers, Events, Triggers...), gives trials: onset in seconds from the
  first EEG sample (placed through the EEG time stamps, so a gap in the EEG does
  not shift later markers), label = the marker text (multi-channel markers joined
  with ``/``), plus ``stream`` (the marker stream's name). Markers outside the EEG
  span are left out with a warning.
* **Checks.** A file pyxdf cannot parse, or reports corrupt, no EEG stream, an EEG
  stream without samples or whose measured rate is more than 5 % off its nominal
  rate, or NaN/Inf samples: DataError naming the file.

One file is one recording; the subject is the file name without extension unless
``subject_regex`` says otherwise (as for :class:`~brainalign.data.readers.generic.GenericReader`).
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

import mne
import numpy as np
import pandas as pd

from brainalign.data.channels import retype_channels
from brainalign.data.edf import check_file, check_finite
from brainalign.data.recording import Recording, split_modalities
from brainalign.errors import DataError

XDF_SUFFIXES = (".xdf", ".xdfz")
#: stream types (lower case) read as signals, and the modality each gives
SIGNAL_TYPES = {"eeg": "eeg", "ecg": "ecg", "eog": "eog", "emg": "emg"}
#: irregular numeric streams of these types (lower case) are markers too
MARKER_TYPES = frozenset({"markers", "marker", "events", "event", "triggers", "trigger", "stim", "stimulus"})
#: channel types (XDF ``desc/channels/channel/type``, lower case) -> MNE channel type
CHANNEL_TYPES = {
    "eeg": "eeg",
    "ecg": "ecg",
    "ekg": "ecg",
    "eog": "eog",
    "emg": "emg",
    "trigger": "stim",
    "stim": "stim",
    "markers": "stim",
}
#: unit (lower case, as written in XDF meta-data) -> factor to volts
UNIT_TO_VOLTS = {
    "microvolts": 1e-6,
    "microvolt": 1e-6,
    "uv": 1e-6,
    "µv": 1e-6,
    "μv": 1e-6,
    "millivolts": 1e-3,
    "millivolt": 1e-3,
    "mv": 1e-3,
    "volts": 1.0,
    "volt": 1.0,
    "v": 1.0,
    "nanovolts": 1e-9,
    "nanovolt": 1e-9,
    "nv": 1e-9,
}
_RATE_TOLERANCE = 0.05


def is_xdf(path: str | Path) -> bool:
    return str(path).lower().endswith(XDF_SUFFIXES)


# ------------------------------------------------------------------ parsing
class _ErrorLog(logging.Handler):
    """Collects the error records pyxdf logs (it logs corruption and carries on)."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(" ".join(record.getMessage().split()))


def load_streams(path: Path) -> list[dict[str, Any]]:
    """``pyxdf.load_xdf(path)`` (clocks synchronised, jitter removed), with every
    failure, and every corruption pyxdf reports and skips, as a DataError."""
    import pyxdf

    check_file(path)
    logger = logging.getLogger("pyxdf.pyxdf")
    errors = _ErrorLog()
    logger.addHandler(errors)
    old_propagate, logger.propagate = logger.propagate, False
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            streams, _ = pyxdf.load_xdf(str(path), synchronize_clocks=True, dejitter_timestamps=True)
    except DataError:
        raise
    except Exception as err:  # pyxdf raises struct/XML/value/index errors on bad files
        raise DataError(path, f"cannot be read as XDF ({type(err).__name__}: {' '.join(str(err).split())})") from err
    finally:
        logger.removeHandler(errors)
        logger.propagate = old_propagate
    if errors.messages:
        raise DataError(path, f"corrupt XDF: {errors.messages[0]}")
    return streams


def _text(node: Any, key: str, default: str = "") -> str:
    """The text of ``node[key][0]`` in pyxdf's nested dict-of-lists, or ``default``."""
    try:
        value = node[key][0]
    except (KeyError, IndexError, TypeError):
        return default
    return value.strip() if isinstance(value, str) else default


def _channels(stream: dict[str, Any]) -> list[dict[str, str]]:
    """``[{label, type, unit}]`` from the stream's ``desc/channels`` (may be empty)."""
    try:
        channels = stream["info"]["desc"][0]["channels"][0]["channel"]
    except (KeyError, IndexError, TypeError):
        return []
    return [{k: _text(ch, k) for k in ("label", "type", "unit")} for ch in channels if isinstance(ch, dict)]


def _stream_name(stream: dict[str, Any]) -> str:
    return _text(stream["info"], "name", default=f"stream {stream['info'].get('stream_id', '?')}")


def _stream_type(stream: dict[str, Any]) -> str:
    return _text(stream["info"], "type").lower()


def _rate(stream: dict[str, Any]) -> float:
    try:
        return float(_text(stream["info"], "nominal_srate", "0"))
    except ValueError:
        return 0.0


def _is_markers(stream: dict[str, Any]) -> bool:
    fmt = _text(stream["info"], "channel_format")
    return fmt == "string" or (_rate(stream) == 0 and _stream_type(stream) in MARKER_TYPES)


def _is_signal(stream: dict[str, Any]) -> bool:
    return (
        _stream_type(stream) in SIGNAL_TYPES
        and _rate(stream) > 0
        and _text(stream["info"], "channel_format") != "string"
    )


# ----------------------------------------------------------------- building
def _signal_block(stream: dict[str, Any], path: Path) -> tuple[list[str], list[str], np.ndarray]:
    """Channel names, MNE types and samples (channels x times, volts) of one signal stream."""
    name = _stream_name(stream)
    data = np.asarray(stream["time_series"])
    if data.ndim != 2 or data.shape[0] == 0:
        raise DataError(path, f"stream {name!r} holds no samples")
    if not np.issubdtype(data.dtype, np.number):
        raise DataError(path, f"stream {name!r} holds {data.dtype} values, not numbers")
    n_channels = data.shape[1]
    described = _channels(stream)
    if described and len(described) != n_channels:
        raise DataError(path, f"stream {name!r} describes {len(described)} channels but holds {n_channels}")
    described = described or [{"label": "", "type": "", "unit": ""}] * n_channels
    stream_type = SIGNAL_TYPES[_stream_type(stream)]
    names, types, scales = [], [], []
    for i, ch in enumerate(described):
        names.append(ch["label"] or f"{name} {i + 1}")
        ch_type = CHANNEL_TYPES.get(ch["type"].lower(), "misc") if ch["type"] else stream_type
        types.append(ch_type)
        unit = ch["unit"].lower()
        if ch_type == "stim" or (ch_type == "misc" and unit not in UNIT_TO_VOLTS):
            scales.append(1.0)
        elif unit in UNIT_TO_VOLTS:
            scales.append(UNIT_TO_VOLTS[unit])
        else:
            if unit:
                warnings.warn(
                    f"{path}: channel {names[-1]!r} has unit {ch['unit']!r}; read as microvolts", stacklevel=4
                )
            scales.append(1e-6)
    samples = data.astype(np.float64).T * np.asarray(scales)[:, np.newaxis]
    return names, types, samples


def _check_rate(stream: dict[str, Any], path: Path) -> None:
    nominal = _rate(stream)
    effective = stream["info"].get("effective_srate")
    try:
        effective = float(effective)
    except (TypeError, ValueError):
        return
    if effective > 0 and abs(effective - nominal) > _RATE_TOLERANCE * nominal:
        raise DataError(
            path,
            f"stream {_stream_name(stream)!r}: measured rate {effective:.2f} Hz, not the nominal {nominal:g} Hz",
        )


def _markers(streams: list[dict[str, Any]]) -> list[tuple[float, str, str]]:
    """``(time, label, stream name)`` of every marker, in time order."""
    out = []
    for stream in streams:
        if not _is_markers(stream):
            continue
        name = _stream_name(stream)
        for stamp, value in zip(np.asarray(stream["time_stamps"], float), stream["time_series"]):
            parts = [str(v) for v in np.ravel(np.asarray(value, dtype=object))]
            parts = [str(int(float(p))) if _integral(p) else p for p in parts]
            out.append((float(stamp), "/".join(parts), name))
    return sorted(out, key=lambda m: m[0])


def _integral(text: str) -> bool:
    try:
        value = float(text)
    except ValueError:
        return False
    return bool(np.isfinite(value)) and value == int(value)


def read_xdf(path: str | Path, subject: str | None = None) -> Recording:
    """One XDF file as a Recording (see the module documentation)."""
    path = Path(path)
    streams = load_streams(path)
    eeg = [s for s in streams if _is_signal(s) and _stream_type(s) == "eeg"]
    if not eeg:
        found = ", ".join(f"{_stream_name(s)!r} ({_text(s['info'], 'type') or 'no type'})" for s in streams)
        raise DataError(path, f"no EEG stream with a regular sampling rate (streams: {found or 'none'})")
    first = eeg[0]
    sfreq = _rate(first)
    signal_streams = [first]
    for other in [s for s in streams if _is_signal(s) and s is not first]:
        if _rate(other) != sfreq:
            warnings.warn(
                f"{path}: stream {_stream_name(other)!r} at {_rate(other):g} Hz left out (the EEG is at {sfreq:g} Hz)",
                stacklevel=2,
            )
            continue
        signal_streams.append(other)
    for stream in signal_streams:
        _check_rate(stream, path)
    times = np.asarray(first["time_stamps"], float)
    if len(times) < 2:
        raise DataError(path, f"stream {_stream_name(first)!r} holds {len(times)} sample(s)")
    if not np.all(np.isfinite(times)) or np.any(np.diff(times) <= 0):
        raise DataError(path, f"stream {_stream_name(first)!r}: time stamps are not increasing")
    blocks = [_signal_block(s, path) for s in signal_streams]
    # crop to the span every signal stream covers, then put the others on the EEG's time stamps
    start = max(float(np.asarray(s["time_stamps"], float)[0]) for s in signal_streams)
    stop = min(float(np.asarray(s["time_stamps"], float)[-1]) for s in signal_streams)
    tolerance = 0.01 / sfreq  # time stamps of simultaneous samples differ by rounding
    keep = (times >= start - tolerance) & (times <= stop + tolerance)
    if keep.sum() < 2:
        raise DataError(path, "the signal streams do not overlap in time")
    times = times[keep]
    names, types, rows = [], [], []
    for stream, (ch_names, ch_types, samples) in zip(signal_streams, blocks):
        if stream is first:
            samples = samples[:, keep]
        else:
            stamps = np.asarray(stream["time_stamps"], float)
            samples = np.vstack([np.interp(times, stamps, row) for row in samples])
        names += ch_names
        types += ch_types
        rows.append(samples)
    if len(set(names)) != len(names):
        dupes = sorted({n for n in names if names.count(n) > 1})
        raise DataError(path, f"channel names {dupes} occur in more than one stream")
    data = np.vstack(rows)
    check_finite(data, path, names)
    raw = mne.io.RawArray(data, mne.create_info(names, sfreq, types), verbose="error")
    retype_channels(raw)

    markers = _markers(streams)
    inside = [m for m in markers if times[0] <= m[0] <= times[-1]]
    if len(inside) < len(markers):
        warnings.warn(
            f"{path}: {len(markers) - len(inside)} of {len(markers)} markers lie outside the EEG and are left out",
            stacklevel=2,
        )
    onsets = np.interp([m[0] for m in inside], times, np.arange(len(times))) / sfreq
    trials = pd.DataFrame(
        {
            "onset": onsets,
            "duration": np.zeros(len(inside)),
            "label": [m[1] for m in inside],
            "stream": [m[2] for m in inside],
        }
    )
    signals = split_modalities(raw)
    if "eeg" not in signals:
        raise DataError(path, "no EEG channel in the EEG stream (its channels are typed otherwise)")
    stem = _stem(path)
    subject = stem if subject is None else subject
    return Recording(
        signals=signals,
        subject=subject,
        dataset="xdf",  # the name of brainalign.data.readers.xdf.XdfReader
        source=(path,),
        run=stem,
        metadata={
            "subject": subject,
            "file": path.name,
            "format": "xdf",
            "streams": [f"{_stream_name(s)} ({_text(s['info'], 'type')})" for s in streams],
            "eeg_start_time": float(times[0]),
        },
        trials=trials,
        units={modality: "V" for modality in signals},
    )


def _stem(path: Path) -> str:
    lower = path.name.lower()
    suffix = next(s for s in XDF_SUFFIXES if lower.endswith(s))
    return path.name[: len(path.name) - len(suffix)]
