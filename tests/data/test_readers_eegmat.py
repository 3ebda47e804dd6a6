"""EEGMAT reader (PhysioNet mental arithmetic) and the channel-name helpers."""

from __future__ import annotations

import csv
from pathlib import Path

import mne
import numpy as np
import pytest

from brainalign.data import detect_reader, open_dataset
from brainalign.data.channels import (
    STANDARD_1020_21,
    canonical_channel_name,
    canonicalize_channels,
    infer_channel_type,
)
from brainalign.data.readers.eegmat import EEGMATReader, default_text
from brainalign.errors import ConfigError, DataError

OTHER_SETS = ("eegmmidb", "eegmmidb/S001", "eegnb_n170", "formats", "n400", "wfdb")


@pytest.mark.parametrize(
    "name, expected",
    [
        ("EEG Fp1", "Fp1"),
        ("EEG FP1-REF", "Fp1"),
        ("EEG T3", "T7"),
        ("EEG T4-LE", "T8"),
        ("T5-A1", "P7"),
        ("EEG T6-REF", "P8"),
        ("EEG A1-REF", "A1"),
        ("EEG A2-A1", "A2-A1"),
        ("Fc5.", "FC5"),
        ("Fcz.", "FCz"),
        ("Af7.", "AF7"),
        ("Tp10", "TP10"),
        ("Iz..", "Iz"),
        ("T10.", "T10"),
        ("fpz", "Fpz"),
        ("ECG ECG", "ECG"),
        ("Right AUX", "Right AUX"),
        ("EKG1-REF", "EKG1"),
    ],
)
def test_canonical_channel_name(name: str, expected: str) -> None:
    assert canonical_channel_name(name) == expected


def test_standard_1020_21_is_canonical() -> None:
    assert len(STANDARD_1020_21) == len(set(STANDARD_1020_21)) == 21
    assert all(canonical_channel_name(ch) == ch for ch in STANDARD_1020_21)
    assert {"T3", "T4", "T5", "T6"}.isdisjoint(STANDARD_1020_21)


def test_infer_channel_type() -> None:
    assert infer_channel_type("ECG ECG") == "ecg"
    assert infer_channel_type("EEG EKG1-REF") == "ecg"
    assert infer_channel_type("EOG left") == "eog"
    assert infer_channel_type("EEG Fp1") is None


def test_canonicalize_channels_refuses_name_clashes() -> None:
    raw = mne.io.RawArray(np.zeros((3, 10)), mne.create_info(["EEG T3", "Fp1-REF", "ECG ECG"], 100.0), verbose="error")
    assert canonicalize_channels(raw, "a.edf").ch_names == ["T7", "Fp1", "ECG"]
    clash = mne.io.RawArray(np.zeros((2, 10)), mne.create_info(["T3", "T7"], 100.0), verbose="error")
    with pytest.raises(DataError, match=r"b\.edf: channels would share the names \['T7'\]"):
        canonicalize_channels(clash, "b.edf")


def _subject_info(root: Path) -> dict[str, dict[str, str]]:
    with open(root / "eegmat" / "subject-info.csv", newline="") as fh:
        return {row["Subject"]: row for row in csv.DictReader(fh)}


@pytest.mark.realdata
def test_listing_and_detection(data_root: Path) -> None:
    root = data_root / "eegmat"
    assert detect_reader(root) is EEGMATReader
    for other in OTHER_SETS:
        assert not EEGMATReader.detect(data_root / other), other
    reader = open_dataset(root)
    refs = reader.refs()
    assert len(refs) == 60  # data README: 30 subjects, Subject00..Subject29, two files each
    assert sorted({r.subject for r in refs}) == [f"{i:02d}" for i in range(30)]
    assert sorted(r.get("label") for r in refs) == ["arithmetic"] * 30 + ["rest"] * 30
    summary = reader.summary()
    assert summary["subjects"] == 30 and summary["recordings"] == 60
    assert {"eeg", "ecg", "text"} <= set(summary["modalities"])
    assert "trials" not in summary  # the condition is per recording


@pytest.mark.realdata
def test_load_rest_and_task(data_root: Path) -> None:
    root = data_root / "eegmat"
    reader = EEGMATReader(root)
    refs = {r.key: r for r in reader.refs()}
    rest = reader.load(refs["Subject00_1"])
    task = reader.load(refs["Subject00_2"])
    assert rest.duration == pytest.approx(182.0) and task.duration == pytest.approx(62.0)
    assert reader.load(refs["Subject04_1"]).duration == pytest.approx(170.0)
    assert rest.sfreq == task.sfreq == 500.0
    assert {"eeg", "ecg", "text"} <= set(rest.modalities)
    assert rest.subject == "00" and rest.trials is None

    assert rest.ch_names == [
        "Fp1",
        "Fp2",
        "F3",
        "F4",
        "F7",
        "F8",
        "T7",
        "T8",
        "C3",
        "C4",
        "P7",
        "P8",
        "P3",
        "P4",
        "O1",
        "O2",
        "Fz",
        "Cz",
        "Pz",
    ]
    assert set(rest.ch_types) == {"eeg"}
    assert rest.signal("misc").ch_names == ["A2-A1"]
    ecg = rest.signal("ecg")
    assert ecg.ch_names == ["ECG"] and ecg.get_channel_types() == ["ecg"]

    # Values equal the EDF channels read independently by MNE.
    edf = mne.io.read_raw_edf(root / "Subject00_1.edf", preload=True, verbose="error")
    np.testing.assert_array_equal(ecg.get_data()[0], edf.get_data(picks=["ECG ECG"])[0])
    np.testing.assert_array_equal(rest.eeg.get_data(picks=["T7"])[0], edf.get_data(picks=["EEG T3"])[0])
    # The ECG is not an EEG channel: its amplitude is an order of magnitude larger.
    assert np.ptp(ecg.get_data()) > 5 * np.median(np.ptp(rest.eeg.get_data(), axis=1))

    info = _subject_info(data_root)["Subject00"]
    meta = rest.metadata
    assert meta["age"] == int(info["Age"]) and meta["sex"] == info["Gender"]
    assert meta["recording_year"] == int(info["Recording year"])
    assert meta["n_subtractions"] == pytest.approx(float(info["Number of subtractions"]))
    assert meta["count_quality"] == int(info["Count quality"])
    assert (meta["task"], meta["label"]) == ("rest", "rest")
    assert (task.metadata["task"], task.metadata["label"]) == ("mental arithmetic", "arithmetic")
    assert rest.text == f"EEG of a {info['Age']}-year-old female at rest, doing nothing in particular"
    assert "serial subtraction" in task.text and "bad counting quality" in task.text


@pytest.mark.realdata
def test_text_template_is_replaceable(data_root: Path) -> None:
    root = data_root / "eegmat"
    ref = EEGMATReader(root).refs()[1]  # Subject00_2
    as_format = EEGMATReader(root, text_template="{sex} {age} {label}")
    assert as_format.render_text(as_format.metadata(ref)) == "F 21 arithmetic"
    as_callable = EEGMATReader(root, text_template=lambda m: m["task"].upper())
    assert as_callable.render_text(as_callable.metadata(ref)) == "MENTAL ARITHMETIC"
    with pytest.raises(ConfigError, match="shoe_size"):
        as_format.text_template = "{shoe_size}"
        as_format.render_text(as_format.metadata(ref))
    # The template is part of the reader's identity, so cached windows never keep stale texts.
    from brainalign.preprocessing.cache import input_identity

    assert input_identity(EEGMATReader(root)) != input_identity(as_format)
    assert input_identity(as_format) == input_identity(EEGMATReader(root, text_template="{sex} {age} {label}"))
    # Without demographics the default text still reads well.
    assert default_text({"label": "rest"}) == "EEG of a person at rest, doing nothing in particular"
    assert default_text({"label": "rest", "age": 18, "sex_word": "male"}).startswith("EEG of an 18-year-old male")


@pytest.mark.realdata
def test_layout_with_other_subjects(data_root: Path, tmp_path: Path) -> None:
    """Detection is by layout: a folder of other subjects (no info file) is read."""
    (tmp_path / "Subject42_2.edf").symlink_to(data_root / "eegmat" / "Subject01_2.edf")
    assert detect_reader(tmp_path) is EEGMATReader
    reader = open_dataset(tmp_path)
    (ref,) = reader.refs()
    rec = reader.load(ref)
    assert rec.subject == "42" and rec.metadata["label"] == "arithmetic"
    assert "age" not in rec.metadata
    assert rec.text == "EEG of a person performing serial subtraction (mental arithmetic)"


@pytest.mark.realdata
def test_truncated_and_empty_files(data_root: Path, tmp_path: Path) -> None:
    content = (data_root / "eegmat" / "Subject00_2.edf").read_bytes()
    (tmp_path / "Subject00_2.edf").write_bytes(content[: len(content) // 2])
    (tmp_path / "Subject01_1.edf").write_bytes(b"")
    reader = EEGMATReader(tmp_path)
    refs = {r.key: r for r in reader.refs()}
    with pytest.raises(DataError, match=r"Subject00_2\.edf: truncated"):
        reader.load(refs["Subject00_2"])
    with pytest.raises(DataError, match=r"Subject01_1\.edf: empty file"):
        reader.load(refs["Subject01_1"])


def test_bad_subject_info(tmp_path: Path) -> None:
    (tmp_path / "Subject00_1.edf").write_bytes(b"")
    (tmp_path / "subject-info.csv").write_text("Subject,Age\nSubject00,21\n")
    reader = EEGMATReader(tmp_path)
    with pytest.raises(DataError, match=r"subject-info\.csv: missing columns"):
        reader.metadata(reader.refs()[0])
