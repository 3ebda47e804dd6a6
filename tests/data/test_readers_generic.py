"""Generic reader (any MNE-readable raw file) and the safe-reading helpers of
brainalign.data.edf that every continuous reader uses."""
from __future__ import annotations

from pathlib import Path

import mne
import numpy as np
import pytest

from brainalign.data import detect_reader, open_dataset
from brainalign.data.edf import check_finite, read_raw_safely
from brainalign.data.readers.generic import GenericReader, raw_files, read_single_file
from brainalign.errors import ConfigError, DataError


# ----------------------------------------------------------------- safe reading
def _edf_bytes(data_root: Path) -> bytes:
    return (data_root / "formats" / "EDF" / "test_reduced.edf").read_bytes()


@pytest.mark.realdata
def test_read_raw_safely_reads_good_file(data_root: Path) -> None:
    raw = read_raw_safely(data_root / "formats" / "EDF" / "test_reduced.edf")
    assert raw.info["sfreq"] == 512.0 and len(raw.ch_names) == 139


@pytest.mark.realdata
@pytest.mark.parametrize(
    "cut, problem",
    [
        (lambda b: b[: len(b) - 5000], r"truncated: header announces 6 data records"),
        (lambda b: b[:100], r"truncated EDF header"),
        (lambda b: b"", r"empty file"),
        (lambda b: b + b"\0" * 10, r"corrupt: 10 bytes after the 6 data records"),
        (lambda b: b[:236] + b"abcdefgh" + b[244:], r"corrupt EDF header: the number of data records is 'abcdefgh'"),
    ],
)
def test_read_raw_safely_rejects_bad_edf(data_root: Path, tmp_path: Path, cut, problem: str) -> None:
    path = tmp_path / "bad.edf"
    path.write_bytes(cut(_edf_bytes(data_root)))
    with pytest.raises(DataError, match=rf"bad\.edf: {problem}"):
        read_raw_safely(path)


@pytest.mark.realdata
def test_read_raw_safely_wraps_reader_errors(data_root: Path, tmp_path: Path) -> None:
    (tmp_path / "broken.set").write_bytes(b"not a MATLAB file at all" * 10)
    with pytest.raises(DataError, match=r"broken\.set: cannot be read"):
        read_raw_safely(tmp_path / "broken.set")
    with pytest.raises(DataError, match=r"absent\.edf: file does not exist"):
        read_raw_safely(tmp_path / "absent.edf")


def test_check_finite() -> None:
    data = np.zeros((3, 50))
    check_finite(data, "x.bin", ["a", "b", "c"])
    data[1, 7] = np.nan
    data[2, [9, 10]] = np.inf
    with pytest.raises(DataError, match=r"x\.bin: 3 NaN/Inf samples in channel\(s\) b \(1\), c \(2\); first at sample 7"):
        check_finite(data, "x.bin", ["a", "b", "c"])
    raw = mne.io.RawArray(data, mne.create_info(["Fz", "Cz", "Pz"], 100.0, "eeg"), verbose="error")
    with pytest.raises(DataError, match=r"first at line 9"):
        check_finite(raw, "x.csv", line_offset=2)
    epochs = np.zeros((4, 2, 10))
    epochs[3, 0, 5] = np.nan
    with pytest.raises(DataError, match=r"1 NaN/Inf samples in channel\(s\) 0 \(1\); first at sample 5"):
        check_finite(epochs, "e.npy")


# ------------------------------------------------------------------------ reader
@pytest.mark.realdata
def test_formats_folder(data_root: Path) -> None:
    root = data_root / "formats"
    assert detect_reader(root) is GenericReader
    reader = open_dataset(root)
    refs = reader.refs()
    assert [r.key for r in refs] == ["EDF/test_reduced.edf", "EEGLAB/test_raw.set"]
    assert [r.subject for r in refs] == ["test_reduced", "test_raw"]
    assert reader.summary()["trials"] == 5 + 154

    edf = reader.load(refs[0])
    # 139 channels: 138 EEG and the BioSemi "Status" stimulus channel, left out.
    assert (len(edf.ch_names), edf.sfreq, edf.duration) == (138, 512.0, pytest.approx(6.0))
    assert "Status" not in edf.ch_names and edf.modalities == ["eeg"]
    ann = mne.io.read_raw_edf(refs[0].paths[0], verbose="error").annotations
    assert list(edf.trials["label"]) == list(ann.description)
    np.testing.assert_allclose(edf.trials["onset"], ann.onset)
    np.testing.assert_allclose(edf.trials["duration"], ann.duration)

    eeglab = reader.load(refs[1])
    assert (len(eeglab.ch_names), eeglab.sfreq) == (32, 128.0)
    assert eeglab.trials["label"].value_counts().to_dict() == {"square": 80, "rt": 74}
    assert eeglab.duration == pytest.approx(238.3, abs=0.1)


@pytest.mark.realdata
def test_detection_leaves_other_sets_to_their_readers(data_root: Path) -> None:
    for claimed in ("eegmat", "eegmmidb"):  # EDF folders with their own reader
        assert next(raw_files(data_root / claimed), None) is not None
        assert not GenericReader.detect(data_root / claimed), claimed
    assert next(raw_files(data_root / "n400"), None) is None  # epochs, not raw
    for other in ("n400", "wfdb", "eegnb_n170"):
        assert not GenericReader.detect(data_root / other), other


@pytest.mark.realdata
def test_subject_regex(data_root: Path) -> None:
    reader = GenericReader(data_root / "formats", subject_regex=r"^(?P<subject>\w+)/")
    assert [r.subject for r in reader.refs()] == ["EDF", "EEGLAB"]
    with pytest.raises(ConfigError, match="no group"):
        GenericReader(data_root / "formats", subject_regex=r"\w+/")


def test_ecg_channel_becomes_its_own_modality(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    data = rng.normal(scale=20e-6, size=(3, 1000))
    data[2] *= 50  # ECG amplitude
    raw = mne.io.RawArray(data, mne.create_info(["EEG T3", "EEG Cz", "ECG II"], 250.0, "eeg"), verbose="error")
    raw.set_annotations(mne.Annotations([1.0, 2.5], [0.5, 0.0], ["stim", "response"]))
    mne.export.export_raw(tmp_path / "rec.edf", raw, fmt="edf", verbose="error")
    assert detect_reader(tmp_path) is GenericReader

    rec = GenericReader(tmp_path).load(GenericReader(tmp_path).refs()[0])
    assert rec.ch_names == ["EEG T3", "EEG Cz"]
    assert rec.signal("ecg").ch_names == ["ECG II"]
    np.testing.assert_allclose(rec.get_data("ecg", units="V")[0], data[2], atol=1e-6)
    assert list(rec.trials["label"]) == ["stim", "response"]
    np.testing.assert_allclose(rec.trials["onset"], [1.0, 2.5])

    renamed = GenericReader(tmp_path, canonical_names=True)
    assert renamed.load(renamed.refs()[0]).ch_names == ["T7", "Cz"]


def test_empty_folder_is_not_detected(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("no recordings here")
    assert not GenericReader.detect(tmp_path)
    assert detect_reader(tmp_path) is None


@pytest.mark.realdata
def test_read_single_file(data_root: Path) -> None:
    rec = read_single_file(data_root / "formats" / "EEGLAB" / "test_raw.set")
    assert rec.subject == "test_raw" and rec.metadata["format"] == "set" and rec.n_trials == 154
