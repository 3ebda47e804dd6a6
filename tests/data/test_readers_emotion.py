"""DREAMER and AMIGOS readers, on tiny files written in the published layouts
(tests/data/emotion_layouts.py), on broken copies of them, and (realdata) on the
folders in the shared data directory, which neither reader may claim."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from brainalign.data import detect_reader, open_dataset
from brainalign.data.readers import dreamer as dreamer_module
from brainalign.data.readers.amigos import AmigosReader
from brainalign.data.readers.dreamer import DreamerReader
from brainalign.errors import ConfigError, DataError
from tests.data.emotion_layouts import (
    AMIGOS_SELF_ASSESSMENT,
    DREAMER_ELECTRODES,
    write_amigos,
    write_dreamer,
)

STIMULUS_S = (3.0, 2.0, 2.5)


@pytest.fixture(scope="module")
def dreamer_files(tmp_path_factory) -> dict:
    return write_dreamer(tmp_path_factory.mktemp("dreamer"), stimulus_s=STIMULUS_S)


@pytest.fixture(scope="module")
def amigos_files(tmp_path_factory) -> tuple[Path, dict, dict]:
    """P01 in its folder, all three trials recorded; P02 directly in the root, with its
    long video (trial 3) empty as for the participants who did not watch them."""
    root = tmp_path_factory.mktemp("amigos")
    p1 = write_amigos(root, 1)
    p2 = write_amigos(root, 2, videos=("13", "10", "N1"), empty=(2,), in_folder=False)
    return root, p1, p2


def _truncations(path: Path, tmp_path: Path, name: str):
    """Copies of ``path`` cut at a few places, each as ``tmp_path/<k>/<name>``."""
    data = path.read_bytes()
    for k, cut in enumerate((0, 100, len(data) // 3, len(data) - 20)):
        folder = tmp_path / str(k)
        folder.mkdir()
        (folder / name).write_bytes(data[:cut])
        yield folder / name


# ---------------------------------------------------------------------------- DREAMER
def test_dreamer_detect_refs_and_summary(dreamer_files: dict) -> None:
    root = dreamer_files["path"].parent
    assert DreamerReader.detect(root) and detect_reader(root) is DreamerReader
    assert not AmigosReader.detect(root)
    reader = open_dataset(root)
    refs = reader.refs()
    assert [r.subject for r in refs] == ["01", "02"]
    assert reader.n_trials(refs) == 6
    assert DreamerReader(root, baseline="trials").n_trials(refs) == 12
    summary = reader.summary()
    assert (summary["reader"], summary["subjects"], summary["recordings"], summary["trials"]) == ("dreamer", 2, 2, 6)
    assert summary["modalities"] == ["eeg", "ecg"]


def test_dreamer_signals_in_volts_at_published_rates(dreamer_files: dict) -> None:
    reader = DreamerReader(dreamer_files["path"].parent)
    rec = reader.load(reader.refs()[1])
    written = dreamer_files["subjects"][1]
    eeg, ecg = rec.signals["eeg"], rec.signals["ecg"]
    assert eeg.ch_names == list(DREAMER_ELECTRODES) and set(eeg.get_channel_types()) == {"eeg"}
    assert ecg.ch_names == ["ECG1", "ECG2"] and set(ecg.get_channel_types()) == {"ecg"}
    assert (eeg.info["sfreq"], ecg.info["sfreq"]) == (128.0, 256.0)
    np.testing.assert_allclose(eeg.get_data(), np.vstack(written["eeg"]).T * 1e-6)
    np.testing.assert_allclose(ecg.get_data(), np.vstack(written["ecg"]).T * 1e-3)
    assert eeg.times[-1] + 1 / 128 == pytest.approx(sum(STIMULUS_S))
    assert ecg.n_times / 256 == pytest.approx(sum(STIMULUS_S))
    # one BAD + one EDGE boundary at each of the two junctions
    assert sorted(eeg.annotations.description) == ["BAD boundary"] * 2 + ["EDGE boundary"] * 2
    np.testing.assert_allclose(sorted(set(eeg.annotations.onset)), [3.0, 5.0])
    assert rec.units == {"eeg": "V", "ecg": "V"}
    assert rec.metadata == {"subject": "02", "age": 25, "sex": "F", "baseline": "none"}


def test_dreamer_trials_labels(dreamer_files: dict) -> None:
    reader = DreamerReader(dreamer_files["path"].parent, label="arousal", threshold=2.0)
    rec = reader.load(reader.refs()[0])
    written = dreamer_files["subjects"][0]
    trials = rec.trials
    np.testing.assert_allclose(trials["onset"], [0.0, 3.0, 5.0])
    np.testing.assert_allclose(trials["duration"], STIMULUS_S)
    assert list(trials["clip"]) == [1, 2, 3] and set(trials["kind"]) == {"stimulus"}
    for name in ("valence", "arousal", "dominance"):
        np.testing.assert_array_equal(trials[name], written[name])
        assert list(trials[f"{name}_high"]) == [bool(v > 2.0) for v in written[name]]
    assert list(trials["label"]) == [f"arousal_{'high' if v > 2 else 'low'}" for v in written["arousal"]]
    # clip onsets hold in the ECG too: clip 2 starts at sample 3 s x 256 Hz
    start = int(trials["onset"][1] * 256)
    np.testing.assert_allclose(rec.signals["ecg"].get_data()[:, start], written["ecg"][1][0] * 1e-3)


def test_dreamer_baseline_modes(dreamer_files: dict) -> None:
    root = dreamer_files["path"].parent
    written = dreamer_files["subjects"][0]
    with_baseline = DreamerReader(root, baseline="trials").load(DreamerReader(root).refs()[0])
    trials = with_baseline.trials
    assert list(trials["kind"]) == ["baseline", "stimulus"] * 3
    assert list(trials["clip"]) == [1, 1, 2, 2, 3, 3]
    np.testing.assert_allclose(trials["onset"], [0, 2, 5, 7, 9, 11.0])
    assert trials["valence"].isna().tolist() == [True, False] * 3
    assert trials["valence_high"].isna().tolist() == [True, False] * 3
    assert list(trials["label"][::2]) == ["baseline"] * 3
    eeg = with_baseline.signals["eeg"].get_data()
    np.testing.assert_allclose(eeg[:, :256], written["eeg_baseline"][0].T * 1e-6)

    subtracted = DreamerReader(root, baseline="subtract").load(DreamerReader(root).refs()[0])
    expected = np.vstack([s - b.mean(axis=0) for s, b in zip(written["eeg"], written["eeg_baseline"])])
    np.testing.assert_allclose(subtracted.signals["eeg"].get_data(), expected.T * 1e-6, atol=1e-12)
    expected_ecg = np.vstack([s - b.mean(axis=0) for s, b in zip(written["ecg"], written["ecg_baseline"])])
    np.testing.assert_allclose(subtracted.signals["ecg"].get_data(), expected_ecg.T * 1e-3, atol=1e-12)
    assert len(subtracted.trials) == 3

    with pytest.raises(ConfigError, match="baseline"):
        DreamerReader(root, baseline="divide")


def test_dreamer_listing_is_cached(dreamer_files: dict, tmp_path: Path, monkeypatch) -> None:
    """The counts are read once; a second reader lists without opening the file, and a
    changed file is read again."""
    root = tmp_path / "set"
    write_dreamer(root, n_subjects=3, stimulus_s=(1.0, 1.0))
    assert len(DreamerReader(root).refs()) == 3

    def no_read(*args, **kwargs):
        raise AssertionError("the file was read")

    monkeypatch.setattr(scipy.io, "loadmat", no_read)
    fresh = DreamerReader(root)
    assert fresh.n_trials(fresh.refs()) == 6
    monkeypatch.undo()
    write_dreamer(root, n_subjects=1, stimulus_s=(1.0, 1.0, 1.0, 1.0))
    again = DreamerReader(root)
    assert again.n_trials(again.refs()) == 4


def test_dreamer_truncated_or_empty_file(dreamer_files: dict, tmp_path: Path) -> None:
    for path in _truncations(dreamer_files["path"], tmp_path, "DREAMER.mat"):
        assert DreamerReader.detect(path.parent)
        with pytest.raises(DataError) as err:
            reader = DreamerReader(path.parent)
            reader.load(reader.refs()[0])
        assert str(path) in str(err.value)


def test_dreamer_hdf5_file_is_refused(tmp_path: Path) -> None:
    """A MATLAB v7.3 header (version 0x0200) is told apart from a damaged v5 file."""
    header = b"MATLAB 7.3 MAT-file".ljust(124) + b"\x00\x02IM"
    (tmp_path / "DREAMER.mat").write_bytes(header + b"\x00" * 512)
    with pytest.raises(DataError, match="v7.3"):
        DreamerReader(tmp_path).refs()


def test_dreamer_missing_eeg_channel(tmp_path: Path) -> None:
    written = write_dreamer(tmp_path, eeg_channels=13, stimulus_s=(1.0,))
    reader = DreamerReader(tmp_path)
    with pytest.raises(DataError) as err:
        reader.load(reader.refs()[0])
    assert str(written["path"]) in str(err.value)
    assert "13 channels (columns), expected 14" in str(err.value)


def test_dreamer_clip_trimming_keeps_onsets_aligned() -> None:
    eeg, ecg = np.zeros((130, 14)), np.zeros((256, 2))
    with pytest.warns(UserWarning, match="trimmed to 1.000 s"):
        a, b = dreamer_module._align_clip(eeg, ecg, 128.0, 256.0, Path("x.mat"), "clip 1")
    assert (len(a), len(b)) == (128, 256)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        a, b = dreamer_module._align_clip(eeg[:128], np.zeros((257, 2)), 128.0, 256.0, Path("x.mat"), "clip 1")
    assert (len(a), len(b)) == (128, 256)


# ---------------------------------------------------------------------------- AMIGOS
def test_amigos_detect_and_refs(amigos_files) -> None:
    root, p1, p2 = amigos_files
    assert AmigosReader.detect(root) and detect_reader(root) is AmigosReader
    assert not DreamerReader.detect(root)
    reader = open_dataset(root)
    refs = reader.refs()
    assert [(r.subject, r.paths[0]) for r in refs] == [("01", p1["path"]), ("02", p2["path"])]
    assert reader.n_trials(refs) == 5
    assert reader.summary()["trials"] == 5


def test_amigos_signals_and_trials(amigos_files) -> None:
    root, p1, _ = amigos_files
    reader = AmigosReader(root, include_gsr=True, threshold=4.0)
    rec = reader.load(reader.refs()[0])
    data = [t["data"] for t in p1["trials"]]
    eeg, ecg, gsr = rec.signals["eeg"], rec.signals["ecg"], rec.signals["misc"]
    assert eeg.ch_names == list(DREAMER_ELECTRODES) and ecg.ch_names == ["ECG Right", "ECG Left"]
    assert set(ecg.get_channel_types()) == {"ecg"} and gsr.get_channel_types() == ["gsr"]
    assert eeg.info["sfreq"] == ecg.info["sfreq"] == 128.0
    np.testing.assert_allclose(eeg.get_data(), np.vstack(data)[:, :14].T * 1e-6)
    np.testing.assert_allclose(ecg.get_data(), np.vstack(data)[:, 14:16].T * 1e-3)
    np.testing.assert_allclose(gsr.get_data(), np.vstack(data)[:, 16:].T)
    assert rec.units == {"eeg": "V", "ecg": "V", "misc": "a.u."}

    trials = rec.trials
    np.testing.assert_allclose(trials["onset"], [0.0, 3.0, 5.0])
    assert list(trials["video"]) == ["10", "13", "N1"] and list(trials["trial"]) == [1, 2, 3]
    labels = np.vstack([t["labels"] for t in p1["trials"]])
    for k, name in enumerate(AMIGOS_SELF_ASSESSMENT):
        np.testing.assert_array_equal(trials[name], labels[:, k])
    assert list(trials["valence_high"]) == [bool(v > 4.0) for v in labels[:, 1]]
    assert list(trials["label"]) == [f"valence_{'high' if v > 4 else 'low'}" for v in labels[:, 1]]
    assert "misc" not in AmigosReader(root).load(reader.refs()[0]).signals


def test_amigos_empty_trial_is_skipped(amigos_files) -> None:
    root, _, p2 = amigos_files
    reader = AmigosReader(root)
    rec = reader.load(reader.refs()[1])
    assert list(rec.trials["video"]) == ["13", "10"]
    assert rec.metadata["missing_videos"] == ["N1"] and rec.metadata["dropped_videos"] == []
    assert rec.signals["eeg"].n_times == (3 + 2) * 128
    np.testing.assert_allclose(rec.signals["eeg"].get_data()[:, :384], p2["trials"][0]["data"][:, :14].T * 1e-6)


def test_amigos_nan_trial_raises_or_is_dropped(tmp_path: Path) -> None:
    written = write_amigos(tmp_path, 7, nan_trials=(1,))
    with pytest.raises(DataError) as err:
        AmigosReader(tmp_path).load(AmigosReader(tmp_path).refs()[0])
    assert str(written["path"]) in str(err.value) and "video 13" in str(err.value)
    assert "NaN" in str(err.value)

    reader = AmigosReader(tmp_path, bad_trials="drop")
    with pytest.warns(UserWarning, match="dropping joined_data"):
        rec = reader.load(reader.refs()[0])
    assert list(rec.trials["video"]) == ["10", "N1"] and rec.metadata["dropped_videos"] == ["13"]
    assert reader.n_trials(reader.refs()) == 2
    assert AmigosReader(tmp_path).n_trials(reader.refs()) == 3


def test_amigos_truncated_file(amigos_files, tmp_path: Path) -> None:
    _, p1, _ = amigos_files
    for path in _truncations(p1["path"], tmp_path, p1["path"].name):
        reader = AmigosReader(path.parent)
        with pytest.raises(DataError) as err:
            reader.load(reader.refs()[0])
        assert str(path) in str(err.value)


def test_amigos_missing_channel(tmp_path: Path) -> None:
    written = write_amigos(tmp_path, 3, columns=16)
    reader = AmigosReader(tmp_path, bad_trials="drop")
    with pytest.raises(DataError) as err:
        reader.load(reader.refs()[0])
    assert str(written["path"]) in str(err.value) and "16 channels (columns), expected 17" in str(err.value)


# ---------------------------------------------------------------------------- real data
@pytest.mark.realdata
def test_real_folders_are_not_claimed(data_root: Path) -> None:
    folders = [data_root] + sorted(p for p in data_root.iterdir() if p.is_dir())
    for folder in folders:
        assert not DreamerReader.detect(folder), folder
        assert not AmigosReader.detect(folder), folder
