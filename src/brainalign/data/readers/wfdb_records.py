"""Reader: WFDB ECG records with clinical free text in their header comments.

Layout: a folder of WFDB records (``<record>.hea`` + its signal files, optionally
``<record>.atr`` beat annotations), either flat (MIT-BIH, wfdb-python samples) or
one sub-folder per patient (PTB: ``patient001/s0010_re.hea``). The subject is the
patient folder where there is one, else the record name.

Each record becomes a :class:`Recording` with

* ``signals["ecg"]``: the leads whose header unit is a voltage (``mV``, ``uV``...),
  as an :class:`mne.io.RawArray` of channel type ``"ecg"`` converted to volts;
  channels in other units (``mmHg``, ``NU``...) go to ``signals["misc"]`` in their
  own units (``Recording.units["misc"]`` names them);
* ``text``: the header comments joined by newlines (PTB: age, sex, reason for
  admission, diagnoses, therapy...);
* ``metadata``: ``age``, ``sex`` (``"M"``/``"F"``) and ``diagnosis`` parsed from
  the comments where present (PTB ``key: value`` lines, PhysioNet-challenge
  ``<key>: value`` tags, MIT-BIH ``"<age> <sex> ..."`` first line), plus every
  ``key: value`` pair under ``clinical``;
* ``trials``: one row per annotation (``onset`` in seconds, ``label`` = the beat
  or rhythm symbol, ``description``, ``sample``, ``aux_note``), or None without an
  annotation file.

Only single-segment records are supported: a multi-segment master header raises
:class:`DataError` on loading (its segment headers are listed as records of their
own).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import mne
import numpy as np
import pandas as pd
import wfdb
from wfdb.io.annotation import ann_label_table

from brainalign.data.base import Reader, RecordingRef, register_reader
from brainalign.data.edf import check_finite
from brainalign.data.recording import Recording
from brainalign.errors import DataError

#: factor from a header unit (lower case) to volts
VOLT_SCALE = {"v": 1.0, "mv": 1e-3, "uv": 1e-6, "µv": 1e-6, "nv": 1e-9}
#: annotation file extensions looked for, in order; the first present is used
DEFAULT_ANNOTATORS = ("atr",)

_TAGGED = re.compile(r"<([^<>]+)>:\s*(.*?)\s*(?=<[^<>]+>:|$)")
_KEY_VALUE = re.compile(r"^\s*([^:]+?)\s*:\s*(.*?)\s*$")
_AGE_SEX = re.compile(r"^\s*(\d+|\?)\s+([MF?])\b")
_MISSING = {"", "n/a", "na", "?", "(none)", "none", "unknown"}
_SEX = {"m": "M", "male": "M", "f": "F", "female": "F"}
_DIAGNOSIS_KEYS = ("reason for admission", "diagnoses", "diagnosis", "dx")
_SYMBOL_DESCRIPTION = dict(zip(ann_label_table["symbol"], ann_label_table["description"]))


def parse_comments(comments: Sequence[str]) -> dict[str, Any]:
    """``age``, ``sex``, ``diagnosis`` (None where absent) and ``clinical`` (every
    ``key: value`` pair, keys as written) from WFDB header comments."""
    clinical: dict[str, str] = {}
    age: str | None = None
    sex: str | None = None
    for line in comments:
        tagged = _TAGGED.findall(line)
        if tagged:
            clinical.update({k.strip(): v for k, v in tagged})
        elif (kv := _KEY_VALUE.match(line)) and kv.group(2):
            clinical[kv.group(1)] = kv.group(2)
        elif (demo := _AGE_SEX.match(line)) and age is None:
            age, sex = demo.group(1), demo.group(2)
    lower = {k.lower(): v for k, v in clinical.items()}
    age = lower.get("age", age)
    sex = lower.get("sex", lower.get("gender", sex))
    diagnosis = next((lower[k] for k in _DIAGNOSIS_KEYS if k in lower), None)

    def present(value: str | None) -> str | None:
        return None if value is None or value.strip().lower() in _MISSING else value.strip()

    age, sex, diagnosis = present(age), present(sex), present(diagnosis)
    return {
        "age": int(age) if age is not None and age.isdigit() else None,
        "sex": _SEX.get(sex.lower(), sex) if sex is not None else None,
        "diagnosis": diagnosis,
        "clinical": clinical,
    }


def _read_header(hea: Path) -> wfdb.Record | wfdb.MultiRecord:
    if not hea.is_file():
        raise DataError(hea, "WFDB header file missing")
    try:
        return wfdb.rdheader(str(hea.with_suffix("")))
    except Exception as err:  # wfdb raises ValueError, IndexError... on malformed headers
        raise DataError(hea, f"cannot parse WFDB header: {err}") from err


@register_reader
class WfdbReader(Reader):
    """Folder of WFDB ECG records (see the module docstring).

    Parameters
    ----------
    annotators:
        Annotation file extensions to look for, first found wins
        (default ``("atr",)``, the reference beat annotations of PhysioNet).
    """

    name = "wfdb"
    modalities = ("ecg", "text")

    def __init__(self, root: str | os.PathLike, annotators: Sequence[str] = DEFAULT_ANNOTATORS, **params: Any):
        super().__init__(root, **params)
        self.annotators = tuple(annotators)

    @classmethod
    def detect(cls, root: Path) -> bool:
        root = Path(root)
        return root.is_dir() and next(cls._headers(root), None) is not None

    @staticmethod
    def _headers(root: Path) -> Iterator[Path]:
        """Header files at the top level and one folder down (patient folders)."""
        yield from sorted(root.glob("*.hea"))
        yield from sorted(root.glob("*/*.hea"))

    def refs(self) -> list[RecordingRef]:
        out = []
        for hea in self._headers(self.root):
            record = hea.stem
            folder = hea.parent
            annotation = next(
                (folder / f"{record}.{ext}" for ext in self.annotators if (folder / f"{record}.{ext}").is_file()),
                None,
            )
            out.append(
                RecordingRef(
                    key=str(hea.relative_to(self.root).with_suffix("")),
                    subject=folder.name if folder != self.root else record,
                    paths=tuple(sorted(folder.glob(f"{record}.*"))),
                    extra=(("header", hea), ("annotation", annotation)),
                )
            )
        return out

    def n_trials(self, refs: list[RecordingRef]) -> int | None:
        """Annotations counted over the records that have an annotation file."""
        counts = [len(self._annotations(ann, None)) for ref in refs if (ann := ref.get("annotation"))]
        return sum(counts) if counts else None

    def load(self, ref: RecordingRef) -> Recording:
        hea: Path = ref.get("header")
        header = _read_header(hea)
        if isinstance(header, wfdb.MultiRecord):
            raise DataError(hea, "multi-segment WFDB records are not supported")
        data_files = [hea.parent / f for f in dict.fromkeys(header.file_name or [])]
        for f in data_files:
            if not f.is_file():
                raise DataError(f, f"signal file of record {header.record_name} missing")
        try:
            rec = wfdb.rdrecord(str(hea.with_suffix("")), physical=True)
        except Exception as err:  # wfdb raises ValueError on short or corrupt signal files
            raise DataError(
                data_files[0] if len(data_files) == 1 else hea,
                f"cannot read WFDB samples (truncated or corrupt?): {err}",
            ) from err
        n_read = 0 if rec.p_signal is None else rec.p_signal.shape[0]
        if n_read == 0 or (header.sig_len and n_read != header.sig_len):
            raise DataError(hea, f"signal has {n_read} samples, header says {header.sig_len}")
        signals, units = _signals(rec, hea)
        for inst in signals.values():
            check_finite(inst, data_files[0] if data_files else hea)
        comments = [c.strip() for c in rec.comments or [] if c.strip()]
        metadata = parse_comments(comments)
        metadata.update(subject=ref.subject, record=rec.record_name, units=list(rec.units))
        ann = ref.get("annotation")
        return Recording(
            signals=signals,
            subject=ref.subject,
            dataset=self.root.name,
            source=ref.paths,
            metadata=metadata,
            text="\n".join(comments) or None,
            trials=None if ann is None else self._annotations(ann, float(rec.fs)),
            units=units,
        )

    @staticmethod
    def _annotations(path: Path, fs: float | None) -> pd.DataFrame:
        """One row per annotation of ``path``; ``fs`` is the record's rate, used
        when the annotation file does not store its own."""
        if path.stat().st_size == 0:
            raise DataError(path, "empty annotation file")
        try:
            ann = wfdb.rdann(str(path.with_suffix("")), path.suffix[1:])
        except Exception as err:  # wfdb raises ValueError on a cut annotation file
            raise DataError(path, f"cannot read WFDB annotations (truncated or corrupt?): {err}") from err
        rate = ann.fs or fs
        samples = np.asarray(ann.sample, dtype=np.int64)
        return pd.DataFrame(
            {
                "onset": samples / rate if rate else np.full(len(samples), np.nan),
                "label": list(ann.symbol),
                "description": [_SYMBOL_DESCRIPTION.get(s) for s in ann.symbol],
                "sample": samples,
                "aux_note": [a.rstrip("\x00") for a in ann.aux_note],
            }
        )


def _signals(rec: wfdb.Record, hea: Path) -> tuple[dict[str, mne.io.BaseRaw], dict[str, str]]:
    """``ecg`` (voltage channels, in volts) and ``misc`` (other units, as stored)
    RawArrays from a read record, with the ``units`` entry of each."""
    scales = [VOLT_SCALE.get((u or "").strip().lower()) for u in rec.units]
    volt = [i for i, s in enumerate(scales) if s is not None]
    other = [i for i, s in enumerate(scales) if s is None]
    signals: dict[str, mne.io.BaseRaw] = {}
    units: dict[str, str] = {}
    # a damaged header can leave names out (None): number them rather than fail inside MNE
    names = [n if isinstance(n, str) and n.strip() else f"signal {i + 1}" for i, n in enumerate(rec.sig_name or [])]
    if len(names) != rec.p_signal.shape[1] or len(set(names)) != len(names):
        raise DataError(hea, f"signal names {names} do not name the {rec.p_signal.shape[1]} signals one by one")
    try:
        if volt:
            data = rec.p_signal[:, volt].T * np.asarray([scales[i] for i in volt])[:, None]
            info = mne.create_info([names[i] for i in volt], float(rec.fs), "ecg")
            signals["ecg"] = mne.io.RawArray(data, info, verbose="error")
            units["ecg"] = "V"
        if other:
            info = mne.create_info([names[i] for i in other], float(rec.fs), "misc")
            signals["misc"] = mne.io.RawArray(rec.p_signal[:, other].T, info, verbose="error")
            units["misc"] = ",".join(dict.fromkeys(rec.units[i] or "?" for i in other))
    except (ValueError, TypeError) as err:  # e.g. a sampling frequency of 0 or NaN
        raise DataError(hea, f"record cannot be built ({err})") from None
    if not signals:
        raise DataError(hea, "record has no channel")
    return signals, units
