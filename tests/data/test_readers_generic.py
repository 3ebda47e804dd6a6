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
    with pytest.raises(
        DataError, match=r"x\.bin: 3 NaN/Inf samples in channel\(s\) b \(1\), c \(2\); first at sample 7"
    ):
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


# ------------------------------------------------- channel types from names
_TYPED_NAMES = ["Fp1", "Cz", "HEOG", "VEOG", "ECG", "EMG chin", "TRIGGER"]
_EXPECTED_TYPES = {"Fp1": "eeg", "Cz": "eeg", "HEOG": "eog", "VEOG": "eog", "ECG": "ecg", "EMG chin": "emg"}


def _typed_signals(n: int = 1000) -> np.ndarray:
    """Channels of :data:`_TYPED_NAMES` in µV; the trigger holds code 3 at sample
    100 and code 5 at sample 500 (as stored, no unit)."""
    data = np.random.default_rng(3).normal(scale=20.0, size=(len(_TYPED_NAMES), n))
    data[-1] = 0
    data[-1, 100:105], data[-1, 500:505] = 3, 5
    return data


def _types(rec) -> dict[str, str]:
    return {
        ch: t for mod in rec.modalities for ch, t in zip(rec.signal(mod).ch_names, rec.signal(mod).get_channel_types())
    }


@pytest.mark.parametrize("positions", [False, True], ids=["no-coordinates", "coordinates"])
def test_brainvision_channel_types_from_names(tmp_path: Path, positions: bool) -> None:
    """MNE reads EOG/ECG/EMG of a BrainVision file as ``eeg``, or as ``misc`` when the
    file gives electrode positions and they have none; the reader types them by
    name, and the trigger channel's codes become trials when there are no markers."""
    from tests.data.lab_formats import write_brainvision

    coords = {n: (1, 90, 45) if n in ("Fp1", "Cz") else (0, 0, 0) for n in _TYPED_NAMES} if positions else None
    data = _typed_signals()
    units = ["µV"] * 6 + ["n/a"]
    vhdr = write_brainvision(tmp_path / "rec.vhdr", data, _TYPED_NAMES, units, 250.0, coordinates=coords)
    plain = mne.io.read_raw(vhdr, verbose="error")
    assert set(plain.get_channel_types()[2:6]) == {"misc" if positions else "eeg"}  # what MNE alone gives

    rec = read_single_file(vhdr)
    assert _types(rec) == _EXPECTED_TYPES  # the trigger is left out of the signals
    assert set(rec.modalities) == {"eeg", "eog", "ecg", "emg"}
    np.testing.assert_allclose(rec.get_data("ecg", units="uV")[0], data[4], rtol=1e-5)
    assert list(rec.trials["label"]) == ["3", "5"]
    np.testing.assert_allclose(rec.trials["onset"], [100 / 250, 500 / 250])


def test_brainvision_markers_win_over_the_trigger_channel(tmp_path: Path) -> None:
    from tests.data.lab_formats import write_brainvision

    vhdr = write_brainvision(
        tmp_path / "rec.vhdr",
        _typed_signals(),
        _TYPED_NAMES,
        ["µV"] * 6 + ["n/a"],
        250.0,
        markers=[("S  1", 101), ("S  2", 701)],
    )
    rec = read_single_file(vhdr)
    assert list(rec.trials["label"]) == ["Stimulus/S  1", "Stimulus/S  2"]
    np.testing.assert_allclose(rec.trials["onset"], [100 / 250, 700 / 250])


def test_misc_channel_without_voltage_unit_keeps_its_type(tmp_path: Path) -> None:
    """A ``misc`` ECG whose unit is not a voltage is not claimed to be in volts."""
    from tests.data.lab_formats import write_brainvision

    vhdr = write_brainvision(
        tmp_path / "rec.vhdr", _typed_signals(), _TYPED_NAMES, ["µV"] * 4 + ["BIP", "µV", "n/a"], 250.0
    )
    rec = read_single_file(vhdr)
    assert _types(rec)["ECG"] == "misc" and _types(rec)["HEOG"] == "eog"


@pytest.mark.parametrize("fmt", ["edf", "bdf"])
def test_edf_bdf_channel_types_and_trigger(tmp_path: Path, fmt: str) -> None:
    """EDF/BDF store every signal as EEG; names give the types, and a ``STI 014``
    channel's events become trials (the file has no annotations)."""
    names = ["Fp1", "EOG left", "ECG II", "EMG", "STI 014"]
    data = np.random.default_rng(1).normal(scale=1e-5, size=(5, 2560))
    data[4] = 0
    data[4, 256:260], data[4, 1000:1003] = 2, 7
    raw = mne.io.RawArray(data, mne.create_info(names, 256.0, ["eeg"] * 4 + ["stim"]), verbose="error")
    path = tmp_path / f"rec.{fmt}"
    mne.export.export_raw(path, raw, verbose="error")
    assert set(mne.io.read_raw(path, verbose="error").get_channel_types()) == {"eeg"}  # as MNE reads it

    reader = GenericReader(tmp_path)
    assert reader.summary()["trials"] == 2
    rec = reader.load(reader.refs()[0])
    assert _types(rec) == {"Fp1": "eeg", "EOG left": "eog", "ECG II": "ecg", "EMG": "emg"}
    assert list(rec.trials["label"]) == ["2", "7"]
    np.testing.assert_allclose(rec.trials["onset"], [1.0, 1000 / 256])
