"""Reader: the UCI EEG Database of the SMNI alcoholism study (Begleiter, SUNY Downstate).

Layout (the UCI "large data set" after extraction)::

    root/SMNI_CMI_TRAIN/co2a0000364/co2a0000364.rd.000.gz   # one trial per file
    root/SMNI_CMI_TRAIN/co2c0000337/...                     # a = alcoholic, c = control
    root/SMNI_CMI_TEST/...                                  # optional, same subjects

or the subject folders directly under ``root``. Each ``*.rd.NNN.gz`` file is gzipped
text: ``#`` header lines, then one ``trial channel sample value`` row per sample::

    # co2a0000364.rd
    # 120 trials, 64 chans, 416 samples 368 post_stim samples
    # 3.906000 msecs uV
    # S1 obj , trial 0                  (or "S2 match", "S2 nomatch", maybe with "err")
    # FP1 chan 0
    0 FP1 0 -8.921
    ...

The headers announce 416 samples; every file holds 256 (1 s at 256 Hz, the sampling
interval of the third header line), which is what is read. Values are µV (stored in
volts, as MNE expects).

One :class:`Recording` per subject folder: its trials as epochs (``tmin`` 0, in trial
order), 61 scalp channels in ``signals["eeg"]`` (10-05 names: ``FP1`` -> ``Fp1``) and
the three non-scalp channels ``X``, ``Y`` and ``nd`` in ``signals["misc"]``. The trial
table has ``trial`` (the number in the header), ``condition`` (``S1``, ``S2_match``,
``S2_nomatch``), ``condition_text``, ``error`` (the header's "err" flag), ``group``
(``alcoholic``/``control``, from the folder name), ``group_text``, ``label`` (the
column named by ``label``, the group by default) and ``text`` (``text_template``).

Label level: the group is constant within a subject. Any split that puts one subject's
trials on both sides measures subject identity, and any per-subject normalisation
removes the group by construction (see :mod:`brainalign.preprocessing.normalize`). The
stimulus condition is confounded with trial order (data README): treat it like a block
design.
"""

from __future__ import annotations

import gzip
import io
import os
import re
import string
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from brainalign.data.base import Reader, RecordingRef, register_reader
from brainalign.data.channels import canonical_channel_name
from brainalign.data.readers._epoched import epochs_from_array, trials_frame
from brainalign.data.recording import Recording, split_modalities
from brainalign.errors import ConfigError, DataError

#: subject folder: ``co`` + digit + ``a`` (alcoholic) or ``c`` (control) + digits
_SUBJECT_DIR = re.compile(r"^co\d([ac])\d+$")
_TRIAL_FILE = re.compile(r"^(co\d[ac]\d+)\.rd\.(\d+)\.gz$")
_CONDITION = re.compile(r"^#\s*(S1 obj|S2 match|S2 nomatch)\s*(err)?\s*,?\s*trial\s*(\d+)", re.IGNORECASE)
_PERIOD = re.compile(r"^#\s*([0-9.]+)\s*msecs", re.IGNORECASE)
_CHANNEL = re.compile(r"^#\s*(\S+)\s+chan\s+(\d+)")
#: channels recorded beside the scalp electrodes (eye, reference): typed ``misc``
NON_EEG = ("X", "Y", "nd")
GROUPS = {"a": "alcoholic", "c": "control"}
GROUP_TEXT = {"alcoholic": "EEG of an alcoholic subject", "control": "EEG of a control subject"}
CONDITIONS = {"s1 obj": "S1", "s2 match": "S2_match", "s2 nomatch": "S2_nomatch"}
CONDITION_TEXT = {
    "S1": "a single picture",
    "S2_match": "a second picture, the same as the first",
    "S2_nomatch": "a second picture, different from the first",
}
DEFAULT_TEXT_TEMPLATE = "{group_text} viewing {condition_text}"
#: the fields a ``text_template`` may use
TEXT_FIELDS = ("subject", "group", "group_text", "condition", "condition_text", "trial")


def _subject_dirs(root: Path) -> list[tuple[str | None, Path]]:
    """``(part, folder)`` of every subject folder: directly under ``root`` (part None)
    or one level down (part = the folder between, e.g. ``SMNI_CMI_TRAIN``)."""
    if not root.is_dir():
        return []
    direct = [p for p in sorted(root.iterdir()) if p.is_dir() and _SUBJECT_DIR.match(p.name)]
    if direct:
        return [(None, p) for p in direct]
    out = []
    for part in sorted(p for p in root.iterdir() if p.is_dir()):
        out += [(part.name, p) for p in sorted(part.iterdir()) if p.is_dir() and _SUBJECT_DIR.match(p.name)]
    return out


def _trial_files(folder: Path) -> list[Path]:
    files = [p for p in folder.iterdir() if p.is_file() and _TRIAL_FILE.match(p.name)]
    return sorted(files, key=lambda p: int(_TRIAL_FILE.match(p.name).group(2)))  # type: ignore[union-attr]


def read_trial_file(path: str | os.PathLike) -> dict[str, Any]:
    """One ``*.rd.NNN.gz`` trial: ``{"data": (channels, samples) float64 µV,
    "ch_names", "sfreq", "trial", "condition", "error"}``.

    Raises :class:`DataError` naming the file when it is not gzip, lacks the condition
    or sampling header, holds rows that are not ``trial channel sample value``, rows of
    another trial, a channel whose samples are not ``0..n-1``, channels of unequal
    length, or non-finite values.
    """
    path = Path(path)
    try:
        with gzip.open(path, "rt", encoding="latin-1") as fh:
            text = fh.read()
    except (OSError, EOFError, UnicodeDecodeError) as err:
        raise DataError(path, f"cannot be read as gzipped text: {err}") from None
    header = [line for line in text.splitlines() if line.startswith("#")]
    condition = error = trial = period = None
    channels: list[str] = []
    for line in header:
        if (m := _CONDITION.match(line)) is not None:
            condition, error, trial = CONDITIONS[m.group(1).lower()], m.group(2) is not None, int(m.group(3))
        elif (m := _PERIOD.match(line)) is not None:
            period = float(m.group(1))
        elif (m := _CHANNEL.match(line)) is not None:
            channels.append(m.group(1))
    if condition is None:
        raise DataError(
            path, "no stimulus line ('# S1 obj , trial N', '# S2 match ...', '# S2 nomatch ...') in the header"
        )
    if period is None or period <= 0:
        raise DataError(path, "no sampling interval ('# 3.906000 msecs uV') in the header")
    try:
        rows = pd.read_csv(
            io.StringIO(text),
            sep=" ",
            comment="#",
            header=None,
            skipinitialspace=True,
            names=["trial", "channel", "sample", "value"],
            dtype={"channel": str},
            skip_blank_lines=True,
        )
    except (ValueError, pd.errors.ParserError) as err:
        raise DataError(path, f"garbage rows (expected 'trial channel sample value'): {err}") from None
    if rows.empty:
        raise DataError(path, "no sample rows (truncated file?)")
    numbers = {}
    for name in ("trial", "sample", "value"):
        values = pd.to_numeric(rows[name], errors="coerce").to_numpy(dtype=np.float64)
        if np.isnan(values).any():
            bad = int(np.flatnonzero(np.isnan(values))[0])
            raise DataError(
                path,
                f"non-numeric or missing {name} {rows[name].iloc[bad]!r} in sample row {bad + 1} "
                "(expected 'trial channel sample value')",
            )
        numbers[name] = values
    if (numbers["trial"] != trial).any():
        others = sorted(set(numbers["trial"].astype(int).tolist()) - {trial})[:3]
        raise DataError(path, f"rows of trial(s) {others} in the file of trial {trial}")
    labels = rows["channel"].to_numpy(dtype=object)
    names = list(dict.fromkeys(labels.tolist()))
    if channels and names != channels:
        raise DataError(path, f"sample rows name channels {names[:4]}... but the header lists {channels[:4]}...")
    n, extra = divmod(len(labels), len(names))
    if extra or not (labels.reshape(len(names), n) == np.array(names, dtype=object)[:, None]).all():
        counts = pd.Series(labels).value_counts()
        short = counts[counts != counts.max()].index.tolist()[:3]
        raise DataError(
            path,
            f"channels of unequal length or interleaved rows ({int(counts.max())} samples in "
            f"most channels, not in {short}); truncated?",
        )
    samples = numbers["sample"].reshape(len(names), n)
    if not (samples == np.arange(n)).all():
        raise DataError(path, "sample numbers are not 0..n-1 within every channel (rows out of order or missing)")
    data = numbers["value"].reshape(len(names), n)
    if not np.isfinite(data).all():
        raise DataError(path, "NaN or infinite sample values")
    sfreq = 1000.0 / period
    if abs(sfreq - round(sfreq)) < 0.05:  # 3.906 ms is 1/256 s printed with 3 decimals
        sfreq = float(round(sfreq))
    return {
        "data": data,
        "ch_names": names,
        "sfreq": sfreq,
        "trial": trial,
        "condition": condition,
        "error": bool(error),
    }


@register_reader
class SMNIReader(Reader):
    """UCI EEG Database (SMNI alcoholism study): one Recording per subject folder.

    Parameters
    ----------
    label:
        The trial column that becomes ``label``: ``"group"`` (alcoholic / control, the
        default) or ``"condition"`` (S1 / S2_match / S2_nomatch).
    text_template:
        :meth:`str.format` template of each trial's ``text`` over :data:`TEXT_FIELDS`;
        default ``"{group_text} viewing {condition_text}"``, e.g. "EEG of an alcoholic
        subject viewing a single picture".
    """

    name = "smni"
    modalities = ("eeg", "text")

    def __init__(
        self, root: str | os.PathLike, label: str = "group", text_template: str = DEFAULT_TEXT_TEMPLATE, **params: Any
    ):
        super().__init__(root, **params)
        if label not in ("group", "condition"):
            raise ConfigError(f"smni: label must be 'group' or 'condition', not {label!r}")
        unknown = [f for _, f, _, _ in string.Formatter().parse(text_template) if f and f not in TEXT_FIELDS]
        if unknown:
            raise ConfigError(f"smni: text_template uses {unknown}; available fields: {list(TEXT_FIELDS)}")
        self.label, self.text_template = label, text_template
        # both change the windows' labels/texts, so they belong in the cache key
        self.params.update(label=label, text_template=text_template)

    @classmethod
    def detect(cls, root: Path) -> bool:
        return any(any(_TRIAL_FILE.match(f.name) for f in folder.iterdir()) for _, folder in _subject_dirs(Path(root)))

    def refs(self) -> list[RecordingRef]:
        refs = []
        for part, folder in _subject_dirs(self.root):
            files = _trial_files(folder)
            if not files:
                continue
            group = GROUPS[_SUBJECT_DIR.match(folder.name).group(1)]  # type: ignore[union-attr]
            refs.append(
                RecordingRef(
                    key=folder.name if part is None else f"{part}/{folder.name}",
                    subject=folder.name,
                    paths=tuple(files),
                    run=part,
                    extra=(("group", group),),
                )
            )
        return refs

    def n_trials(self, refs: list[RecordingRef]) -> int | None:
        return sum(len(ref.paths) for ref in refs)

    def load(self, ref: RecordingRef) -> Recording:
        trials = [read_trial_file(p) for p in ref.paths]
        first = trials[0]
        for path, t in zip(ref.paths[1:], trials[1:]):
            if t["ch_names"] != first["ch_names"]:
                raise DataError(path, f"channels differ from {ref.paths[0].name}'s")
            if t["data"].shape != first["data"].shape:
                raise DataError(path, f"{t['data'].shape[1]} samples, {ref.paths[0].name} has {first['data'].shape[1]}")
            if t["sfreq"] != first["sfreq"]:
                raise DataError(path, f"sampled at {t['sfreq']:g} Hz, {ref.paths[0].name} at {first['sfreq']:g} Hz")
        names = [canonical_channel_name(c) for c in first["ch_names"]]
        types = ["misc" if c in NON_EEG else "eeg" for c in names]
        data = np.stack([t["data"] for t in trials]) * 1e-6  # µV -> V
        epochs = epochs_from_array(data, names, first["sfreq"], path=ref.paths[0], ch_types=types)
        group = ref.get("group")
        rows = []
        for path, t in zip(ref.paths, trials):
            fields = {
                "subject": ref.subject,
                "group": group,
                "group_text": GROUP_TEXT[group],
                "condition": t["condition"],
                "condition_text": CONDITION_TEXT[t["condition"]],
                "trial": t["trial"],
            }
            rows.append({**fields, "error": t["error"], "file": path.name, "text": self.text_template.format(**fields)})
        table = pd.DataFrame(rows)
        trials_table = trials_frame(
            len(table),
            **{
                c: table[c].to_numpy()
                for c in ("trial", "condition", "condition_text", "error", "group", "group_text", "file", "text")
            },
        )
        trials_table["label"] = table[self.label].to_numpy()
        signals = split_modalities(epochs)
        return Recording(
            signals=signals,
            subject=ref.subject,
            dataset=self.name,
            source=tuple(ref.paths),
            run=ref.run,
            metadata={"subject": ref.subject, "group": group, "alcoholic": group == "alcoholic"},
            trials=trials_table,
            units={m: "V" for m in signals},
        )
