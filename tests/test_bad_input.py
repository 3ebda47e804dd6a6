"""Bad input through the command line: one clear line, exit code 2, nothing written.

Every bad file is built in ``tmp_path`` by copying and cutting a real recording
(the shared data stay untouched). For each, ``brainalign`` must print exactly one
non-warning line on stderr, ``brainalign <command>: error: <file>: <problem>``,
exit with 2, show no traceback, print nothing on stdout, and leave no file (whole
or partial) in the cache folder or at the output path it was given.
"""

from __future__ import annotations

import ast
import re
import shutil
from pathlib import Path

import pytest

from brainalign.utils.safeload import REFUSED
from tests.data.layouts import SideEffect
from tests.test_cli import MUSE_FILE, N400_FILE, CliResult, edf_header, run_cli

EXIT_USER_ERROR = 2
#: rows of the real Muse file copied into each bad CSV: the header and 10 s at 256 Hz
MUSE_ROWS = 1 + 2560


# ----------------------------------------------------------------- helpers
def assert_one_error(result: CliResult, command: str, path: Path, *problem: str) -> str:
    """The one error line of ``result``, checked to name ``path`` and ``problem``."""
    assert result.returncode == EXIT_USER_ERROR, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    (line,) = result.other_stderr_lines
    assert line.startswith(f"brainalign {command}: error: {path}: "), line
    for fragment in problem:
        assert fragment in line, line
    return line


def assert_nothing_written(*places: Path) -> None:
    """No file at all (finished or temporary) under or at ``places``."""
    for place in places:
        leftovers = [p for p in place.rglob("*") if not p.is_dir()] if place.is_dir() else [place] * place.exists()
        assert leftovers == [], leftovers


def inspect(path: Path, tmp_path: Path, data_root: Path) -> CliResult:
    """``brainalign inspect PATH --plot <tmp>/out/plot.png`` with a fresh cache."""
    return run_cli(
        "inspect", path, "--plot", tmp_path / "out" / "plot.png", data_dir=data_root, cache_dir=tmp_path / "cache"
    )


def nothing_written(tmp_path: Path) -> None:
    assert_nothing_written(tmp_path / "out", tmp_path / "cache")


def muse_layout(tmp_path: Path, data_root: Path, lines: list[str], stimuli: bool = True) -> Path:
    """An eeg-notebooks folder (``subject1/session1/<file>.csv``) whose one CSV holds
    ``lines``, with the real stimulus images linked in, or, when ``stimuli`` is
    False, only the faces (the houses folder missing); returns the CSV's path."""
    root = tmp_path / "n170"
    csv = root / "subject1" / "session1" / "data_2018-04-15-21.18.48.csv"
    csv.parent.mkdir(parents=True)
    csv.write_text("\n".join(lines) + "\n")
    if stimuli:
        (root / "stimuli").symlink_to(data_root / "eegnb_n170" / "stimuli")
    else:
        (root / "stimuli").mkdir()
        (root / "stimuli" / "faces").symlink_to(data_root / "eegnb_n170" / "stimuli" / "faces")
    return csv


@pytest.fixture
def muse_lines(data_root: Path) -> list[str]:
    """The first :data:`MUSE_ROWS` lines of a real Muse recording."""
    with open(data_root / MUSE_FILE) as fh:
        return [next(fh).rstrip("\n") for _ in range(MUSE_ROWS)]


def cut(source: Path, dest: Path, fraction: float) -> Path:
    """``dest`` holding the first ``fraction`` of ``source``'s bytes."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    data = source.read_bytes()
    dest.write_bytes(data[: int(len(data) * fraction)])
    return dest


# ------------------------------------------------------------ broken files
@pytest.mark.realdata
def test_truncated_edf(data_root: Path, tmp_path: Path):
    source = data_root / "eegmat" / "Subject05_2.edf"
    path = cut(source, tmp_path / "eegmat" / source.name, 0.6)
    records = edf_header(source)["n_records"]
    assert_one_error(
        inspect(path, tmp_path, data_root), "inspect", path, "truncated", f"announces {records} data records"
    )
    nothing_written(tmp_path)


@pytest.mark.realdata
def test_empty_edf(data_root: Path, tmp_path: Path):
    path = tmp_path / "recordings" / "night.edf"
    path.parent.mkdir()
    path.touch()
    assert_one_error(inspect(path, tmp_path, data_root), "inspect", path, "empty file")
    nothing_written(tmp_path)


@pytest.mark.realdata
def test_truncated_fif(data_root: Path, tmp_path: Path):
    path = cut(data_root / N400_FILE, tmp_path / "n400" / "subject04-epo.fif", 0.5)
    assert_one_error(inspect(path, tmp_path, data_root), "inspect", path, "truncated or corrupt")
    nothing_written(tmp_path)


@pytest.mark.realdata
def test_muse_csv_with_garbage_rows(data_root: Path, tmp_path: Path, muse_lines: list[str]):
    """Two consecutive garbage rows; the error quotes one of them by its line number
    (1-based, the header being line 1)."""
    garbage = {1234: "##", 1235: "\x00\x01 sensor dropped \x02"}
    timestamp = muse_lines[1233].split(",")[0]
    muse_lines[1233] = f"{timestamp},27.3,{garbage[1234]},garbage,20.0,6.8,0"
    muse_lines[1234] = garbage[1235]
    path = muse_layout(tmp_path, data_root, muse_lines)
    error = assert_one_error(inspect(path, tmp_path, data_root), "inspect", path, "non-numeric value")
    found = re.search(r": line (\d+): non-numeric value (.+) in column", error)
    assert found, error
    line = int(found.group(1))
    assert line in garbage and ast.literal_eval(found.group(2)) == garbage[line]
    nothing_written(tmp_path)


@pytest.mark.realdata
def test_nan_samples(data_root: Path, tmp_path: Path, muse_lines: list[str]):
    line = 2000
    fields = muse_lines[line - 1].split(",")
    fields[3] = "NaN"  # AF8
    muse_lines[line - 1] = ",".join(fields)
    path = muse_layout(tmp_path, data_root, muse_lines)
    assert_one_error(inspect(path, tmp_path, data_root), "inspect", path, "1 NaN/Inf samples", "AF8", f"line {line}")
    nothing_written(tmp_path)


# ----------------------------------------------------- wrong content/layout
@pytest.mark.realdata
def test_missing_required_channels(data_root: Path, tmp_path: Path):
    """The eegclip preset needs the ear electrodes A1 and A2, which eegmat lacks."""
    folder = tmp_path / "eegmat_copy"
    folder.mkdir()
    path = folder / "Subject05_2.edf"
    path.symlink_to(data_root / "eegmat" / path.name)
    cache = tmp_path / "cache"
    result = run_cli("preprocess", "eegclip", "--dataset", folder, data_dir=data_root, cache_dir=cache)
    assert_one_error(result, "preprocess", path, "missing", "A1, A2")
    assert_nothing_written(cache)


@pytest.mark.realdata
def test_unexpected_sampling_rate(data_root: Path, tmp_path: Path, muse_lines: list[str]):
    """Timestamps twice as far apart as at 256 Hz: a 128 Hz recording read as 256 Hz."""
    start = float(muse_lines[1].split(",")[0])
    for i in range(1, len(muse_lines)):
        fields = muse_lines[i].split(",")
        fields[0] = f"{start + 2 * (float(fields[0]) - start):.4f}"
        muse_lines[i] = ",".join(fields)
    path = muse_layout(tmp_path, data_root, muse_lines)
    line = assert_one_error(inspect(path, tmp_path, data_root), "inspect", path, "wrong sampling rate", "256 Hz")
    measured = float(line.split(" Hz), not")[0].rsplit("(", 1)[1])
    assert measured == pytest.approx(128, rel=0.05)
    nothing_written(tmp_path)


@pytest.mark.realdata
def test_missing_stimulus_image_named_by_bids_events(data_root: Path, tmp_path: Path):
    root = tmp_path / "data" / "faces_bids"
    eeg = root / "sub-01" / "eeg"
    eeg.mkdir(parents=True)
    (root / "dataset_description.json").write_text('{"Name": "faces", "BIDSVersion": "1.8.0"}')
    (eeg / "sub-01_task-faces_eeg.edf").symlink_to(data_root / "formats" / "EDF" / "test_reduced.edf")
    face = sorted((data_root / "eegnb_n170" / "stimuli" / "faces").glob("*.jpg"))[0]
    (root / "stimuli" / "faces").mkdir(parents=True)
    shutil.copy(face, root / "stimuli" / "faces" / face.name)
    (eeg / "sub-01_task-faces_events.tsv").write_text(
        "onset\tduration\ttrial_type\tstim_file\n"
        f"1.0\t0.5\tface\tfaces/{face.name}\n"
        "2.0\t0.5\thouse\thouses/house_07.jpg\n"
        "3.0\t0.5\tblank\tn/a\n"
    )
    missing = (root / "stimuli" / "houses" / "house_07.jpg").resolve()
    result = run_cli("datasets", "--json", data_dir=tmp_path / "data", cache_dir=tmp_path / "cache")
    assert_one_error(result, "datasets", missing, "sub-01_task-faces_events.tsv", "does not exist")
    assert_nothing_written(tmp_path / "cache")


@pytest.mark.realdata
def test_missing_stimuli_folder_of_eegnb(data_root: Path, tmp_path: Path, muse_lines: list[str]):
    path = muse_layout(tmp_path, data_root, muse_lines, stimuli=False)
    houses = tmp_path / "n170" / "stimuli" / "houses"
    assert_one_error(inspect(path, tmp_path, data_root), "inspect", houses, "'house'", "does not exist")
    nothing_written(tmp_path)


# ------------------------------------------------------------ unsafe pickles
@pytest.mark.realdata
def test_torch_file_with_code_is_refused(data_root: Path, tmp_path: Path):
    """An EEGCVPR40 ``.pth`` whose pickle would call ``os.mkdir(marker)``."""
    import torch

    marker = tmp_path / "code_ran"
    path = tmp_path / "eegcvpr40" / "eeg_5_95_std.pth"
    path.parent.mkdir()
    torch.save(
        {
            "dataset": [{"eeg": torch.zeros(128, 500), "image": 0, "label": 0, "subject": 1}],
            "labels": ["n02389026"],
            "images": ["n02389026_3929"],
            "hook": SideEffect(marker),
        },
        path,
    )
    assert b"mkdir" in path.read_bytes()  # the payload is armed
    assert_one_error(inspect(path, tmp_path, data_root), "inspect", path, REFUSED)
    assert not marker.exists()
    nothing_written(tmp_path)


def test_thoughtviz_pickle_with_code_is_refused(tmp_path: Path):
    """A ThoughtViz ``data.pkl`` whose pickle would call ``os.mkdir(marker)``,
    found by ``brainalign datasets`` (which counts its trials)."""
    import pickle

    import numpy as np

    marker = tmp_path / "code_ran"
    path = tmp_path / "data" / "thoughtviz" / "eeg" / "image" / "data.pkl"
    path.parent.mkdir(parents=True)
    payload = pickle.dumps(
        {
            b"x_train": np.zeros((2, 14, 32, 1)),
            b"y_train": SideEffect(marker),
            b"x_test": np.zeros((1, 14, 32, 1)),
            b"y_test": np.eye(10)[:1],
        },
        protocol=2,
    )
    assert b"mkdir" in payload
    path.write_bytes(payload)
    result = run_cli("datasets", "--data-dir", tmp_path / "data", data_dir=tmp_path, cache_dir=tmp_path / "cache")
    assert_one_error(result, "datasets", path.resolve(), REFUSED, "mkdir")
    assert not marker.exists()
    assert_nothing_written(tmp_path / "cache")


# ------------------------------------------------------------- output paths
def test_output_folder_that_is_a_file(tmp_path: Path):
    """``demo --out`` naming an existing file: one error line, the file untouched."""
    out = tmp_path / "report"
    out.write_text("keep me")
    result = run_cli("demo", "--out", out, data_dir=tmp_path, cache_dir=tmp_path / "cache")
    assert_one_error(result, "demo", out, "File exists")
    assert out.read_text() == "keep me"
    assert_nothing_written(tmp_path / "cache")
