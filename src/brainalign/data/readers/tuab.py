"""Reader: the TUH EEG corpus (TUEG) and its abnormal subset (TUAB), Obeid & Picone 2016.

Layouts (any of them under ``root``; ``root`` may be the version folder or ``edf``)::

    TUAB v3:  edf/{train,eval}/{normal,abnormal}/01_tcp_ar/aaaaaaav_s004_t000.edf
    TUAB v2:  edf/{train,eval}/{normal,abnormal}/01_tcp_ar/078/00007871/s001_2011_07_05/00007871_s001_t001.edf
    TUEG v2:  edf/000/aaaaaaaa/s001_2015_12_30/01_tcp_ar/aaaaaaaa_s001_t000.edf
    TUEG v1:  edf/01_tcp_ar/000/00000000/s001_2015_12_30/00000000_s001_t000.edf

File names are ``<subject>_s<session>_t<token>.edf``. TUEG ships one clinical report
per session as text; it is looked up as ``<file stem>.txt`` beside the EDF, then
``<subject>_s<session>.txt`` in the EDF's folder and in each folder above it up to
``root``. Channel labels such as ``EEG FP1-REF`` / ``EEG FP1-LE`` are
canonicalised to 10-20 names (``Fp1``); ``EKG`` channels become the ``ecg`` signal,
``LOC``/``ROC`` the ``eog`` signal; other channels (photic, IBI, bursts...) are dropped.
"""

from __future__ import annotations

import os
import re
import warnings
from functools import lru_cache
from pathlib import Path

import mne
import numpy as np
import pandas as pd

from brainalign.data.base import Reader, RecordingRef, register_reader
from brainalign.data.recording import Recording
from brainalign.errors import DataError

_EDF = re.compile(r"^(?P<subject>[A-Za-z0-9]+)_(?P<session>s\d{3})_(?P<token>t\d{3})\.edf$")
#: How many folder entries :meth:`TUABReader.detect` looks at before giving up.
_DETECT_BUDGET = 5000
_LABELS = ("normal", "abnormal")
_SPLITS = ("train", "eval")
_ECG = ("EKG", "ECG")
_EOG = ("LOC", "ROC")
#: TUH's anterior temporal electrodes, absent from the 10-05 montage.
_EXTRA_EEG = ("T1", "T2")


@lru_cache(maxsize=1)
def _standard_names() -> dict[str, str]:
    """Upper-case electrode name -> its 10-05 spelling (``FP1`` -> ``Fp1``)."""
    builtin = mne.channels.get_builtin_montages()
    # MNE 1.13 renamed the 10-05 template; older releases only know the old name
    montage = "colin27_1005" if "colin27_1005" in builtin else "standard_1005"
    names = mne.channels.make_standard_montage(montage).ch_names
    return {n.upper(): n for n in [*names, *_EXTRA_EEG]}


def canonical_channel(label: str) -> str:
    """``"EEG FP1-REF"`` -> ``"Fp1"``; ``"EEG EKG1-REF"`` -> ``"EKG1"``: drop the
    ``EEG `` prefix and the ``-REF``/``-LE`` reference suffix, spell 10-20 names
    the standard way."""
    name = label.strip()
    if name.upper().startswith("EEG "):
        name = name[4:].strip()
    name = re.sub(r"-(REF|LE)$", "", name, flags=re.IGNORECASE)
    return _standard_names().get(name.upper(), name)


def _channel_type(name: str) -> str | None:
    upper = name.upper()
    if upper in _standard_names():
        return "eeg"
    if upper.startswith(_ECG):
        return "ecg"
    if upper.startswith(_EOG):
        return "eog"
    return None


def _read_text(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8").strip()
    except UnicodeDecodeError:  # some TUEG reports are Latin-1
        return data.decode("latin-1").strip()


def _patient_field(path: Path) -> dict[str, object]:
    """Sex and age from the EDF patient field, which TUH fills as
    ``"00007871 F 01-JAN-1988 00007871 Age:23"``."""
    with open(path, "rb") as fh:
        field = fh.read(88)[8:].decode("ascii", "replace")
    out: dict[str, object] = {}
    sex = re.search(r"\s([MF])\s", f" {field} ")
    age = re.search(r"Age:\s*(\d+(?:\.\d+)?)", field)
    if sex:
        out["sex"] = sex.group(1)
    if age:
        out["age"] = float(age.group(1))
    return out


@register_reader
class TUABReader(Reader):
    """TUH EEG / TUH Abnormal EEG: one recording per EDF file (token).

    ``label`` (``normal``/``abnormal``) and ``split`` (``train``/``eval``) come from
    the folders (None in TUEG); the recording's ``text`` is the session report when
    one is found. ``trials`` holds one row spanning the recording with that label
    and text, so that windows cut from it inherit them.
    """

    name = "tuab"
    modalities = ("eeg", "ecg", "text")

    @classmethod
    def detect(cls, root: Path) -> bool:
        seen = 0
        for _dirpath, _dirs, files in os.walk(root):
            if any(_EDF.match(f) for f in files):
                return True
            seen += len(files) + len(_dirs)
            if seen > _DETECT_BUDGET:
                break
        return False

    def refs(self) -> list[RecordingRef]:
        refs = []
        for path in sorted(self.root.rglob("*.edf")):
            match = _EDF.match(path.name)
            if not match:
                continue
            parts = path.relative_to(self.root).parts[:-1]
            label = next((p for p in parts if p in _LABELS), None)
            split = next((p for p in parts if p in _SPLITS), None)
            montage = next((p for p in parts if re.match(r"^\d\d_tcp_", p)), None)
            refs.append(
                RecordingRef(
                    key=path.stem,
                    subject=match["subject"],
                    paths=(path,),
                    session=match["session"],
                    run=match["token"],
                    extra=(("label", label), ("split", split), ("montage", montage)),
                )
            )
        return refs

    def report_path(self, ref: RecordingRef) -> Path | None:
        """The session report of ``ref``, or None when there is none."""
        edf = ref.paths[0]
        candidates = [edf.with_suffix(".txt")]
        folder = edf.parent
        while True:
            candidates.append(folder / f"{ref.subject}_{ref.session}.txt")
            if folder == self.root or self.root not in folder.parents:
                break
            folder = folder.parent
        return next((c for c in candidates if c.is_file()), None)

    def load(self, ref: RecordingRef) -> Recording:
        path = ref.paths[0]
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                raw = mne.io.read_raw_edf(path, preload=True, verbose="warning")
        except (ValueError, OSError, RuntimeError, IndexError, KeyError) as err:
            raise DataError(path, f"cannot read EDF ({type(err).__name__}: {err})") from None
        # MNE reads a file cut short (fewer data records than its header says) with
        # only a warning; a truncated recording is bad input here
        if any("does not match the file size" in str(w.message) for w in caught):
            raise DataError(path, "truncated EDF: fewer data records than the header declares")
        names = {ch: canonical_channel(ch) for ch in raw.ch_names}
        if len(set(names.values())) != len(names):
            raise DataError(path, f"two channels map to the same electrode name: {sorted(raw.ch_names)}")
        raw.rename_channels(names)
        types = {ch: _channel_type(ch) for ch in raw.ch_names}
        signals = {}
        for modality in ("eeg", "ecg", "eog"):
            picks = [ch for ch, t in types.items() if t == modality]
            if picks:
                part = raw.copy().pick(picks)
                part.set_channel_types({ch: modality for ch in picks}, verbose="error")
                signals[modality] = part
        if "eeg" not in signals:
            raise DataError(path, f"no EEG channel among {raw.ch_names}")
        for modality, signal in signals.items():
            if not np.isfinite(signal.get_data()).all():
                raise DataError(path, f"NaN or Inf samples in the {modality} channels")
        report = self.report_path(ref)
        text = _read_text(report) if report is not None else None
        label, split = ref.get("label"), ref.get("split")
        duration = raw.n_times / raw.info["sfreq"]
        trials = pd.DataFrame({"onset": [0.0], "duration": [duration], "label": [label], "text": [text]})
        metadata = {
            "label": label,
            "split": split,
            "montage": ref.get("montage"),
            "report": None if report is None else str(report),
            "meas_date": raw.info["meas_date"],
            "dropped_channels": [ch for ch, t in types.items() if t is None],
            **_patient_field(path),
        }
        return Recording(
            signals=signals,
            subject=ref.subject,
            dataset=self.name,
            source=(path,) if report is None else (path, report),
            session=ref.session,
            run=ref.run,
            metadata=metadata,
            text=text,
            trials=trials,
            units={m: "V" for m in signals},
        )
