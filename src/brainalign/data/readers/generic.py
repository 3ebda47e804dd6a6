"""Reader: generic, any folder of MNE-readable continuous recordings.

The catch-all for folders that no specific reader recognises: EDF, BDF, GDF, EEGLAB
``.set`` (continuous), BrainVision ``.vhdr``, Neuroscan ``.cnt``, raw FIF files and
XDF (through :func:`~brainalign.data.readers.xdf.read_xdf`),
found up to four folder levels below the root. One Recording per file; trials are the
file's annotations (onset in seconds from the first sample, duration, label = the
annotation text). Channels named ECG/EKG, EOG or EMG get that type, and trigger
channels (``STI 014``, ``Trigger``, ``Status``...) the type ``stim``: EDF and BDF store
every channel as EEG, BrainVision stores channels without an electrode position as
``misc`` (see :func:`~brainalign.data.channels.retype_channels`). Each signal type
becomes its own modality (``"eeg"``, ``"ecg"``, ``"eog"``...); stimulus channels are
left out, their events being annotations: a file without annotations gets one per
event of its trigger channels (label = the event code; on BDF the lower 16 bits of
the status channel, the BioSemi trigger bits).

Channel names are kept as stored by default: without knowing the system, renaming
is unsafe (``A1`` is an ear electrode in 10-20 but a scalp position on a BioSemi
cap). ``canonical_names=True`` applies :func:`~brainalign.data.channels.canonical_channel_name`.

Each file is its own subject unless ``subject_regex`` says how to read the subject
from the file's path relative to the root (first group, or the group named
``subject``), e.g. ``r"sub-(\\w+)/"``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mne
import numpy as np
import pandas as pd

from brainalign.data.base import (
    Reader,
    RecordingRef,
    available_readers,
    register_reader,
)
from brainalign.data.channels import canonicalize_channels, retype_channels
from brainalign.data.edf import check_finite, read_raw_safely
from brainalign.data.recording import Recording, split_modalities
from brainalign.errors import ConfigError, DataError

RAW_SUFFIXES = (".edf", ".bdf", ".gdf", ".set", ".vhdr", ".cnt", ".fif", ".fif.gz", ".xdf", ".xdfz")
# FIF files that hold something other than continuous data (MNE naming conventions).
_NOT_RAW_FIF = re.compile(
    r"[-_](epo|ave|cov|fwd|inv|trans|sol|proj|bem|src|tfr|morph|dip|annot)\.fif(\.gz)?$",
    re.IGNORECASE,
)
MAX_DEPTH = 4


def _is_raw_file(name: str) -> bool:
    lower = name.lower()
    return lower.endswith(RAW_SUFFIXES) and not _NOT_RAW_FIF.search(lower)


def raw_files(root: Path, max_depth: int = MAX_DEPTH) -> Iterator[Path]:
    """MNE-readable continuous files under ``root`` (at most ``max_depth`` folders
    down), in sorted order; hidden files and folders are skipped."""
    root_depth = len(root.parts)
    for folder, dirs, files in os.walk(root):
        depth = len(Path(folder).parts) - root_depth
        dirs[:] = sorted(d for d in dirs if not d.startswith(".")) if depth < max_depth else []
        for name in sorted(files):
            if not name.startswith(".") and _is_raw_file(name):
                yield Path(folder) / name


def annotations_table(raw: mne.io.BaseRaw) -> pd.DataFrame:
    """The annotations of ``raw`` as trials: onset (s from the first sample), duration, label."""
    ann = raw.annotations
    offset = raw.first_time if ann.orig_time is not None else 0.0
    return pd.DataFrame(
        {
            "onset": ann.onset - offset,
            "duration": ann.duration,
            "label": [str(d) for d in ann.description],
        }
    )


#: trigger codes of a BioSemi BDF status channel: its lower 16 bits (the upper ones
#: carry system flags such as CMS range and battery)
_BDF_TRIGGER_MASK = 0xFFFF


#: scale of the voltage units MNE converts to volts; a trigger channel stored with
#: one of them is divided back to the codes the file holds
_UNIT_SCALE = {"V": 1.0, "mV": 1e-3, "µV": 1e-6, "μV": 1e-6, "uV": 1e-6, "nV": 1e-9}


def trial_annotations(raw: mne.io.BaseRaw, path: Path) -> mne.Annotations:
    """The annotations of ``raw``, or, when it has none, one annotation per event
    of its ``stim`` channels (description = the event code, as the file stores it)."""
    picks = mne.pick_types(raw.info, meg=False, stim=True)
    if len(raw.annotations) or not len(picks):
        return raw.annotations
    mask = _BDF_TRIGGER_MASK if path.suffix.lower() == ".bdf" else None
    units = getattr(raw, "_orig_units", None) or {}
    found = []
    for pick in picks:
        name = raw.ch_names[pick]
        codes = raw.get_data(picks=[pick])[0] / _UNIT_SCALE.get(units.get(name, ""), 1.0)
        if not np.isfinite(codes).all():
            raise DataError(path, f"trigger channel {name!r} holds NaN/Inf samples")
        channel = mne.io.RawArray(
            np.round(codes)[np.newaxis],
            mne.create_info([name], raw.info["sfreq"], "stim"),
            first_samp=raw.first_samp,
            verbose="error",
        )
        try:
            found.append(
                mne.find_events(
                    channel,
                    stim_channel=name,
                    shortest_event=1,
                    mask=mask,
                    mask_type="and",
                    initial_event=True,
                    verbose="error",
                )
            )
        except ValueError as err:  # e.g. an event of one sample at the very end
            raise DataError(path, f"trigger channel {name!r} cannot be read as events ({err})") from None
    events = np.concatenate(found)
    events = events[np.argsort(events[:, 0], kind="stable")]
    if not len(events):
        return raw.annotations
    codes = sorted({int(c) for c in events[:, 2]})
    return mne.annotations_from_events(
        events,
        raw.info["sfreq"],
        event_desc={c: str(c) for c in codes},
        first_samp=raw.first_samp,
        orig_time=raw.info["meas_date"],
        verbose="error",
    )


@register_reader
class GenericReader(Reader):
    """Any folder of MNE-readable raw files that no specific reader claims.

    Parameters
    ----------
    root:
        The folder to scan.
    subject_regex:
        Regular expression applied to each file's path relative to ``root`` (with
        ``/`` separators) whose first group, or group ``subject``, is the subject.
        Default: each file is its own subject (its name without extension).
    canonical_names:
        Rename channels to standard 10-20/10-05 spelling (off by default, see above).
    """

    name = "generic"
    catch_all = True
    modalities = ("eeg",)
    version = 2  # 2: channel types from names include misc channels and triggers; stim events

    def __init__(
        self,
        root: str | Path,
        subject_regex: str | None = None,
        canonical_names: bool = False,
        **params: Any,
    ):
        super().__init__(root, **params)
        try:
            self.subject_regex = re.compile(subject_regex) if subject_regex else None
        except re.error as err:
            raise ConfigError(f"subject_regex {subject_regex!r} is not a valid regular expression: {err}") from None
        if self.subject_regex is not None and self.subject_regex.groups == 0:
            raise ConfigError(f"subject_regex {subject_regex!r} has no group to read the subject from")
        self.canonical_names = canonical_names

    @classmethod
    def detect(cls, root: Path) -> bool:
        """True when ``root`` holds a readable raw file and no other reader claims it."""
        root = Path(root)
        if not root.is_dir() or next(raw_files(root), None) is None:
            return False
        for other in available_readers().values():
            if other is cls:
                continue
            try:
                if other.detect(root):
                    return False
            except OSError:
                continue
        return True

    def _subject(self, path: Path) -> str:
        relative = path.relative_to(self.root).as_posix()
        if self.subject_regex is None:
            return _stem(path)
        match = self.subject_regex.search(relative)
        if match is None:
            raise DataError(path, f"subject_regex {self.subject_regex.pattern!r} does not match {relative!r}")
        groups = match.groupdict()
        return groups.get("subject") or match.group(1)

    def refs(self) -> list[RecordingRef]:
        return [
            RecordingRef(
                key=path.relative_to(self.root).as_posix(),
                subject=self._subject(path),
                paths=(path,),
                run=_stem(path),
            )
            for path in raw_files(self.root)
        ]

    def load(self, ref: RecordingRef) -> Recording:
        return read_single_file(ref.paths[0], subject=ref.subject, canonical_names=self.canonical_names)

    def n_trials(self, refs: list[RecordingRef]) -> int:
        """Annotations over ``refs``, read from the file headers (no signal loaded)."""
        from brainalign.data.xdf import is_xdf

        total = 0
        for ref in refs:
            if is_xdf(ref.paths[0]):
                total += len(self.load(ref).trials)
                continue
            raw = read_raw_safely(ref.paths[0], preload=False)
            retype_channels(raw)
            total += len(trial_annotations(raw, ref.paths[0]))
        return total


def read_single_file(path: str | os.PathLike, subject: str | None = None, canonical_names: bool = False) -> Recording:
    """One MNE-readable raw file as a Recording, whatever folder it is in.

    ``subject`` defaults to the file name without extension; ``canonical_names`` as in
    :class:`GenericReader`. Bad files raise DataError.
    """
    from brainalign.data.xdf import is_xdf, read_xdf

    path = Path(path)
    if is_xdf(path):
        return read_xdf(path, subject=subject)
    raw = read_raw_safely(path, preload=True)
    check_finite(raw, path)
    retype_channels(raw)
    raw.set_annotations(trial_annotations(raw, path))
    if canonical_names:
        canonicalize_channels(raw, path)
    signals = split_modalities(raw)
    stem = _stem(path)
    subject = stem if subject is None else subject
    return Recording(
        signals=signals,
        subject=subject,
        dataset=GenericReader.name,
        source=(path,),
        run=stem,
        metadata={"subject": subject, "file": path.name, "format": path.suffix.lower().lstrip(".")},
        trials=annotations_table(raw),
        units={modality: "V" for modality in signals},
    )


def _stem(path: Path) -> str:
    """The file name without its raw-format extension (``x.fif.gz`` -> ``x``)."""
    lower = path.name.lower()
    suffix = next((s for s in sorted(RAW_SUFFIXES, key=len, reverse=True) if lower.endswith(s)), path.suffix)
    return path.name[: len(path.name) - len(suffix)]
