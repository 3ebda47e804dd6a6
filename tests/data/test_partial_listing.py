"""Listing degrades per recording: one unreadable file among good ones is skipped
and named, the good ones are still counted.

Every folder is built in ``tmp_path`` from real recordings (copied, or linked when
left intact); the bad files are copies of real ones, corrupted here.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from brainalign.data import open_dataset
from brainalign.data.catalog import scan_data_dir
from tests.test_cli import run_cli

N170_FILES = (  # three different recordings, each about 200 trials
    "subject2/session1/data_2018-04-15-21.21.20.csv",
    "subject11/session1/recording_2018-06-06-18.42.19.csv.csv",
    "subject2/session1/data_2018-04-15-21.18.48.csv",
)
EEGMAT_SUBJECTS = ("03", "07")


def _markers(path: Path) -> int:
    """Rows whose last column (the marker) is 1 or 2, counted with the csv module."""
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))[1:]
    return sum(row[-1] in ("1", "2") for row in rows)


def _corrupt_middle(path: Path) -> None:
    """Overwrite 40 bytes in the middle of ``path`` with binary garbage."""
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 40] = b"\x00\xff garbage ## \x01\x02" + b"\xfe" * 22
    path.write_bytes(bytes(data))


@pytest.fixture
def mixed_data(data_root: Path, tmp_path: Path) -> dict[str, object]:
    """A data folder with an eeg-notebooks set (three real CSVs, the third
    corrupted) and an eegmat set (two subjects linked, a third subject's rest file
    truncated to 60 %)."""
    data = tmp_path / "data"
    n170 = data / "my_n170"
    for i, rel in enumerate(N170_FILES, start=1):
        dest = n170 / f"subject{i}" / "session1" / Path(rel).name
        dest.parent.mkdir(parents=True)
        shutil.copy(data_root / "eegnb_n170" / rel, dest)
    (n170 / "stimuli").symlink_to(data_root / "eegnb_n170" / "stimuli")
    bad_csv = n170 / "subject3" / "session1" / Path(N170_FILES[2]).name
    _corrupt_middle(bad_csv)

    eegmat = data / "my_eegmat"
    eegmat.mkdir()
    for subject in EEGMAT_SUBJECTS:
        for part in ("1", "2"):
            name = f"Subject{subject}_{part}.edf"
            (eegmat / name).symlink_to(data_root / "eegmat" / name)
    (eegmat / "Subject09_2.edf").symlink_to(data_root / "eegmat" / "Subject09_2.edf")
    source = (data_root / "eegmat" / "Subject09_1.edf").read_bytes()
    bad_edf = eegmat / "Subject09_1.edf"
    bad_edf.write_bytes(source[: int(len(source) * 0.6)])
    lines = (data_root / "eegmat" / "subject-info.csv").read_text().splitlines()
    keep = {f"Subject{s}" for s in (*EEGMAT_SUBJECTS, "09")}
    (eegmat / "subject-info.csv").write_text(
        "\n".join([lines[0]] + [line for line in lines[1:] if line.split(",")[0].strip() in keep]) + "\n"
    )
    good_trials = sum(
        _markers(n170 / f"subject{i}" / "session1" / Path(rel).name) for i, rel in enumerate(N170_FILES[:2], start=1)
    )
    return {"data": data, "bad_csv": bad_csv, "bad_edf": bad_edf, "n170_trials": good_trials}


@pytest.mark.realdata
def test_summary_skips_the_bad_recording_and_counts_the_rest(mixed_data: dict) -> None:
    n170 = open_dataset(mixed_data["data"] / "my_n170").summary()
    assert n170["reader"] == "eegnb"
    assert (n170["subjects"], n170["recordings"]) == (2, 2)
    assert n170["trials"] == mixed_data["n170_trials"] > 0
    assert n170["images"] == 96
    ((skip),) = n170["skipped"]
    assert skip["path"] == str(mixed_data["bad_csv"])
    assert "non-numeric value" in skip["problem"] or "malformed CSV" in skip["problem"]

    eegmat = open_dataset(mixed_data["data"] / "my_eegmat").summary()
    # subject 09 keeps its task file: 3 subjects, 5 recordings
    assert (eegmat["subjects"], eegmat["recordings"]) == (3, 5)
    ((skip),) = eegmat["skipped"]
    assert skip["path"] == str(mixed_data["bad_edf"]) and "truncated" in skip["problem"]


@pytest.mark.realdata
def test_good_data_skips_nothing(data_root: Path) -> None:
    entries = {e["name"]: e for e in scan_data_dir(data_root / "eegnb_n170")}
    assert entries["eegnb_n170"]["skipped"] == []


@pytest.mark.realdata
def test_datasets_lists_good_names_bad_and_exits_2(mixed_data: dict, tmp_path: Path) -> None:
    data = mixed_data["data"]
    result = run_cli("datasets", data_dir=data, cache_dir=tmp_path / "cache")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    rows = {line.split()[0]: line.split() for line in result.stdout.splitlines()[2:]}
    assert rows["my_n170"][:5] == ["my_n170", "eegnb", "2", "2", str(mixed_data["n170_trials"])]
    assert rows["my_eegmat"][:4] == ["my_eegmat", "eegmat", "3", "5"]
    errors = result.other_stderr_lines
    assert len(errors) == 2, errors
    assert sum(e.startswith(f"brainalign datasets: error: {mixed_data['bad_csv']}: ") for e in errors) == 1
    assert sum(e.startswith(f"brainalign datasets: error: {mixed_data['bad_edf']}: truncated") for e in errors) == 1

    listed = json.loads(run_cli("datasets", "--json", data_dir=data, cache_dir=tmp_path / "cache").stdout)
    skipped = {e["name"]: [s["path"] for s in e["skipped"]] for e in listed}
    assert skipped == {"my_eegmat": [str(mixed_data["bad_edf"])], "my_n170": [str(mixed_data["bad_csv"])]}


@pytest.mark.realdata
def test_strict_turns_a_skip_into_the_error(mixed_data: dict, tmp_path: Path) -> None:
    result = run_cli("datasets", "--strict", data_dir=mixed_data["data"], cache_dir=tmp_path / "cache")
    assert result.returncode == 2 and result.stdout == ""
    assert len(result.other_stderr_lines) == 2
    assert all(line.startswith("brainalign datasets: error: ") for line in result.other_stderr_lines)
    # once the bad files are gone, --strict lists as usual and exits 0
    mixed_data["bad_csv"].unlink()
    mixed_data["bad_edf"].unlink()
    result = run_cli("datasets", "--strict", data_dir=mixed_data["data"], cache_dir=tmp_path / "cache")
    assert result.returncode == 0, result.stderr
    assert {line.split()[0] for line in result.stdout.splitlines()[2:]} == {"my_n170", "my_eegmat"}


@pytest.mark.realdata
def test_a_set_whose_every_recording_is_bad_is_not_listed(mixed_data: dict, tmp_path: Path) -> None:
    n170 = mixed_data["data"] / "my_n170"
    for i, csv_file in enumerate(sorted(n170.rglob("*.csv"))):  # headers only (distinct: not duplicates)
        csv_file.write_text("timestamps,TP9,AF7,AF8,TP10,Right AUX,Marker0\n" + "\n" * i)
    result = run_cli("datasets", data_dir=mixed_data["data"], cache_dir=tmp_path / "cache")
    assert result.returncode == 2
    assert [line.split()[0] for line in result.stdout.splitlines()[2:]] == ["my_eegmat"]
    assert sum("no samples after the header" in line for line in result.other_stderr_lines) == 3
