"""Fuzzing the preprocessing pipeline (hypothesis) with a real recording whose
signal and trial table are damaged after reading: truncated, corrupted with
extreme values, emptied, NaN/Inf injected, wrong dtypes. The pipeline must give
finite windows or the project's own one-line error (tests/fuzzing.py)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from brainalign.data.readers.eegnb import EEGNotebooksReader
from brainalign.preprocessing import Pipeline, get_preset
from tests.fuzzing import FUZZ, KINDS, bounded

pytestmark = pytest.mark.realdata

MUSE_FILE = Path("eegnb_n170/subject1/session1/data_2017-09-13-15.30.01.csv")
WINDOWS = {
    "steps": [
        {"step": "Filter", "l_freq": 1.0, "h_freq": 30.0},
        {"step": "Resample", "sfreq": 128.0},
        {"step": "Window", "length_s": 1.0, "stride_s": 1.0},
    ]
}


@pytest.fixture(scope="module")
def recording(data_root: Path, tmp_path_factory: pytest.TempPathFactory):
    """The first 30 s of a real N170 recording (about 60 trials)."""
    lines = (data_root / MUSE_FILE).read_text().splitlines()[: 1 + 30 * 256]
    root = tmp_path_factory.mktemp("n170")
    path = root / "subject1" / "session1" / "rec.csv"
    path.parent.mkdir(parents=True)
    path.write_text("\n".join(lines) + "\n")
    reader = EEGNotebooksReader(root, marker_map={1: "house", 2: "face"}, stimulus_dirs=None)
    rec = reader.load(reader.refs()[0])
    assert len(rec.trials) > 20
    return rec


def mutate(rec, kind: str, draw: st.DrawFn):
    """A damaged copy of ``rec`` (its signals are copied, the original is kept)."""
    raw = rec.signals["eeg"].copy()
    trials = rec.trials.copy()
    n_ch, n = raw._data.shape
    if kind == "truncate":
        keep = draw(st.integers(1, n - 1))
        raw.crop(tmax=(keep - 1) / raw.info["sfreq"])
    elif kind == "zero":
        raw.crop(tmax=0)  # a single sample: MNE holds no empty Raw
        trials = trials.iloc[:0]
    elif kind == "corrupt":
        for _ in range(draw(st.integers(1, 8))):
            ch, t = draw(st.integers(0, n_ch - 1)), draw(st.integers(0, n - 1))
            raw._data[ch, t : t + draw(st.integers(1, 500))] = draw(st.sampled_from([1e30, -1e30, 1e-320, 0.0, 1e300]))
        if draw(st.booleans()):
            rows = draw(st.lists(st.integers(0, len(trials) - 1), min_size=1, max_size=5))
            trials.loc[trials.index[rows], "onset"] = draw(st.sampled_from([-5.0, 1e9, np.nan, 0.0, -1e-3]))
    elif kind == "nonfinite":
        for _ in range(draw(st.integers(1, 5))):
            ch, t = draw(st.integers(0, n_ch - 1)), draw(st.integers(0, n - 1))
            raw._data[ch, t] = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
    else:  # wrong dtype: of the samples, or of the trial table
        target = draw(st.sampled_from(["samples", "onset", "label"]))
        if target == "samples":
            raw._data = raw._data.astype(draw(st.sampled_from([np.float32, np.float16, np.int16, np.complex128])))
        elif target == "onset":
            trials["onset"] = trials["onset"].astype(str) + draw(st.sampled_from(["", "s", " "]))
        else:
            trials["label"] = draw(
                st.sampled_from(
                    [pd.Series(range(len(trials))), pd.Series([b"face"] * len(trials)), pd.Series([None] * len(trials))]
                )
            ).to_numpy()
    return dataclasses.replace(rec, signals={**rec.signals, "eeg": raw}, trials=trials)


def run(pipeline: Pipeline, rec) -> None:
    windows = pipeline.transform([rec], progress=False)
    assert np.isfinite(windows.data).all(), "windows with NaN/Inf samples"
    assert len(windows.table) == len(windows.data)


PIPELINES = {"n170_epochs": lambda: get_preset("n170_epochs"), "windows": lambda: Pipeline.from_dict(WINDOWS)}


@pytest.mark.parametrize("pipeline", PIPELINES)
def test_unmutated_recording_gives_windows(recording, pipeline: str) -> None:
    assert bounded(f"pipeline-{pipeline}", "none", lambda: run(PIPELINES[pipeline](), recording)) == "ok"


def test_nan_without_checkfinite_is_refused(recording) -> None:
    """A pipeline without CheckFinite would have passed NaN windows on."""
    from brainalign.errors import DataError

    raw = recording.signals["eeg"].copy()
    raw._data[1, 1000] = np.nan
    bad = dataclasses.replace(recording, signals={**recording.signals, "eeg": raw})
    with pytest.raises(DataError, match="windows hold NaN/Inf samples"):
        run(Pipeline.from_dict(WINDOWS), bad)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("pipeline", PIPELINES)
@FUZZ
@given(draw=st.data())
def test_damaged_recording(recording, pipeline: str, kind: str, draw: st.DataObject) -> None:
    damaged = mutate(recording, kind, draw.draw)
    bounded(f"pipeline-{pipeline}", kind, lambda: run(PIPELINES[pipeline](), damaged))
