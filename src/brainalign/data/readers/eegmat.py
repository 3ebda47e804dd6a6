"""Reader: eegmat, PhysioNet "EEG During Mental Arithmetic Tasks" (Zyma et al. 2019).

Layout: ``SubjectNN_1.edf`` (background EEG at rest, before the task) and
``SubjectNN_2.edf`` (serial subtraction) in one folder, with ``subject-info.csv``
(``Subject, Age, Gender, Recording year, Number of subtractions, Count quality``).

Each EDF holds 19 EEG channels referenced to linked ears, ``EEG A2-A1`` (the
potential between the two ear electrodes) and ``ECG ECG``. The reader returns

* ``signals["eeg"]``: the 19 EEG channels under their 10-20 names (``T3`` -> ``T7``...);
* ``signals["ecg"]``: the ECG channel, named ``ECG``, of type ``ecg``;
* ``signals["misc"]``: ``A2-A1``, typed ``misc``: it is not a scalp electrode, so it
  stays out of the EEG, but it is kept for re-referencing;
* ``metadata``: subject (``"00"``), age, sex, recording_year, n_subtractions,
  count_quality (1 good, 0 bad), task (``"rest"`` or ``"mental arithmetic"``) and
  label (``"rest"`` or ``"arithmetic"``, the per-recording class);
* ``text``: a sentence generated from the metadata (see :func:`default_text`), which
  the ``text_template`` parameter replaces.

There are no trials: the condition is per recording (``metadata["label"]``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from brainalign.data.base import Reader, RecordingRef, register_reader
from brainalign.data.channels import (
    STANDARD_1020_21,
    canonicalize_channels,
    retype_channels,
)
from brainalign.data.edf import check_finite, read_raw_safely
from brainalign.data.recording import Recording, split_modalities
from brainalign.errors import ConfigError, DataError

_FILE = re.compile(r"^Subject(\d+)_([12])\.edf$", re.IGNORECASE)
_INFO_FILE = "subject-info.csv"
_INFO_COLUMNS = ("Subject", "Age", "Gender", "Recording year", "Number of subtractions", "Count quality")
#: file suffix -> (task, label)
_CONDITIONS = {"1": ("rest", "rest"), "2": ("mental arithmetic", "arithmetic")}
#: the scalp electrodes every file must hold (the 10-20 set without the ear electrodes)
REQUIRED_EEG = tuple(ch for ch in STANDARD_1020_21 if ch not in ("A1", "A2"))
_BIPOLAR_EAR = "A2-A1"

TextTemplate = str | Callable[[dict[str, Any]], str]


def default_text(meta: dict[str, Any]) -> str:
    """The default recording text, e.g. "EEG of a 21-year-old female at rest, doing
    nothing in particular" or "EEG of an 18-year-old female performing serial
    subtraction (mental arithmetic), with good counting quality". Fields missing from
    the metadata are left out of the sentence."""
    who = meta.get("sex_word") or "person"
    if meta.get("age") is not None:
        age = int(meta["age"])
        article = "an" if str(age).startswith("8") or age in (11, 18) else "a"
        who = f"{article} {age}-year-old {who}"
    else:
        who = f"a {who}"
    if meta["label"] == "rest":
        # the rest text names no task: a rest description that mentions arithmetic puts the
        # contrast's own words into both classes and blurs what CLIP can align with
        return f"EEG of {who} at rest, doing nothing in particular"
    text = f"EEG of {who} performing serial subtraction (mental arithmetic)"
    if meta.get("count_quality_word"):
        text += f", with {meta['count_quality_word']} counting quality"
    return text


@register_reader
class EEGMATReader(Reader):
    """PhysioNet EEGMAT: one Recording per EDF file (rest and task per subject).

    Parameters
    ----------
    root:
        The folder holding ``SubjectNN_1.edf`` / ``SubjectNN_2.edf`` files.
    text_template:
        The recording text: a :meth:`str.format` template over the metadata keys
        (``"{age}-year-old {sex_word}, {task}"``) or a callable taking the metadata dict;
        default :func:`default_text`.
    """

    name = "eegmat"
    modalities = ("eeg", "ecg", "text")
    version = 2  # 2: the default rest text no longer mentions the arithmetic task

    def __init__(self, root: str | Path, text_template: TextTemplate = default_text, **params: Any):
        super().__init__(root, **params)
        self.text_template = text_template
        # the template changes every window's text, so it is part of the cache key
        self.params["text_template"] = (
            text_template
            if isinstance(text_template, str)
            else f"{text_template.__module__}.{text_template.__qualname__}"
        )
        self._info: dict[str, dict[str, Any]] | None = None

    @classmethod
    def detect(cls, root: Path) -> bool:
        root = Path(root)
        return root.is_dir() and any(_FILE.match(p.name) for p in root.iterdir() if p.is_file())

    def refs(self) -> list[RecordingRef]:
        refs = []
        for path in sorted(self.root.iterdir()):
            match = _FILE.match(path.name)
            if match is None or not path.is_file():
                continue
            number, part = match.groups()
            task, label = _CONDITIONS[part]
            refs.append(
                RecordingRef(
                    key=path.stem,
                    subject=number,
                    paths=(path,),
                    run=part,
                    extra=(("task", task), ("label", label)),
                )
            )
        return refs

    # ----------------------------------------------------------------- metadata
    def subject_info(self) -> dict[str, dict[str, Any]]:
        """``subject-info.csv`` as ``{subject number: metadata}``; empty when the file
        is absent (recordings then carry no demographics)."""
        if self._info is None:
            self._info = _read_subject_info(self.root / _INFO_FILE)
        return self._info

    def metadata(self, ref: RecordingRef) -> dict[str, Any]:
        """The metadata of one recording, without reading its signals."""
        meta: dict[str, Any] = {
            "subject": ref.subject,
            "task": ref.get("task"),
            "label": ref.get("label"),
        }
        meta.update(self.subject_info().get(ref.subject, {}))
        return meta

    def render_text(self, meta: dict[str, Any]) -> str:
        """Apply ``text_template`` to a metadata dict."""
        if callable(self.text_template):
            return self.text_template(meta)
        try:
            return self.text_template.format(**meta)
        except (KeyError, IndexError) as err:
            raise ConfigError(
                f"text_template {self.text_template!r} uses {err}, which eegmat metadata lacks; "
                f"available: {sorted(meta)}"
            ) from None

    # --------------------------------------------------------------------- load
    def load(self, ref: RecordingRef) -> Recording:
        path = ref.paths[0]
        raw = read_raw_safely(path, preload=True)
        check_finite(raw, path)
        retype_channels(raw)
        canonicalize_channels(raw, path)
        missing = [ch for ch in REQUIRED_EEG if ch not in raw.ch_names]
        if missing:
            raise DataError(path, f"missing EEG channels {missing} (has {raw.ch_names})")
        if _BIPOLAR_EAR in raw.ch_names:
            raw.set_channel_types({_BIPOLAR_EAR: "misc"}, on_unit_change="ignore")
        signals = split_modalities(raw)
        meta = self.metadata(ref)
        return Recording(
            signals=signals,
            subject=ref.subject,
            dataset=self.name,
            source=(path,),
            run=ref.run,
            metadata=meta,
            text=self.render_text(meta),
            trials=None,
            units={modality: "V" for modality in signals},
        )


def _read_subject_info(path: Path) -> dict[str, dict[str, Any]]:
    if not path.is_file():
        return {}
    try:
        table = pd.read_csv(path)
    except (ValueError, pd.errors.ParserError) as err:
        raise DataError(path, f"cannot be read as CSV ({err})") from None
    missing = [c for c in _INFO_COLUMNS if c not in table.columns]
    if missing:
        raise DataError(path, f"missing columns {missing} (has {list(table.columns)})")
    info: dict[str, dict[str, Any]] = {}
    for line, row in enumerate(table.itertuples(index=False), start=2):
        record = dict(zip(table.columns, row))
        match = re.fullmatch(r"Subject(\d+)", str(record["Subject"]).strip())
        sex = str(record["Gender"]).strip().upper()
        if match is None or sex not in ("F", "M"):
            raise DataError(
                path, f"line {line}: unexpected subject {record['Subject']!r} or gender {record['Gender']!r}"
            )
        try:
            quality = int(record["Count quality"])
            meta = {
                "age": int(record["Age"]),
                "recording_year": int(record["Recording year"]),
                "n_subtractions": float(record["Number of subtractions"]),
            }
        except (TypeError, ValueError):
            raise DataError(path, f"line {line}: non-numeric age, year, subtractions or count quality") from None
        meta.update(
            sex=sex,
            sex_word="female" if sex == "F" else "male",
            count_quality=quality,
            count_quality_word="good" if quality == 1 else "bad",
        )
        info[match.group(1)] = meta
    return info
