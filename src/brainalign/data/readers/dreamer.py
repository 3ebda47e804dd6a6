"""Reader: DREAMER (Katsigiannis & Ramzan 2018, IEEE J. Biomed. Health Inform. 22(1):
98-107), EEG and ECG of 23 participants watching 18 film clips, each clip rated for
valence, arousal and dominance on a 1-5 scale.

Layout: one MATLAB v5 file, ``root/DREAMER.mat``, holding the struct ``DREAMER``:

* ``Data``: 1 x 23 cell, one struct per participant with ``Age`` and ``Gender``
  (text, e.g. ``'22'``, ``'male'``), ``EEG`` and ``ECG`` (structs with ``baseline``
  and ``stimuli``, each an 18 x 1 cell of samples x channels matrices: 14 EEG
  channels at 128 Hz, 2 ECG channels at 256 Hz; the baseline is the 61 s neutral
  clip shown before each film clip), ``ScoreValence``, ``ScoreArousal``,
  ``ScoreDominance`` (18 x 1);
* ``EEG_SamplingRate`` (128), ``ECG_SamplingRate`` (256), ``EEG_Electrodes``
  (1 x 14 cell: AF3 F7 F3 FC5 T7 P7 O1 O2 P8 T8 FC6 F4 F8 AF4), ``noOfSubjects``,
  ``noOfVideoSequences`` and some text fields (``Disclaimer``, ``Provider``...).

The file is read with :func:`scipy.io.loadmat` (no pickles involved). It can only be
read whole, so the reader keeps the parsed struct once read, and the counts that
:meth:`DreamerReader.refs` and :meth:`DreamerReader.n_trials` need are kept in the
cache folder (:func:`cached_file_info`): listing the set reads the file once, not at
every listing.

One :class:`Recording` per participant. Its clips are concatenated into one
continuous ``signals["eeg"]`` (the 14 electrodes) and ``signals["ecg"]`` (``ECG1``,
``ECG2``, type ``ecg``), with MNE ``BAD boundary`` / ``EDGE boundary`` annotations at
every junction (MNE's filters then treat each clip on its own). ``trials`` has one
row per clip: ``onset`` and ``duration`` (seconds in the concatenated recording,
identical for EEG and ECG), ``kind`` (``"stimulus"``, or ``"baseline"`` with
``baseline="trials"``), ``clip`` (1-18), ``valence``, ``arousal``, ``dominance``,
``valence_high``, ``arousal_high``, ``dominance_high`` (score > ``threshold``) and
``label`` (``"<label>_high"`` / ``"<label>_low"``, or ``"baseline"``).

The helpers shared with the AMIGOS reader (reading MATLAB files, cached counts,
clips to a continuous Raw, score columns) live here too.
"""

from __future__ import annotations

import hashlib
import json
import math
import struct
import warnings
import zlib
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import mne
import numpy as np
import pandas as pd
import scipy.io

from brainalign.config import cache_dir
from brainalign.data.base import Reader, RecordingRef, register_reader
from brainalign.data.recording import Recording
from brainalign.errors import ConfigError, DataError
from brainalign.utils.io import atomic_write_text

#: Scale from a unit the published files may use to volts.
TO_VOLTS = {"V": 1.0, "mV": 1e-3, "uV": 1e-6, "µV": 1e-6}

DREAMER_FILE = "DREAMER.mat"
#: Electrodes in the published order (the file's ``EEG_Electrodes`` are used when read).
ELECTRODES = ("AF3", "F7", "F3", "FC5", "T7", "P7", "O1", "O2", "P8", "T8", "FC6", "F4", "F8", "AF4")
#: The two ECG leads; the documentation gives no names.
ECG_CHANNELS = ("ECG1", "ECG2")
#: Trials column -> per-participant field of the self-assessment scores (1-5).
SCORES = {"valence": "ScoreValence", "arousal": "ScoreArousal", "dominance": "ScoreDominance"}
BASELINE_MODES = ("none", "trials", "subtract")

_TOP_FIELDS = ("Data", "EEG_SamplingRate", "ECG_SamplingRate", "EEG_Electrodes")
#: What scipy raises on a truncated, corrupt or non-MATLAB file.
_MAT_ERRORS = (
    OSError,
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    EOFError,
    AttributeError,
    UnicodeDecodeError,
    MemoryError,
    OverflowError,
    struct.error,
    zlib.error,
    scipy.io.matlab.MatReadError,
)


# --------------------------------------------------------------------------- shared helpers
def read_mat(path: Path, variables: Sequence[str], **kwargs: Any) -> dict[str, Any]:
    """The named variables of the MATLAB file ``path`` (all must be present), read with
    :func:`scipy.io.loadmat` and ``kwargs``.

    Raises :class:`DataError` naming ``path`` for a missing, empty, truncated or
    corrupt file, a MATLAB v7.3 (HDF5) file (DREAMER and AMIGOS are published as v5
    files; re-save with ``save(..., '-v7')``) and for missing variables.
    """
    if not path.is_file():
        raise DataError(path, "file does not exist")
    if path.stat().st_size == 0:
        raise DataError(path, "empty file")
    try:
        if scipy.io.matlab.matfile_version(path)[0] == 2:
            raise DataError(
                path,
                "MATLAB v7.3 (HDF5) file; this dataset is published as MATLAB v5 "
                "files (re-save it with save(..., '-v7'))",
            )
        mat = scipy.io.loadmat(path, variable_names=list(variables), **kwargs)
    except NotImplementedError as err:
        raise DataError(path, f"unsupported MATLAB file ({err})") from None
    except _MAT_ERRORS as err:
        raise DataError(path, f"truncated or corrupt MATLAB file ({type(err).__name__}: {err})") from None
    missing = [name for name in variables if name not in mat]
    if missing:
        raise DataError(path, f"missing MATLAB variable(s) {missing}")
    return mat


def cached_file_info(path: Path, reader: str, compute: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Facts about ``path`` that take a full read to learn (numbers of participants,
    clips, trials), computed by ``compute`` once and kept as JSON in the cache folder
    under a key made of the file's resolved path, size and modification time, so that
    a changed file is read again."""
    try:
        stat = path.stat()
    except OSError as err:
        raise DataError(path, f"cannot be read ({err.strerror})") from None
    key = hashlib.sha256(f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:20]
    dest = cache_dir() / "reader-index" / f"{reader}-{key}.json"
    try:
        return json.loads(dest.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        pass
    info = compute()
    try:
        atomic_write_text(dest, json.dumps(info))
    except OSError:  # read-only cache folder: recompute next time
        pass
    return info


def samples_matrix(data: Any, path: Path, what: str, n_channels: int) -> np.ndarray:
    """``data`` as a float64 samples x channels array; :class:`DataError` naming
    ``path`` and ``what`` when it is not numeric, has no samples or has another number
    of channels (columns) than ``n_channels``."""
    arr = np.asarray(data)
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise DataError(path, f"{what}: expected a numeric samples x channels matrix, found {arr.dtype}")
    if arr.ndim != 2 or arr.shape[0] == 0:
        raise DataError(path, f"{what}: expected a samples x {n_channels} matrix, got shape {arr.shape}")
    if arr.shape[1] != n_channels:
        raise DataError(path, f"{what}: {arr.shape[1]} channels (columns), expected {n_channels}")
    return arr.astype(np.float64, copy=False)


def nonfinite(arr: np.ndarray) -> str | None:
    """A description of the NaN/Inf samples of a samples x channels array, or None."""
    bad = ~np.isfinite(arr)
    if not bad.any():
        return None
    return f"{int(bad.sum())} NaN/Inf samples in {int(bad.any(axis=0).sum())} channel(s)"


def clips_to_raw(
    clips: Sequence[np.ndarray], ch_names: Sequence[str], ch_types: str | Sequence[str], sfreq: float, to_volts: float
) -> mne.io.BaseRaw:
    """One continuous Raw from ``clips`` (each samples x channels, in the file's unit),
    in order, scaled to volts by ``to_volts``; junctions carry MNE's ``BAD boundary``
    and ``EDGE boundary`` annotations so that filters do not smear across clips."""
    info = mne.create_info(list(ch_names), float(sfreq), ch_types)
    raws = [mne.io.RawArray(clip.T * to_volts, info, verbose="error") for clip in clips]
    return mne.concatenate_raws(raws, verbose="error") if len(raws) > 1 else raws[0]


def score_columns(scores: dict[str, np.ndarray], binary: Iterable[str], threshold: float) -> dict[str, Any]:
    """Trials columns for self-assessment ``scores`` (name -> one value per trial, NaN
    where a trial has none): the scores themselves, then ``<name>_high`` (score >
    ``threshold``, missing where the score is) for each name in ``binary``."""
    columns: dict[str, Any] = dict(scores)
    for name in binary:
        values = np.asarray(scores[name], dtype=float)
        high = pd.array(values > threshold, dtype="boolean")
        high[np.isnan(values)] = pd.NA
        columns[f"{name}_high"] = high
    return columns


def class_labels(high: pd.Series, name: str, missing: str) -> list[str]:
    """``"<name>_high"`` / ``"<name>_low"`` per trial from a boolean column, ``missing``
    where it has no value."""
    return [missing if pd.isna(h) else f"{name}_{'high' if h else 'low'}" for h in high]


def check_choice(value: Any, choices: Sequence[Any], what: str) -> None:
    """ConfigError unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise ConfigError(f"{what} must be one of {list(choices)}, got {value!r}")


def volts_scale(unit: str, what: str) -> float:
    """Factor from ``unit`` to volts; ConfigError for an unknown unit."""
    check_choice(unit, list(TO_VOLTS), what)
    return TO_VOLTS[unit]


# --------------------------------------------------------------------------- MATLAB values
def mat_item(value: Any) -> Any:
    """The element of a 1 x 1 MATLAB container (struct or cell) as loadmat returns it."""
    while isinstance(value, np.ndarray) and value.dtype == object and value.size == 1:
        value = value.flat[0]
    return value


def _field(struct_: Any, name: str, path: Path, where: str) -> Any:
    """Field ``name`` of a MATLAB struct read with ``struct_as_record=False``;
    DataError naming ``where`` when ``struct_`` is no struct or lacks the field."""
    obj = mat_item(struct_)
    if not isinstance(obj, scipy.io.matlab.mat_struct):
        raise DataError(path, f"{where} is not a MATLAB struct")
    value = getattr(obj, name, None)
    if value is None:
        raise DataError(path, f"{where} has no field {name!r}")
    return value


def mat_cells(value: Any) -> list[Any]:
    """The elements of a MATLAB cell array, in MATLAB's (column-major) order."""
    arr = np.asarray(value)
    if arr.dtype != object:
        return [arr]
    return [mat_item(v) if isinstance(v, np.ndarray) and v.dtype == object else v for v in arr.ravel(order="F")]


def mat_text(value: Any) -> str | None:
    """A MATLAB char array (or number) as a string; None when empty."""
    arr = np.asarray(mat_item(value))
    if arr.size == 0:
        return None
    first = arr.ravel()[0]
    if arr.dtype.kind in "US":
        return str(first).strip()
    return f"{float(first):g}" if arr.dtype.kind in "biuf" else None


def _number(value: Any, path: Path, what: str) -> float:
    try:
        number = float(np.asarray(mat_item(value), dtype=float).ravel()[0])
    except (TypeError, ValueError, IndexError):
        raise DataError(path, f"{what} is not a number ({value!r})") from None
    if not (math.isfinite(number) and number > 0):
        raise DataError(path, f"{what} is not a positive number ({number})")
    return number


def _align_clip(
    eeg: np.ndarray, ecg: np.ndarray, fs_eeg: float, fs_ecg: float, path: Path, what: str
) -> tuple[np.ndarray, np.ndarray]:
    """Trim the EEG and ECG of one clip to the seconds both cover, so that clip onsets
    agree in the two concatenated signals (the published clips agree to the sample; a
    warning says when more than one EEG sample had to go)."""
    seconds = min(len(eeg) / fs_eeg, len(ecg) / fs_ecg)
    n_eeg = int(math.floor(seconds * fs_eeg + 1e-9))
    if n_eeg == 0:
        raise DataError(path, f"{what}: the ECG covers less than one EEG sample")
    n_ecg = min(len(ecg), int(round(n_eeg / fs_eeg * fs_ecg)))
    lost = max(len(eeg) - n_eeg, (len(ecg) - n_ecg) * fs_eeg / fs_ecg)
    if lost > 1:
        warnings.warn(
            f"{path}: {what}: EEG lasts {len(eeg) / fs_eeg:.3f} s, ECG {len(ecg) / fs_ecg:.3f} s; "
            f"both trimmed to {n_eeg / fs_eeg:.3f} s",
            stacklevel=3,
        )
    return eeg[:n_eeg], ecg[:n_ecg]


def _sex(gender: str | None) -> str | None:
    word = (gender or "").strip().lower()
    return {"male": "M", "m": "M", "female": "F", "f": "F"}.get(word)


def _age(age: str | None) -> int | str | None:
    if age is None:
        return None
    try:
        return int(float(age))
    except ValueError:
        return age


# --------------------------------------------------------------------------- reader
@register_reader
class DreamerReader(Reader):
    """DREAMER: one recording per participant, clips concatenated (see the module doc).

    Parameters
    ----------
    root:
        The folder holding ``DREAMER.mat``.
    baseline:
        What to do with the neutral baseline clip recorded before each film clip:
        ``"none"`` (leave it out), ``"trials"`` (keep it, as a ``kind="baseline"``
        trial just before its film clip, scores missing), ``"subtract"`` (subtract its
        per-channel mean from the film clip, EEG and ECG alike; it removes the large
        DC offset of the Emotiv EPOC).
    label:
        The score whose high/low class fills the ``label`` column.
    threshold:
        A score above it is "high" (scores are 1-5; default 3).
    eeg_unit, ecg_unit:
        The unit of the samples in the file (EEG: Emotiv EPOC microvolts); the
        signals are returned in volts.
    """

    name = "dreamer"
    modalities = ("eeg", "ecg")

    def __init__(
        self,
        root: str | Path,
        baseline: str = "none",
        label: str = "valence",
        threshold: float = 3.0,
        eeg_unit: str = "uV",
        ecg_unit: str = "mV",
        **params: Any,
    ):
        super().__init__(root, **params)
        check_choice(baseline, BASELINE_MODES, "dreamer baseline")
        check_choice(label, list(SCORES), "dreamer label")
        self.baseline, self.label, self.threshold = baseline, label, float(threshold)
        self.eeg_scale = volts_scale(eeg_unit, "dreamer eeg_unit")
        self.ecg_scale = volts_scale(ecg_unit, "dreamer ecg_unit")
        self.path = self.root / DREAMER_FILE
        self._top: Any = None

    @classmethod
    def detect(cls, root: Path) -> bool:
        return Path(root).is_dir() and (Path(root) / DREAMER_FILE).is_file()

    # ------------------------------------------------------------------ listing
    def _struct(self) -> Any:
        """The ``DREAMER`` struct, read once (the whole file) and kept."""
        if self._top is None:
            mat = read_mat(self.path, ["DREAMER"], struct_as_record=False)
            top = mat_item(mat["DREAMER"])
            for name in _TOP_FIELDS:
                _field(top, name, self.path, "DREAMER")
            self._top = top
        return self._top

    def _subjects(self) -> list[Any]:
        subjects = mat_cells(_field(self._struct(), "Data", self.path, "DREAMER"))
        if not subjects:
            raise DataError(self.path, "DREAMER.Data holds no participant")
        return subjects

    def _index(self) -> dict[str, Any]:
        """``{"clips": [number of film clips per participant]}``, from the cache when
        the file was read before."""

        def compute() -> dict[str, Any]:
            clips = []
            for i, subject in enumerate(self._subjects(), start=1):
                eeg = _field(subject, "EEG", self.path, f"DREAMER.Data{{{i}}}")
                clips.append(len(mat_cells(_field(eeg, "stimuli", self.path, f"DREAMER.Data{{{i}}}.EEG"))))
            return {"clips": clips}

        return cached_file_info(self.path, self.name, compute)

    def refs(self) -> list[RecordingRef]:
        clips = self._index()["clips"]
        return [
            RecordingRef(
                key=f"sub-{i:02d}", subject=f"{i:02d}", paths=(self.path,), extra=(("index", i - 1), ("clips", n))
            )
            for i, n in enumerate(clips, start=1)
        ]

    def n_trials(self, refs: list[RecordingRef]) -> int | None:
        per_clip = 2 if self.baseline == "trials" else 1
        return sum(int(ref.get("clips")) * per_clip for ref in refs)

    # ------------------------------------------------------------------ loading
    def _segments(self, subject: Any, where: str, n_eeg: int) -> dict[tuple[str, str], list[np.ndarray]]:
        """``{(modality, part): clip matrices}`` of one participant, for the parts in
        use (``stimuli``, and ``baseline`` unless ``baseline="none"``), checked for
        shape and finite samples."""
        used = ("stimuli",) if self.baseline == "none" else ("stimuli", "baseline")
        segments: dict[tuple[str, str], list[np.ndarray]] = {}
        for modality, n_channels in (("EEG", n_eeg), ("ECG", len(ECG_CHANNELS))):
            signal = _field(subject, modality, self.path, where)
            for part in used:
                segments[modality, part] = []
                for k, cell in enumerate(mat_cells(_field(signal, part, self.path, f"{where}.{modality}")), 1):
                    what = f"{where}.{modality}.{part}{{{k}}}"
                    arr = samples_matrix(cell, self.path, what, n_channels)
                    problem = nonfinite(arr)
                    if problem:
                        raise DataError(self.path, f"{what}: {problem}")
                    segments[modality, part].append(arr)
        return segments

    def load(self, ref: RecordingRef) -> Recording:
        top = self._struct()
        path = self.path
        subjects = self._subjects()
        index = int(ref.get("index"))
        if index >= len(subjects):
            raise DataError(path, f"no participant {index + 1} (the file holds {len(subjects)})")
        where = f"DREAMER.Data{{{index + 1}}}"
        subject = subjects[index]
        electrodes = [mat_text(c) or "" for c in mat_cells(top.EEG_Electrodes)]
        if not electrodes or "" in electrodes or len(set(electrodes)) != len(electrodes):
            raise DataError(path, f"DREAMER.EEG_Electrodes should name each EEG channel once, got {electrodes}")
        fs_eeg = _number(top.EEG_SamplingRate, path, "DREAMER.EEG_SamplingRate")
        fs_ecg = _number(top.ECG_SamplingRate, path, "DREAMER.ECG_SamplingRate")

        segments = self._segments(subject, where, len(electrodes))
        n_clips = len(segments["EEG", "stimuli"])
        try:
            scores = {
                name: np.asarray(_field(subject, field, path, where), dtype=float).ravel()
                for name, field in SCORES.items()
            }
        except (TypeError, ValueError):
            raise DataError(path, f"{where}: self-assessment scores are not numeric") from None
        counts = {f"{m}.{p}": len(v) for (m, p), v in segments.items()}
        counts.update({SCORES[name]: len(v) for name, v in scores.items()})
        if n_clips == 0 or set(counts.values()) != {n_clips}:
            raise DataError(path, f"{where}: clip counts disagree ({counts})")

        eeg_parts: list[np.ndarray] = []
        ecg_parts: list[np.ndarray] = []
        rows: list[dict[str, Any]] = []
        parts = ("baseline", "stimuli") if self.baseline == "trials" else ("stimuli",)
        for k in range(n_clips):
            for part in parts:
                eeg, ecg = _align_clip(
                    segments["EEG", part][k],
                    segments["ECG", part][k],
                    fs_eeg,
                    fs_ecg,
                    path,
                    f"{where} {part} clip {k + 1}",
                )
                if self.baseline == "subtract":
                    eeg = eeg - segments["EEG", "baseline"][k].mean(axis=0)
                    ecg = ecg - segments["ECG", "baseline"][k].mean(axis=0)
                eeg_parts.append(eeg)
                ecg_parts.append(ecg)
                rows.append(
                    {
                        "duration": len(eeg) / fs_eeg,
                        "kind": "stimulus" if part == "stimuli" else "baseline",
                        "clip": k + 1,
                    }
                )

        trials = pd.DataFrame(rows)
        trials.insert(0, "onset", np.concatenate([[0.0], np.cumsum(trials["duration"].to_numpy())[:-1]]))
        is_stim = (trials["kind"] == "stimulus").to_numpy()
        per_trial = {
            name: np.where(is_stim, values[trials["clip"].to_numpy() - 1], np.nan) for name, values in scores.items()
        }
        for name, values in per_trial.items():
            if np.isnan(values[is_stim]).any():
                raise DataError(path, f"{where}.{SCORES[name]} has missing values")
        for name, column in score_columns(per_trial, SCORES, self.threshold).items():
            trials[name] = column
        trials.insert(1, "label", class_labels(trials[f"{self.label}_high"], self.label, "baseline"))

        eeg_raw = clips_to_raw(eeg_parts, electrodes, "eeg", fs_eeg, self.eeg_scale)
        ecg_raw = clips_to_raw(ecg_parts, ECG_CHANNELS, "ecg", fs_ecg, self.ecg_scale)
        meta = {
            "subject": ref.subject,
            "age": _age(mat_text(getattr(subject, "Age", None))),
            "sex": _sex(mat_text(getattr(subject, "Gender", None))),
            "baseline": self.baseline,
        }
        return Recording(
            signals={"eeg": eeg_raw, "ecg": ecg_raw},
            subject=ref.subject,
            dataset=self.name,
            source=(path,),
            metadata=meta,
            trials=trials,
            units={"eeg": "V", "ecg": "V"},
        )
