"""A declarative preprocessing pipeline and the windows it produces.

``Pipeline(steps=[...])`` runs its steps on each Recording and stacks the result
into one :class:`Windows`: a float32 array ``(n_windows, n_channels, n_times)``
plus one table row per window. The pipeline is data: :meth:`Pipeline.to_dict`
/ :meth:`Pipeline.from_dict` round-trip exactly, it is saved as YAML/JSON next
to every output, and :meth:`Pipeline.hash` is a stable digest of what it does
(used as a cache key).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mne
import numpy as np
import pandas as pd
import yaml

from brainalign.data.base import Reader
from brainalign.data.recording import Recording
from brainalign.errors import ConfigError, ContractError, DataError
from brainalign.preprocessing.steps import NoWindows, Step, where
from brainalign.utils.io import atomic_write_text

#: Bump when a step's behaviour changes for the same parameters: it is part of the
#: cache key, so cached windows made by older code are not reused.
PREPROCESSING_VERSION = "2"

#: Columns every window table has, in this order (extra trial columns follow).
TABLE_COLUMNS = ("recording", "dataset", "subject", "session", "run", "window", "start", "label", "image", "text")

Inputs = Recording | Iterable[Recording] | Reader


def _text_value(v: Any) -> str | None:
    return None if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)) or v == "" else str(v)


#: value types of a column that :func:`_text_column` handles without a per-value call:
#: strings and the missing values that _text_value turns into None
_FAST_TYPES = frozenset({str, type(None), type(pd.NA), float, np.float64})


def _text_column(values: np.ndarray) -> np.ndarray:
    """``[_text_value(v) for v in values]`` as an object array. A column of plain strings
    and missing values (what the cache's CSV reader returns, thousands of rows a read)
    takes a vectorised path with the same result; anything else the per-value one."""
    types = np.frompyfunc(type, 1, 1)(values)
    if set(types.tolist()) <= _FAST_TYPES:
        is_str = (types == str).astype(bool)  # noqa: E721  (elementwise over an object array)
        if pd.isna(values[~is_str]).all():  # the floats among them are all NaN
            out = values.copy()
            empty = np.zeros(len(values), dtype=bool)
            empty[is_str] = values[is_str] == ""
            out[~is_str | empty] = None
            return out
    out = np.empty(len(values), dtype=object)
    out[:] = [_text_value(v) for v in values]
    return out


def normalise_table(table: pd.DataFrame) -> pd.DataFrame:
    """Canonical form of a window table: text-like columns are ``object`` columns of
    ``str`` or ``None`` (empty strings and NaN become None). Applied when windows are built
    and when they are read back from the cache, so both compare equal."""
    out = table.reset_index(drop=True).copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col].dtype):
            out[col] = pd.Series(_text_column(out[col].to_numpy(dtype=object)), dtype=object)
    return out


@dataclass
class Windows:
    """Windows ready for a model.

    ``data``: float32 ``(n_windows, n_channels, n_times)`` in ``unit`` ("uV" unless a
    step standardised the signal, then "a.u."); may be a read-only memory map when
    it comes from the cache. ``table``: one row per window (:data:`TABLE_COLUMNS`
    plus any extra trial columns). ``pipeline``: the spec that made them.
    """

    data: np.ndarray
    ch_names: list[str]
    sfreq: float
    table: pd.DataFrame
    unit: str = "uV"
    pipeline: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.data.ndim != 3:
            raise ContractError(f"window data must be (windows, channels, times), got shape {self.data.shape}")
        if self.data.shape[1] != len(self.ch_names):
            raise ContractError(f"{self.data.shape[1]} channels in data but {len(self.ch_names)} names")
        if len(self.table) != self.data.shape[0]:
            raise ContractError(f"{self.data.shape[0]} windows but {len(self.table)} table rows")

    def __len__(self) -> int:
        return int(self.data.shape[0])

    @property
    def n_channels(self) -> int:
        return int(self.data.shape[1])

    @property
    def n_times(self) -> int:
        return int(self.data.shape[2])

    def select(self, index: np.ndarray | Sequence[int] | pd.Series) -> Windows:
        """The windows at integer positions or where a boolean mask is True."""
        idx = np.asarray(index)
        if idx.dtype == bool:
            idx = np.flatnonzero(idx)
        return dataclasses.replace(self, data=self.data[idx], table=self.table.iloc[idx].reset_index(drop=True))

    def __repr__(self) -> str:
        return (
            f"<Windows {len(self)} x {self.n_channels} ch x {self.n_times} samples @ "
            f"{self.sfreq:g} Hz, {self.unit}, {self.table['recording'].nunique()} recordings>"
        )


def canonical_form(obj: Any) -> Any:
    """JSON-ready form in which equal specs are equal: tuples become lists and whole
    floats become ints (``Resample(sfreq=100.0)`` and ``sfreq: 100`` hash alike)."""
    if isinstance(obj, dict):
        return {str(k): canonical_form(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [canonical_form(v) for v in obj]
    if isinstance(obj, (float, np.floating)):
        value = float(obj)
        return int(value) if value.is_integer() else value
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


def iter_recordings(inputs: Inputs) -> tuple[int, Iterator[Recording]]:
    """(count, recordings) for one Recording, a sequence of them or a Reader (loaded
    one at a time, so a whole dataset never sits in memory at once)."""
    if isinstance(inputs, Recording):
        return 1, iter([inputs])
    if isinstance(inputs, Reader):
        refs = inputs.refs()
        return len(refs), (inputs.load(ref) for ref in refs)
    items = list(inputs)
    return len(items), iter(items)


@dataclass
class Pipeline:
    """An ordered list of steps, plus which signal becomes the windows (``modality``)
    and in which unit (``units``: "uV", "mV" or "V"; ignored for standardised data)."""

    steps: list[Step] = field(default_factory=list)
    modality: str = "eeg"
    units: str = "uV"

    # ------------------------------------------------------------- serialising
    def to_dict(self) -> dict[str, Any]:
        return {"modality": self.modality, "units": self.units, "steps": [step.to_dict() for step in self.steps]}

    @classmethod
    def from_dict(cls, spec: dict[str, Any]) -> Pipeline:
        """Inverse of :meth:`to_dict`; ConfigError on unknown keys or steps."""
        if not isinstance(spec, dict):
            raise ConfigError(f"a pipeline spec is a mapping, got {type(spec).__name__}")
        unknown = sorted(set(spec) - {"modality", "units", "steps"})
        if unknown:
            raise ConfigError(f"pipeline: unknown key(s) {', '.join(unknown)}")
        steps = spec.get("steps", [])
        if not isinstance(steps, list):
            raise ConfigError("pipeline: 'steps' must be a list")
        return cls(
            steps=[Step.from_dict(s) for s in steps],
            modality=spec.get("modality", "eeg"),
            units=spec.get("units", "uV"),
        )

    def hash(self) -> str:
        """Stable 16-hex-digit digest of :meth:`to_dict` (independent of key order,
        float-vs-int spelling and Python session)."""
        text = json.dumps(canonical_form(self.to_dict()), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def save(self, path: str | os.PathLike) -> Path:
        """Write the spec as YAML (``.yaml``/``.yml``) or JSON (anything else), atomically."""
        path = Path(path)
        spec = canonical_form(self.to_dict())
        if path.suffix.lower() in (".yaml", ".yml"):
            text = yaml.safe_dump(spec, sort_keys=False)
        else:
            text = json.dumps(spec, indent=2) + "\n"
        return atomic_write_text(path, text)

    @classmethod
    def load(cls, path: str | os.PathLike) -> Pipeline:
        """Read a spec written by :meth:`save` (YAML is a superset of JSON)."""
        path = Path(path)
        try:
            spec = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as err:
            raise DataError(path, f"cannot read pipeline spec: {err}") from None
        try:
            return cls.from_dict(spec)
        except ConfigError as err:
            raise DataError(path, str(err)) from None

    # ----------------------------------------------------------------- running
    def apply(self, rec: Recording) -> Recording:
        """Run every step on ``rec``. MNE's complaints about bad data (a filter above
        Nyquist for this file, too short a signal...) become DataError naming the file."""
        for step in self.steps:
            try:
                rec = step.apply(rec)
            except (ValueError, RuntimeError) as err:
                raise DataError(where(rec), f"{type(step).__name__}: {err}") from None
        return rec

    def windows_of(self, rec: Recording) -> Windows:
        """Run the steps on one recording and extract its windows."""
        out = self.apply(rec)
        if self.modality not in out.signals:
            raise DataError(where(rec), f"no {self.modality!r} signal (has {', '.join(sorted(out.signals))})")
        signal = out.signals[self.modality]
        if not isinstance(signal, mne.BaseEpochs):
            raise ConfigError(
                "the pipeline leaves continuous data: end it with a Window, EventWindow or AverageRepetitions step"
            )
        data = out.get_data(self.modality, units=self.units)
        if not np.isfinite(data).all():  # e.g. NaN samples and a pipeline without CheckFinite
            bad = int((~np.isfinite(data)).any(axis=tuple(range(1, data.ndim))).sum())
            raise DataError(
                where(rec), f"{bad} of {len(data)} windows hold NaN/Inf samples (a CheckFinite step names the channels)"
            )
        stored = out.units.get(self.modality, "V")
        unit = self.units if stored == "V" else stored
        n = data.shape[0]
        trials = out.trials if out.trials is not None else pd.DataFrame(index=range(n))
        if len(trials) != n:
            raise DataError(where(rec), f"{n} epochs but {len(trials)} trials")
        table = trials.reset_index(drop=True).drop(columns=["onset"], errors="ignore").copy()
        if "start" not in table:
            table["start"] = np.nan
        for col in ("label", "image", "text"):
            if col not in table:
                table[col] = None
        if out.text is not None:
            table["text"] = table["text"].where(table["text"].notna(), out.text)
        # recording-level metadata (age, sex, task...) as columns, for stratified
        # evaluation and metadata tasks; trial columns of the same name win
        for key, value in out.metadata.items():
            if key not in table and isinstance(value, (str, int, float, bool, np.integer, np.floating)):
                table[key] = value
        table["recording"], table["dataset"] = out.id, out.dataset
        # a trial's own subject wins (EEGCVPR40 ships all subjects in one file)
        own = table["subject"] if "subject" in table else pd.Series([None] * n, dtype=object)
        table["subject"] = [str(s) if s is not None and not pd.isna(s) else out.subject for s in own]
        table["session"], table["run"], table["window"] = out.session, out.run, np.arange(n)
        extras = [c for c in table.columns if c not in TABLE_COLUMNS]
        table = normalise_table(table[list(TABLE_COLUMNS) + extras])
        return Windows(
            np.ascontiguousarray(data, dtype=np.float32),
            list(signal.ch_names),
            float(signal.info["sfreq"]),
            table,
            unit,
            self.to_dict(),
        )

    def transform(self, inputs: Inputs, progress: bool | None = None, n_jobs: int = 1) -> Windows:
        """Windows of one or many recordings (or a Reader's), stacked. Every
        recording must end with the same channels, rate and window length.
        ``progress``: tqdm bar; by default shown when there is more than one recording.
        ``n_jobs``: recordings preprocessed in that many processes (joblib; -1: one per
        core). Each recording is computed by the same code in either case, so the
        windows are byte-identical to a serial run, in the same order; a Reader's
        recordings are loaded in the worker that processes them."""
        from tqdm.auto import tqdm

        count, outcomes = self._outcomes(inputs, n_jobs)
        if count == 0:
            raise DataError(None, "no recordings to preprocess")
        show = count > 1 if progress is None else progress
        parts: list[Windows] = []
        skipped: list[str] = []
        for kind, value, label in tqdm(outcomes, total=count, desc="preprocessing", unit="rec", disable=not show):
            if kind == "skip":
                if count == 1:
                    raise value
                skipped.append(str(value))
                continue
            if parts:
                _check_compatible(parts[0], value, label)
            parts.append(value)
        if skipped:
            warnings.warn(
                f"{len(skipped)} recording(s) gave no window and were skipped: " + "; ".join(skipped), stacklevel=2
            )
        if not parts:
            raise DataError(None, "no recording gave a window: " + "; ".join(skipped))
        if len(parts) == 1:
            return parts[0]
        table = normalise_table(pd.concat([p.table for p in parts], ignore_index=True))
        data = np.concatenate([p.data for p in parts], axis=0)
        return dataclasses.replace(parts[0], data=data, table=table)

    def _outcome(self, rec: Recording | tuple[Reader, Any], log_level: int | None = None) -> tuple[str, Any, str]:
        """("ok", windows, where) or ("skip", the NoWindows error, where) for one
        recording, or a (reader, ref) pair loaded here: in the worker, under joblib,
        where MNE logs at the caller's level (``log_level``)."""
        if log_level is not None:
            mne.set_log_level(log_level)
        if isinstance(rec, tuple):
            rec = rec[0].load(rec[1])
        try:
            return "ok", self.windows_of(rec), where(rec)
        except NoWindows as err:
            return "skip", err, where(rec)

    def _outcomes(self, inputs: Inputs, n_jobs: int) -> tuple[int, Iterator[tuple[str, Any, Any]]]:
        """(count, outcomes in input order), computed here or by a joblib pool."""
        if n_jobs == 1:
            count, recordings = iter_recordings(inputs)
            return count, (self._outcome(rec) for rec in recordings)
        from joblib import Parallel, delayed

        if isinstance(inputs, Reader):
            items: list[Any] = [(inputs, ref) for ref in inputs.refs()]
        elif isinstance(inputs, Recording):
            items = [inputs]
        else:
            items = list(inputs)
        if len(items) <= 1:
            return self._outcomes(items, 1)
        pool = Parallel(n_jobs=n_jobs, return_as="generator")
        level = logging.getLogger("mne").level
        return len(items), pool(delayed(self._outcome)(item, level) for item in items)

    __call__ = transform


def _check_compatible(ref: Windows, new: Windows, label: str) -> None:
    """DataError unless ``new`` (from the recording ``label`` names) can be stacked under ``ref``."""
    if new.ch_names != ref.ch_names:
        raise DataError(
            label, f"channels {new.ch_names} differ from the first recording's {ref.ch_names}; add a PickChannels step"
        )
    if not np.isclose(new.sfreq, ref.sfreq):
        raise DataError(
            label, f"sampled at {new.sfreq:g} Hz, the first recording at {ref.sfreq:g} Hz; add a Resample step"
        )
    if new.n_times != ref.n_times:
        raise DataError(label, f"windows of {new.n_times} samples, the first recording's have {ref.n_times}")
    if new.unit != ref.unit:
        raise DataError(label, f"unit {new.unit!r} differs from {ref.unit!r}")


def align_windows(eeg: Windows, ecg: Windows) -> tuple[Windows, Windows]:  # noqa: D417
    """``(eeg, ecg)`` with the ECG rows reordered so that row ``i`` of both is the same
    recording and start time (the same time span). Every EEG window needs its ECG
    window; extra ECG windows are dropped. DataError when one is missing."""
    key = ["recording", "start"]
    for name, w in (("eeg", eeg), ("ecg", ecg)):
        missing = [c for c in key if c not in w.table.columns]
        if missing:
            raise DataError(None, f"{name} windows have no column(s) {missing}")
    ecg_keys = pd.MultiIndex.from_frame(ecg.table[key].astype(str))
    if ecg_keys.has_duplicates:
        raise DataError(None, "ecg windows repeat a (recording, start) pair; cannot align")
    position = pd.Series(np.arange(len(ecg)), index=ecg_keys)
    rows = position.reindex(pd.MultiIndex.from_frame(eeg.table[key].astype(str))).to_numpy(dtype=float)
    lacking = np.flatnonzero(np.isnan(rows))
    if len(lacking):
        first = eeg.table.iloc[lacking[0]]
        raise DataError(
            None,
            f"{len(lacking)} EEG window(s) have no ECG window of the same span, first "
            f"{first['recording']} at {first['start']} s",
        )
    return eeg, ecg.select(rows.astype(int))
