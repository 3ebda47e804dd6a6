"""Every loader that could meet a pickle, given one that would create a marker
folder when unpickled (``SideEffect``): nothing executes, and the error says why.

The sites already covered elsewhere (not repeated here): the EEGCVPR40 EEG file
and the ThoughtViz ``data.pkl`` through the command line (tests/test_bad_input.py),
THINGS-EEG2 ``.npy`` and EEGCVPR40/ThoughtViz through the readers
(tests/data/test_readers_published.py), the allow-list unpicklers themselves
(tests/utils/test_safeload.py), ``brainalign.load`` and checkpoint ``optim.pt`` /
``rng.pt`` (tests/training/test_load.py). Here: the EEGCVPR40 splits file, the
image tower's weights, precomputed feature files, the text/image embedding cache
and the window cache.
"""

from __future__ import annotations

import hashlib
import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from brainalign.errors import DataError
from brainalign.utils.safeload import REFUSED
from tests.data.layouts import SideEffect, write_eegcvpr40


def _armed(path: Path) -> None:
    """The file really would run code: an unrestricted load creates the marker."""
    assert b"mkdir" in path.read_bytes() or b"mkdir" in _zip_members(path)


def _zip_members(path: Path) -> bytes:
    import zipfile

    if not zipfile.is_zipfile(path):
        return b""
    with zipfile.ZipFile(path) as zf:
        return b"".join(zf.read(n) for n in zf.namelist() if n.endswith(".pkl"))


def test_control_unrestricted_loading_runs_the_payload(tmp_path: Path) -> None:
    """What the refusals below prevent: plain pickle.load creates the marker."""
    marker = tmp_path / "marker"
    path = tmp_path / "x.pkl"
    path.write_bytes(pickle.dumps({"x": SideEffect(marker)}))
    pickle.loads(path.read_bytes())
    assert marker.is_dir()


def test_eegcvpr40_splits_file(tmp_path: Path) -> None:
    from brainalign.data.readers.eegcvpr40 import EEGCVPR40Reader

    write_eegcvpr40(tmp_path)
    marker = tmp_path / "marker"
    splits = tmp_path / "block_splits_by_image_all.pth"
    torch.save({"splits": [{"train": [0], "val": [1], "test": [2]}], "hook": SideEffect(marker)}, splits)
    _armed(splits)
    reader = EEGCVPR40Reader(tmp_path, part="train")
    with pytest.raises(DataError, match=rf"{splits}: .*{REFUSED}"):
        reader.load(reader.refs()[0])
    assert not marker.exists()


def test_image_tower_weights(tmp_path: Path) -> None:
    pytest.importorskip("efficientnet_lite_pytorch")
    from brainalign.models.towers import ImageTower

    marker = tmp_path / "marker"
    weights = tmp_path / "efficientnet_lite0.pth"
    torch.save({"_conv_stem.weight": torch.zeros(1), "hook": SideEffect(marker)}, weights)
    _armed(weights)
    with pytest.raises(DataError, match=rf"{weights}: not a plain tensor checkpoint .*never unpickled"):
        ImageTower(weights)
    assert not marker.exists()


def test_precomputed_feature_file(tmp_path: Path) -> None:
    from brainalign.models.towers import PrecomputedFeatures

    marker = tmp_path / "marker"
    features = tmp_path / "clip_features.npy"
    np.save(features, np.array([SideEffect(marker), np.zeros(4)], dtype=object), allow_pickle=True)
    _armed(features)
    with pytest.raises(DataError, match=rf"{features}: not a plain \.npy array \(pickled objects are refused\)"):
        PrecomputedFeatures(features)
    assert not marker.exists()


def test_embedding_cache_entry(tmp_path: Path) -> None:
    """A planted cache file is never unpickled: it reads as a miss and is replaced."""
    from brainalign.models.embedding_cache import EmbeddingCache
    from brainalign.models.towers import Tower

    class Lengths(Tower):
        name, dim, input_kind = "lengths", 3, "text"

        def __init__(self) -> None:
            super().__init__(frozen=True, lr_factor=0.0)
            self.calls = 0

        def encode(self, items):
            self.calls += 1
            return torch.tensor([[len(t), 1.0, 2.0] for t in items])

        def _weights_digest(self) -> str:
            return "none"

        def _settings(self) -> dict:
            return {}

    tower = Lengths()
    cache = EmbeddingCache(tower, tmp_path / "emb")
    marker = tmp_path / "marker"
    planted = cache.dir / f"{cache.key('hello')}.npy"
    planted.parent.mkdir(parents=True)
    np.save(planted, np.array([SideEffect(marker)], dtype=object), allow_pickle=True)
    _armed(planted)
    out = cache.encode(["hello"])
    assert out.tolist() == [[5.0, 1.0, 2.0]] and tower.calls == 1
    assert not marker.exists()
    assert np.load(planted, allow_pickle=False).tolist() == [5.0, 1.0, 2.0]  # replaced by a plain array


@pytest.mark.parametrize("forged_digest", [False, True], ids=["digest-stale", "digest-forged"])
def test_window_cache_entry(tmp_path: Path, forged_digest: bool) -> None:
    """A window-cache ``data.npy`` replaced by a pickled object array: refused even
    when the attacker also rewrote the recorded digest, and rebuilt."""
    from brainalign.preprocessing import cached_windows
    from tests.preprocessing.test_cache import PIPE, entries, load_fif, write_fif

    rec = load_fif(write_fif(tmp_path / "a_raw.fif"))
    root = tmp_path / "cache"
    good = np.array(cached_windows(rec, PIPE, root).data)
    (entry,) = entries(root)
    marker = tmp_path / "marker"
    np.save(entry / "data.npy", np.array([SideEffect(marker)], dtype=object), allow_pickle=True)
    _armed(entry / "data.npy")
    if forged_digest:
        meta = json.loads((entry / "meta.json").read_text())
        meta["sha256"]["data.npy"] = hashlib.sha256((entry / "data.npy").read_bytes()).hexdigest()
        (entry / "meta.json").write_text(json.dumps(meta))
    again = cached_windows(rec, PIPE, root)
    np.testing.assert_array_equal(again.data, good)
    assert not marker.exists()
