"""FIF reader: the real N400 epochs file, a small raw FIF written here, and
truncated/corrupt files."""

from __future__ import annotations

import shutil
from pathlib import Path

import mne
import numpy as np
import pytest

from brainalign.data import detect_reader, open_dataset
from brainalign.data.readers.fif import FifReader
from brainalign.errors import DataError

N400 = "n400/subject04-epo.fif"


@pytest.fixture(scope="module")
def n400(data_root: Path):
    reader = FifReader(data_root / "n400")
    return reader, reader.load(reader.refs()[0])


@pytest.mark.realdata
def test_detect_only_fif_folders(data_root: Path) -> None:
    assert FifReader.detect(data_root / "n400")
    for other in ("eegmat", "eegnb_n170", "eegmmidb", "formats", "wfdb"):
        assert not FifReader.detect(data_root / other), other
    assert detect_reader(data_root / "n400") is FifReader


@pytest.mark.realdata
def test_n400_refs_counts_and_summary(data_root: Path) -> None:
    reader = open_dataset(data_root / "n400")
    refs = reader.refs()
    assert [r.subject for r in refs] == ["04"]
    assert refs[0].paths == (data_root / N400,)
    assert reader.n_trials(refs) == 200
    summary = reader.summary()
    assert summary["name"] == "n400"
    assert summary["reader"] == "fif"
    assert (summary["subjects"], summary["recordings"], summary["trials"]) == (1, 1, 200)
    assert set(summary["modalities"]) >= {"eeg", "text"}


@pytest.mark.realdata
def test_n400_recording(n400, data_root: Path) -> None:
    _, rec = n400
    epochs = rec.signals["eeg"]
    assert isinstance(epochs, mne.BaseEpochs)
    assert len(epochs) == 200 and len(epochs.ch_names) == 32 and epochs.info["sfreq"] == 50.0
    assert rec.is_epoched and rec.units == {"eeg": "V"}
    assert set(rec.modalities) == {"eeg", "text"}
    # the signal is the file's, in volts
    direct = mne.read_epochs(data_root / N400, preload=True, verbose="error")
    np.testing.assert_allclose(epochs.get_data(), direct.get_data())
    assert np.abs(direct.get_data()).max() < 1e-3


@pytest.mark.realdata
def test_n400_trials_labels_and_leaky_columns(n400, data_root: Path) -> None:
    _, rec = n400
    trials = rec.trials
    direct = mne.read_epochs(data_root / N400, preload=False, verbose="error")
    assert len(trials) == 200
    assert set(trials["label"]) == {"related", "unrelated"}
    assert (trials["label"] == "related").sum() == 100
    # label follows the event codes: related = 6, unrelated = 7 in this file
    codes = direct.events[:, 2]
    assert list(trials["label"]) == ["related" if c == direct.event_id["related"] else "unrelated" for c in codes]
    # the source's own ``label`` column (event codes) is kept, renamed
    assert (trials["metadata_label"].to_numpy() == codes).all()
    np.testing.assert_allclose(trials["onset"], direct.events[:, 0] / 50.0)
    # FAS and button give the label away: kept, but flagged
    assert rec.metadata["leaky_columns"] == ["FAS", "button"]
    assert ((trials["FAS"] > 0) == (trials["label"] == "related")).mean() > 0.95
    assert {"cue", "association", "reaction-time"} <= set(trials.columns)


@pytest.mark.realdata
def test_n400_text_column(n400, data_root: Path) -> None:
    _, rec = n400
    meta = mne.read_epochs(data_root / N400, preload=False, verbose="error").metadata
    expected = [f"{c} {a}" for c, a in zip(meta["cue"], meta["association"])]
    assert list(rec.trials["text"]) == expected
    assert rec.trials["text"].iloc[0] == "aandoening ziekte"


@pytest.mark.realdata
def test_text_template_parameter(data_root: Path) -> None:
    reader = FifReader(data_root / "n400", text_template="{association} <- {cue}")
    rec = reader.load(reader.refs()[0])
    assert rec.trials["text"].iloc[0] == "ziekte <- aandoening"
    no_text = FifReader(data_root / "n400", text_template="")
    assert "text" not in no_text.load(no_text.refs()[0]).trials
    bad = FifReader(data_root / "n400", text_template="{target}")
    with pytest.raises(DataError, match="target"):
        bad.load(bad.refs()[0])


@pytest.mark.realdata
@pytest.mark.parametrize("keep", [0, 1000, 600_000])
def test_truncated_fif_raises_data_error(data_root: Path, tmp_path: Path, keep: int) -> None:
    folder = tmp_path / "cut"
    folder.mkdir()
    dest = folder / "subject04-epo.fif"
    shutil.copyfile(data_root / N400, dest)
    with open(dest, "r+b") as fh:
        fh.truncate(keep)
    reader = FifReader(folder)
    with pytest.raises(DataError) as info:
        reader.load(reader.refs()[0])
    assert info.value.path == dest
    assert str(dest) in str(info.value)


def _write_raw(folder: Path, name: str, first_samp: int = 0) -> mne.io.RawArray:
    rng = np.random.default_rng(0)
    info = mne.create_info(["Fz", "Cz", "EOG", "STI"], 100.0, ["eeg", "eeg", "eog", "stim"])
    raw = mne.io.RawArray(rng.normal(0, 1e-5, (4, 500)), info, first_samp=first_samp, verbose="error")
    raw.set_annotations(mne.Annotations([0.5, 2.0], [0.1, 0.2], ["face", "house"]))
    raw.save(folder / name, verbose="error")
    return raw


def test_raw_fif_with_annotations(tmp_path: Path) -> None:
    raw = _write_raw(tmp_path, "sub-07_task-x_raw.fif", first_samp=300)
    assert FifReader.detect(tmp_path)
    reader = FifReader(tmp_path)
    (ref,) = reader.refs()
    assert ref.subject == "07"
    assert reader.n_trials([ref]) == 2
    rec = reader.load(ref)
    assert set(rec.signals) == {"eeg", "eog"}  # stim channel left out
    assert rec.signals["eeg"].ch_names == ["Fz", "Cz"]
    np.testing.assert_allclose(rec.signals["eeg"].get_data(), raw.get_data(picks=[0, 1]))
    assert list(rec.trials["label"]) == ["face", "house"]
    # onsets from the first sample, whatever the first_samp offset
    np.testing.assert_allclose(rec.trials["onset"], [0.5, 2.0], atol=1e-6)
    np.testing.assert_allclose(rec.trials["duration"], [0.1, 0.2], atol=1e-6)  # float32 in FIF
    assert "text" not in rec.trials and rec.modalities == ["eeg", "eog"]


def test_nan_samples_raise(tmp_path: Path) -> None:
    info = mne.create_info(["Fz", "Cz"], 100.0, "eeg")
    data = np.zeros((2, 200))
    data[1, 50] = np.nan
    mne.io.RawArray(data, info, verbose="error").save(tmp_path / "bad_raw.fif", verbose="error")
    reader = FifReader(tmp_path)
    assert reader.n_trials(reader.refs()) == 0  # no annotations: no trials
    with pytest.raises(DataError, match="1 NaN/Inf samples in channel\\(s\\) Cz"):
        reader.load(reader.refs()[0])


def test_empty_and_foreign_folders(tmp_path: Path) -> None:
    assert not FifReader.detect(tmp_path)
    (tmp_path / "notes-epo.txt").write_text("x")
    assert not FifReader.detect(tmp_path)
    (tmp_path / "empty-epo.fif").write_bytes(b"")
    reader = FifReader(tmp_path)
    with pytest.raises(DataError, match="empty-epo.fif"):
        reader.n_trials(reader.refs())


@pytest.mark.realdata
def test_label_column_parameter(data_root: Path) -> None:
    reader = FifReader(data_root / "n400", label_column="button")
    rec = reader.load(reader.refs()[0])
    meta = mne.read_epochs(data_root / N400, preload=False, verbose="error").metadata
    assert list(rec.trials["label"]) == list(meta["button"])
    bad = FifReader(data_root / "n400", label_column="nope")
    with pytest.raises(DataError, match="nope"):
        bad.load(bad.refs()[0])


@pytest.mark.realdata
def test_text_template_is_part_of_the_cache_identity(data_root: Path) -> None:
    from brainalign.preprocessing.cache import input_identity

    plain = input_identity(FifReader(data_root / "n400"))
    assert plain == input_identity(FifReader(data_root / "n400"))
    assert plain != input_identity(FifReader(data_root / "n400", text_template="{association} <- {cue}"))
