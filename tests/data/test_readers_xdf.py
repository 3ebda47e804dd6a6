"""XDF reader: files written here chunk by chunk (tests/data/lab_formats.py), read
back through pyxdf with the clock offsets the file records."""

from __future__ import annotations

import json
from pathlib import Path

import mne
import numpy as np
import pytest

from brainalign.data import detect_reader, open_dataset
from brainalign.data.catalog import inspect_path, scan_data_dir
from brainalign.data.readers.generic import GenericReader
from brainalign.data.readers.xdf import XdfReader
from brainalign.data.xdf import read_xdf
from brainalign.errors import DataError
from tests.data.lab_formats import XdfStream, write_xdf
from tests.test_cli import run_cli

SFREQ = 250.0
N = 2500  # 10 s
EEG_T0, EEG_OFFSET = 1000.0, 5.0  # EEG amplifier clock; receiver = sender + offset
MARKER_T0, MARKER_OFFSET = 2000.0, -995.0  # the stimulus computer's clock
LABELS = ["Fz", "Cz", "Pz", "EOG", "ECG"]


def _eeg(
    stream_id: int = 1,
    name: str = "amp",
    labels: list[str] = LABELS,
    seed: int = 0,
    n: int = N,
    sfreq: float = SFREQ,
    t0: float = EEG_T0,
    offset: float = EEG_OFFSET,
    jitter: float = 0.0,
) -> XdfStream:
    rng = np.random.default_rng(seed)
    samples = rng.normal(scale=15.0, size=(n, len(labels))).astype(np.float32)  # µV
    stamps = t0 + np.arange(n) / sfreq + rng.uniform(-jitter, jitter, n)
    types = ["EEG", "EEG", "EEG", "EOG", ""][: len(labels)] if labels == LABELS else ["EEG"] * len(labels)
    return XdfStream(
        stream_id,
        name,
        "EEG",
        "float32",
        sfreq,
        samples,
        stamps,
        channel_labels=labels,
        channel_types=types,
        channel_units=["microvolts"] * len(labels),
        clock_offsets=[(t0 + k * 5.0, offset) for k in range(3)],
    )


def _markers(stream_id: int = 2, times=(6.0, 8.5, 9.0), labels=("face", "house", "face")) -> XdfStream:
    """Markers at ``times`` seconds after the EEG's first sample, on the
    stimulus computer's clock."""
    sender = [EEG_T0 + EEG_OFFSET + t - MARKER_OFFSET for t in times]
    return XdfStream(
        stream_id,
        "stimuli",
        "Markers",
        "string",
        0.0,
        [[lab] for lab in labels],
        np.array(sender),
        clock_offsets=[(MARKER_T0 + k * 5.0, MARKER_OFFSET) for k in range(3)],
    )


def test_eeg_and_markers_with_clock_offsets(tmp_path: Path) -> None:
    eeg, markers = _eeg(jitter=0.0005), _markers()
    path = write_xdf(tmp_path / "sub-01_task-faces.xdf", [eeg, markers])
    rec = read_xdf(path)
    assert rec.sfreq == SFREQ and rec.ch_names == ["Fz", "Cz", "Pz"]
    assert rec.signal("eog").ch_names == ["EOG"] and rec.signal("ecg").ch_names == ["ECG"]  # type, then name
    np.testing.assert_allclose(rec.get_data("eeg", units="uV"), np.asarray(eeg.samples)[:, :3].T, rtol=1e-6)
    np.testing.assert_allclose(rec.get_data("ecg", units="uV")[0], np.asarray(eeg.samples)[:, 4], rtol=1e-6)
    assert rec.duration == pytest.approx(N / SFREQ)
    # the markers were sent on another clock: only the recorded offsets put them here
    assert list(rec.trials["label"]) == ["face", "house", "face"]
    np.testing.assert_allclose(rec.trials["onset"], [6.0, 8.5, 9.0], atol=2 / SFREQ)
    assert set(rec.trials["stream"]) == {"stimuli"}
    assert rec.metadata["eeg_start_time"] == pytest.approx(EEG_T0 + EEG_OFFSET, abs=1e-3)
    assert rec.subject == "sub-01_task-faces"


def test_numeric_marker_stream_and_markers_outside(tmp_path: Path) -> None:
    markers = _markers(times=(2.0, 4.0, 30.0))
    markers.channel_format, markers.samples = "int32", np.array([[1], [2], [1]])
    path = write_xdf(tmp_path / "rec.xdf", [_eeg(), markers])
    with pytest.warns(UserWarning, match="1 of 3 markers lie outside"):
        rec = read_xdf(path)
    assert list(rec.trials["label"]) == ["1", "2"]
    np.testing.assert_allclose(rec.trials["onset"], [2.0, 4.0], atol=2 / SFREQ)


def test_two_eeg_streams_are_merged_and_another_rate_left_out(tmp_path: Path) -> None:
    first = _eeg(1, "amp A", ["C3", "C4"], seed=1)
    second = _eeg(3, "amp B", ["O1", "O2"], seed=2, t0=500.0, offset=EEG_OFFSET + 500.2)  # starts 0.2 s later
    slow = _eeg(4, "slow", ["P3"], seed=3, sfreq=100.0, n=1000)
    path = write_xdf(tmp_path / "rec.xdf", [first, _markers(), second, slow])
    with pytest.warns(UserWarning, match="'slow' at 100 Hz left out"):
        rec = read_xdf(path)
    assert rec.ch_names == ["C3", "C4", "O1", "O2"]
    # cropped to the span both cover: the first 0.2 s (50 samples) of amp A are gone
    assert rec.duration == pytest.approx((N - 50) / SFREQ)
    data = rec.get_data("eeg", units="uV")
    np.testing.assert_allclose(data[:2], np.asarray(first.samples)[50:].T, rtol=1e-5)
    np.testing.assert_allclose(data[2:], np.asarray(second.samples)[: N - 50].T, rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(rec.trials["onset"], [5.8, 8.3, 8.8], atol=2 / SFREQ)


def test_folder_of_xdf_files_is_listed_and_inspected(tmp_path: Path) -> None:
    folder = tmp_path / "data" / "lsl_lab"
    (folder / "sub-01").mkdir(parents=True)
    (folder / "sub-02").mkdir()
    write_xdf(folder / "sub-01" / "block1.xdf", [_eeg(), _markers()])
    write_xdf(folder / "sub-02" / "block1.xdf", [_eeg(seed=5), _markers(times=(1.0, 2.0), labels=("a", "b"))])
    assert detect_reader(folder) is XdfReader
    reader = open_dataset(folder, subject_regex=r"sub-(\w+)/")
    summary = reader.summary()
    assert (summary["reader"], summary["subjects"], summary["recordings"], summary["trials"]) == ("xdf", 2, 2, 5)
    assert [r.subject for r in reader.refs()] == ["01", "02"]

    rec = inspect_path(folder / "sub-02" / "block1.xdf")
    assert rec.dataset == "xdf" and list(rec.trials["label"]) == ["a", "b"]
    result = run_cli(
        "inspect", folder / "sub-01" / "block1.xdf", "--json", data_dir=tmp_path, cache_dir=tmp_path / "cache"
    )
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["sfreq"] == SFREQ and info["events"] == {"face": 2, "house": 1}
    assert info["channels"][:3] == ["Fz (eeg)", "Cz (eeg)", "Pz (eeg)"]

    (entry,) = scan_data_dir(tmp_path / "data")
    assert (entry["name"], entry["reader"], entry["recordings"], entry["trials"]) == ("lsl_lab", "xdf", 2, 5)


def test_mixed_folder_is_generic_and_reads_both(tmp_path: Path) -> None:
    write_xdf(tmp_path / "a.xdf", [_eeg(), _markers()])
    raw = mne.io.RawArray(
        np.random.default_rng(0).normal(scale=1e-5, size=(2, 1000)),
        mne.create_info(["Fz", "Cz"], 250.0, "eeg"),
        verbose="error",
    )
    mne.export.export_raw(tmp_path / "b.edf", raw, verbose="error")
    assert detect_reader(tmp_path) is GenericReader
    reader = GenericReader(tmp_path)
    assert [reader.load(r).sfreq for r in reader.refs()] == [SFREQ, 250.0]
    assert reader.summary()["trials"] == 3


def test_bad_xdf_files(tmp_path: Path) -> None:
    good = write_xdf(tmp_path / "good.xdf", [_eeg(), _markers()]).read_bytes()
    cases = {
        "empty.xdf": b"",
        "magic_only.xdf": b"XDF:",
        "not_xdf.xdf": b"EDF+ this is something else entirely" * 10,
        "truncated.xdf": good[: len(good) // 2],
        "cut_in_header.xdf": good[:60],
    }
    for name, content in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(DataError, match=rf"{name}: "):
            read_xdf(path)
    markers_only = write_xdf(tmp_path / "markers_only.xdf", [_markers()])
    with pytest.raises(DataError, match=r"markers_only\.xdf: no EEG stream .*'stimuli' \(Markers\)"):
        read_xdf(markers_only)
    wrong_rate = _eeg()
    wrong_rate.timestamps = EEG_T0 + np.arange(N) / 200.0  # sent at 200 Hz, declared 250 Hz
    path = write_xdf(tmp_path / "rate.xdf", [wrong_rate])
    with pytest.raises(DataError, match=r"rate\.xdf: stream 'amp': measured rate 200\.00 Hz, not the nominal 250 Hz"):
        read_xdf(path)
    nan = _eeg()
    nan.samples[100, 1] = np.nan
    with pytest.raises(DataError, match=r"nan\.xdf: 1 NaN/Inf samples in channel\(s\) Cz"):
        read_xdf(write_xdf(tmp_path / "nan.xdf", [nan]))
