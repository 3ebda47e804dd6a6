"""Tiny DREAMER and AMIGOS files written in exactly their published layouts (MATLAB v5
files, compressed as MATLAB's default ``-v7`` writes them, with the published struct
and cell nesting, field order and dtypes), with a few seconds of random samples.

Each writer returns what it wrote, so that tests compare the readers' output with
values known independently of the readers.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import scipy.io

DREAMER_ELECTRODES = ("AF3", "F7", "F3", "FC5", "T7", "P7", "O1", "O2", "P8", "T8", "FC6", "F4", "F8", "AF4")
AMIGOS_SELF_ASSESSMENT = (
    "arousal",
    "valence",
    "dominance",
    "liking",
    "familiarity",
    "neutral",
    "disgust",
    "happiness",
    "surprise",
    "anger",
    "fear",
    "sadness",
)


def matlab_cell(items: Sequence[Any], shape: tuple[int, int]) -> np.ndarray:
    """A MATLAB cell array of ``shape`` (filled column-major, as MATLAB does) for savemat."""
    cell = np.empty(shape, dtype=object)
    for k, item in enumerate(items):
        cell[np.unravel_index(k, shape, order="F")] = item
    return cell


def write_dreamer(
    root: Path,
    *,
    n_subjects: int = 2,
    stimulus_s: Sequence[float] = (3.0, 2.0, 2.5),
    baseline_s: float = 2.0,
    eeg_channels: int = 14,
    seed: int = 0,
) -> dict[str, Any]:
    """``root/DREAMER.mat`` with the struct ``DREAMER`` as published (Zenodo 546113):
    ``Data`` a 1 x n cell of participant structs (``Age``, ``Gender`` as text; ``EEG``
    and ``ECG`` structs of ``baseline``/``stimuli`` n_clips x 1 cells of samples x 14
    (128 Hz) and samples x 2 (256 Hz) double matrices; ``ScoreValence``,
    ``ScoreArousal``, ``ScoreDominance`` n_clips x 1 double), the sampling rates,
    ``EEG_Electrodes`` (1 x 14 cell), counts and text fields. ``eeg_channels`` below
    14 writes a broken file whose EEG matrices lack columns.

    Returns ``{"path", "subjects": [{"age", "gender", "eeg", "ecg", "eeg_baseline",
    "ecg_baseline", "valence", "arousal", "dominance"}]}`` (matrices as written).
    """
    rng = np.random.default_rng(seed)
    n_clips = len(stimulus_s)
    written: list[dict[str, Any]] = []
    structs = []
    for s in range(n_subjects):
        clip = {
            # Emotiv EPOC samples in µV around its ~4200 µV offset; ECG in mV
            "eeg": [4200 + 20 * rng.standard_normal((int(d * 128), eeg_channels)) for d in stimulus_s],
            "ecg": [rng.standard_normal((int(d * 256), 2)) for d in stimulus_s],
            "eeg_baseline": [
                4100 + 20 * rng.standard_normal((int(baseline_s * 128), eeg_channels)) for _ in stimulus_s
            ],
            "ecg_baseline": [0.5 + rng.standard_normal((int(baseline_s * 256), 2)) for _ in stimulus_s],
        }
        scores = {name: rng.integers(1, 6, n_clips).astype(np.float64) for name in ("valence", "arousal", "dominance")}
        age, gender = str(22 + 3 * s), ("male", "female")[s % 2]
        written.append({"age": age, "gender": gender, **clip, **scores})
        structs.append(
            {
                "Age": age,
                "Gender": gender,
                "EEG": {
                    "baseline": matlab_cell(clip["eeg_baseline"], (n_clips, 1)),
                    "stimuli": matlab_cell(clip["eeg"], (n_clips, 1)),
                },
                "ECG": {
                    "baseline": matlab_cell(clip["ecg_baseline"], (n_clips, 1)),
                    "stimuli": matlab_cell(clip["ecg"], (n_clips, 1)),
                },
                "ScoreValence": scores["valence"].reshape(n_clips, 1),
                "ScoreArousal": scores["arousal"].reshape(n_clips, 1),
                "ScoreDominance": scores["dominance"].reshape(n_clips, 1),
            }
        )
    dreamer = {
        "Data": matlab_cell(structs, (1, n_subjects)),
        "EEG_SamplingRate": np.array([[128.0]]),
        "ECG_SamplingRate": np.array([[256.0]]),
        "EEG_Electrodes": matlab_cell(list(DREAMER_ELECTRODES), (1, 14)),
        "noOfSubjects": np.array([[float(n_subjects)]]),
        "noOfVideoSequences": np.array([[float(n_clips)]]),
        "Disclaimer": "While every care has been taken to ensure the accuracy of the data ...",
        "Provider": "University of the West of Scotland",
        "Version": "1.0.2",
        "Acknowledgement": "Katsigiannis & Ramzan, IEEE JBHI 2018",
    }
    root.mkdir(parents=True, exist_ok=True)
    path = root / "DREAMER.mat"
    scipy.io.savemat(path, {"DREAMER": dreamer}, do_compression=True)
    return {"path": path, "subjects": written}


def write_amigos(
    root: Path,
    participant: int,
    *,
    videos: Sequence[str] = ("10", "13", "N1"),
    seconds: Sequence[float] = (3.0, 2.0, 4.0),
    empty: Sequence[int] = (),
    nan_trials: Sequence[int] = (),
    columns: int = 17,
    in_folder: bool = True,
    seed: int = 0,
) -> dict[str, Any]:
    """One AMIGOS preprocessed participant file as published,
    ``root/Data_Preprocessed_PNN/Data_Preprocessed_PNN.mat`` (or directly in ``root``
    when ``in_folder`` is false), holding 1 x n cells ``joined_data`` (samples x 17
    double at 128 Hz: 14 EEG, ECG right, ECG left, GSR), ``labels_selfassessment``
    (1 x 12 double), ``labels_ext_annotation`` (20 s segments x 3: segment number,
    valence, arousal) and ``VideoIDs`` (text).

    Trials listed in ``empty`` are written as MATLAB's empty ``[]`` in every cell (the
    published files do so for the long videos some participants did not watch);
    trials in ``nan_trials`` get NaN samples in their ECG. ``columns`` other than 17
    writes a broken file.

    Returns ``{"path", "trials": [{"video", "data" (None if empty), "labels"}]}``.
    """
    rng = np.random.default_rng(seed + participant)
    data_cells, self_cells, ext_cells, trials = [], [], [], []
    for k, (video, duration) in enumerate(zip(videos, seconds)):
        if k in empty:
            data_cells.append(np.zeros((0, 0)))
            self_cells.append(np.zeros((0, 0)))
            ext_cells.append(np.zeros((0, 0)))
            trials.append({"video": video, "data": None, "labels": None})
            continue
        data = rng.standard_normal((int(duration * 128), columns))
        data[:, 14:16] *= 100  # ECG
        data[:, 16:] += 1000  # GSR (absent from a broken file with fewer columns)
        if k in nan_trials:
            data[5:9, 14] = np.nan
        labels = np.concatenate([rng.uniform(1, 9, 5).round(2), rng.integers(0, 2, 7)]).reshape(1, 12)
        n_seg = max(1, int(duration // 20))
        ext = np.column_stack([np.arange(1, n_seg + 1), rng.uniform(-1, 1, (n_seg, 2))]).astype(np.float64)
        data_cells.append(data)
        self_cells.append(labels)
        ext_cells.append(ext)
        trials.append({"video": video, "data": data, "labels": labels.ravel()})
    n = len(videos)
    name = f"Data_Preprocessed_P{participant:02d}"
    folder = root / name if in_folder else root
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.mat"
    scipy.io.savemat(
        path,
        {
            "VideoIDs": matlab_cell(list(videos), (1, n)),
            "joined_data": matlab_cell(data_cells, (1, n)),
            "labels_ext_annotation": matlab_cell(ext_cells, (1, n)),
            "labels_selfassessment": matlab_cell(self_cells, (1, n)),
        },
        do_compression=True,
    )
    return {"path": path, "trials": trials}
