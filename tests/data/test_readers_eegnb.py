"""eeg-notebooks Muse CSV reader (visual N170, faces vs houses)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from brainalign.data import detect_reader, open_dataset
from brainalign.data.readers.eegnb import EEGNotebooksReader
from brainalign.errors import ConfigError, DataError

OTHER_SETS = ("eegmat", "eegmmidb", "eegmmidb/S001", "formats", "n400", "wfdb")
SUBJECT1_FILE = Path("subject1/session1/data_2017-09-13-15.30.01.csv")


def _rows(path: Path) -> list[list[str]]:
    with open(path, newline="") as fh:
        return list(csv.reader(fh))


def _reader(root: Path, **params) -> EEGNotebooksReader:
    with pytest.warns(UserWarning, match="duplicate"):
        reader = EEGNotebooksReader(root, **params)
        reader.refs()
    return reader


@pytest.mark.realdata
def test_listing_images_and_duplicates(data_root: Path) -> None:
    root = data_root / "eegnb_n170"
    assert detect_reader(root) is EEGNotebooksReader
    for other in OTHER_SETS:
        assert not EEGNotebooksReader.detect(data_root / other), other
    reader = _reader(root)
    refs = reader.refs()
    assert sorted({r.subject for r in refs}, key=int) == ["1", "2", "3", "10", "11"]
    # 19 files, two of them the same recording filed under two sessions.
    assert len(refs) == 18
    keys = [r.key for r in refs]
    assert "subject3/session1/data_2018-05-14-19.38.10" in keys
    assert "subject3/session2/data_2018-05-14-19.38.10" not in keys
    assert "subject10/session1/recording_2018-06-06-15.06.45" in keys  # .csv.csv

    images = reader.images()
    assert len(images) == 96 and all(p.is_file() for p in images)
    assert sum(p.parent.name == "faces" for p in images) == 48

    summary = reader.summary()
    assert summary["subjects"] == 5 and summary["images"] == 96
    assert set(summary["modalities"]) == {"eeg", "image", "text"}

    kept = EEGNotebooksReader(root, keep_duplicates=True)
    flagged = [r for r in kept.refs() if r.get("duplicate_of") is not None]
    assert len(kept.refs()) == 19 and len(flagged) == 1
    assert flagged[0].get("duplicate_of").parent.name == "session1"


@pytest.mark.realdata
def test_trial_count_matches_markers(data_root: Path) -> None:
    root = data_root / "eegnb_n170"
    reader = _reader(root)
    refs = [r for r in reader.refs() if r.subject == "10"]  # incl. single-marker files
    expected = 0
    for ref in refs:
        expected += sum(row[-1] in ("1", "2") for row in _rows(ref.paths[0])[1:])
    assert reader.n_trials(refs) == expected > 0


@pytest.mark.realdata
def test_load_recording(data_root: Path) -> None:
    root = data_root / "eegnb_n170"
    reader = _reader(root)
    rec = reader.load(next(r for r in reader.refs() if r.paths[0] == root / SUBJECT1_FILE))
    assert rec.ch_names == ["TP9", "AF7", "AF8", "TP10"] and rec.sfreq == 256.0
    assert rec.signal("misc").ch_names == ["Right AUX"]
    assert (rec.subject, rec.session) == ("1", "1")

    rows = _rows(root / SUBJECT1_FILE)
    assert rows[0] == ["timestamps", "TP9", "AF7", "AF8", "TP10", "Right AUX", "Marker0"]
    data = rows[1:]
    first_samples = np.array([[float(v) for v in r[1:5]] for r in data[:3]]).T
    np.testing.assert_allclose(rec.get_data(units="uV")[:, :3], first_samples, rtol=1e-6)
    marked = [(i, int(r[6])) for i, r in enumerate(data) if r[6] != "0"]
    np.testing.assert_allclose(rec.trials["onset"], [i / 256 for i, _ in marked])
    assert list(rec.trials["label"]) == [{1: "house", 2: "face"}[m] for _, m in marked]
    counts = rec.trials["label"].value_counts()
    assert counts["house"] > 0 and counts["face"] > 0
    faces = rec.trials[rec.trials["label"] == "face"]
    assert set(faces["text"]) == {"a photograph of a face"}
    assert all(Path(p).parent.name == "faces" and Path(p).is_file() for p in faces["image"])
    assert set(faces["image_dir"]) == {str(root / "stimuli" / "faces")}
    assert rec.metadata["image_exact"] is False
    assert {"eeg", "image", "text"} <= set(rec.modalities)


@pytest.mark.realdata
def test_custom_marker_map_and_stimuli(data_root: Path) -> None:
    root = data_root / "eegnb_n170"
    reader = _reader(root, marker_map={2: "face"}, stimulus_dirs=None, trial_text="face #{label}")
    ref = next(r for r in reader.refs() if r.key.startswith("subject10/session1/recording_2018-06-06-15"))
    with pytest.warns(UserWarning, match=r"skipping markers \[1\]"):
        rec = reader.load(ref)
    assert set(rec.trials["label"]) == {"face"} and "image" not in rec.trials
    assert set(rec.trials["text"]) == {"face #face"}
    with pytest.raises(ConfigError, match="no folder"):
        EEGNotebooksReader(root, marker_map={3: "car"})
    with pytest.raises(ConfigError, match="trial_text"):
        EEGNotebooksReader(root, trial_text="{colour}")


def _small_copy(data_root: Path, tmp_path: Path, n_rows: int = 400) -> Path:
    """The first rows of a real file in a one-subject layout under tmp_path."""
    lines = (data_root / "eegnb_n170" / SUBJECT1_FILE).read_text().splitlines()[: n_rows + 1]
    path = tmp_path / "subject7" / "session1" / "small.csv"
    path.parent.mkdir(parents=True)
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.realdata
def test_other_subjects_are_recognised(data_root: Path, tmp_path: Path) -> None:
    _small_copy(data_root, tmp_path)
    assert detect_reader(tmp_path) is EEGNotebooksReader
    reader = open_dataset(tmp_path, stimulus_dirs=None)
    rec = reader.load(reader.refs()[0])
    assert rec.subject == "7" and rec.duration == pytest.approx(400 / 256)


@pytest.mark.realdata
def test_garbage_row(data_root: Path, tmp_path: Path) -> None:
    path = _small_copy(data_root, tmp_path)
    lines = path.read_text().splitlines()
    lines[10] = "149958.2,12.1,oops,3.0,4.0,5.0,0"
    path.write_text("\n".join(lines) + "\n")
    reader = EEGNotebooksReader(tmp_path, stimulus_dirs=None)
    with pytest.raises(DataError, match=r"small\.csv: line 11: non-numeric value 'oops' in column 'AF7'"):
        reader.load(reader.refs()[0])


@pytest.mark.realdata
def test_nan_samples(data_root: Path, tmp_path: Path) -> None:
    path = _small_copy(data_root, tmp_path)
    lines = path.read_text().splitlines()
    lines[20] = "149958.3,,1.0,NaN,4.0,5.0,0"
    path.write_text("\n".join(lines) + "\n")
    reader = EEGNotebooksReader(tmp_path, stimulus_dirs=None)
    with pytest.raises(
        DataError, match=r"small\.csv: 2 NaN/Inf samples in channel\(s\) TP9 \(1\), AF8 \(1\); first at line 21"
    ):
        reader.load(reader.refs()[0])


@pytest.mark.realdata
def test_empty_file_and_wrong_rate(data_root: Path, tmp_path: Path) -> None:
    path = _small_copy(data_root, tmp_path)
    with pytest.raises(DataError, match=r"small\.csv: wrong sampling rate"):
        reader = EEGNotebooksReader(tmp_path, stimulus_dirs=None, sfreq=128)
        reader.load(reader.refs()[0])
    path.write_text("")
    reader = EEGNotebooksReader(tmp_path, stimulus_dirs=None)
    with pytest.raises(DataError, match=r"small\.csv: empty file"):
        reader.load(reader.refs()[0])


def test_missing_stimulus_folder(tmp_path: Path) -> None:
    """Stimuli of the N170 in part (faces, no houses): the missing folder is named."""
    (tmp_path / "stimuli" / "faces").mkdir(parents=True)
    (tmp_path / "stimuli" / "faces" / "f1.jpg").write_bytes(b"\xff\xd8")
    reader = EEGNotebooksReader(tmp_path)
    with pytest.raises(DataError, match=r"stimuli/houses: stimulus folder of class 'house' does not exist"):
        reader.images()


def test_no_stimuli_keeps_every_marker(tmp_path: Path) -> None:
    """A set without stimuli (the visual cueing task) is read without images, and
    each non-zero marker is a label of its own."""
    reader = EEGNotebooksReader(tmp_path)
    assert reader.stimulus_dirs is None and reader.marker_map is None
    assert reader.images() == [] and "image" not in reader.modalities
    assert reader._label_of(11) == "marker 11"


@pytest.mark.realdata
def test_p300_marker_column_and_stimuli(data_root: Path) -> None:
    """The P300 set (older eeg-notebooks) names its marker column ``Marker`` and
    holds ``stimuli/target-*.jpg`` / ``nontarget-*.jpg``: the paradigm follows."""
    root = data_root / "eegnb_p300"
    reader = EEGNotebooksReader(root)
    assert reader.marker_map == {1: "nontarget", 2: "target"}
    assert "P300" in reader.paradigm
    assert {label: len(imgs) for label, imgs in reader.class_images().items()} == {"nontarget": 4, "target": 4}
    rec = reader.load(reader.refs()[0])
    counts = rec.trials["label"].value_counts()
    assert set(counts.index) == {"nontarget", "target"}
    assert 0.08 < counts["target"] / counts.sum() < 0.3  # data README: about 1 in 6
    assert all(Path(p).name.startswith(lab) for p, lab in zip(rec.trials["image"], rec.trials["label"]))


@pytest.mark.realdata
def test_cueing_set_without_stimuli(data_root: Path) -> None:
    root = data_root / "muse_cueing"
    reader = EEGNotebooksReader(root)
    assert len({r.subject for r in reader.refs()}) == 10
    rec = reader.load(reader.refs()[0])
    assert set(rec.trials["label"]) <= {f"marker {c}" for c in (1, 2, 11, 12, 21, 22)}
    assert "image" not in rec.trials


# -------------------------------------------------- other Muse devices' files
def _variant(data_root: Path, tmp_path: Path, header: list[str], n_rows: int = 600) -> tuple[Path, list[list[str]]]:
    """A one-file layout whose CSV has the columns ``header``, filled from the
    first rows of a real N170 file (extra columns get made-up sensor values);
    returns the file and the real rows used."""
    rows = _rows(data_root / "eegnb_n170" / SUBJECT1_FILE)
    real = dict(zip(rows[0], range(len(rows[0]))))
    real["Marker"] = real["stim"] = real["Marker0"]
    body = rows[1 : n_rows + 1]
    out = [header] + [
        [r[real[c]] if c in real else f"{(i % 97) * 1.5:.1f}" for c in header] for i, r in enumerate(body)
    ]
    path = tmp_path / "subject4" / "session1" / "recording.csv"
    path.parent.mkdir(parents=True)
    with open(path, "w", newline="") as fh:
        csv.writer(fh).writerows(out)
    return path, body


@pytest.mark.realdata
@pytest.mark.parametrize(
    ("header", "eeg", "misc"),
    [
        # Muse S / Muse 2 through muselsl with PPG and motion sensors recorded too
        (
            ["timestamps", "TP9", "AF7", "AF8", "TP10", "Right AUX", "PPG1", "PPG2", "ACC_X", "GYRO_Z", "Marker0"],
            ["TP9", "AF7", "AF8", "TP10"],
            ["Right AUX"],
        ),
        # a Muse 2 without the auxiliary input, older marker name
        (["timestamps", "TP9", "AF7", "AF8", "TP10", "Marker"], ["TP9", "AF7", "AF8", "TP10"], []),
        # eeg-notebooks' BrainFlow devices name the marker column "stim"
        (["timestamps", "TP9", "AF7", "AF8", "TP10", "stim"], ["TP9", "AF7", "AF8", "TP10"], []),
        # only some electrodes exported, columns in another order
        (["timestamps", "AF8", "AF7", "Marker0"], ["AF7", "AF8"], []),
    ],
    ids=["muse-s-extra-columns", "no-aux", "brainflow-stim", "two-electrodes"],
)
def test_muse_device_variants(
    data_root: Path, tmp_path: Path, header: list[str], eeg: list[str], misc: list[str]
) -> None:
    _, body = _variant(data_root, tmp_path, header)
    assert detect_reader(tmp_path) is EEGNotebooksReader
    reader = EEGNotebooksReader(tmp_path, stimulus_dirs=None)
    rec = reader.load(reader.refs()[0])
    assert rec.ch_names == eeg and rec.sfreq == 256.0
    assert (rec.signal("misc").ch_names if "misc" in rec.modalities else []) == misc
    column = {name: i for i, name in enumerate(_rows(data_root / "eegnb_n170" / SUBJECT1_FILE)[0])}
    expected = np.array([[float(r[column[ch]]) for r in body] for ch in eeg])
    np.testing.assert_allclose(rec.get_data(units="uV"), expected, rtol=1e-6)
    marked = [i for i, r in enumerate(body) if r[column["Marker0"]] != "0"]
    np.testing.assert_allclose(rec.trials["onset"], [i / 256 for i in marked])
    assert reader.summary()["skipped"] == [] and reader.summary()["trials"] == len(marked)


@pytest.mark.realdata
def test_muse_file_without_eeg_or_marker_is_named(data_root: Path, tmp_path: Path) -> None:
    _variant(data_root, tmp_path, ["timestamps", "PPG1", "Right AUX", "Marker0"])
    other = tmp_path / "other"
    _variant(data_root, other, ["timestamps", "TP9", "AF7", "AF8", "TP10", "Right AUX"])
    reader = EEGNotebooksReader(tmp_path, stimulus_dirs=None)
    with pytest.raises(DataError, match=r"recording\.csv: missing columns: any of TP9/AF7/AF8/TP10"):
        reader.load(reader.refs()[0])
    reader = EEGNotebooksReader(other, stimulus_dirs=None)
    with pytest.raises(DataError, match=r"recording\.csv: missing columns: Marker0 or Marker or stim"):
        reader.load(reader.refs()[0])
