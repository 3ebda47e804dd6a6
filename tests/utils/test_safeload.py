"""Safe loading of pickled containers: data loads, code never runs."""

from __future__ import annotations

import pickle
import pickletools
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
import torch

from brainalign.errors import DataError
from brainalign.utils.safeload import (
    REFUSED,
    load_numpy_pickle,
    load_pickle_safely,
    load_torch_safely,
    restricted_unpickle,
)
from tests.data.layouts import Py2StylePickler, SideEffect


def _globals_named(payload: bytes) -> set[str]:
    """Globals a pickle would call, read from its opcodes without running it."""
    names, strings = set(), []
    for op, arg, _ in pickletools.genops(payload):
        if op.name == "GLOBAL":
            names.add(arg.replace(" ", "."))
        elif op.name in ("SHORT_BINUNICODE", "BINUNICODE", "UNICODE"):
            strings.append(arg)
        elif op.name == "STACK_GLOBAL":
            names.add(".".join(strings[-2:]))
    return names


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    return tmp_path / "side_effect_happened"


# ----------------------------------------------------------------- refusals
def test_pickle_with_side_effect_is_refused(tmp_path, marker):
    path = tmp_path / "evil.pkl"
    payload = pickle.dumps({"x": np.zeros(3), "y": SideEffect(marker)})
    assert any(name.endswith(".mkdir") for name in _globals_named(payload))  # the payload is armed
    path.write_bytes(payload)
    with pytest.raises(DataError) as err:
        load_pickle_safely(path)
    assert str(path) in str(err.value) and REFUSED in str(err.value) and "mkdir" in str(err.value)
    assert not marker.exists()


@pytest.mark.parametrize("legacy", [False, True])
def test_torch_file_with_side_effect_is_refused(tmp_path, marker, legacy):
    path = tmp_path / "evil.pth"
    torch.save(
        {"dataset": [{"eeg": torch.zeros(2, 3)}], "hook": SideEffect(marker)},
        path,
        _use_new_zipfile_serialization=not legacy,
    )
    with pytest.raises(DataError) as err:
        load_torch_safely(path)
    assert str(path) in str(err.value) and REFUSED in str(err.value)
    assert not marker.exists()


def test_object_npy_with_side_effect_is_refused(tmp_path, marker):
    path = tmp_path / "evil.npy"
    np.save(path, np.array([SideEffect(marker), 1.0], dtype=object), allow_pickle=True)
    with pytest.raises(DataError) as err:
        load_numpy_pickle(path)
    assert str(path) in str(err.value) and REFUSED in str(err.value)
    assert not marker.exists()


def test_bare_pickle_named_npy_with_side_effect_is_refused(tmp_path, marker):
    path = tmp_path / "preprocessed_eeg_test.npy"
    path.write_bytes(pickle.dumps({"preprocessed_eeg_data": SideEffect(marker)}, protocol=4))
    with pytest.raises(DataError, match=REFUSED):
        load_numpy_pickle(path)
    assert not marker.exists()


def test_allowlist_is_exact(tmp_path):
    path = tmp_path / "od.pkl"
    path.write_bytes(pickle.dumps(OrderedDict(a=1)))
    assert load_pickle_safely(path) == {"a": 1}
    with open(path, "rb") as fh, pytest.raises(DataError, match="collections.OrderedDict"):
        restricted_unpickle(fh, set(), path)


# ------------------------------------------------------------------ success
def test_np_save_dict_round_trip(tmp_path):
    path = tmp_path / "d.npy"
    data = np.random.default_rng(0).standard_normal((3, 2, 4, 5))
    np.save(path, {"preprocessed_eeg_data": data, "ch_names": ["Pz", "Oz"], "times": np.arange(5) / 100})
    out = load_numpy_pickle(path)
    assert out.shape == () and out.dtype == object
    d = out.item()
    np.testing.assert_array_equal(d["preprocessed_eeg_data"], data)
    assert d["preprocessed_eeg_data"].dtype == np.float64
    assert d["ch_names"] == ["Pz", "Oz"]


def test_plain_npy_needs_no_unpickling(tmp_path):
    path = tmp_path / "a.npy"
    np.save(path, np.arange(6, dtype=np.float32).reshape(2, 3))
    np.testing.assert_array_equal(load_numpy_pickle(path), np.arange(6, dtype=np.float32).reshape(2, 3))


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_numpy_arrays_load_under_every_protocol(tmp_path, protocol):
    path = tmp_path / "p.pkl"
    obj = {
        "x": np.arange(12.0).reshape(3, 4),
        "s": np.float32(1.5),
        "l": [1, "a", (2, 3)],
        "o": np.array([{"k": 1}], dtype=object),
    }
    path.write_bytes(pickle.dumps(obj, protocol=protocol))
    out = load_pickle_safely(path)
    np.testing.assert_array_equal(out["x"], obj["x"])
    assert out["s"] == np.float32(1.5) and out["l"] == [1, "a", (2, 3)] and out["o"][0] == {"k": 1}


def test_python2_numpy_pickle(tmp_path):
    """A Python 2 pickle (8-bit strings, numpy.core globals) loads with bytes keys
    decoded, as ``encoding='latin1'`` does."""
    path = tmp_path / "py2.pkl"
    x = np.random.default_rng(1).standard_normal((2, 14, 32, 1))
    with open(path, "wb") as fh:
        Py2StylePickler(fh).dump({b"x_train": x})
    payload = path.read_bytes()
    assert "numpy.core.multiarray._reconstruct" in _globals_named(payload)
    np.testing.assert_array_equal(load_pickle_safely(path)["x_train"], x)


def test_torch_dict_of_tensors_lists_strings(tmp_path):
    path = tmp_path / "ok.pth"
    obj = {"dataset": [{"eeg": torch.ones(2, 3), "label": 1}], "labels": ["n02389026"]}
    torch.save(obj, path)
    out = load_torch_safely(path)
    assert out["labels"] == ["n02389026"] and torch.equal(out["dataset"][0]["eeg"], torch.ones(2, 3))


# ---------------------------------------------------------- damaged files
@pytest.mark.parametrize(
    "loader,suffix,writer",
    [
        (load_numpy_pickle, ".npy", lambda p: np.save(p, {"a": np.zeros(100)})),
        (load_numpy_pickle, ".npy", lambda p: np.save(p, np.zeros(100))),
        (load_pickle_safely, ".pkl", lambda p: p.write_bytes(pickle.dumps({"a": np.zeros(100)}))),
        (load_torch_safely, ".pth", lambda p: torch.save({"a": torch.zeros(100)}, p)),
        (
            load_torch_safely,
            ".pth",
            lambda p: torch.save({"a": torch.zeros(100)}, p, _use_new_zipfile_serialization=False),
        ),
    ],
)
def test_truncated_and_empty_files(tmp_path, loader, suffix, writer):
    path = tmp_path / f"f{suffix}"
    writer(path)
    full = path.read_bytes()
    path.write_bytes(full[: len(full) // 2])
    with pytest.raises(DataError) as err:
        loader(path)
    assert str(path) in str(err.value)
    path.write_bytes(b"")
    with pytest.raises(DataError, match="empty|truncated"):
        loader(path)


def test_missing_file(tmp_path):
    for loader in (load_numpy_pickle, load_pickle_safely, load_torch_safely):
        with pytest.raises(DataError, match="does not exist"):
            loader(tmp_path / "nope")


def test_not_a_numpy_file(tmp_path):
    path = tmp_path / "x.npy"
    path.write_bytes(b"hello world")
    with pytest.raises(DataError, match="not a .npy"):
        load_numpy_pickle(path)
