"""Fuzzing the readers with real files (hypothesis).

Every reader that reads the shared recordings gets copies of real files (trimmed
so that a case takes a fraction of a second) with random truncation, byte
corruption, zero length, NaN/Inf injected where the format can carry it (sample
values, header scale fields) and values of the wrong type or width. The reader must
list and load the folder, or raise the project's own one-line error: never another
exception from a dependency, never a hang (see tests/fuzzing.py), and never a
recording with NaN/Inf samples.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mne
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from brainalign.data import open_dataset
from tests.fuzzing import FUZZ, KINDS, NONFINITE_TEXT, bounded, corruption, truncation

pytestmark = pytest.mark.realdata


# ------------------------------------------------------------------ EDF bytes
def _edf_layout(data: bytes) -> dict[str, int]:
    n = int(data[252:256])
    header = 256 + 256 * n
    start = 256 + 216 * n
    samples = [int(data[start + 8 * i : start + 8 * i + 8]) for i in range(n)]
    return {"n": n, "header": header, "record": 2 * sum(samples)}


def short_edf(data: bytes, n_records: int) -> bytes:
    """The first ``n_records`` data records of an EDF file, header updated."""
    lay = _edf_layout(data)
    head = bytearray(data[: lay["header"]])
    head[236:244] = f"{n_records:<8}".encode()
    return bytes(head) + data[lay["header"] : lay["header"] + n_records * lay["record"]]


def _set_field(data: bytes, offset: int, text: str) -> bytes:
    out = bytearray(data)
    out[offset : offset + 8] = f"{text:<8}"[:8].encode("latin-1")
    return bytes(out)


def edf_nonfinite(draw: st.DrawFn, name: str, data: bytes) -> bytes:
    """A NaN/Inf physical minimum or maximum of one signal (the scale of its samples)."""
    n = _edf_layout(data)["n"]
    i = draw(st.integers(0, n - 1))
    field_start = draw(st.sampled_from([104, 112]))  # physical min, physical max
    return _set_field(data, 256 + field_start * n + 8 * i, draw(NONFINITE_TEXT))


def edf_wrong_dtype(draw: st.DrawFn, name: str, data: bytes) -> bytes:
    """Samples stored as float32 or 24-bit (BDF width) under an EDF header, or a
    digital range field that is not an integer."""
    lay = _edf_layout(data)
    how = draw(st.sampled_from(["float32", "int24", "digital-text"]))
    head, body = data[: lay["header"]], np.frombuffer(data[lay["header"] :], dtype="<i2")
    if how == "float32":
        return head + body.astype("<f4").tobytes()
    if how == "int24":
        wide = np.zeros((len(body), 3), np.uint8)
        wide[:, :2] = body.view(np.uint8).reshape(-1, 2)
        return head + wide.tobytes()
    i = draw(st.integers(0, lay["n"] - 1))
    return _set_field(
        data,
        256 + draw(st.sampled_from([120, 128])) * lay["n"] + 8 * i,
        draw(st.sampled_from(["abc", "1.5", "", "99999999", "-"])),
    )


# ------------------------------------------------------------------ CSV text
def csv_nonfinite(draw: st.DrawFn, name: str, data: bytes) -> bytes:
    lines = data.decode().splitlines()
    for _ in range(draw(st.integers(1, 3))):
        row = draw(st.integers(1, len(lines) - 1))
        fields = lines[row].split(",")
        fields[draw(st.integers(0, len(fields) - 1))] = draw(NONFINITE_TEXT)
        lines[row] = ",".join(fields)
    return ("\n".join(lines) + "\n").encode()


def csv_wrong_dtype(draw: st.DrawFn, name: str, data: bytes) -> bytes:
    """One column's values replaced by text, booleans, hex or complex numbers."""
    lines = data.decode().splitlines()
    width = len(lines[0].split(","))
    col = draw(st.integers(0, width - 1))
    value = draw(st.sampled_from(["abc", "True", "0x1F", "1+2j", "", "1,5", '"3"', "1e5e5"]))
    rows = draw(st.sampled_from(["all", "one"]))
    chosen = range(1, len(lines)) if rows == "all" else [draw(st.integers(1, len(lines) - 1))]
    for row in chosen:
        fields = lines[row].split(",")
        fields[col] = value
        lines[row] = ",".join(fields)
    return ("\n".join(lines) + "\n").encode()


# -------------------------------------------------------------------- WFDB
def wfdb_nonfinite(draw: st.DrawFn, name: str, data: bytes) -> bytes:
    """A NaN/Inf gain or sampling rate in the header (the samples are integers)."""
    if not name.endswith(".hea"):
        return data
    lines = data.decode().splitlines()
    row = draw(st.integers(0, 4))
    fields = lines[row].split()
    bad = draw(NONFINITE_TEXT)
    if row == 0:
        fields[2] = bad  # sampling frequency
    else:
        fields[2] = f"{bad}/mV"  # gain
    lines[row] = " ".join(fields)
    return ("\n".join(lines) + "\n").encode()


def wfdb_wrong_dtype(draw: st.DrawFn, name: str, data: bytes) -> bytes:
    """The header declares another sample format than the data file's 16-bit."""
    if not name.endswith(".hea"):
        return data
    fmt = draw(st.sampled_from(["212", "8", "32", "80", "310", "24", "x16", "516"]))
    lines = data.decode().splitlines()
    lines[1:5] = [" ".join([ln.split()[0], fmt, *ln.split()[2:]]) for ln in lines[1:5]]
    return ("\n".join(lines) + "\n").encode()


# ------------------------------------------------------------ float32 files
def f32_nonfinite(draw: st.DrawFn, name: str, data: bytes) -> bytes:
    """NaN/Inf float32 values at aligned offsets of a raw float32 sample file."""
    if not name.endswith(".fdt"):
        return data
    values = np.frombuffer(data, "<f4").copy()
    for index in draw(st.lists(st.integers(0, len(values) - 1), min_size=1, max_size=5)):
        values[index] = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
    return values.tobytes()


def f32_wrong_dtype(draw: st.DrawFn, name: str, data: bytes) -> bytes:
    if not name.endswith(".fdt"):
        return data
    values = np.frombuffer(data, "<f4")
    return values.astype(draw(st.sampled_from(["<f8", "<i2", "<f2", ">f4"]))).tobytes()


# --------------------------------------------------------------------- targets
@dataclass(repr=False)
class Target:
    name: str
    reader: str
    files: dict[str, bytes]
    mutable: tuple[str, ...]
    nonfinite: Callable[[st.DrawFn, str, bytes], bytes]
    dtype: Callable[[st.DrawFn, str, bytes], bytes]
    params: dict[str, Any] = field(default_factory=dict)
    #: the files ``nonfinite`` and ``dtype`` apply to (default: every mutable file)
    typed: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return f"Target({self.name!r})"

    def write(self, root: Path, changed: dict[str, bytes]) -> None:
        for rel, content in {**self.files, **changed}.items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)


def _fif_bytes(epochs: mne.BaseEpochs | mne.Evoked | mne.io.BaseRaw, suffix: str) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"x{suffix}"
        epochs.save(path, verbose="error")
        return path.read_bytes()


@pytest.fixture(scope="module")
def targets(data_root: Path) -> dict[str, Target]:
    eegmat_info = (data_root / "eegmat" / "subject-info.csv").read_text().splitlines()
    muse = (data_root / "eegnb_n170" / "subject1" / "session1" / "data_2017-09-13-15.30.01.csv").read_text()
    epochs = mne.read_epochs(data_root / "n400" / "subject04-epo.fif", preload=True, verbose="error")[:12]

    def fif_nonfinite(draw: st.DrawFn, name: str, data: bytes) -> bytes:
        copy = epochs.copy()
        for _ in range(draw(st.integers(1, 4))):
            e, c, t = (draw(st.integers(0, n - 1)) for n in copy._data.shape)
            copy._data[e, c, t] = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
        return _fif_bytes(copy, "-epo.fif")

    def fif_wrong_kind(draw: st.DrawFn, name: str, data: bytes) -> bytes:
        kind = draw(st.sampled_from(["evoked", "raw", "complex-data"]))
        if kind == "evoked":
            return _fif_bytes(epochs.average(), "-ave.fif")
        if kind == "raw":
            flat = np.concatenate(list(epochs.get_data()), axis=1)
            return _fif_bytes(mne.io.RawArray(flat, epochs.info, verbose="error"), "_raw.fif")
        copy = epochs.copy()
        copy._data = copy._data * (1 + 1j)  # complex samples: FIF can store them, EEG is real
        return _fif_bytes(copy, "-epo.fif")

    return {
        "eegmat": Target(
            "eegmat",
            "eegmat",
            {
                "Subject05_1.edf": short_edf((data_root / "eegmat" / "Subject05_1.edf").read_bytes(), 4),
                "subject-info.csv": "\n".join([eegmat_info[0], eegmat_info[6]]).encode() + b"\n",
            },
            ("Subject05_1.edf", "subject-info.csv"),
            edf_nonfinite,
            edf_wrong_dtype,
            typed=("Subject05_1.edf",),
        ),
        "eegnb": Target(
            "eegnb",
            "eegnb",
            {"subject1/session1/rec.csv": ("\n".join(muse.splitlines()[:769]) + "\n").encode()},
            ("subject1/session1/rec.csv",),
            csv_nonfinite,
            csv_wrong_dtype,
            {"stimulus_dirs": None},
        ),
        "eegmmidb": Target(
            "eegmmidb",
            "eegmmidb",
            {
                "S001R03.edf": short_edf((data_root / "eegmmidb" / "S001" / "S001R03.edf").read_bytes(), 10),
                "S001R03.edf.event": (data_root / "eegmmidb" / "S001" / "S001R03.edf.event").read_bytes(),
            },
            ("S001R03.edf", "S001R03.edf.event"),
            edf_nonfinite,
            edf_wrong_dtype,
            typed=("S001R03.edf",),
        ),
        "fif": Target(
            "fif",
            "fif",
            {"subject04-epo.fif": _fif_bytes(epochs, "-epo.fif")},
            ("subject04-epo.fif",),
            fif_nonfinite,
            fif_wrong_kind,
        ),
        "wfdb": Target(
            "wfdb",
            "wfdb",
            {f"test01_00s.{ext}": (data_root / "wfdb" / f"test01_00s.{ext}").read_bytes() for ext in ("hea", "dat")},
            ("test01_00s.hea", "test01_00s.dat"),
            wfdb_nonfinite,
            wfdb_wrong_dtype,
            typed=("test01_00s.hea",),
        ),
        "generic-edf": Target(
            "generic-edf",
            "generic",
            {"test_reduced.edf": short_edf((data_root / "formats" / "EDF" / "test_reduced.edf").read_bytes(), 2)},
            ("test_reduced.edf",),
            edf_nonfinite,
            edf_wrong_dtype,
        ),
        "generic-eeglab": Target(
            "generic-eeglab",
            "generic",
            {
                f"test_raw.{ext}": (data_root / "formats" / "EEGLAB" / f"test_raw.{ext}").read_bytes()
                for ext in ("set", "fdt")
            },
            ("test_raw.set", "test_raw.fdt"),
            f32_nonfinite,
            f32_wrong_dtype,
            typed=("test_raw.fdt",),
        ),
    }


TARGETS = ("eegmat", "eegnb", "eegmmidb", "fif", "wfdb", "generic-edf", "generic-eeglab")


def exercise(target: Target, root: Path) -> None:
    """List the folder and load every recording; a loaded one must be finite."""
    reader = open_dataset(root, reader=target.reader, **target.params)
    reader.summary()
    for ref in reader.refs():
        rec = reader.load(ref)
        for modality, signal in rec.signals.items():
            data = signal.get_data()
            assert np.isrealobj(data), f"{target.name}: {modality} holds {data.dtype} samples"
            assert np.isfinite(data).all(), f"{target.name}: {modality} holds NaN/Inf after loading"


def run_case(target: Target, kind: str, changed: dict[str, bytes]) -> str:
    root = Path(tempfile.mkdtemp(prefix=f"fuzz-{target.name}-"))
    try:
        target.write(root, changed)
        return bounded(target.name, kind, lambda: exercise(target, root))
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.parametrize("name", TARGETS)
def test_unmutated_copies_load(targets: dict[str, Target], name: str) -> None:
    """The trimmed copies are readable: every error below comes from the mutation."""
    assert run_case(targets[name], "none", {}) == "ok"


@pytest.mark.parametrize("name", TARGETS)
def test_zero_length_files(targets: dict[str, Target], name: str) -> None:
    target = targets[name]
    for rel in target.mutable:
        run_case(target, "zero", {rel: b""})


@pytest.mark.parametrize("kind", [k for k in KINDS if k != "zero"])
@pytest.mark.parametrize("name", TARGETS)
@FUZZ
@given(draw=st.data())
def test_mutated_files(targets: dict[str, Target], name: str, kind: str, draw: st.DataObject) -> None:
    target = targets[name]
    files = target.typed or target.mutable if kind in ("nonfinite", "dtype") else target.mutable
    rel = draw.draw(st.sampled_from(files), label="file")
    data = target.files[rel]
    if kind == "truncate":
        changed = draw.draw(truncation(data), label="truncated")
    elif kind == "corrupt":
        changed = draw.draw(corruption(data), label="corrupted")
    elif kind == "nonfinite":
        changed = target.nonfinite(draw.draw, rel, data)
    else:
        changed = target.dtype(draw.draw, rel, data)
    run_case(target, kind, {rel: changed})


def test_harness_catches_foreign_exceptions_and_hangs() -> None:
    """The harness itself: a foreign exception and a hang fail, a DataError passes."""
    import time

    from brainalign.errors import DataError
    from tests.fuzzing import Hang

    def raise_data_error() -> None:
        raise DataError("x.edf", "bad")

    assert bounded("harness", "self-test", raise_data_error) == "error"
    with pytest.raises(ZeroDivisionError):
        bounded("harness", "self-test", lambda: 1 / 0)
    with pytest.raises(Hang):
        bounded("harness", "self-test", lambda: time.sleep(5), timeout=0.2)
