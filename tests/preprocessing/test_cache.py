"""Window cache: hits, memory mapping, keys, atomicity, repair."""

from __future__ import annotations

import os
from pathlib import Path

import mne
import numpy as np
import pandas as pd
import pytest

from brainalign.config import cache_dir
from brainalign.data.base import Reader, RecordingRef
from brainalign.data.recording import Recording
from brainalign.preprocessing import (
    Filter,
    Pipeline,
    Resample,
    Window,
    cache_key,
    cached_windows,
)

mne.set_log_level("ERROR")
PIPE = Pipeline([Filter(1, 30), Resample(50), Window(2.0, 1.0)])


def write_fif(path: Path, seed: int = 0, seconds: float = 12.0) -> Path:
    data = np.random.default_rng(seed).standard_normal((3, int(100 * seconds))) * 20e-6
    raw = mne.io.RawArray(data, mne.create_info(["Fp1", "Cz", "O1"], 100.0, "eeg"))
    raw.save(path, overwrite=True)
    return path


def load_fif(path: Path, subject: str = "01") -> Recording:
    raw = mne.io.read_raw_fif(path, preload=True)
    trials = pd.DataFrame({"onset": [1.0], "label": ["x"]})
    return Recording(
        {"eeg": raw}, subject=subject, dataset="syn", source=(path,), metadata={"label": "rest"}, trials=trials
    )


class FifReader(Reader):
    """A minimal reader over ``*.fif`` files that counts its loads."""

    name = "test_fif"

    def __init__(self, root, **params):
        super().__init__(root, **params)
        self.loads = 0

    def refs(self) -> list[RecordingRef]:
        return [RecordingRef(key=p.stem, subject=p.stem, paths=(p,)) for p in sorted(self.root.glob("*.fif"))]

    def load(self, ref: RecordingRef) -> Recording:
        self.loads += 1
        return load_fif(ref.paths[0], ref.subject)


def entries(root: Path) -> list[Path]:
    folder = root / "windows"
    return sorted(p for p in folder.iterdir() if not p.name.startswith(".")) if folder.exists() else []


def test_hit_is_identical_and_memory_mapped(tmp_path, monkeypatch):
    rec = load_fif(write_fif(tmp_path / "a_raw.fif"))
    first = cached_windows(rec, PIPE)
    expected = PIPE.transform(rec)
    np.testing.assert_array_equal(first.data, expected.data)
    pd.testing.assert_frame_equal(first.table, expected.table)

    def boom(*args, **kwargs):
        raise AssertionError("a cache hit must not recompute")

    monkeypatch.setattr(Pipeline, "transform", boom)
    hit = cached_windows(rec, PIPE)
    assert isinstance(hit.data, np.memmap) and hit.data.mode == "r"
    np.testing.assert_array_equal(hit.data, expected.data)
    pd.testing.assert_frame_equal(hit.table, expected.table)
    assert (hit.ch_names, hit.sfreq, hit.unit, hit.pipeline) == (
        expected.ch_names,
        expected.sfreq,
        expected.unit,
        PIPE.to_dict(),
    )
    (entry,) = entries(cache_dir())  # default: $BRAINALIGN_CACHE (a temp folder in tests)
    assert sorted(p.name for p in entry.iterdir()) == ["data.npy", "meta.json", "pipeline.yaml", "windows.csv"]
    assert Pipeline.load(entry / "pipeline.yaml").hash() == PIPE.hash()


def test_reader_hit_loads_nothing(tmp_path):
    for i in range(2):
        write_fif(tmp_path / f"s{i}_raw.fif", seed=i)
    reader = FifReader(tmp_path)
    cold = cached_windows(reader, PIPE, tmp_path / "cache", progress=False)
    assert reader.loads == 2 and cold.table["subject"].unique().tolist() == ["s0_raw", "s1_raw"]
    warm = cached_windows(reader, PIPE, tmp_path / "cache")
    assert reader.loads == 2
    np.testing.assert_array_equal(warm.data, cold.data)


def test_key_changes_with_step_parameter_and_file(tmp_path):
    path = write_fif(tmp_path / "a_raw.fif")
    rec = load_fif(path)
    key, _ = cache_key(rec, PIPE)
    assert cache_key(load_fif(path), PIPE)[0] == key
    other = Pipeline([Filter(1, 30), Resample(50), Window(2.0, 0.5)])
    assert cache_key(rec, other)[0] != key
    cached_windows(rec, PIPE, tmp_path / "c")
    assert len(cached_windows(rec, other, tmp_path / "c")) != len(PIPE.transform(rec))
    assert len(entries(tmp_path / "c")) == 2
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # touched: same bytes, new mtime
    assert cache_key(load_fif(path), PIPE)[0] != key


def test_in_memory_recording_is_keyed_by_its_samples():
    def rec(value: float) -> Recording:
        data = np.zeros((2, 500))
        data[0, 0] = value
        raw = mne.io.RawArray(data, mne.create_info(2, 100.0, "eeg"))
        return Recording({"eeg": raw}, subject="01", dataset="syn")

    assert cache_key(rec(1e-6), PIPE)[0] == cache_key(rec(1e-6), PIPE)[0]
    assert cache_key(rec(1e-6), PIPE)[0] != cache_key(rec(2e-6), PIPE)[0]


def test_stale_partial_temp_folder_is_ignored(tmp_path):
    rec = load_fif(write_fif(tmp_path / "a_raw.fif"))
    root = tmp_path / "c"
    key, _ = cache_key(rec, PIPE)
    stale = root / "windows" / f".{key}.abc123.tmp"  # what a killed writer leaves
    stale.mkdir(parents=True)
    np.save(stale / "data.npy", np.zeros((1, 1, 1), np.float32))
    w = cached_windows(rec, PIPE, root)
    np.testing.assert_array_equal(w.data, PIPE.transform(rec).data)
    assert (root / "windows" / key).is_dir()


@pytest.mark.parametrize("damage", ["truncate", "delete_table", "garble_meta"])
def test_corrupt_entry_is_rebuilt(tmp_path, damage, caplog):
    rec = load_fif(write_fif(tmp_path / "a_raw.fif"))
    root = tmp_path / "c"
    good = np.array(cached_windows(rec, PIPE, root).data)
    (entry,) = entries(root)
    if damage == "truncate":
        npy = entry / "data.npy"
        npy.write_bytes(npy.read_bytes()[:-100])
    elif damage == "delete_table":
        (entry / "windows.csv").unlink()
    else:
        (entry / "meta.json").write_text("{not json")
    with caplog.at_level("WARNING", logger="brainalign.preprocessing.cache"):
        again = cached_windows(rec, PIPE, root)
    assert "damaged" in caplog.text
    np.testing.assert_array_equal(again.data, good)
    assert isinstance(again.data, np.memmap)


def test_table_types_survive_the_csv(tmp_path):
    rec = load_fif(write_fif(tmp_path / "a_raw.fif"))
    rec.metadata["label"] = 3  # numeric label
    rec.text = ""  # empty text reads back as missing, like at build time
    fresh = PIPE.transform(rec)
    cached_windows(rec, PIPE, tmp_path / "c")
    hit = cached_windows(rec, PIPE, tmp_path / "c")
    pd.testing.assert_frame_equal(hit.table, fresh.table)
    assert hit.table["label"].dtype == fresh.table["label"].dtype


def test_reader_version_is_part_of_the_key(tmp_path):
    """A reader whose output changed (its ``version`` bumped) never gets the windows
    cached from the older version."""
    from brainalign.data.readers.eegmat import EEGMATReader

    root = tmp_path / "eegmat"
    root.mkdir()
    reader = EEGMATReader(root)
    key = cache_key(reader, PIPE)[0]
    newer = type("NewerEEGMAT", (EEGMATReader,), {"version": EEGMATReader.version + 1})(root)
    assert newer.name == reader.name and cache_key(newer, PIPE)[0] != key
