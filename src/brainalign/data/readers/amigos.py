"""Reader: AMIGOS (Miranda-Correa et al. 2021, IEEE Trans. Affective Computing 12(2):
479-493), EEG, ECG and GSR of 40 participants watching 16 short and 4 long videos,
each rated by the participant (self-assessment).

Layout (the "preprocessed data" release): one MATLAB v5 file per participant,
``root/Data_Preprocessed_PNN/Data_Preprocessed_PNN.mat`` as unzipped, or
``root/Data_Preprocessed_PNN.mat``, holding 1 x 20 cells:

* ``joined_data``: samples x 17 matrices at 128 Hz; columns 1-14 the EEG (AF3 F7 F3
  FC5 T7 P7 O1 O2 P8 T8 FC6 F4 F8 AF4), 15-16 ECG right and left, 17 GSR;
* ``labels_selfassessment``: 1 x 12, arousal, valence, dominance, liking, familiarity
  (1-9), then neutral, disgust, happiness, surprise, anger, fear, sadness (0/1);
* ``labels_ext_annotation``: external valence/arousal per 20 s segment (not read);
* ``VideoIDs``: the video of each trial (``'10'``, ``'138'``..., long ones ``'N1'``...).

Participants who did not watch the long videos have empty cells (``[]``) there: those
trials are skipped and listed in ``metadata["missing_videos"]``. Trials with NaN/Inf
samples or missing ratings (some files have them) raise :class:`DataError`, or are
dropped with a warning (``bad_trials="drop"``, listed in ``metadata["dropped_videos"]``).

One :class:`Recording` per participant: trials concatenated into continuous
``signals["eeg"]`` and ``signals["ecg"]`` (``ECG Right``, ``ECG Left``), and
``signals["misc"]`` (``GSR``, type ``gsr``, unit as in the file) with
``include_gsr=True``; junctions carry MNE boundary annotations. ``trials`` has one row
per trial: ``onset``, ``label`` (``"<label>_high"``/``"<label>_low"``), ``duration``,
``trial`` (position in the file, 1-20), ``video``, the 12 self-assessment columns and
``valence_high``, ``arousal_high``, ``dominance_high``, ``liking_high`` (rating >
``threshold``). The files hold no age or sex (those are in spreadsheets the reader
does not read).
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from brainalign.data.base import Reader, RecordingRef, register_reader
from brainalign.data.readers.dreamer import (
    ELECTRODES,
    cached_file_info,
    check_choice,
    class_labels,
    clips_to_raw,
    mat_cells,
    mat_text,
    nonfinite,
    read_mat,
    samples_matrix,
    score_columns,
    volts_scale,
)
from brainalign.data.recording import Recording
from brainalign.errors import DataError

SFREQ = 128.0
ECG_CHANNELS = ("ECG Right", "ECG Left")
GSR_CHANNEL = "GSR"
N_COLUMNS = len(ELECTRODES) + len(ECG_CHANNELS) + 1
#: The basic emotions the participant ticked (0/1), after the five 1-9 ratings.
EMOTIONS = ("neutral", "disgust", "happiness", "surprise", "anger", "fear", "sadness")
SELF_ASSESSMENT = ("arousal", "valence", "dominance", "liking", "familiarity", *EMOTIONS)
#: The 1-9 ratings that get a ``<name>_high`` column.
RATED = ("valence", "arousal", "dominance", "liking")
BAD_TRIALS = ("raise", "drop")
_VARIABLES = ("joined_data", "labels_selfassessment", "VideoIDs")
_NAME = re.compile(r"^Data_Preprocessed_P(\d+)$")


@dataclass(frozen=True)
class _Trial:
    """One cell of a participant file: ``data`` is None for an empty (unwatched)
    trial; ``problem`` says why a recorded trial cannot be used."""

    position: int
    video: str
    data: np.ndarray | None
    ratings: np.ndarray | None
    problem: str | None


def _participant_files(root: Path) -> dict[int, Path]:
    """Participant number -> file, for both published arrangements (a folder per
    participant holding its file, or the files directly in ``root``)."""
    files: dict[int, Path] = {}
    for entry in sorted(root.iterdir()):
        stem = entry.name[:-4] if entry.name.endswith(".mat") else entry.name
        match = _NAME.match(stem)
        if match is None:
            continue
        path = entry / f"{entry.name}.mat" if entry.is_dir() else entry
        if path.is_file() and path.suffix == ".mat":
            files.setdefault(int(match.group(1)), path)
    return files


def _read_trials(path: Path) -> list[_Trial]:
    """Every trial of a participant file; :class:`DataError` for a broken layout
    (unreadable file, cells that disagree in number, a matrix without 17 columns)."""
    mat = read_mat(path, _VARIABLES)
    data, ratings, videos = (mat_cells(mat[name]) for name in _VARIABLES)
    if not (len(data) == len(ratings) == len(videos)) or not data:
        raise DataError(
            path,
            f"joined_data, labels_selfassessment and VideoIDs hold {len(data)}, "
            f"{len(ratings)} and {len(videos)} trials",
        )
    trials = []
    for k, (cell, rating, video) in enumerate(zip(data, ratings, videos), start=1):
        video_id = mat_text(video) or f"trial {k}"
        try:
            rating = np.asarray(rating, dtype=float).ravel()
        except (TypeError, ValueError):
            raise DataError(path, f"labels_selfassessment{{{k}}} is not numeric") from None
        if np.size(cell) == 0 and rating.size == 0:
            trials.append(_Trial(k, video_id, None, None, None))
            continue
        what = f"joined_data{{{k}}} (video {video_id})"
        if np.size(cell) == 0:
            trials.append(_Trial(k, video_id, None, rating, f"{what} is empty but the trial has ratings"))
            continue
        samples = samples_matrix(cell, path, what, N_COLUMNS)
        problem = nonfinite(samples)
        if problem is None and rating.size != len(SELF_ASSESSMENT):
            problem = f"{rating.size} self-assessment values, expected {len(SELF_ASSESSMENT)}"
        elif problem is None and np.isnan(rating).any():
            problem = "missing self-assessment values"
        trials.append(_Trial(k, video_id, samples, rating, None if problem is None else f"{what}: {problem}"))
    return trials


def _counts(trials: list[_Trial]) -> dict[str, int]:
    """Numbers of recorded trials (not empty) and of bad ones among them."""
    recorded = [t for t in trials if t.data is not None or t.problem is not None]
    return {"recorded": len(recorded), "bad": sum(t.problem is not None for t in recorded)}


def _file_counts(path: Path) -> dict[str, int]:
    return _counts(_read_trials(path))


@register_reader
class AmigosReader(Reader):
    """AMIGOS preprocessed data: one recording per participant (see the module doc).

    Parameters
    ----------
    root:
        The folder holding the ``Data_Preprocessed_PNN`` folders (or files).
    bad_trials:
        ``"raise"`` (default): a trial with NaN/Inf samples or missing ratings raises
        :class:`DataError` naming the file and trial; ``"drop"``: it is left out with a
        warning.
    label:
        The rating whose high/low class fills the ``label`` column.
    threshold:
        A rating above it is "high" (ratings are 1-9; default 5).
    include_gsr:
        Also return the GSR column as ``signals["misc"]``.
    eeg_unit, ecg_unit:
        The unit of the samples in the files; the signals are returned in volts.
    """

    name = "amigos"
    modalities = ("eeg", "ecg")

    def __init__(
        self,
        root: str | Path,
        bad_trials: str = "raise",
        label: str = "valence",
        threshold: float = 5.0,
        include_gsr: bool = False,
        eeg_unit: str = "uV",
        ecg_unit: str = "mV",
        **params: Any,
    ):
        super().__init__(root, **params)
        check_choice(bad_trials, BAD_TRIALS, "amigos bad_trials")
        check_choice(label, RATED, "amigos label")
        self.bad_trials, self.label, self.threshold = bad_trials, label, float(threshold)
        self.include_gsr = bool(include_gsr)
        self.eeg_scale = volts_scale(eeg_unit, "amigos eeg_unit")
        self.ecg_scale = volts_scale(ecg_unit, "amigos ecg_unit")

    @classmethod
    def detect(cls, root: Path) -> bool:
        root = Path(root)
        return root.is_dir() and bool(_participant_files(root))

    def refs(self) -> list[RecordingRef]:
        return [
            RecordingRef(key=f"P{number:02d}", subject=f"{number:02d}", paths=(path,))
            for number, path in sorted(_participant_files(self.root).items())
        ]

    def n_trials(self, refs: list[RecordingRef]) -> int | None:
        """Usable trials over ``refs`` (recorded ones, less the bad ones when they are
        dropped); each file is read once, then its counts come from the cache."""
        total = 0
        for ref in refs:
            path = ref.paths[0]
            counts = cached_file_info(path, self.name, partial(_file_counts, path))
            total += counts["recorded"] - (counts["bad"] if self.bad_trials == "drop" else 0)
        return total

    def load(self, ref: RecordingRef) -> Recording:
        path = ref.paths[0]
        trials = _read_trials(path)
        cached_file_info(path, self.name, lambda: _counts(trials))
        kept: list[_Trial] = []
        dropped: list[str] = []
        for trial in trials:
            if trial.problem is not None:
                if self.bad_trials == "raise":
                    raise DataError(path, f"{trial.problem} (bad_trials='drop' leaves such trials out)")
                warnings.warn(f"{path}: dropping {trial.problem}", stacklevel=2)
                dropped.append(trial.video)
            elif trial.data is not None:
                kept.append(trial)
        if not kept:
            raise DataError(path, "no usable trial")

        durations = np.array([len(t.data) / SFREQ for t in kept])
        ratings = np.vstack([t.ratings for t in kept])
        table = pd.DataFrame(
            {
                "onset": np.concatenate([[0.0], np.cumsum(durations)[:-1]]),
                "duration": durations,
                "trial": [t.position for t in kept],
                "video": [t.video for t in kept],
            }
        )
        scores = {name: ratings[:, k] for k, name in enumerate(SELF_ASSESSMENT)}
        for name, column in score_columns(scores, RATED, self.threshold).items():
            table[name] = column
        for name in EMOTIONS:
            table[name] = table[name].astype(int)
        table.insert(1, "label", class_labels(table[f"{self.label}_high"], self.label, "unrated"))

        samples = [t.data for t in kept]
        n_eeg = len(ELECTRODES)
        signals = {
            "eeg": clips_to_raw([s[:, :n_eeg] for s in samples], ELECTRODES, "eeg", SFREQ, self.eeg_scale),
            "ecg": clips_to_raw([s[:, n_eeg : n_eeg + 2] for s in samples], ECG_CHANNELS, "ecg", SFREQ, self.ecg_scale),
        }
        units = {"eeg": "V", "ecg": "V"}
        if self.include_gsr:
            signals["misc"] = clips_to_raw([s[:, n_eeg + 2 :] for s in samples], [GSR_CHANNEL], "gsr", SFREQ, 1.0)
            units["misc"] = "a.u."
        meta = {
            "subject": ref.subject,
            "missing_videos": [t.video for t in trials if t.data is None and t.problem is None],
            "dropped_videos": dropped,
        }
        return Recording(
            signals=signals,
            subject=ref.subject,
            dataset=self.name,
            source=(path,),
            metadata=meta,
            trials=table,
            units=units,
        )
