"""SMNI (UCI EEG Database, alcoholism study) reader: real data and a fixture in the exact layout."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from brainalign.data import detect_reader, open_dataset
from brainalign.data.readers.smni import SMNIReader, read_trial_file
from brainalign.errors import ConfigError, DataError
from brainalign.preprocessing import cached_windows, get_preset

#: the 64 channel names of the SMNI files, in file order
CHANNELS = (
    "FP1",
    "FP2",
    "F7",
    "F8",
    "AF1",
    "AF2",
    "FZ",
    "F4",
    "F3",
    "FC6",
    "FC5",
    "FC2",
    "FC1",
    "T8",
    "T7",
    "CZ",
    "C3",
    "C4",
    "CP5",
    "CP6",
    "CP1",
    "CP2",
    "P3",
    "P4",
    "PZ",
    "P8",
    "P7",
    "PO2",
    "PO1",
    "O2",
    "O1",
    "X",
    "AF7",
    "AF8",
    "F5",
    "F6",
    "FT7",
    "FT8",
    "FPZ",
    "FC4",
    "FC3",
    "C6",
    "C5",
    "F2",
    "F1",
    "TP8",
    "TP7",
    "AFZ",
    "CP3",
    "CP4",
    "P5",
    "P6",
    "C1",
    "C2",
    "PO7",
    "PO8",
    "FCZ",
    "POZ",
    "OZ",
    "P2",
    "P1",
    "CPZ",
    "nd",
    "Y",
)
STIMULI = {"S1": "S1 obj , trial {n}", "S2_match": "S2 match , trial {n}", "S2_nomatch": "S2 nomatch, trial {n}"}


def write_trial(folder: Path, subject: str, number: int, condition: str, values: np.ndarray, err: bool = False) -> Path:
    """One ``<subject>.rd.NNN.gz`` file in the UCI layout (header, then trial/channel/sample/value rows)."""
    stim = STIMULI[condition].format(n=number)
    if err:
        stim = stim.replace(", trial", " err, trial")
    lines = [
        f"# {subject}.rd",
        "# 120 trials, 64 chans, 416 samples 368 post_stim samples",
        "# 3.906000 msecs uV",
        f"# {stim}",
    ]
    for c, name in enumerate(CHANNELS):
        lines.append(f"# {name} chan {c}")
        lines += [f"{number} {name} {s} {values[c, s]:.3f}" for s in range(values.shape[1])]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{subject}.rd.{number:03d}.gz"
    with gzip.open(path, "wt") as fh:
        fh.write("\n".join(lines) + "\n")
    return path


@pytest.fixture()
def tiny(tmp_path: Path) -> tuple[Path, dict[str, np.ndarray]]:
    """Two subjects (one alcoholic, one control) x 3 trials of 64 channels x 16 samples."""
    rng = np.random.default_rng(0)
    root = tmp_path / "smni"
    written = {}
    for subject in ("co2a0000001", "co2c0000002"):
        values = np.round(rng.standard_normal((3, 64, 16)) * 10, 3)
        for i, (number, cond) in enumerate(((0, "S1"), (3, "S2_match"), (5, "S2_nomatch"))):
            write_trial(root / "SMNI_CMI_TRAIN" / subject, subject, number, cond, values[i], err=(i == 2))
        written[subject] = values
    return root, written


def test_fixture_layout_read_exactly(tiny):
    root, written = tiny
    assert detect_reader(root) is SMNIReader
    reader = open_dataset(root)
    refs = reader.refs()
    assert [r.subject for r in refs] == ["co2a0000001", "co2c0000002"]
    assert reader.summary()["trials"] == 6
    rec = reader.load(refs[0])
    assert rec.is_epoched and rec.sfreq == 256.0
    assert len(rec.ch_names) == 61 and rec.signals["misc"].ch_names == ["X", "nd", "Y"]
    assert rec.ch_names[:2] == ["Fp1", "Fp2"] and "CPz" in rec.ch_names
    eeg_rows = [i for i, c in enumerate(CHANNELS) if c not in ("X", "Y", "nd")]
    np.testing.assert_allclose(rec.get_data(units="uV"), written["co2a0000001"][:, eeg_rows], atol=1e-4)
    t = rec.trials
    assert t["trial"].tolist() == [0, 3, 5]
    assert t["condition"].tolist() == ["S1", "S2_match", "S2_nomatch"]
    assert t["error"].tolist() == [False, False, True]
    assert set(t["label"]) == {"alcoholic"} and set(t["group"]) == {"alcoholic"}
    assert t["text"][0] == "EEG of an alcoholic subject viewing a single picture"
    assert t["text"][2] == "EEG of an alcoholic subject viewing a second picture, different from the first"
    ctrl = reader.load(refs[1])
    assert set(ctrl.trials["label"]) == {"control"} and ctrl.metadata["group"] == "control"

    by_condition = open_dataset(root, label="condition", text_template="{condition_text}").load(refs[0])
    assert by_condition.trials["label"].tolist() == ["S1", "S2_match", "S2_nomatch"]
    assert by_condition.trials["text"][1] == "a second picture, the same as the first"
    with pytest.raises(ConfigError, match="label"):
        SMNIReader(root, label="age")
    with pytest.raises(ConfigError, match="colour"):
        SMNIReader(root, text_template="{colour}")
    # subject folders directly under the root work too
    assert [r.subject for r in SMNIReader(root / "SMNI_CMI_TRAIN").refs()] == ["co2a0000001", "co2c0000002"]


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda p: p.write_bytes(b"not gzip at all"), "gzip"),
        (lambda p: _rewrite(p, lambda lines: [x for x in lines if "S1 obj" not in x]), "stimulus line"),
        (lambda p: _rewrite(p, lambda lines: lines[:-5]), "unequal length"),
        (lambda p: _rewrite(p, lambda lines: lines[:60] + ["0 FP1 zz 1.0"] + lines[61:]), "non-numeric"),
        (lambda p: _rewrite(p, lambda lines: lines[:60] + ["7 FP1 55 1.0"] + lines[61:]), "trial"),
        (lambda p: _rewrite(p, lambda lines: lines[:4]), "no sample rows"),
    ],
)
def test_malformed_file_is_a_data_error_naming_it(tiny, damage, message):
    root, _ = tiny
    path = root / "SMNI_CMI_TRAIN" / "co2a0000001" / "co2a0000001.rd.000.gz"
    damage(path)
    with pytest.raises(DataError, match=message) as info:
        open_dataset(root).load(open_dataset(root).refs()[0])
    assert info.value.path == path


def _rewrite(path: Path, edit) -> None:
    with gzip.open(path, "rt") as fh:
        lines = fh.read().splitlines()
    with gzip.open(path, "wt") as fh:
        fh.write("\n".join(edit(lines)) + "\n")


@pytest.mark.realdata
def test_real_smni_twenty_subjects_by_thirty_trials(data_root: Path):
    root = data_root / "smni"
    reader = open_dataset(root)
    assert isinstance(reader, SMNIReader)
    refs = reader.refs()
    assert len(refs) == 20 and reader.summary()["trials"] == 600
    assert sum(r.get("group") == "alcoholic" for r in refs) == 10
    one = read_trial_file(refs[0].paths[0])
    assert one["data"].shape == (64, 256) and one["sfreq"] == 256.0 and one["condition"] == "S1"
    windows = cached_windows(reader, get_preset("smni_epochs"), progress=False)
    assert windows.data.shape == (600, 61, 256) and windows.sfreq == 256.0 and windows.unit == "uV"
    assert not {"X", "Y", "nd"} & set(windows.ch_names)
    table = windows.table
    assert table.groupby("subject")["label"].nunique().max() == 1  # the group is a subject-level label
    assert table["label"].value_counts().to_dict() == {"alcoholic": 300, "control": 300}
    assert set(table["condition"]) == {"S1", "S2_match", "S2_nomatch"}
    # quirk from the data README: CZ is all zeros in six trials of co2a0000368
    cz = windows.ch_names.index("Cz")
    rows = np.flatnonzero(table["subject"] == "co2a0000368")
    assert int((np.abs(windows.data[rows, cz]).max(axis=1) == 0).sum()) == 6
