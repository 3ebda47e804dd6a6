"""WFDB reader: the three real records, small records written here with
wfdb.wrsamp, and truncated/missing files."""

from __future__ import annotations

import shutil
from pathlib import Path

import mne
import numpy as np
import pytest
import wfdb

from brainalign.data import detect_reader, open_dataset
from brainalign.data.readers.wfdb_records import WfdbReader, parse_comments
from brainalign.errors import DataError


@pytest.fixture(scope="module")
def reader(data_root: Path) -> WfdbReader:
    return WfdbReader(data_root / "wfdb")


def _load(reader: WfdbReader, key: str):
    return reader.load(next(r for r in reader.refs() if r.key == key))


@pytest.mark.realdata
def test_detect_only_wfdb_folders(data_root: Path) -> None:
    assert WfdbReader.detect(data_root / "wfdb")
    for other in ("eegmat", "eegnb_n170", "eegmmidb", "formats", "n400"):
        assert not WfdbReader.detect(data_root / other), other
    assert detect_reader(data_root / "wfdb") is WfdbReader


@pytest.mark.realdata
def test_refs_and_summary(reader: WfdbReader, data_root: Path) -> None:
    refs = reader.refs()
    assert [r.key for r in refs] == ["100", "s0010_re", "test01_00s"]
    assert [r.subject for r in refs] == ["100", "s0010_re", "test01_00s"]
    assert [r.get("annotation") is not None for r in refs] == [True, False, False]
    n_beats = len(wfdb.rdann(str(data_root / "wfdb" / "100"), "atr").sample)
    summary = open_dataset(data_root / "wfdb").summary()
    assert summary["name"] == "wfdb" and summary["reader"] == "wfdb"
    assert (summary["subjects"], summary["recordings"], summary["trials"]) == (3, 3, n_beats)
    assert {"ecg", "text"} <= set(summary["modalities"])


@pytest.mark.realdata
def test_ptb_record(reader: WfdbReader, data_root: Path) -> None:
    rec = _load(reader, "s0010_re")
    ecg = rec.signals["ecg"]
    assert isinstance(ecg, mne.io.BaseRaw)
    assert len(ecg.ch_names) == 15 and ecg.info["sfreq"] == 1000.0
    assert set(ecg.get_channel_types()) == {"ecg"}
    assert ecg.ch_names[:3] == ["i", "ii", "iii"]
    assert "Myocardial infarction" in rec.text
    assert "Reason for admission: Myocardial infarction" in rec.text.splitlines()
    assert (rec.metadata["age"], rec.metadata["sex"]) == (81, "F")
    assert rec.metadata["diagnosis"] == "Myocardial infarction"
    assert rec.metadata["clinical"]["Additional diagnoses"] == "Diabetes mellitus"
    assert rec.trials is None and set(rec.modalities) == {"ecg", "text"}
    # header unit is mV: the Raw holds volts
    mv = wfdb.rdrecord(str(data_root / "wfdb" / "s0010_re"), sampto=100).p_signal
    np.testing.assert_allclose(ecg.get_data()[:, :100], mv.T * 1e-3)
    assert rec.units == {"ecg": "V"}


@pytest.mark.realdata
def test_mitbih_record_with_beats(reader: WfdbReader, data_root: Path) -> None:
    rec = _load(reader, "100")
    ecg = rec.signals["ecg"]
    assert ecg.ch_names == ["MLII", "V5"] and ecg.info["sfreq"] == 360.0
    assert ecg.n_times == 650000
    assert (rec.metadata["age"], rec.metadata["sex"]) == (69, "M")
    assert "Aldomet, Inderal" in rec.text
    ann = wfdb.rdann(str(data_root / "wfdb" / "100"), "atr")
    trials = rec.trials
    assert len(trials) == len(ann.sample) > 2000
    assert list(trials["label"]) == list(ann.symbol)
    np.testing.assert_allclose(trials["onset"], np.asarray(ann.sample) / 360.0)
    assert (trials["label"] == "N").sum() > 2000
    assert trials.loc[trials["label"] == "N", "description"].iloc[0] == "Normal beat"
    assert trials["aux_note"].iloc[0] == "(N"  # NUL padding removed


@pytest.mark.realdata
def test_challenge_style_comments(reader: WfdbReader) -> None:
    rec = _load(reader, "test01_00s")
    assert len(rec.signals["ecg"].ch_names) == 4 and rec.sfreq == 500.0
    assert (rec.metadata["age"], rec.metadata["sex"], rec.metadata["diagnosis"]) == (25, "M", None)


def test_parse_comments_formats() -> None:
    assert parse_comments(["age: 60", "sex: male", "Reason for admission: Healthy control", "Diagnose:"]) == {
        "age": 60,
        "sex": "M",
        "diagnosis": "Healthy control",
        "clinical": {"age": "60", "sex": "male", "Reason for admission": "Healthy control"},
    }
    tagged = parse_comments(["<age>: 47  <sex>: F  <diagnoses>: atrial fibrillation"])
    assert (tagged["age"], tagged["sex"], tagged["diagnosis"]) == (47, "F", "atrial fibrillation")
    assert parse_comments(["? ? x1"])["age"] is None
    assert parse_comments([])["sex"] is None


def _write(
    folder: Path, name: str, units: list[str], names: list[str], signal: np.ndarray, comments: list[str]
) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    wfdb.wrsamp(
        name,
        fs=250,
        units=units,
        sig_name=names,
        p_signal=signal,
        fmt=["16"] * len(names),
        comments=comments,
        write_dir=str(folder),
    )


def test_units_and_patient_folders(tmp_path: Path) -> None:
    t = np.linspace(0, 1, 500)
    signal = np.stack([1000 * np.sin(2 * np.pi * t), 80 + 10 * t], axis=1)  # uV, mmHg
    _write(tmp_path / "patient007", "rec1", ["uV", "mmHg"], ["ECG", "ABP"], signal, ["age: 50", "sex: F"])
    reader = WfdbReader(tmp_path)
    (ref,) = reader.refs()
    assert (ref.key, ref.subject) == ("patient007/rec1", "patient007")
    assert reader.n_trials([ref]) is None
    rec = reader.load(ref)
    assert rec.units == {"ecg": "V", "misc": "mmHg"}
    np.testing.assert_allclose(rec.signals["ecg"].get_data()[0], signal[:, 0] * 1e-6, atol=1e-7)  # 16-bit quantised
    np.testing.assert_allclose(rec.signals["misc"].get_data()[0], signal[:, 1], atol=0.01)
    assert rec.text == "age: 50\nsex: F"


@pytest.fixture()
def copy_100(data_root: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "rec"
    folder.mkdir()
    for ext in ("hea", "dat", "atr"):
        shutil.copyfile(data_root / "wfdb" / f"100.{ext}", folder / f"100.{ext}")
    return folder


def _cut(path: Path, size: int) -> None:
    with open(path, "r+b") as fh:
        fh.truncate(size)


@pytest.mark.realdata
@pytest.mark.parametrize("size", [0, 300_000, 1_000_001])
def test_truncated_dat(copy_100: Path, size: int) -> None:
    _cut(copy_100 / "100.dat", size)
    reader = WfdbReader(copy_100)
    with pytest.raises(DataError) as info:
        reader.load(reader.refs()[0])
    assert info.value.path == copy_100 / "100.dat"


@pytest.mark.realdata
def test_missing_header_and_data(copy_100: Path) -> None:
    reader = WfdbReader(copy_100)
    (ref,) = reader.refs()
    (copy_100 / "100.dat").unlink()
    with pytest.raises(DataError, match="missing") as info:
        reader.load(ref)
    assert info.value.path == copy_100 / "100.dat"
    (copy_100 / "100.hea").unlink()
    with pytest.raises(DataError, match="header file missing") as info:
        reader.load(ref)
    assert info.value.path == copy_100 / "100.hea"


@pytest.mark.realdata
@pytest.mark.parametrize("size", [0, 2001])
def test_bad_annotation_file(copy_100: Path, size: int) -> None:
    _cut(copy_100 / "100.atr", size)
    reader = WfdbReader(copy_100)
    with pytest.raises(DataError) as info:
        reader.n_trials(reader.refs())
    assert info.value.path == copy_100 / "100.atr"


def test_malformed_header(tmp_path: Path) -> None:
    (tmp_path / "x.hea").write_text("this is not a header\n")
    reader = WfdbReader(tmp_path)
    with pytest.raises(DataError) as info:
        reader.load(reader.refs()[0])
    assert info.value.path == tmp_path / "x.hea"


def test_invalid_samples_raise(tmp_path: Path) -> None:
    signal = np.zeros((300, 2))
    signal[10, 1] = np.nan  # written as WFDB's invalid-sample value, read back as NaN
    _write(tmp_path, "gap", ["mV", "mV"], ["I", "II"], signal, [])
    reader = WfdbReader(tmp_path)
    with pytest.raises(DataError, match="NaN/Inf samples in channel\\(s\\) II") as info:
        reader.load(reader.refs()[0])
    assert info.value.path == tmp_path / "gap.dat"


@pytest.mark.realdata
def test_header_cut_before_a_signal_description(data_root: Path, tmp_path: Path) -> None:
    """Found by the fuzz tests: a header cut right after the last signal's numbers
    leaves that signal without a name (None), which MNE refused with a TypeError."""
    header = (data_root / "wfdb" / "test01_00s.hea").read_bytes()
    (tmp_path / "test01_00s.hea").write_bytes(header[:180])
    (tmp_path / "test01_00s.dat").symlink_to(data_root / "wfdb" / "test01_00s.dat")
    reader = open_dataset(tmp_path, reader="wfdb")
    rec = reader.load(reader.refs()[0])
    assert rec.signal("ecg").ch_names == ["ECG 1", "ECG 2", "ECG 3", "signal 4"]
