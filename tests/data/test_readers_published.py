"""Readers of the published benchmark layouts (THINGS-EEG2, EEGCVPR40, ThoughtViz,
Kaneshiro object set, TUAB/TUEG), tested on tiny folders written in exactly those
layouts by :mod:`tests.data.layouts`."""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from brainalign.data import detect_reader, open_dataset
from brainalign.data.readers.eegcvpr40 import CLASS_NAMES, EEGCVPR40Reader
from brainalign.data.readers.kaneshiro import CATEGORIES, KaneshiroReader
from brainalign.data.readers.things_eeg2 import ThingsEEG2Reader
from brainalign.data.readers.thoughtviz import CHANNELS, ThoughtVizReader
from brainalign.data.readers.tuab import TUABReader
from brainalign.errors import ConfigError, DataError
from brainalign.utils.safeload import REFUSED
from tests.data.layouts import (
    THINGS_CHANNELS,
    THOUGHTVIZ_CLASSES,
    SideEffect,
    write_eegcvpr40,
    write_kaneshiro,
    write_things_eeg2,
    write_thoughtviz,
    write_tuab,
)

READERS = (ThingsEEG2Reader, EEGCVPR40Reader, ThoughtVizReader, KaneshiroReader, TUABReader)


@pytest.fixture(scope="module")
def layouts(tmp_path_factory) -> dict[str, Path]:
    """One fixture folder per layout (read-only for the tests that share it)."""
    base = tmp_path_factory.mktemp("layouts")
    write_things_eeg2(base / "things_eeg2")
    write_eegcvpr40(base / "eegcvpr40")
    write_thoughtviz(base / "thoughtviz")
    write_kaneshiro(base / "kaneshiro")
    write_tuab(base / "tuab")
    return {p.name: p for p in base.iterdir()}


@pytest.mark.parametrize("reader", READERS, ids=lambda r: r.name)
def test_detect_own_layout_only(layouts, reader):
    for name, root in layouts.items():
        assert reader.detect(root) is (name == reader.name), (reader.name, name)
    assert detect_reader(layouts[reader.name]) is reader


@pytest.mark.realdata
@pytest.mark.parametrize("reader", READERS, ids=lambda r: r.name)
def test_real_folders_are_not_claimed(data_root, reader):
    for folder in [data_root, *sorted(p for p in data_root.iterdir() if p.is_dir())]:
        assert not reader.detect(folder), folder


def _mutable_copy(layouts: dict[str, Path], name: str, tmp_path: Path) -> Path:
    return Path(shutil.copytree(layouts[name], tmp_path / name))


# ------------------------------------------------------------- THINGS-EEG2
def test_things_training(tmp_path):
    w = write_things_eeg2(tmp_path, n_subjects=2, n_train_concepts=3, imgs_per_concept=2)
    reader = open_dataset(tmp_path)
    assert isinstance(reader, ThingsEEG2Reader)
    refs = reader.refs()
    assert [r.subject for r in refs] == ["01", "02"]
    rec = reader.load(refs[1])
    data = w.arrays["sub-02/training"]  # 6 images x 4 reps x 17 x 100
    assert rec.n_trials == 24 and rec.ch_names == THINGS_CHANNELS and rec.sfreq == pytest.approx(100)
    assert rec.eeg.tmin == pytest.approx(-0.2) and rec.units["eeg"] == "a.u."
    got = rec.get_data()
    np.testing.assert_allclose(got[4 * 3 + 2], data[3, 2], rtol=1e-6)  # image 3, repetition 2
    # image order: concept folders sorted, then files sorted
    expected = sorted(w.images, key=lambda p: (p.parent.name, p.name))
    assert rec.trials["image"].iloc[::4].tolist() == [str(p) for p in expected]
    assert rec.trials["label"].iloc[::4].tolist() == ["aardvark"] * 2 + ["abacus"] * 2 + ["accordion"] * 2
    assert rec.trials["repetition"].tolist()[:5] == [0, 1, 2, 3, 0]
    assert rec.trials["onset"].isna().all()
    assert reader.images() == expected
    assert reader.n_trials(refs) == 48


def test_things_test_split_averaged_and_text(tmp_path):
    w = write_things_eeg2(tmp_path, n_subjects=1, n_test=2, image_parent="image_set")
    reader = ThingsEEG2Reader(tmp_path, split="test", average_repetitions=True)
    rec = reader.load(reader.refs()[0])
    assert rec.n_trials == 2
    np.testing.assert_allclose(rec.get_data()[1], w.arrays["sub-01/test"][1].mean(axis=0), rtol=1e-6)
    assert rec.trials["text"].tolist() == ["aircraft carrier", "antelope"]
    assert rec.trials["label"].tolist() == ["aircraft_carrier", "antelope"]
    assert rec.trials["image"].tolist() == [str(p) for p in w.extra["test_images"]]
    full = ThingsEEG2Reader(tmp_path, split="test")
    assert full.n_trials(full.refs()) == 160  # 2 images x 80 repetitions


def test_things_without_images_labels_conditions(tmp_path):
    write_things_eeg2(tmp_path, n_subjects=1)
    shutil.rmtree(tmp_path / "training_images")
    rec = ThingsEEG2Reader(tmp_path).load(ThingsEEG2Reader(tmp_path).refs()[0])
    assert rec.trials["label"].tolist()[::4] == list(range(6)) and rec.trials["image"].isna().all()


def test_things_bad_input(tmp_path):
    write_things_eeg2(tmp_path, n_subjects=1)
    reader = ThingsEEG2Reader(tmp_path)
    ref = reader.refs()[0]
    path = ref.paths[0]
    # NaN samples
    np.save(
        path,
        {
            "preprocessed_eeg_data": np.full((6, 4, 17, 100), np.nan),
            "ch_names": THINGS_CHANNELS,
            "times": np.arange(100) / 100,
        },
    )
    with pytest.raises(DataError, match="NaN"):
        reader.load(ref)
    # pickled code
    np.save(path, {"preprocessed_eeg_data": SideEffect(tmp_path / "marker")}, allow_pickle=True)
    with pytest.raises(DataError, match=REFUSED):
        reader.load(ref)
    assert not (tmp_path / "marker").exists()
    # truncated file
    write_things_eeg2(tmp_path, n_subjects=1)
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(DataError) as err:
        reader.load(ref)
    assert str(path) in str(err.value)
    # a missing image breaks the image <-> EEG row correspondence
    write_things_eeg2(tmp_path, n_subjects=1)
    next((tmp_path / "training_images").rglob("*.jpg")).unlink()
    with pytest.raises(DataError, match="5 images but preprocessed_eeg_training.npy holds 6"):
        reader.load(ref)
    with pytest.raises(ConfigError):
        ThingsEEG2Reader(tmp_path, split="val")


def test_things_bare_pickle_variant(tmp_path):
    """Some pipelines (NICE-EEG) write the same dict with pickle.dump under the .npy name."""
    w = write_things_eeg2(tmp_path, n_subjects=1)
    path = tmp_path / "sub-01" / "preprocessed_eeg_training.npy"
    data = w.arrays["sub-01/training"]
    path.write_bytes(
        pickle.dumps(
            {"preprocessed_eeg_data": data, "ch_names": THINGS_CHANNELS, "times": w.extra["times"]}, protocol=4
        )
    )
    rec = ThingsEEG2Reader(tmp_path).load(ThingsEEG2Reader(tmp_path).refs()[0])
    np.testing.assert_allclose(rec.get_data()[0], data[0, 0], rtol=1e-6)


# --------------------------------------------------------------- EEGCVPR40
def test_eegcvpr40_all_trials(layouts):
    reader = open_dataset(layouts["eegcvpr40"])
    assert isinstance(reader, EEGCVPR40Reader)
    w_dataset = torch.load(layouts["eegcvpr40"] / "eeg_5_95_std.pth", weights_only=True)["dataset"]
    rec = reader.load(reader.refs()[0])
    long = [i for i, d in enumerate(w_dataset) if d["eeg"].shape[1] >= 460]
    assert len(long) == len(w_dataset) - 1 and rec.n_trials == len(long)
    assert rec.trials["index"].tolist() == long and rec.metadata["dropped_short_trials"] == 1
    x = rec.get_data()
    assert x.shape == (len(long), 128, 440) and rec.eeg.tmin == pytest.approx(0.02) and rec.sfreq == 1000
    np.testing.assert_allclose(x[3], w_dataset[long[3]]["eeg"][:, 20:460].numpy(), rtol=1e-6)
    first = w_dataset[long[0]]
    labels = torch.load(layouts["eegcvpr40"] / "eeg_5_95_std.pth", weights_only=True)["labels"]
    images = torch.load(layouts["eegcvpr40"] / "eeg_5_95_std.pth", weights_only=True)["images"]
    wnid = labels[first["label"]]
    assert rec.trials["label"].iloc[0] == wnid and rec.trials["text"].iloc[0] == CLASS_NAMES[wnid]
    name = images[first["image"]]
    assert rec.trials["image"].iloc[0] == str(layouts["eegcvpr40"] / "images" / wnid / f"{name}.JPEG")
    assert set(rec.trials["subject"]) == {1, 2}
    assert reader.n_trials(reader.refs()) == len(long) and len(reader.images()) == 6


def test_eegcvpr40_published_split_and_subject(tmp_path):
    w = write_eegcvpr40(tmp_path, short_trials=(0, 7), legacy_format=True)
    reader = EEGCVPR40Reader(tmp_path, split=1, part="test", subject=2)
    expected_test = [i for i in w.extra["splits"][1]["test"] if i not in (0, 7)]
    assert reader.published_split("test", 1) == expected_test
    assert reader.published_split("train", 0) == [i for i in w.extra["splits"][0]["train"] if i not in (0, 7)]
    rec = reader.load(reader.refs()[0])
    expected = [i for i in expected_test if w.arrays["dataset"][i]["subject"] == 2]
    assert rec.trials["index"].tolist() == expected and (rec.trials["subject"] == 2).all()
    assert reader.refs()[0].subject == "2"
    with pytest.raises(DataError, match="split index 5 out of range"):
        reader.published_split("val", 5)
    with pytest.raises(ConfigError):
        EEGCVPR40Reader(tmp_path, part="validation")


def test_eegcvpr40_without_images_and_missing_image(tmp_path):
    write_eegcvpr40(tmp_path, with_images=False)
    rec = EEGCVPR40Reader(tmp_path).load(EEGCVPR40Reader(tmp_path).refs()[0])
    assert rec.trials["image"].isna().all() and rec.trials["image_name"].notna().all()
    w = write_eegcvpr40(tmp_path / "with")
    w.images[2].unlink()
    reader = EEGCVPR40Reader(tmp_path / "with")
    with pytest.raises(DataError) as err:
        reader.load(reader.refs()[0])
    assert str(w.images[2]) in str(err.value)


def test_eegcvpr40_unsafe_and_truncated(tmp_path):
    write_eegcvpr40(tmp_path)
    path = tmp_path / "eeg_5_95_std.pth"
    marker = tmp_path / "marker"
    torch.save({"dataset": [], "labels": [], "images": [], "x": SideEffect(marker)}, path)
    with pytest.raises(DataError, match=f"{path}.*{REFUSED}"):
        EEGCVPR40Reader(tmp_path).load(EEGCVPR40Reader(tmp_path).refs()[0])
    assert not marker.exists()
    write_eegcvpr40(tmp_path)
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(DataError, match="truncated"):
        EEGCVPR40Reader(tmp_path).load(EEGCVPR40Reader(tmp_path).refs()[0])


# --------------------------------------------------------------- ThoughtViz
def test_thoughtviz(tmp_path):
    w = write_thoughtviz(tmp_path, subsets=("image", "digit"), n_train=6, n_test=4)
    reader = open_dataset(tmp_path)
    assert isinstance(reader, ThoughtVizReader)
    assert [r.key for r in reader.refs()] == ["digit", "image"]
    rec = reader.load(reader.refs()[1])
    arrays = w.arrays["image"]
    assert rec.n_trials == 10 and rec.ch_names == list(CHANNELS) and rec.sfreq == 128
    assert rec.get_data().shape == (10, 14, 32)
    np.testing.assert_allclose(rec.get_data()[7], arrays["x_test"][1, :, :, 0], rtol=1e-6)
    classes = np.concatenate([arrays["y_train"], arrays["y_test"]]).argmax(1)
    assert rec.trials["label"].tolist() == [THOUGHTVIZ_CLASSES["image"][c] for c in classes]
    assert rec.trials["split"].tolist() == ["train"] * 6 + ["test"] * 4
    assert rec.trials["image"].isna().all()
    assert reader.n_trials(reader.refs()) == 20
    by_class = reader.class_images("image")
    assert sorted(by_class) == ["Apple", "Car", "Dog"] and len(by_class["Car"]) == 2
    assert sorted(reader.images()) == sorted(w.images)


def test_thoughtviz_bad_input(tmp_path):
    write_thoughtviz(tmp_path, subsets=("char",))
    path = tmp_path / "eeg" / "char" / "data.pkl"
    reader = ThoughtVizReader(tmp_path)
    ref = reader.refs()[0]
    marker = tmp_path / "marker"
    path.write_bytes(pickle.dumps({"x_train": SideEffect(marker)}, protocol=2))
    with pytest.raises(DataError, match=REFUSED):
        reader.load(ref)
    assert not marker.exists()
    path.write_bytes(
        pickle.dumps(
            {
                "x_train": np.zeros((3, 8, 32, 1)),
                "y_train": np.eye(10)[:3],
                "x_test": np.zeros((1, 14, 32, 1)),
                "y_test": np.eye(10)[:1],
            }
        )
    )
    with pytest.raises(DataError, match="x_train should be N x 14"):
        reader.load(ref)
    write_thoughtviz(tmp_path, subsets=("char",))
    path.write_bytes(path.read_bytes()[:-200])
    with pytest.raises(DataError) as err:
        reader.load(ref)
    assert str(path) in str(err.value)


# ---------------------------------------------------------------- Kaneshiro
@pytest.mark.parametrize(
    "variant,mat73", [("original", False), ("original", True), ("matclassrsa", True), ("matclassrsa", False)]
)
def test_kaneshiro(tmp_path, variant, mat73):
    w = write_kaneshiro(tmp_path, n_subjects=2, n_trials=12, variant=variant, mat73=mat73)
    reader = open_dataset(tmp_path)
    assert isinstance(reader, KaneshiroReader)
    refs = reader.refs()
    assert [r.subject for r in refs] == ["01", "02"]
    rec = reader.load(refs[1])
    written = w.arrays[refs[1].paths[0].name]
    assert rec.n_trials == 12 and len(rec.ch_names) == 124 and rec.sfreq == 62.5
    assert rec.eeg.tmin == 0.0 and rec.units["eeg"] == "V"
    np.testing.assert_allclose(rec.get_data(units="uV")[5], written["x"][:, :, 5], rtol=1e-5)
    assert rec.trials["category"].tolist() == written["category"].tolist()
    assert rec.trials["label"].tolist() == [CATEGORIES[c - 1] for c in written["category"]]
    assert rec.trials["image"].tolist() == [
        str(tmp_path / "stimuli" / f"stimulus{e:02d}.png") for e in written["exemplar"]
    ]
    assert rec.eeg.get_montage() is not None
    assert reader.n_trials(refs) == 24 and len(reader.images()) == 72
    if variant == "original":
        assert rec.trials["block"].tolist() == [1] * 4 + [2] * 4 + [3] * 4


def test_kaneshiro_bad_input(tmp_path):
    w = write_kaneshiro(tmp_path, n_subjects=1)
    reader = KaneshiroReader(tmp_path)
    ref = reader.refs()[0]
    exemplar = int(w.arrays["S1.mat"]["exemplar"][0])
    (tmp_path / "stimuli" / f"stimulus{exemplar:02d}.png").unlink()
    with pytest.raises(DataError, match=f"stimuli: no image for exemplar.*{exemplar}"):
        reader.load(ref)
    path = ref.paths[0]
    path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(DataError) as err:
        reader.load(ref)
    assert str(path) in str(err.value)


# --------------------------------------------------------------------- TUAB
@pytest.mark.parametrize("layout", ["v3", "v2", "tueg"])
def test_tuab_layouts(tmp_path, layout):
    w = write_tuab(tmp_path, layout=layout)
    reader = open_dataset(tmp_path)
    assert isinstance(reader, TUABReader)
    refs = reader.refs()
    assert {r.key for r in refs} == set(w.extra["files"])
    for ref in refs:
        path, label, split = w.extra["files"][ref.key]
        assert ref.paths == (path,) and ref.get("label") == label and ref.get("split") == split
        assert ref.subject == ref.key.split("_")[0] and ref.session == ref.key.split("_")[1]
        rec = reader.load(ref)
        assert rec.ch_names == ["Fp1", "Fp2", "Cz", "T3", "O1"]
        assert rec.signal("ecg").ch_names == ["EKG1"] and rec.metadata["dropped_channels"] == ["PHOTIC"]
        written = w.arrays[ref.key]
        # EDF stores 16-bit integers over +-1000 uV: quantisation step ~0.03 uV
        np.testing.assert_allclose(rec.signal("eeg").get_data(), written[:5], atol=0.05e-6)
        np.testing.assert_allclose(rec.signal("ecg").get_data(), written[5:6], atol=0.05e-6)
        assert rec.text == w.extra["reports"][ref.key] and rec.trials["text"].iloc[0] == rec.text
        assert rec.trials["label"].iloc[0] == label and rec.metadata["split"] == split
        assert rec.metadata["sex"] == "F" and rec.metadata["age"] == 23
        assert rec.trials["duration"].iloc[0] == pytest.approx(4.0)


def test_tuab_without_reports_and_truncated(tmp_path):
    write_tuab(tmp_path, layout="v3", reports=False)
    reader = TUABReader(tmp_path)
    ref = reader.refs()[0]
    rec = reader.load(ref)
    assert rec.text is None and "text" not in rec.modalities
    path = ref.paths[0]
    full = path.read_bytes()
    path.write_bytes(full[: int(len(full) * 0.7)])  # data records missing: MNE alone only warns
    with pytest.raises(DataError, match="truncated EDF") as err:
        reader.load(ref)
    assert str(path) in str(err.value)
    path.write_bytes(full[:400])  # header cut
    with pytest.raises(DataError, match=str(path)):
        reader.load(ref)
