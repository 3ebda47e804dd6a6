"""Reader: MNE FIF files, epoched (``*-epo.fif``) with per-trial metadata, or
continuous (``*_raw.fif``) with annotations.

Layout: a folder whose top level holds FIF files named with MNE's suffixes
(``-epo.fif``/``_epo.fif`` for epochs, ``-raw.fif``/``_raw.fif`` for continuous
data, optionally ``.gz``); one file is one recording. The subject is taken from the
file name (``subject04-epo.fif`` -> ``04``, ``sub-01_task-x_raw.fif`` -> ``01``,
anything else -> the name without its suffix).

Epochs become ``signals["eeg"]`` (split per modality when other channel types are
present) and one trial row per epoch: the ``epochs.metadata`` columns, ``onset``
(event sample / sfreq, the time in the source continuous recording), ``label``
(the event name, e.g. ``"related"``), ``event_code`` and, when the metadata has the
words, ``text`` built from ``text_template`` (``"{cue} {association}"`` for the
N400 set). Continuous files become one trial row per annotation (``onset`` from the
start of the data, ``duration``, ``label`` = description).

Label leakage: in the N400 set the metadata columns ``FAS`` (forward association
strength, 0 for unrelated pairs) and ``button`` (the response given) encode the
related/unrelated label. They are kept in ``trials`` because they are part of the
source, and listed in ``Recording.metadata["leaky_columns"]``: never feed them to a
model as inputs.
"""

from __future__ import annotations

import os
import re
import string
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import mne
import numpy as np
import pandas as pd

from brainalign.data.base import Reader, RecordingRef, register_reader
from brainalign.data.edf import check_finite
from brainalign.data.recording import Recording, split_modalities
from brainalign.errors import DataError

EPOCHS_SUFFIXES = ("-epo.fif", "_epo.fif", "-epo.fif.gz", "_epo.fif.gz")
RAW_SUFFIXES = ("-raw.fif", "_raw.fif", "-raw.fif.gz", "_raw.fif.gz")
#: text paired with a trial when the metadata has these words (the N400 layout)
DEFAULT_TEXT_TEMPLATE = "{cue} {association}"
#: metadata columns known to encode the label (N400: see the module docstring)
DEFAULT_LEAKY_COLUMNS = ("FAS", "button")
#: columns this reader fills itself; a metadata column of the same name is kept
#: under ``metadata_<name>`` so nothing from the source is lost
_OWN_COLUMNS = ("onset", "label", "event_code", "text")

_SUBJECT_RE = re.compile(r"^sub(?:ject)?[-_]?([A-Za-z0-9]+)")


def _kind(path: Path) -> str | None:
    """``"epochs"``, ``"raw"`` or None from the file name alone."""
    name = path.name
    if name.endswith(EPOCHS_SUFFIXES):
        return "epochs"
    if name.endswith(RAW_SUFFIXES):
        return "raw"
    return None


def _stem(path: Path) -> str:
    name = path.name
    for suffix in EPOCHS_SUFFIXES + RAW_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def _subject(stem: str) -> str:
    match = _SUBJECT_RE.match(stem)
    return match.group(1) if match else stem


def template_fields(template: str) -> list[str]:
    """The field names a ``str.format`` template refers to."""
    return [field for _, field, _, _ in string.Formatter().parse(template) if field]


def _read_epochs(path: Path, preload: bool) -> mne.BaseEpochs:
    """``mne.read_epochs`` with every failure on a bad file turned into a DataError."""
    try:
        return mne.read_epochs(path, preload=preload, verbose="error")
    except Exception as err:  # MNE raises ValueError, AttributeError, OSError... on bad files
        raise DataError(path, f"cannot read FIF epochs (truncated or corrupt?): {err}") from err


def _read_raw(path: Path, preload: bool = True) -> mne.io.BaseRaw:
    try:
        return mne.io.read_raw_fif(path, preload=preload, verbose="error")
    except Exception as err:  # same as _read_epochs
        raise DataError(path, f"cannot read FIF raw data (truncated or corrupt?): {err}") from err


@register_reader
class FifReader(Reader):
    """Folder of MNE FIF epochs/raw files (see the module docstring).

    Parameters
    ----------
    text_template:
        ``str.format`` template over the metadata columns giving each epoch's
        ``text``. None (default) uses :data:`DEFAULT_TEXT_TEMPLATE` where the
        metadata has its columns and adds no text elsewhere; an explicit template
        whose columns a file lacks raises :class:`DataError`; ``""`` adds no text.
    label_column:
        Metadata column holding the label. None (default): the event name of each
        epoch (``epochs.event_id`` inverted), which for the N400 set is
        ``"related"``/``"unrelated"`` (its metadata ``label`` column holds the event
        codes 6/7).
    leaky_columns:
        Metadata columns that encode the label, reported in
        ``Recording.metadata["leaky_columns"]`` where present.
    """

    name = "fif"
    #: what the layout provides; ``text`` needs the template's metadata columns
    modalities = ("eeg", "text")

    def __init__(
        self,
        root: str | os.PathLike,
        text_template: str | None = None,
        label_column: str | None = None,
        leaky_columns: Sequence[str] = DEFAULT_LEAKY_COLUMNS,
        **params: Any,
    ):
        super().__init__(root, **params)
        self.text_template = text_template
        self.label_column = label_column
        self.leaky_columns = tuple(leaky_columns)
        # these change the windows' texts and labels, so they belong in the cache key
        self.params.update(
            text_template=text_template, label_column=label_column, leaky_columns=list(self.leaky_columns)
        )

    @classmethod
    def detect(cls, root: Path) -> bool:
        root = Path(root)
        if not root.is_dir() or (root / "dataset_description.json").exists():
            return False  # a BIDS root is the bids reader's
        return any(p.is_file() and _kind(p) for p in root.iterdir())

    def refs(self) -> list[RecordingRef]:
        files = sorted(p for p in self.root.iterdir() if p.is_file() and _kind(p))
        return [
            RecordingRef(
                key=_stem(p),
                subject=_subject(_stem(p)),
                paths=(p,),
                extra=(("kind", _kind(p)),),
            )
            for p in files
        ]

    def n_trials(self, refs: list[RecordingRef]) -> int | None:
        """Epochs and annotations counted from the FIF headers (no signal read)."""
        total = 0
        for ref in refs:
            path = ref.paths[0]
            if ref.get("kind") == "epochs":
                total += len(_read_epochs(path, preload=False))
            else:
                total += len(_read_raw(path, preload=False).annotations)
        return total

    def load(self, ref: RecordingRef) -> Recording:
        path = ref.paths[0]
        if not path.is_file():
            raise DataError(path, "file not found")
        if ref.get("kind") == "epochs":
            inst: mne.io.BaseRaw | mne.BaseEpochs = _read_epochs(path, preload=True)
            trials = self._epoch_trials(inst, path)
        else:
            inst = _read_raw(path)
            trials = _annotation_trials(inst)
        check_finite(inst, path)
        signals = split_modalities(inst)
        if "eeg" not in signals:
            raise DataError(path, f"no EEG channel (channel types: {sorted(set(inst.get_channel_types()))})")
        metadata: dict[str, Any] = {"subject": ref.subject, "kind": ref.get("kind")}
        leaky = [c for c in self.leaky_columns if c in trials.columns]
        if leaky:
            metadata["leaky_columns"] = leaky
        return Recording(
            signals=signals,
            subject=ref.subject,
            dataset=self.root.name,
            source=(path,),
            metadata=metadata,
            trials=trials,
            units={m: "V" for m in signals},
        )

    # ----------------------------------------------------------------- trials
    def _epoch_trials(self, epochs: mne.BaseEpochs, path: Path) -> pd.DataFrame:
        """One row per epoch: metadata columns, onset, label, event_code, text."""
        meta = epochs.metadata
        trials = (
            pd.DataFrame(index=range(len(epochs)))
            if meta is None
            else meta.reset_index(drop=True).rename(columns={c: f"metadata_{c}" for c in _OWN_COLUMNS})
        )
        codes = epochs.events[:, 2]
        trials["onset"] = epochs.events[:, 0] / epochs.info["sfreq"]
        trials["event_code"] = codes
        if self.label_column is None:
            names = {code: name for name, code in epochs.event_id.items()}
            trials["label"] = [names.get(int(c), str(int(c))) for c in codes]
        else:
            column = self.label_column
            if meta is None or column not in meta.columns:
                raise DataError(path, f"label_column {column!r} is not in the epochs metadata")
            trials["label"] = meta[column].to_numpy()
        text = self._trial_text(meta, path)
        if text is not None:
            trials["text"] = text
        return trials

    def _trial_text(self, meta: pd.DataFrame | None, path: Path) -> list[Any] | None:
        """Each epoch's text from the template, NaN where a word is missing, or
        None when no text applies (see ``text_template``)."""
        template = DEFAULT_TEXT_TEMPLATE if self.text_template is None else self.text_template
        if not template:
            return None
        fields = template_fields(template)
        columns = [] if meta is None else list(meta.columns)
        missing = [f for f in fields if f not in columns]
        if missing or meta is None:
            if self.text_template is None:
                return None
            raise DataError(path, f"text_template needs metadata column(s) {missing}; metadata has {columns}")
        rows = meta[fields].to_dict("records")
        return [np.nan if any(pd.isna(v) for v in row.values()) else template.format(**row) for row in rows]


def _annotation_trials(raw: mne.io.BaseRaw) -> pd.DataFrame:
    """One row per annotation, onsets in seconds from the first sample."""
    ann = raw.annotations
    return pd.DataFrame(
        {
            "onset": np.asarray(ann.onset, dtype=float) - raw.first_time,
            "duration": np.asarray(ann.duration, dtype=float),
            "label": np.asarray(ann.description, dtype=object),
        }
    )
