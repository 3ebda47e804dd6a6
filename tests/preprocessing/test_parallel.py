"""Preprocessing in joblib workers (n_jobs=2) gives byte-identical windows and the
same table, order, skips and errors as the serial run."""

from __future__ import annotations

import warnings

import mne
import pandas as pd
import pytest

from brainalign.data import open_dataset
from brainalign.errors import DataError
from brainalign.preprocessing import EventWindow, PickChannels, Pipeline, Window, cached_windows, get_preset
from brainalign.preprocessing.steps import NoWindows
from tests.preprocessing.test_pipeline import PIPE, make_rec

mne.set_log_level("ERROR")


def _same(a, b):
    assert a.data.dtype == b.data.dtype and a.data.tobytes() == b.data.tobytes()
    pd.testing.assert_frame_equal(a.table, b.table)
    assert (a.ch_names, a.sfreq, a.unit, a.pipeline) == (b.ch_names, b.sfreq, b.unit, b.pipeline)


#: the loky workers start once per test session (a few seconds: they import MNE)
pytestmark = pytest.mark.slow


def test_parallel_in_memory_recordings_equal_serial():
    recs = [make_rec(seed=i, subject=f"{i:02d}") for i in range(4)]
    recs.insert(2, make_rec(seed=9, subject="09"))
    recs[2].trials["label"] = "cat"  # no trial of the pipeline's labels: skipped with a warning
    pipe = Pipeline(PIPE.steps[:4] + [EventWindow(tmin=0.0, tmax=0.5, labels=["face", "house"])])
    with warnings.catch_warnings(record=True) as serial_warn:
        warnings.simplefilter("always")
        serial = pipe.transform(recs, progress=False)
    with warnings.catch_warnings(record=True) as parallel_warn:
        warnings.simplefilter("always")
        parallel = pipe.transform(recs, progress=False, n_jobs=2)
    _same(serial, parallel)
    assert len(serial.table["subject"].unique()) == 4
    assert (
        [str(w.message) for w in serial_warn if "skipped" in str(w.message)]
        == [str(w.message) for w in parallel_warn if "skipped" in str(w.message)]
        != []
    )


def test_parallel_errors_are_the_serial_errors():
    recs = [make_rec(seed=0), make_rec(seed=1, ch_names=("Fp1", "Cz"))]
    pipe = Pipeline([PickChannels(["Fp1", "Cz", "O1"], on_missing="raise"), Window(2.0)])
    with pytest.raises(DataError) as serial:
        pipe.transform(recs, progress=False)
    with pytest.raises(DataError) as parallel:
        pipe.transform(recs, progress=False, n_jobs=2)
    assert type(parallel.value) is type(serial.value) and str(parallel.value) == str(serial.value)


def test_data_errors_survive_pickling():
    import pickle

    for err in (DataError("/x.edf", "truncated"), NoWindows(None, "no events"), DataError(None, "empty")):
        back = pickle.loads(pickle.dumps(err))
        assert type(back) is type(err) and str(back) == str(err) and back.path == err.path


@pytest.mark.realdata
def test_parallel_reader_equals_serial_on_real_eegmat(data_root, tmp_path):
    src = data_root / "eegmat"
    root = tmp_path / "eegmat"
    root.mkdir()
    for name in ("Subject00_1.edf", "Subject00_2.edf", "Subject01_1.edf", "subject-info.csv"):
        (root / name).symlink_to(src / name)
    reader = open_dataset(root)
    pipe = get_preset("eegmat_windows")
    serial = cached_windows(reader, pipe, tmp_path / "serial", progress=False)
    parallel = cached_windows(reader, pipe, tmp_path / "parallel", progress=False, n_jobs=2)
    _same(serial, parallel)
    assert len(serial.table["recording"].unique()) == 3
