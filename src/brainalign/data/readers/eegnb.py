"""Reader: eegnb, NeuroTechX eeg-notebooks Muse recordings (the visual N170 set).

Layout: ``root/subjectN/sessionM/*.csv`` (some files end in ``.csv.csv``) with the
columns ``timestamps,TP9,AF7,AF8,TP10,Right AUX,Marker0`` in µV (older releases, such
as the visual P300 set, name the marker column ``Marker``), and the stimulus images
in ``root/stimuli/``.

The paradigm, and with it the default marker map and stimulus images, follows the
layout of ``stimuli/`` (see :data:`PARADIGMS`): class folders ``faces``/``houses``
are the visual N170 (1 house, 2 face); files ``target-*``/``nontarget-*`` the visual
P300 (1 non-target, 2 target); a set without stimuli (the visual cueing task) keeps
every non-zero marker as a label of its own (``marker 11``...).

Choices this reader makes, all documented on the parameters below:

* **Time base.** The ``timestamps`` column goes backwards many times per file in
  some recordings; the sample index at the nominal rate ``sfreq`` (256 Hz for the
  Muse) is reliable, so onsets are ``sample index / sfreq``. The overall span of the
  timestamps is still used to reject a wrong ``sfreq`` (more than 5 % off).
* **Images.** Which exact image was shown is not recorded, only its class. Each
  trial's ``image`` is a deterministic representative of its class (the class's
  images in sorted order, cycled over that class's trials in the file), its
  ``image_dir`` the class folder, and ``metadata["image_exact"]`` is False. The
  set-level :meth:`EEGNotebooksReader.images` returns every stimulus image.
* **Duplicates.** A file whose content is byte-identical to an earlier one (in
  sorted path order) is the same recording filed twice (subject 3 has one); it is
  skipped with a warning, or kept and flagged (``metadata["duplicate_of"]``) with
  ``keep_duplicates=True``.
* **Channels.** The Muse electrodes TP9, AF7, AF8, TP10 that the file has are
  ``signals["eeg"]``; ``Right AUX``/``Left AUX`` (auxiliary inputs), where present,
  are ``signals["misc"]``; other columns (a Muse S or Muse 2's PPG, accelerometer...)
  are ignored; data are converted from µV to V. The marker column may be named
  ``Marker0``, ``Marker`` or ``stim`` (:data:`MARKER_COLUMNS`).
"""

from __future__ import annotations

import glob
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import mne
import numpy as np
import pandas as pd

from brainalign.data.base import Reader, RecordingRef, register_reader
from brainalign.data.edf import check_finite
from brainalign.data.recording import Recording, split_modalities
from brainalign.errors import ConfigError, DataError
from brainalign.utils.io import file_digest

#: the EEG electrodes of the Muse headsets (2016, Muse 2, Muse S), in file order
EEG_CHANNELS = ("TP9", "AF7", "AF8", "TP10")
AUX_CHANNEL = "Right AUX"
#: auxiliary inputs some Muse files carry; read as ``signals["misc"]`` when present
AUX_CHANNELS = (AUX_CHANNEL, "Left AUX")
MARKER_COLUMN = "Marker0"
#: the names eeg-notebooks releases have given the marker column: ``Marker0`` (muselsl
#: recordings), ``Marker`` (older releases), ``stim`` (its BrainFlow devices)
MARKER_COLUMNS = ("Marker0", "Marker", "stim")
TIME_COLUMN = "timestamps"
COLUMNS = (TIME_COLUMN, *EEG_CHANNELS, AUX_CHANNEL, MARKER_COLUMN)
DEFAULT_MARKER_MAP: Mapping[int, str] = MappingProxyType({1: "house", 2: "face"})
DEFAULT_STIMULUS_DIRS: Mapping[str, str] = MappingProxyType({"house": "stimuli/houses", "face": "stimuli/faces"})
#: eeg-notebooks paradigms, recognised by the layout of ``stimuli/``: the first whose
#: stimulus entries all exist gives the defaults (marker map, stimuli, description).
#: A stimulus entry is a folder or a glob pattern, relative to the dataset root.
PARADIGMS: tuple[dict[str, Any], ...] = (
    {
        "paradigm": "visual N170 (faces vs houses)",
        "marker_map": dict(DEFAULT_MARKER_MAP),
        "stimulus_dirs": dict(DEFAULT_STIMULUS_DIRS),
    },
    {
        "paradigm": "visual P300 oddball (target vs non-target)",
        "marker_map": {1: "nontarget", 2: "target"},
        "stimulus_dirs": {"nontarget": "stimuli/nontarget-*", "target": "stimuli/target-*"},
    },
)
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
_SUBJECT_DIR = re.compile(r"^subject(\d+)$", re.IGNORECASE)
_SESSION_DIR = re.compile(r"^session(\d+)$", re.IGNORECASE)
_MARKER_WORD = "marker"
_RATE_TOLERANCE = 0.05
_FIRST_DATA_LINE = 2  # line 1 is the header


def _csv_files(root: Path) -> list[tuple[str, str, Path]]:
    """(subject, session, file) for every CSV in the layout: subjects and sessions in
    numeric order, files by name."""
    found = []
    for sub_match, sub in _numbered_dirs(root, _SUBJECT_DIR):
        for ses_match, ses in _numbered_dirs(sub, _SESSION_DIR):
            for path in sorted(ses.iterdir()):
                if path.is_file() and path.name.lower().endswith(".csv"):
                    found.append((sub_match.group(1), ses_match.group(1), path))
    return found


def _numbered_dirs(folder: Path, pattern: re.Pattern[str]) -> list[tuple[re.Match[str], Path]]:
    """Sub-folders of ``folder`` named by ``pattern``, in numeric order (2 before 10)."""
    found = [(pattern.match(p.name), p) for p in folder.iterdir() if p.is_dir()]
    return sorted(((m, p) for m, p in found if m), key=lambda mp: int(mp[0].group(1)))


def _run_name(path: Path) -> str:
    """The file name without its (possibly doubled) ``.csv`` extension."""
    name = path.name
    while name.lower().endswith(".csv"):
        name = name[:-4]
    return name


@dataclass(frozen=True)
class MuseColumns:
    """The columns of one Muse CSV that the reader uses, as its header names them."""

    eeg: tuple[str, ...]
    aux: tuple[str, ...]
    marker: str

    @property
    def all(self) -> tuple[str, ...]:
        return (TIME_COLUMN, *self.eeg, *self.aux, self.marker)


def header_columns(path: Path) -> list[str]:
    """The column names on the first line of ``path``, stripped; DataError when the
    file is empty or its first line is not text."""
    try:
        with open(path, "rb") as fh:
            first = fh.readline(64 * 1024)
    except OSError as err:
        raise DataError(path, f"cannot be opened ({err.strerror})") from None
    if not first.strip():
        raise DataError(path, "empty file" if not first else "empty header line")
    try:
        text = first.decode("utf-8")
    except UnicodeDecodeError:
        raise DataError(path, "malformed CSV (the header line is not text)") from None
    return [c.strip() for c in text.rstrip("\r\n").split(",")]


def muse_columns(path: Path) -> MuseColumns:
    """The EEG, auxiliary and marker columns the header of ``path`` holds.

    Muse devices and eeg-notebooks releases differ: ``Right AUX`` may be missing,
    a Muse S or Muse 2 file may carry further columns (PPG, accelerometer...), which
    are ignored, and the marker column has had three names (:data:`MARKER_COLUMNS`).
    The EEG channels are those of :data:`EEG_CHANNELS` the file has (at least one)."""
    header = header_columns(path)
    eeg = tuple(c for c in EEG_CHANNELS if c in header)
    aux = tuple(c for c in AUX_CHANNELS if c in header)
    marker = next((c for c in MARKER_COLUMNS if c in header), None)
    missing = ([] if TIME_COLUMN in header else [TIME_COLUMN]) + ([] if eeg else ["any of " + "/".join(EEG_CHANNELS)])
    missing += [] if marker else [" or ".join(MARKER_COLUMNS)]
    if missing:
        raise DataError(path, f"missing columns: {'; '.join(missing)} (the header has {header[:12]})")
    return MuseColumns(eeg, aux, marker)


def read_muse_csv(path: Path, columns: tuple[str, ...] | None = None) -> pd.DataFrame:
    """Read ``columns`` of a Muse CSV as numbers (default: every column of
    :func:`muse_columns`); DataError (with the line) for an empty or malformed
    file, a missing column, a non-numeric value or a NaN/Inf.

    ``Marker0`` stands for whichever marker column the file has (see
    :data:`MARKER_COLUMNS`); the returned table names it ``Marker0``."""
    found = muse_columns(path)
    if columns is None:
        columns = (TIME_COLUMN, *found.eeg, *found.aux, MARKER_COLUMN)
    if found.marker != MARKER_COLUMN and MARKER_COLUMN in columns:
        columns = tuple(found.marker if c == MARKER_COLUMN else c for c in columns)
    try:
        table = pd.read_csv(path, usecols=lambda c: c.strip() in columns)
    except pd.errors.EmptyDataError:
        raise DataError(path, "empty file") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, OverflowError) as err:
        raise DataError(path, f"malformed CSV ({_one_line(err)})") from None
    table.columns = [c.strip() for c in table.columns]
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise DataError(path, f"missing columns {missing} (the marker may be named {' or '.join(MARKER_COLUMNS)})")
    if table.empty:
        raise DataError(path, "no samples after the header")
    table = table.loc[:, ~table.columns.duplicated()][list(columns)].copy()
    for col in columns:
        if pd.api.types.is_numeric_dtype(table[col]):
            continue
        values = pd.to_numeric(table[col], errors="coerce")
        bad = np.flatnonzero(values.isna() & table[col].notna())
        if len(bad):
            first = int(bad[0])
            raise DataError(
                path,
                f"line {first + _FIRST_DATA_LINE}: non-numeric value {table[col].iloc[first]!r} in column "
                f"{col!r} ({len(bad)} such rows)",
            )
        table[col] = values
    checked = [c for c in columns if c != TIME_COLUMN]
    check_finite(table[checked].to_numpy(float).T, path, checked, line_offset=_FIRST_DATA_LINE)
    return table.rename(columns={found.marker: MARKER_COLUMN})


def _one_line(err: Exception) -> str:
    return " ".join(str(err).split())


def marker_column(path: Path) -> str | None:
    """The marker column the file's header names (one of :data:`MARKER_COLUMNS`),
    or None when the header has none or cannot be read."""
    try:
        header = header_columns(path)
    except DataError:
        return None
    return next((c for c in MARKER_COLUMNS if c in header), None)


def detect_paradigm(root: Path) -> dict[str, Any]:
    """The paradigm entry of :data:`PARADIGMS` whose stimuli ``root`` holds, or the
    stimulus-free default (every non-zero marker a label of its own)."""
    for entry in PARADIGMS:
        if all(_stimulus_files(root, spec) for spec in entry["stimulus_dirs"].values()):
            return entry
    for entry in PARADIGMS:  # stimuli in part: the paradigm, so that the missing ones are named
        if any(_stimulus_files(root, spec) for spec in entry["stimulus_dirs"].values()):
            return entry
    return {"paradigm": "eeg-notebooks recording", "marker_map": None, "stimulus_dirs": None}


def _stimulus_files(root: Path, spec: str | Path) -> list[Path]:
    """Images named by a stimulus entry: a folder's images, or a glob's matches."""
    where = root / spec  # an absolute spec stays as it is
    if any(ch in str(spec) for ch in "*?["):
        found = [Path(p) for p in glob.glob(str(where))]
    else:
        found = list(where.iterdir()) if where.is_dir() else []
    return sorted(p for p in found if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


@register_reader
class EEGNotebooksReader(Reader):
    """eeg-notebooks Muse CSV recordings: one Recording per CSV file.

    Parameters
    ----------
    root:
        Folder holding ``subjectN/sessionM/*.csv`` (and, by default, ``stimuli/``).
    marker_map:
        Marker value -> class label; default from the paradigm the layout shows
        (:data:`PARADIGMS`, e.g. ``{1: "house", 2: "face"}`` for the N170). Other
        non-zero markers are skipped with a warning. None keeps every non-zero
        marker as the label ``"marker N"``.
    stimulus_dirs:
        Class label -> folder or glob pattern of its stimulus images (relative to
        ``root`` or absolute); default from the paradigm (for the N170
        ``{"house": "stimuli/houses", "face": "stimuli/faces"}``). None reads the
        EEG without images.
    sfreq:
        Sampling rate in Hz (default 256, the Muse's); onsets are sample index / sfreq.
    trial_text:
        :meth:`str.format` template of each trial's text over ``{label}``; default
        ``"a photograph of a {label}"``.
    keep_duplicates:
        Keep byte-identical copies of a recording (flagged) instead of skipping them.
    """

    name = "eegnb"
    modalities = ("eeg", "image", "text")
    version = 2

    def __init__(
        self,
        root: str | Path,
        marker_map: Mapping[int, str] | None | str = "auto",
        stimulus_dirs: Mapping[str, str | Path] | None | str = "auto",
        sfreq: float = 256.0,
        trial_text: str = "a photograph of a {label}",
        keep_duplicates: bool = False,
        **params: Any,
    ):
        super().__init__(root, **params)
        if sfreq <= 0:
            raise ConfigError(f"sfreq must be positive, got {sfreq}")
        paradigm = detect_paradigm(self.root)
        self.paradigm = str(paradigm["paradigm"])
        if isinstance(marker_map, str):
            if marker_map != "auto":
                raise ConfigError(f"marker_map must be a mapping, None or 'auto', got {marker_map!r}")
            marker_map = paradigm["marker_map"]
        if isinstance(stimulus_dirs, str):
            if stimulus_dirs != "auto":
                raise ConfigError(f"stimulus_dirs must be a mapping, None or 'auto', got {stimulus_dirs!r}")
            stimulus_dirs = paradigm["stimulus_dirs"]
        self.marker_map = None if marker_map is None else {int(k): str(v) for k, v in marker_map.items()}
        if stimulus_dirs is not None and self.marker_map is not None:
            unpaired = sorted(set(self.marker_map.values()) - set(stimulus_dirs))
            if unpaired:
                raise ConfigError(f"stimulus_dirs has no folder for the classes {unpaired}")
        self.stimulus_dirs = stimulus_dirs
        if stimulus_dirs is None:
            self.modalities = ("eeg", "text")
        self.sfreq = float(sfreq)
        try:
            trial_text.format(label="face")
        except (KeyError, IndexError) as err:
            raise ConfigError(f"trial_text {trial_text!r} may only use {{label}}, not {err}") from None
        self.trial_text = trial_text
        self.keep_duplicates = keep_duplicates
        self._refs: list[RecordingRef] | None = None
        self._class_images: dict[str, list[Path]] | None = None
        self._marker_cache: dict[Path, np.ndarray] = {}

    @classmethod
    def detect(cls, root: Path) -> bool:
        """True when ``root`` has ``subjectN/sessionM/*.csv`` and the first such file
        has the Muse header."""
        root = Path(root)
        files = _csv_files(root) if root.is_dir() else []
        if not files:
            return False
        try:
            header = header_columns(files[0][2])
        except DataError:
            return False
        return header[:1] == [TIME_COLUMN] and any(c in header for c in EEG_CHANNELS)

    def _label_of(self, code: int) -> str | None:
        if self.marker_map is None:
            return f"{_MARKER_WORD} {code}"
        return self.marker_map.get(code)

    # ------------------------------------------------------------------ listing
    def refs(self) -> list[RecordingRef]:
        """One ref per CSV file; byte-identical copies skipped (warned once) or
        flagged. Only files of equal size are hashed, so listing stays cheap."""
        if self._refs is None:
            files = _csv_files(self.root)
            duplicate_of = _find_duplicates([p for _, _, p in files])
            if duplicate_of and not self.keep_duplicates:
                pairs = "; ".join(f"{d} = {k}" for d, k in duplicate_of.items())
                warnings.warn(f"eegnb: skipping byte-identical duplicate recordings: {pairs}", stacklevel=2)
            self._refs = [
                RecordingRef(
                    key=f"subject{sub}/session{ses}/{_run_name(path)}",
                    subject=sub,
                    session=ses,
                    run=_run_name(path),
                    paths=(path,),
                    extra=(("duplicate_of", duplicate_of.get(path)),),
                )
                for sub, ses, path in files
                if self.keep_duplicates or path not in duplicate_of
            ]
        return list(self._refs)

    def class_images(self) -> dict[str, list[Path]]:
        """Class label -> its stimulus images, sorted; DataError when a folder is
        missing or holds no image. Empty when ``stimulus_dirs`` is None."""
        if self._class_images is None:
            self._class_images = {}
            for label, spec in (self.stimulus_dirs or {}).items():
                is_glob = any(ch in str(spec) for ch in "*?[")
                folder = self.root / spec
                if not is_glob and not folder.is_dir():
                    raise DataError(folder, f"stimulus folder of class {label!r} does not exist")
                images = _stimulus_files(self.root, spec)
                if not images:
                    raise DataError(folder, f"no stimulus images ({', '.join(IMAGE_SUFFIXES)}) for class {label!r}")
                self._class_images[label] = images
        return self._class_images

    def images(self) -> list[Path]:
        return sorted(p for imgs in self.class_images().values() for p in imgs)

    def check(self, ref: RecordingRef) -> None:
        """The file read in full and checked as :meth:`load` checks it (every
        column numeric and finite, the sampling rate), for listings."""
        super().check(ref)
        self._markers(ref.paths[0])

    def _markers(self, path: Path) -> np.ndarray:
        """The rounded marker column of ``path``, read once per reader with every
        column checked (see :meth:`check`)."""
        if path not in self._marker_cache:
            table = read_muse_csv(path)
            self._check_rate(table[TIME_COLUMN].to_numpy(float), path)
            self._marker_cache[path] = np.round(table[MARKER_COLUMN].to_numpy(float))
        return self._marker_cache[path]

    def n_trials(self, refs: list[RecordingRef]) -> int:
        """Markers of the known classes over ``refs``."""
        total = 0
        for ref in refs:
            markers = self._markers(ref.paths[0])
            total += sum(self._label_of(int(c)) is not None for c in markers[markers != 0])
        return total

    # --------------------------------------------------------------------- load
    def _check_rate(self, timestamps: np.ndarray, path: Path) -> None:
        if len(timestamps) < 2:
            return
        span = float(timestamps[-1] - timestamps[0])
        if span <= 0:
            return
        measured = (len(timestamps) - 1) / span
        if abs(measured - self.sfreq) > _RATE_TOLERANCE * self.sfreq:
            raise DataError(
                path,
                f"wrong sampling rate: the timestamps span {span:.1f} s for {len(timestamps)} samples "
                f"({measured:.1f} Hz), not the {self.sfreq:g} Hz given as sfreq",
            )

    def _trials(self, markers: np.ndarray, path: Path) -> pd.DataFrame:
        codes = np.round(markers).astype(int)
        index = np.flatnonzero(codes != 0)
        unknown = sorted(c for c in set(codes[index].tolist()) if self._label_of(c) is None)
        if unknown:
            warnings.warn(f"{path}: skipping markers {unknown} absent from marker_map", stacklevel=3)
            index = index[~np.isin(codes[index], unknown)]
        labels = [str(self._label_of(int(c))) for c in codes[index]]
        trials = pd.DataFrame(
            {
                "onset": index / self.sfreq,
                "sample": index,
                "label": labels,
                "text": [self.trial_text.format(label=label) for label in labels],
            }
        )
        class_images = self.class_images()
        if class_images:
            seen: dict[str, int] = {}
            chosen = []
            for label in labels:
                images = class_images[label]
                chosen.append(str(images[seen.get(label, 0) % len(images)]))
                seen[label] = seen.get(label, 0) + 1
            trials["image"] = chosen
            trials["image_dir"] = [str(class_images[label][0].parent) for label in labels]
        return trials

    def load(self, ref: RecordingRef) -> Recording:
        path = ref.paths[0]
        columns = muse_columns(path)
        table = read_muse_csv(path)
        self._check_rate(table[TIME_COLUMN].to_numpy(float), path)
        names = [*columns.eeg, *columns.aux]
        info = mne.create_info(names, self.sfreq, ["eeg"] * len(columns.eeg) + ["misc"] * len(columns.aux))
        raw = mne.io.RawArray(table[names].to_numpy(float).T * 1e-6, info, verbose="error")
        trials = self._trials(table[MARKER_COLUMN].to_numpy(float), path)
        signals = split_modalities(raw)
        return Recording(
            signals=signals,
            subject=ref.subject,
            dataset=self.name,
            source=(path,),
            session=ref.session,
            run=ref.run,
            metadata={
                "subject": ref.subject,
                "session": ref.session,
                "paradigm": self.paradigm,
                "device": "Muse",
                "image_exact": False,
                "duplicate_of": None if ref.get("duplicate_of") is None else str(ref.get("duplicate_of")),
            },
            trials=trials,
            units={modality: "V" for modality in signals},
        )


def _find_duplicates(paths: list[Path]) -> dict[Path, Path]:
    """Later path -> earlier path for byte-identical files (only same-size files are hashed)."""
    by_size: dict[int, list[Path]] = {}
    for path in paths:
        by_size.setdefault(path.stat().st_size, []).append(path)
    duplicate_of: dict[Path, Path] = {}
    for group in by_size.values():
        if len(group) < 2:
            continue
        first_with_digest: dict[str, Path] = {}
        for path in group:
            digest = file_digest(path)
            if digest in first_with_digest:
                duplicate_of[path] = first_with_digest[digest]
            else:
                first_with_digest[digest] = path
    return duplicate_of
