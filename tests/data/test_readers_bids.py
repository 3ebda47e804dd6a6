"""BIDS reader on a tiny dataset written here with mne_bids.write_raw_bids
(2 subjects, EEG + EOG, 3 events each, stimuli/ PNGs named by stim_file)."""

from __future__ import annotations

import shutil
from pathlib import Path

import mne
import mne_bids
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from brainalign.data import detect_reader, open_dataset
from brainalign.data.readers.bids import BidsReader
from brainalign.errors import DataError

SFREQ = 100.0
EVENTS = [(1.0, "face", "faces/f1.png"), (3.0, "house", "houses/h1.png"), (5.0, "face", "faces/f2.png")]


def _signal(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, 1e-5, (4, 800))


def _write_dataset(root: Path) -> None:
    for i, sub in enumerate(("01", "02")):
        info = mne.create_info(["Fz", "Cz", "Pz", "EOG1"], SFREQ, ["eeg", "eeg", "eeg", "eog"])
        raw = mne.io.RawArray(_signal(i), info, verbose="error")
        onsets, labels, _ = zip(*EVENTS)
        raw.set_annotations(mne.Annotations(list(onsets), [0.5] * 3, list(labels)))
        bp = mne_bids.BIDSPath(subject=sub, task="view", datatype="eeg", root=root)
        mne_bids.write_raw_bids(raw, bp, allow_preload=True, format="EDF", verbose="error")
        events = bp.copy().update(suffix="events", extension=".tsv").fpath
        table = pd.read_csv(events, sep="\t")
        table["stim_file"] = [stim for _, _, stim in EVENTS]
        table.to_csv(events, sep="\t", index=False)
    participants = pd.read_csv(root / "participants.tsv", sep="\t")
    participants["age"] = [31, "n/a"]
    participants["sex"] = ["F", "M"]
    participants.to_csv(root / "participants.tsv", sep="\t", index=False)
    for _, label, stim in EVENTS:
        path = root / "stimuli" / stim
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (8, 8), (255, 0, 0) if label == "face" else (0, 0, 255)).save(path)


@pytest.fixture(scope="module")
def bids_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("bids") / "tiny_bids"
    _write_dataset(root)
    return root


@pytest.fixture()
def bids_copy(bids_root: Path, tmp_path: Path) -> Path:
    dest = tmp_path / "tiny_bids"
    shutil.copytree(bids_root, dest)
    return dest


def test_detect(bids_root: Path, tmp_path: Path) -> None:
    assert BidsReader.detect(bids_root)
    assert detect_reader(bids_root) is BidsReader
    (tmp_path / "dataset_description.json").write_text("{}")
    assert not BidsReader.detect(tmp_path)  # no sub-* folder


@pytest.mark.realdata
def test_does_not_claim_other_layouts(data_root: Path) -> None:
    for other in ("eegmat", "eegnb_n170", "eegmmidb", "formats", "n400", "wfdb"):
        assert not BidsReader.detect(data_root / other), other


def test_refs_and_summary(bids_root: Path) -> None:
    reader = open_dataset(bids_root)
    assert isinstance(reader, BidsReader)
    refs = reader.refs()
    assert [r.subject for r in refs] == ["01", "02"]
    assert [r.get("task") for r in refs] == ["view", "view"]
    assert refs[0].paths[0] == bids_root / "sub-01" / "eeg" / "sub-01_task-view_eeg.edf"
    assert reader.n_trials(refs) == 6
    summary = reader.summary()
    assert summary["name"] == "tiny_bids" and summary["reader"] == "bids"
    assert (summary["subjects"], summary["recordings"], summary["trials"], summary["images"]) == (2, 2, 6, 3)
    assert summary["modalities"] == ["eeg", "image"]


def test_load_signals_metadata_and_trials(bids_root: Path) -> None:
    reader = BidsReader(bids_root)
    rec = reader.load(reader.refs()[0])
    assert set(rec.signals) == {"eeg", "eog"}
    eeg = rec.signals["eeg"]
    assert eeg.ch_names == ["Fz", "Cz", "Pz"] and eeg.info["sfreq"] == SFREQ
    # EDF stores 16-bit samples: equal to the written volts within quantisation
    np.testing.assert_allclose(eeg.get_data(), _signal(0)[:3], atol=2e-8)
    assert rec.metadata["age"] == 31 and rec.metadata["sex"] == "F" and rec.metadata["task"] == "view"
    trials = rec.trials
    assert list(trials["label"]) == [label for _, label, _ in EVENTS]
    np.testing.assert_allclose(trials["onset"], [onset for onset, _, _ in EVENTS])
    np.testing.assert_allclose(trials["duration"], 0.5)
    assert list(trials["image"]) == [str(bids_root / "stimuli" / stim) for _, _, stim in EVENTS]
    assert Image.open(trials["image"][1]).getpixel((0, 0)) == (0, 0, 255)  # the house image
    assert set(rec.modalities) == {"eeg", "eog", "image"}
    second = reader.load(reader.refs()[1])
    assert second.metadata["age"] is None and second.metadata["sex"] == "M"


def test_missing_image_raises(bids_copy: Path) -> None:
    missing = bids_copy / "stimuli" / "houses" / "h1.png"
    missing.unlink()
    reader = BidsReader(bids_copy)
    with pytest.raises(DataError) as info:
        reader.load(reader.refs()[0])
    assert info.value.path == missing.resolve()


def test_stim_file_outside_stimuli_raises(bids_copy: Path) -> None:
    events = bids_copy / "sub-02" / "eeg" / "sub-02_task-view_events.tsv"
    table = pd.read_csv(events, sep="\t")
    table.loc[0, "stim_file"] = "../participants.tsv"
    table.to_csv(events, sep="\t", index=False)
    reader = BidsReader(bids_copy)
    with pytest.raises(DataError, match="outside"):
        reader.load(reader.refs()[1])


def test_na_stim_file_and_truncated_data(bids_copy: Path) -> None:
    events = bids_copy / "sub-01" / "eeg" / "sub-01_task-view_events.tsv"
    table = pd.read_csv(events, sep="\t")
    table.loc[1, "stim_file"] = "n/a"
    table.to_csv(events, sep="\t", index=False)
    reader = BidsReader(bids_copy)
    rec = reader.load(reader.refs()[0])
    assert rec.trials["image"].isna().tolist() == [False, True, False]
    edf = bids_copy / "sub-02" / "eeg" / "sub-02_task-view_eeg.edf"
    with open(edf, "r+b") as fh:
        fh.truncate(300)
    with pytest.raises(DataError) as info:
        reader.load(reader.refs()[1])
    assert info.value.path == edf
