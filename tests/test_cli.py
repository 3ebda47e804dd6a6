"""End-to-end tests of the ``brainalign`` command line on the shared recordings.

Every command runs as a user runs it: ``python -m brainalign ...`` in a fresh
process, with ``BRAINALIGN_DATA`` and ``BRAINALIGN_CACHE`` in its environment.
Expected values come from the files themselves (EDF and WFDB headers, CSV rows,
folder listings) or from the data README, never from brainalign.
"""

from __future__ import annotations

import ast
import csv
import json
import os
import re
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import pytest

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
WARNING_PREFIX = "brainalign: warning:"
N400_FILE = "n400/subject04-epo.fif"
MUSE_FILE = "eegnb_n170/subject2/session1/data_2018-04-15-21.18.48.csv"


# ----------------------------------------------------------------- helpers
@dataclass(frozen=True)
class CliResult:
    """What one ``brainalign`` process did."""

    returncode: int
    stdout: str
    stderr: str

    @property
    def other_stderr_lines(self) -> list[str]:
        """Non-empty stderr lines that are not ``brainalign: warning:`` lines."""
        return [line for line in self.stderr.splitlines() if line.strip() and not line.startswith(WARNING_PREFIX)]


def run_cli(*args: Any, data_dir: Path, cache_dir: Path, timeout: float = 300) -> CliResult:
    """Run ``python -m brainalign *args`` with the given data and cache folders."""
    env = {**os.environ, "BRAINALIGN_DATA": str(data_dir), "BRAINALIGN_CACHE": str(cache_dir)}
    proc = subprocess.run(
        [sys.executable, "-m", "brainalign", *map(str, args)],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


def ok(result: CliResult) -> CliResult:
    """``result`` after checking that the command succeeded without a traceback."""
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result


def is_png(path: Path) -> bool:
    return path.is_file() and path.stat().st_size > 1000 and path.read_bytes()[:8] == PNG_MAGIC


def edf_header(path: Path) -> dict[str, Any]:
    """Labels, record count, record duration and samples per record of an EDF file,
    parsed here from the fixed-width header (independently of MNE and brainalign)."""
    with open(path, "rb") as fh:
        fixed = fh.read(256)
        n = int(fixed[252:256])
        sig = fh.read(256 * n)

    def field(start: int, width: int) -> list[str]:
        return [sig[start + i * width : start + (i + 1) * width].decode().strip() for i in range(n)]

    return {
        "labels": field(0, 16),
        "n_records": int(fixed[236:244]),
        "record_s": float(fixed[244:252]),
        "samples": [int(s) for s in field(216 * n, 8)],
    }


def inspect_fields(stdout: str) -> dict[str, str]:
    """``key value`` lines of ``brainalign inspect``'s text output."""
    out = {}
    for line in stdout.splitlines()[1:]:
        key, _, value = line.strip().partition(" ")
        out[key] = value.strip()
    return out


def channel_names(listing: str) -> list[str]:
    """``"Fp1 (eeg), Fp2 (eeg)"`` -> ``["Fp1", "Fp2"]``."""
    return [re.sub(r" \(\w+\)$", "", item) for item in listing.split(", ")]


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "cache"


# ---------------------------------------------------------------- datasets
@pytest.mark.realdata
def test_datasets_json_lists_every_shared_set(data_root: Path, cache: Path):
    entries = json.loads(ok(run_cli("datasets", "--json", data_dir=data_root, cache_dir=cache)).stdout)

    def entry(part: str) -> dict[str, Any]:
        found = [e for e in entries if part in e["name"]]
        assert len(found) == 1, [e["name"] for e in entries]
        return found[0]

    eegmat = entry("eegmat")
    edfs = sorted((data_root / "eegmat").glob("Subject*_[12].edf"))
    assert eegmat["reader"] == "eegmat"
    assert eegmat["subjects"] == len({p.name[:9] for p in edfs}) == 30
    assert eegmat["recordings"] == len(edfs) == 60
    assert "ecg" in eegmat["modalities"]

    n170 = entry("n170")
    stimuli = list((data_root / "eegnb_n170" / "stimuli").rglob("*.jpg"))
    assert n170["subjects"] == len(list((data_root / "eegnb_n170").glob("subject*"))) == 5
    assert n170["images"] == len(stimuli) == 96
    assert "image" in n170["modalities"]

    assert entry("eegmmidb")["recordings"] == len(list((data_root / "eegmmidb").rglob("*.edf"))) == 6
    assert entry("n400")["trials"] == 200  # data README: 200 epochs
    wfdb = entry("wfdb")
    assert wfdb["recordings"] == len(list((data_root / "wfdb").glob("*.hea"))) == 3
    assert "ecg" in wfdb["modalities"]

    # the P300 set names its marker column ``Marker`` (older eeg-notebooks)
    p300 = entry("p300")
    assert p300["reader"] == "eegnb" and "error" not in p300
    assert p300["subjects"] == 3 and p300["images"] == 8
    assert p300["trials"] > 0
    cueing = entry("cueing")
    assert cueing["subjects"] == 10 and "error" not in cueing


@pytest.fixture
def eegmat_subset(data_root: Path, tmp_path: Path) -> Path:
    """A data folder holding one dataset in eegmat's layout, under another name:
    symlinks to subjects 03 and 07 and their rows of subject-info.csv."""
    folder = tmp_path / "data" / "arithmetic_subset"
    folder.mkdir(parents=True)
    for subject in ("03", "07"):
        for part in ("1", "2"):
            name = f"Subject{subject}_{part}.edf"
            (folder / name).symlink_to(data_root / "eegmat" / name)
    lines = (data_root / "eegmat" / "subject-info.csv").read_text().splitlines()
    kept = [lines[0]] + [line for line in lines[1:] if line.split(",")[0].strip() in ("Subject03", "Subject07")]
    assert len(kept) == 3
    (folder / "subject-info.csv").write_text("\n".join(kept) + "\n")
    return folder


@pytest.mark.realdata
@pytest.mark.parametrize("how", ["env", "--data-dir"])
def test_folder_in_eegmat_layout_is_listed_by_layout(data_root: Path, eegmat_subset: Path, cache: Path, how: str):
    """Layout, not the folder name, decides; ``--data-dir`` wins over BRAINALIGN_DATA."""
    data = eegmat_subset.parent
    if how == "env":
        result = run_cli("datasets", "--json", data_dir=data, cache_dir=cache)
    else:
        result = run_cli("datasets", "--json", "--data-dir", data, data_dir=data_root, cache_dir=cache)
    entries = json.loads(ok(result).stdout)
    assert len(entries) == 1
    (found,) = entries
    assert found["name"] == "arithmetic_subset" and found["reader"] == "eegmat"
    assert (found["subjects"], found["recordings"]) == (2, 4)
    assert "ecg" in found["modalities"]


@pytest.mark.realdata
def test_datasets_table(data_root: Path, eegmat_subset: Path, cache: Path):
    result = ok(run_cli("datasets", data_dir=eegmat_subset.parent, cache_dir=cache))
    header, rule, row = result.stdout.splitlines()
    assert header.split() == ["name", "reader", "subjects", "recordings", "trials", "images", "modalities"]
    assert set(rule) <= {"-", " "}
    assert row.split() == ["arithmetic_subset", "eegmat", "2", "4", "eeg,ecg,text"]
    assert result.other_stderr_lines == []  # no progress bar when stderr is not a terminal


# ----------------------------------------------------------------- inspect
@pytest.mark.realdata
def test_inspect_edf(data_root: Path, cache: Path):
    path = data_root / "eegmat" / "Subject05_2.edf"
    header = edf_header(path)
    fields = inspect_fields(ok(run_cli("inspect", path, data_dir=data_root, cache_dir=cache)).stdout)
    eeg_labels = [lab for lab in header["labels"] if lab.startswith("EEG ") and "-" not in lab]
    sfreq = header["samples"][0] / header["record_s"]
    assert float(fields["sfreq"]) == sfreq == 500
    assert float(fields["duration_s"]) == pytest.approx(header["n_records"] * header["record_s"])
    assert int(fields["n_channels"]) == len(eeg_labels) == 19
    names = channel_names(fields["channels"])
    assert len(names) == 19 and {"Fp1", "Cz", "O2", "T7"} <= set(names)  # T3 renamed T7
    assert all(item.endswith("(eeg)") for item in fields["channels"].split(", "))
    assert "ecg" in fields["modalities"]
    assert "mental arithmetic" in fields["task"]


@pytest.mark.realdata
def test_inspect_muse_csv(data_root: Path, cache: Path):
    path = data_root / MUSE_FILE
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    markers = Counter(int(float(r["Marker0"])) for r in rows)
    result = ok(run_cli("inspect", path, data_dir=data_root, cache_dir=cache))
    fields = inspect_fields(result.stdout)
    assert float(fields["sfreq"]) == 256
    assert float(fields["duration_s"]) == pytest.approx(len(rows) / 256, abs=1e-3)
    assert channel_names(fields["channels"]) == ["TP9", "AF7", "AF8", "TP10"]
    assert ast.literal_eval(fields["events"]) == {"house": markers[1], "face": markers[2]}
    assert int(fields["n_trials"]) == markers[1] + markers[2]
    assert result.other_stderr_lines == []


@pytest.mark.realdata
def test_inspect_epochs_fif(data_root: Path, cache: Path):
    fields = inspect_fields(ok(run_cli("inspect", data_root / N400_FILE, data_dir=data_root, cache_dir=cache)).stdout)
    assert float(fields["sfreq"]) == 50 and int(fields["n_channels"]) == 32
    assert int(fields["n_trials"]) == 200
    n_times = round((0.98 + 0.2) * 50) + 1  # data README: -0.2..0.98 s at 50 Hz
    assert float(fields["duration_s"]) == pytest.approx(200 * n_times / 50)
    events = ast.literal_eval(fields["events"])
    assert set(events) == {"related", "unrelated"} and sum(events.values()) == 200
    assert ast.literal_eval(fields["leaky_columns"]) == ["FAS", "button"]


@pytest.mark.realdata
def test_inspect_wfdb_json_and_plot(data_root: Path, tmp_path: Path, cache: Path):
    import wfdb

    hea = data_root / "wfdb" / "100.hea"
    record_line = next(line for line in hea.read_text().splitlines() if not line.startswith("#"))
    _, n_sig, fs, n_samples = record_line.split()[:4]
    beats = Counter(wfdb.rdann(str(hea.with_suffix("")), "atr").symbol)
    png = tmp_path / "figures" / "record100.png"
    result = ok(run_cli("inspect", hea, "--json", "--plot", png, data_dir=data_root, cache_dir=cache))
    info = json.loads(result.stdout)
    assert info["n_channels"] == int(n_sig) == 2
    assert info["sfreq"] == float(fs) == 360
    assert info["duration_s"] == pytest.approx(int(n_samples) / float(fs), abs=1e-3)
    assert [c.split()[0] for c in info["channels"]] == ["MLII", "V5"]
    assert info["events"] == dict(beats)
    assert info["n_trials"] == sum(beats.values())
    assert "ecg" in info["modalities"] and "text" in info["modalities"]
    assert is_png(png)
    assert os.listdir(png.parent) == [png.name]  # no temporary file left beside it


@pytest.mark.realdata
def test_inspect_symlinked_file_reads_the_named_layout(eegmat_subset: Path, cache: Path):
    """A file linked into a folder is read with that folder's layout and reported
    under the name it was given, not its link target's."""
    path = eegmat_subset / "Subject07_1.edf"
    info = json.loads(ok(run_cli("inspect", path, "--json", data_dir=eegmat_subset.parent, cache_dir=cache)).stdout)
    assert info["source"] == [str(path)]
    assert info["id"] == "eegmat_sub-07_run-1"
    row = next(r for r in csv.DictReader(open(eegmat_subset / "subject-info.csv")) if r["Subject"] == "Subject07")
    assert info["metadata"]["age"] == int(row["Age"])
    assert info["metadata"]["task"] == "rest"


# -------------------------------------------------------------- preprocess
@pytest.mark.realdata
def test_preprocess_n400_then_served_from_cache(data_root: Path, cache: Path):
    import mne

    first = ok(run_cli("preprocess", "n400_epochs", data_dir=data_root, cache_dir=cache))
    epochs = mne.read_epochs(data_root / N400_FILE, preload=True, verbose="error")
    n, c, t = epochs.get_data().shape
    match = re.fullmatch(
        r"n400_epochs: (\d+) windows x (\d+) channels x (\d+) samples at (\S+) Hz \(uV\); cache (\S+)\n", first.stdout
    )
    assert match, first.stdout
    assert tuple(int(g) for g in match.groups()[:3]) == (n, c, t) == (200, 32, 60)
    assert float(match.group(4)) == epochs.info["sfreq"] == 50
    entry = Path(match.group(5))
    assert os.listdir(cache / "windows") == [entry.name] and entry.parent == cache / "windows"
    data = np.load(entry / "data.npy")
    np.testing.assert_allclose(data, epochs.get_data() * 1e6, rtol=1e-5, atol=1e-4)
    stamps = {p.name: p.stat().st_mtime_ns for p in entry.iterdir()}
    inode = entry.stat().st_ino

    second = ok(run_cli("preprocess", "n400_epochs", data_dir=data_root, cache_dir=cache))
    assert second.stdout == first.stdout
    assert os.listdir(cache / "windows") == [entry.name]
    assert entry.stat().st_ino == inode  # the entry was not rebuilt and renamed into place
    assert {p.name: p.stat().st_mtime_ns for p in entry.iterdir()} == stamps


# ------------------------------------------------------------ fetch, version
def test_fetch_list(tmp_path: Path):
    result = ok(run_cli("fetch", "--list", data_dir=tmp_path / "nowhere", cache_dir=tmp_path / "cache"))
    names = {line.split()[0] for line in result.stdout.splitlines() if line.strip()}
    assert {"eegmat", "eegmmidb", "n170"} <= names
    assert not (tmp_path / "nowhere").exists()  # listing downloads nothing


def test_version(tmp_path: Path):
    result = ok(run_cli("--version", data_dir=tmp_path, cache_dir=tmp_path / "cache"))
    assert result.stdout.strip() == f"brainalign {version('brainalign')}"
