"""EEGMMIDB reader (PhysioNet motor movement / imagery)."""

from __future__ import annotations

from pathlib import Path

import mne
import numpy as np
import pytest

from brainalign.data import detect_reader, open_dataset
from brainalign.data.readers.eegmmidb import RUN_TASKS, EEGMMIDBReader, events_from_wfdb
from brainalign.errors import DataError

OTHER_SETS = ("eegmat", "eegnb_n170", "formats", "n400", "wfdb")


def test_run_tasks_follow_physionet() -> None:
    assert set(RUN_TASKS) == set(range(1, 15))
    for run in (3, 7, 11):
        assert RUN_TASKS[run].task_type == "executed"
        assert RUN_TASKS[run].events["T1"] == ("left_fist", "opening and closing of the left fist")
    for run in (4, 8, 12):
        assert RUN_TASKS[run].events["T2"] == ("right_fist", "imagined opening and closing of the right fist")
    for run in (5, 9, 13):
        assert RUN_TASKS[run].events["T2"] == ("both_feet", "opening and closing of both feet")
    for run in (6, 10, 14):
        assert RUN_TASKS[run].task_type == "imagined"
        assert RUN_TASKS[run].events["T1"][0] == "both_fists"
    assert RUN_TASKS[2].events == {"T0": ("rest", "resting with eyes closed")}


@pytest.mark.realdata
def test_listing_and_detection(data_root: Path) -> None:
    root = data_root / "eegmmidb"
    assert detect_reader(root) is EEGMMIDBReader
    assert EEGMMIDBReader.detect(root / "S001")  # a single subject folder
    for other in OTHER_SETS:
        assert not EEGMMIDBReader.detect(data_root / other), other
    reader = open_dataset(root)
    refs = reader.refs()
    assert [r.key for r in refs] == [f"S001R{i:02d}" for i in range(1, 7)]
    assert {r.subject for r in refs} == {"001"}
    summary = reader.summary()
    # R01/R02 hold one T0 each, R03-R06 thirty events each.
    assert summary["recordings"] == 6 and summary["trials"] == 2 + 4 * 30


@pytest.mark.realdata
def test_imagined_fist_run(data_root: Path) -> None:
    reader = EEGMMIDBReader(data_root / "eegmmidb")
    refs = {r.key: r for r in reader.refs()}
    rec = reader.load(refs["S001R04"])
    assert len(rec.ch_names) == 64 and rec.sfreq == 160.0
    assert set(rec.ch_types) == {"eeg"}
    assert {"FC5", "FCz", "AF7", "TP8", "POz", "Iz", "T10"} <= set(rec.ch_names)
    assert rec.metadata["run"] == 4 and rec.metadata["task_type"] == "imagined"

    edf = mne.io.read_raw_edf(refs["S001R04"].paths[0], encoding="latin1", verbose="error")
    codes = list(edf.annotations.description)
    assert list(rec.trials["description"]) == codes
    np.testing.assert_allclose(rec.trials["onset"], edf.annotations.onset)
    expected = {"T0": "rest", "T1": "left_fist", "T2": "right_fist"}
    assert list(rec.trials["label"]) == [expected[c] for c in codes]
    texts = dict(zip(rec.trials["label"], rec.trials["text"]))
    assert texts["left_fist"] == "imagined opening and closing of the left fist"
    assert texts["right_fist"] == "imagined opening and closing of the right fist"
    assert (rec.trials["label"] != "rest").sum() == 15
    np.testing.assert_array_equal(rec.get_data(units="V")[0], edf.get_data(picks=[0])[0].astype(np.float32))


@pytest.mark.realdata
def test_baseline_run(data_root: Path) -> None:
    reader = EEGMMIDBReader(data_root / "eegmmidb")
    rec = reader.load(reader.refs()[1])  # R02
    assert rec.metadata["task_type"] == "baseline"
    assert list(rec.trials["text"]) == ["resting with eyes closed"]
    assert rec.duration == pytest.approx(60.0)


@pytest.mark.realdata
def test_event_file_fallback(data_root: Path, tmp_path: Path) -> None:
    """A plain EDF copy without EDF+ annotations takes its events from .edf.event."""
    src = data_root / "eegmmidb" / "S001" / "S001R03.edf"
    raw = mne.io.read_raw_edf(src, encoding="latin1", preload=True, verbose="error")
    annotated = raw.annotations.copy()
    raw.set_annotations(None)
    subject = tmp_path / "S001"
    subject.mkdir()
    mne.export.export_raw(subject / "S001R03.edf", raw, fmt="edf", verbose="error")
    (subject / "S001R03.edf.event").symlink_to(Path(f"{src}.event"))

    events = events_from_wfdb(src, 160.0)
    # wfdb-python skips the event at sample 0; the rest match the EDF+ annotations.
    np.testing.assert_allclose(events["onset"], annotated.onset[1:], atol=1e-9)
    assert list(events["code"]) == list(annotated.description[1:])

    reader = EEGMMIDBReader(tmp_path)
    rec = reader.load(reader.refs()[0])
    expected = {"T0": "rest", "T1": "left_fist", "T2": "right_fist"}
    assert list(rec.trials["label"]) == [expected[c] for c in annotated.description[1:]]
    np.testing.assert_allclose(rec.trials["onset"], annotated.onset[1:], atol=1e-9)
    assert "opening and closing of the left fist" in set(rec.trials["text"])
    assert not any("imagined" in t for t in rec.trials["text"])


@pytest.mark.realdata
def test_truncated_run(data_root: Path, tmp_path: Path) -> None:
    content = (data_root / "eegmmidb" / "S001" / "S001R04.edf").read_bytes()
    (tmp_path / "S007R04.edf").write_bytes(content[:-1000])
    reader = EEGMMIDBReader(tmp_path)
    with pytest.raises(DataError, match=r"S007R04\.edf: truncated"):
        reader.load(reader.refs()[0])
