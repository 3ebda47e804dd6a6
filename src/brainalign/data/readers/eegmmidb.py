"""Reader: eegmmidb, PhysioNet "EEG Motor Movement/Imagery Dataset" (Schalk et al. 2004).

Layout: ``root/S001/S001R01.edf`` ... ``S109R14.edf`` (64 channels, 160 Hz), each
with an ``.edf.event`` WFDB annotation file. The reader also accepts a single
subject folder (``root/S001R01.edf``...).

Runs (PhysioNet description): R01 baseline with eyes open, R02 baseline with eyes
closed; R03/R07/R11 open and close the left or right fist; R04/R08/R12 imagine it;
R05/R09/R13 open and close both fists or both feet; R06/R10/R14 imagine it.
Annotations: T0 rest, T1 the left fist (runs 3, 4, 7, 8, 11, 12) or both fists
(runs 5, 6, 9, 10, 13, 14), T2 the right fist or both feet.

Events come from the EDF+ annotations that the files carry; a file without them
(a plain EDF copy) falls back to its ``.edf.event`` file read with ``wfdb.rdann``.
wfdb-python skips the event at sample 0 of these files (the first T0, and the only
event of R01/R02), so the EDF+ annotations are the complete source.
Channel names (``"Fc5."``) become standard 10-10 names (``"FC5"``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import mne
import pandas as pd
import wfdb

from brainalign.data.base import Reader, RecordingRef, register_reader
from brainalign.data.channels import canonicalize_channels
from brainalign.data.edf import check_finite, read_raw_safely
from brainalign.data.recording import Recording
from brainalign.errors import DataError

_SUBJECT_DIR = re.compile(r"^S(\d{3})$")
_FILE = re.compile(r"^S(\d{3})R(\d{2})\.edf$")
_EVENT_DETAIL = re.compile(r"^(T[012])(?:\s+duration:\s*([0-9.]+))?")
_ENCODING = "latin1"


@dataclass(frozen=True)
class RunTask:
    """What a run asks of the subject and what its T0/T1/T2 annotations mean."""

    task_type: str  # "baseline", "executed" or "imagined"
    description: str
    #: annotation code -> (label, text)
    events: dict[str, tuple[str, str]]


def _motor_run(imagined: bool, feet: bool) -> RunTask:
    prefix = "imagined " if imagined else ""
    if feet:
        t1 = ("both_fists", f"{prefix}opening and closing of both fists")
        t2 = ("both_feet", f"{prefix}opening and closing of both feet")
        what = "both fists or both feet"
    else:
        t1 = ("left_fist", f"{prefix}opening and closing of the left fist")
        t2 = ("right_fist", f"{prefix}opening and closing of the right fist")
        what = "the left or right fist"
    kind = "imagined" if imagined else "executed"
    return RunTask(
        task_type=kind,
        description=f"{kind} opening and closing of {what}",
        events={"T0": ("rest", "rest"), "T1": t1, "T2": t2},
    )


#: run number -> task (PhysioNet EEGMMIDB description)
RUN_TASKS: dict[int, RunTask] = {
    1: RunTask("baseline", "baseline, eyes open", {"T0": ("rest", "resting with eyes open")}),
    2: RunTask("baseline", "baseline, eyes closed", {"T0": ("rest", "resting with eyes closed")}),
}
for _runs, _imagined, _feet in (
    ((3, 7, 11), False, False),
    ((4, 8, 12), True, False),
    ((5, 9, 13), False, True),
    ((6, 10, 14), True, True),
):
    for _run in _runs:
        RUN_TASKS[_run] = _motor_run(_imagined, _feet)


def _edf_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if _FILE.match(p.name) and p.is_file())


def events_from_wfdb(edf_path: Path, sfreq: float) -> pd.DataFrame:
    """The events of ``<edf_path>.event`` (WFDB annotations whose aux notes read
    ``"T1 duration: 4.1"``) as a table with onset (s), duration (s) and code."""
    event_path = Path(f"{edf_path}.event")
    if not event_path.is_file():
        raise DataError(edf_path, "no EDF+ annotations and no .edf.event file beside it")
    try:
        ann = wfdb.rdann(str(edf_path), "event")
    except Exception as err:  # wfdb raises bare ValueError/IndexError on a corrupt file
        raise DataError(event_path, f"cannot be read as WFDB annotations ({type(err).__name__}: {err})") from err
    rows = []
    for sample, note in zip(ann.sample, ann.aux_note):
        match = _EVENT_DETAIL.match(note.strip())
        if match is None:
            raise DataError(event_path, f"unexpected annotation {note!r} at sample {sample}")
        code, duration = match.groups()
        rows.append({"onset": sample / sfreq, "duration": float(duration or "nan"), "code": code})
    return pd.DataFrame(rows, columns=["onset", "duration", "code"])


def _events(raw: mne.io.BaseRaw, path: Path) -> pd.DataFrame:
    ann = raw.annotations
    if len(ann):
        return pd.DataFrame(
            {"onset": ann.onset, "duration": ann.duration, "code": [str(d).strip() for d in ann.description]}
        )
    return events_from_wfdb(path, raw.info["sfreq"])


@register_reader
class EEGMMIDBReader(Reader):
    """EEGMMIDB: one Recording per run file, trials from the T0/T1/T2 annotations."""

    name = "eegmmidb"
    modalities = ("eeg", "text")

    @classmethod
    def detect(cls, root: Path) -> bool:
        root = Path(root)
        if not root.is_dir():
            return False
        for entry in root.iterdir():
            if _FILE.match(entry.name):
                return True
            if entry.is_dir() and _SUBJECT_DIR.match(entry.name):
                if any(_FILE.match(p.name) for p in entry.iterdir()):
                    return True
        return False

    def _files(self) -> list[Path]:
        files = _edf_files(self.root)
        for sub in sorted(self.root.iterdir()):
            if sub.is_dir() and _SUBJECT_DIR.match(sub.name):
                files.extend(_edf_files(sub))
        return files

    def refs(self) -> list[RecordingRef]:
        refs = []
        for path in self._files():
            subject, run = _FILE.match(path.name).groups()
            refs.append(RecordingRef(key=path.stem, subject=subject, paths=(path,), run=run))
        return refs

    def _task(self, ref: RecordingRef) -> RunTask:
        run = int(ref.run)
        if run not in RUN_TASKS:
            raise DataError(ref.paths[0], f"run {run} is not one of the dataset's runs 1-14")
        return RUN_TASKS[run]

    def _trials(self, events: pd.DataFrame, ref: RecordingRef) -> pd.DataFrame:
        task = self._task(ref)
        unknown = sorted(set(events["code"]) - set(task.events))
        if unknown:
            raise DataError(ref.paths[0], f"annotations {unknown} do not belong to run {ref.run} ({task.description})")
        labels = [task.events[c] for c in events["code"]]
        return pd.DataFrame(
            {
                "onset": events["onset"].to_numpy(float),
                "duration": events["duration"].to_numpy(float),
                "label": [label for label, _ in labels],
                "text": [text for _, text in labels],
                "description": events["code"].to_numpy(str),
            }
        )

    def load(self, ref: RecordingRef) -> Recording:
        path = ref.paths[0]
        raw = read_raw_safely(path, preload=True, encoding=_ENCODING)
        check_finite(raw, path)
        canonicalize_channels(raw, path)
        trials = self._trials(_events(raw, path), ref)
        task = self._task(ref)
        return Recording(
            signals={"eeg": raw},
            subject=ref.subject,
            dataset=self.name,
            source=(path,),
            run=ref.run,
            metadata={
                "subject": ref.subject,
                "run": int(ref.run),
                "task_type": task.task_type,
                "task": task.description,
            },
            text=f"EEG during {task.description}",
            trials=trials,
            units={"eeg": "V"},
        )

    def n_trials(self, refs: list[RecordingRef]) -> int:
        """Annotations over ``refs``, counted from the EDF headers (no signal is read)."""
        total = 0
        for ref in refs:
            raw = read_raw_safely(ref.paths[0], preload=False, encoding=_ENCODING)
            total += len(_events(raw, ref.paths[0]))
        return total
