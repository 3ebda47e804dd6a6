"""Leakage-safe splits, the leakage check and the block-design audit."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from brainalign.data.splits import (
    BlockDesignWarning,
    LeakageError,
    Split,
    audit_block_design,
    check_leakage,
    class_split,
    group_kfold,
    recording_split,
    subject_split,
    within_subject_split,
)
from brainalign.errors import BrainalignError, ConfigError, DataError


@pytest.fixture
def table() -> pd.DataFrame:
    """10 subjects x 2 sessions x 20 trials; 5 classes, 2 images per class shown to everyone."""
    rows = []
    for s in range(10):
        for session in ("1", "2"):
            for t in range(20):
                label = t % 5
                rows.append(
                    dict(
                        subject=f"s{s:02d}",
                        session=session,
                        recording=f"s{s:02d}_ses{session}",
                        run="1",
                        label=f"c{label}",
                        image=f"c{label}_{(t // 5) % 2}.jpg",
                        start=2.0 * t,
                        index=t,
                    )
                )
    # shuffled rows and a non-default index: splits must use positions and not depend on order
    return pd.DataFrame(rows).sample(frac=1.0, random_state=0).set_index(np.arange(1000, 1400))


def values(table: pd.DataFrame, rows: np.ndarray, column: str) -> set:
    return set(table[column].to_numpy()[rows])


def assert_partition(split: Split, n: int) -> None:
    """Every row in exactly one part."""
    everything = np.concatenate([split.train, split.val, split.test])
    assert sorted(everything.tolist()) == list(range(n))


def assert_disjoint(split: Split, table: pd.DataFrame, column: str) -> None:
    parts = [values(table, split.part(p), column) for p in ("train", "val", "test")]
    assert not (parts[0] & parts[1]) and not (parts[0] & parts[2]) and not (parts[1] & parts[2])


def test_subject_split_fractions(table):
    split = subject_split(table, test=0.2, val=0.1, seed=3)
    assert_partition(split, len(table))
    assert_disjoint(split, table, "subject")
    assert len(values(table, split.test, "subject")) == 2
    assert len(values(table, split.val, "subject")) == 1
    assert len(values(table, split.train, "subject")) == 7
    assert split.groups["test"] == sorted(values(table, split.test, "subject"))
    split.check(table)


def test_subject_split_explicit_lists(table):
    split = subject_split(table, test=["s03", "s07"], val=["s01"])
    assert values(table, split.test, "subject") == {"s03", "s07"}
    assert values(table, split.val, "subject") == {"s01"}
    assert len(split.test) == 80
    with pytest.raises(ConfigError, match="s99"):
        subject_split(table, test=["s99"])
    with pytest.raises(ConfigError, match="both test and val"):
        subject_split(table, test=["s01"], val=["s01"])


def test_recording_split_is_recording_disjoint_and_shares_subjects(table):
    split = recording_split(table, test=0.3, seed=1)
    assert_partition(split, len(table))
    assert_disjoint(split, table, "recording")
    assert len(values(table, split.test, "recording")) == 6
    split.check(table)  # subject overlap is allowed by design
    assert values(table, split.train, "subject") & values(table, split.test, "subject")
    with pytest.raises(LeakageError, match="subject"):
        check_leakage(split, table)  # the caller did not allow subject overlap


def test_cross_session_split(table):
    split = recording_split(table, by="session", test=["2"])
    assert values(table, split.test, "session") == {"2"}
    assert values(table, split.train, "session") == {"1"}
    assert values(table, split.train, "subject") == values(table, split.test, "subject")
    check_leakage(split, table, by=("recording",))
    split.check(table)


def test_compound_grouping(table):
    split = recording_split(table, by=("subject", "session"), test=4, seed=2)
    pairs = {
        p: set(zip(table.subject.to_numpy()[split.part(p)], table.session.to_numpy()[split.part(p)]))
        for p in ("train", "test")
    }
    assert len(pairs["test"]) == 4 and not pairs["train"] & pairs["test"]
    split.check(table)


def test_class_split_gives_unseen_classes():
    table = pd.DataFrame(
        {"label": np.repeat(np.arange(40), 5), "subject": "s1", "recording": "r1", "start": np.arange(200.0)}
    )
    split = class_split(table, test=0.15, seed=0)
    train, test = values(table, split.train, "label"), values(table, split.test, "label")
    assert len(train) == 34 and len(test) == 6
    assert not train & test
    split.check(table)  # checks the label grouping, allows the shared subject and recording
    held = class_split(table, test=[0, 1, 2, 3, 4, 5])
    assert values(table, held.test, "label") == {0, 1, 2, 3, 4, 5}
    assert held.groups["test"] == [0, 1, 2, 3, 4, 5]


def test_stimulus_split(table):
    split = class_split(table, by="image", test=3, seed=4)
    assert_disjoint(split, table, "image")
    assert len(values(table, split.test, "image")) == 3
    check_leakage(split, table, by=("image",))


def test_group_kfold_covers_each_subject_once(table):
    folds = list(group_kfold(table, by="subject", n_splits=5, seed=0))
    assert len(folds) == 5
    tested = [values(table, f.test, "subject") for f in folds]
    assert sorted(s for t in tested for s in t) == sorted(table.subject.unique())
    for fold, split in enumerate(folds):
        assert split.fold == fold
        assert_partition(split, len(table))
        assert_disjoint(split, table, "subject")
        split.check(table)


def test_group_kfold_stratified_with_val(table):
    for split in group_kfold(table, by="subject", n_splits=5, seed=1, stratify="label", val=1):
        assert len(values(table, split.val, "subject")) == 1
        assert_partition(split, len(table))
        assert_disjoint(split, table, "subject")
        assert values(table, split.test, "label") == values(table, split.train, "label")
    with pytest.raises(DataError, match="n_splits"):
        list(group_kfold(table, by="subject", n_splits=11))


def test_within_subject_split_by_session(table):
    split = within_subject_split(table, test=0.5, seed=0)
    assert_partition(split, len(table))
    assert_disjoint(split, table, "recording")
    subjects, sessions = table.subject.to_numpy(), table.session.to_numpy()
    for s in table.subject.unique():
        train = set(sessions[split.train][subjects[split.train] == s])
        test = set(sessions[split.test][subjects[split.test] == s])
        assert len(train) == 1 and len(test) == 1 and train != test
    check_leakage(split, table, by=("subject", "recording"), allow=("subject",))
    with pytest.raises(LeakageError, match="subject"):
        check_leakage(split, table, by=("subject", "recording"))


def test_within_subject_split_by_blocks(table):
    single = table[table.session == "1"].drop(columns="session")
    split = within_subject_split(single, test=0.2, n_blocks=5, seed=0)
    assert_partition(split, len(single))
    subjects, start = single.subject.to_numpy(), single.start.to_numpy()
    for s in single.subject.unique():
        train = np.sort(start[split.train][subjects[split.train] == s])
        test = np.sort(start[split.test][subjects[split.test] == s])
        assert len(test) == 4 and len(train) == 16
        # one contiguous block of 4 trials (starts 2 s apart), none of them interleaved with train
        assert np.all(np.diff(test) == 2.0)
        assert not ((train > test[0]) & (train < test[-1])).any()
    assert split.by is None and "recording" in split.shared
    with pytest.raises(LeakageError, match="recording"):
        check_leakage(split, single, by=("recording",))  # blocks of one recording: honest report
    split.check(single)


@pytest.mark.parametrize(
    "make",
    [
        lambda t, seed: subject_split(t, test=0.2, val=0.1, seed=seed),
        lambda t, seed: recording_split(t, test=0.2, seed=seed),
        lambda t, seed: class_split(t, test=2, seed=seed, by="image"),
        lambda t, seed: within_subject_split(t[t.session == "1"], seed=seed),
        lambda t, seed: next(iter(group_kfold(t, "subject", 5, seed=seed))),
    ],
)
def test_seeds_reproduce_and_differ(table, make):
    assert make(table, 7).to_dict() == make(table, 7).to_dict()
    assert make(table, 7).test.tolist() != make(table, 8).test.tolist()


def test_split_does_not_depend_on_row_order(table):
    a = subject_split(table, seed=5)
    reordered = table.sort_values(["subject", "session", "start"])
    b = subject_split(reordered, seed=5)
    assert a.groups == b.groups


def test_leakage_check_names_the_offending_subject(table):
    split = subject_split(table, test=["s07"], val=["s02"])
    leaky_row = split.test[0]
    leaky = Split(train=np.append(split.train, leaky_row), val=split.val, test=split.test[1:], kind="crafted")
    with pytest.raises(LeakageError) as err:
        check_leakage(leaky, table)
    assert "'s07' (train, test)" in str(err.value)
    assert set(err.value.overlaps) == {"subject", "recording"}
    assert list(err.value.overlaps["subject"]) == ["s07"]
    assert isinstance(err.value, BrainalignError)
    # allowing subject overlap still forbids the shared recording
    with pytest.raises(LeakageError, match="recording") as err:
        check_leakage(leaky, table, allow=("subject",))
    assert "subject" not in err.value.overlaps
    check_leakage(leaky, table, allow=("subject", "recording"))
    leaky.check(table, allow_overlap=True)  # structural checks only


def test_leakage_check_detects_shared_images(table):
    split = subject_split(table, test=0.2, seed=0)
    check_leakage(split, table)  # subjects and recordings are clean...
    with pytest.raises(LeakageError, match="image") as err:
        check_leakage(split, table, by=("subject", "recording", "image"))  # ...but every image is shown to all
    assert set(err.value.overlaps["image"]) == set(table.image)
    # rows without a stimulus are ignored
    no_image = table.assign(image=None)
    check_leakage(split, no_image, by=("image",))


def test_check_validates_positions(table):
    with pytest.raises(DataError, match="outside"):
        Split(train=[0, 1], val=[], test=[len(table)], kind="x").check(table)
    with pytest.raises(LeakageError, match="more than one part"):
        Split(train=[0, 1], val=[], test=[1], kind="x").check(table, allow_overlap=True)
    with pytest.raises(DataError, match="empty train"):
        Split(train=[], val=[], test=[1], kind="x").check(table)
    with pytest.raises(DataError, match="integer"):
        Split(train=[0.5], val=[], test=[], kind="x")


def test_to_dict_round_trip_through_json(table):
    split = recording_split(table, by=("subject", "session"), test=3, seed=1)
    data = json.loads(json.dumps(split.to_dict()))
    back = Split.from_dict(data)
    assert back.to_dict() == split.to_dict()
    assert back.by == ("subject", "session")
    assert back.groups["test"] == split.groups["test"]
    assert np.array_equal(back.test, split.test)
    back.check(table)


def test_from_dict_rejects_bad_input():
    with pytest.raises(DataError, match="split.json: split has missing keys"):
        Split.from_dict({"train": [0], "kind": "subject"}, source="split.json")
    with pytest.raises(DataError, match="split.json: .*integer"):
        Split.from_dict({"train": ["a"], "val": [], "test": [], "kind": "x"}, source="split.json")
    with pytest.raises(DataError, match="mapping"):
        Split.from_dict([1, 2], source="split.json")


def test_bad_tables_and_amounts(table):
    with pytest.raises(DataError, match="no column"):
        subject_split(table.drop(columns="subject"))
    with pytest.raises(DataError, match="missing value"):
        subject_split(table.assign(subject=table.subject.where(table.start > 0)))
    with pytest.raises(ConfigError, match="fraction"):
        subject_split(table, test=1.5)
    with pytest.raises(ConfigError):
        subject_split(table, test="s01")
    with pytest.raises(DataError, match="no subject left for training"):
        subject_split(table, test=5, val=5)
    with pytest.raises(DataError, match="DataFrame"):
        subject_split(table.to_dict())


# -- block-design audit ------------------------------------------------------------


def blocked_table() -> pd.DataFrame:
    """3 recordings, 5 classes in contiguous blocks of 20 trials (each recording its own order)."""
    rng = np.random.default_rng(0)
    frames = [
        pd.DataFrame(
            {
                "recording": f"r{r}",
                "start": np.arange(100) * 1.5,
                "label": np.repeat(rng.permutation(list("abcde")), 20),
            }
        )
        for r in range(3)
    ]
    return pd.concat(frames, ignore_index=True)


def test_audit_flags_block_design():
    table = blocked_table()
    with pytest.warns(BlockDesignWarning, match="block design"):
        report = audit_block_design(table, n_permutations=50)
    assert report.confounded
    assert report.accuracy > 0.9 and report.chance < 0.35
    assert report.p_value < 0.05
    assert report.mean_run_length == pytest.approx(20.0)  # 300 trials in 15 runs
    # random order with 5 classes x 20 of 100: E[runs] = 100 - 5*20*19/100 = 81 per recording
    assert report.expected_run_length == pytest.approx(100 / 81)
    assert report.n_groups == 3 and report.n_trials == 300


def test_audit_passes_interleaved_design():
    table = blocked_table()
    rng = np.random.default_rng(1)
    table["label"] = table.groupby("recording")["label"].transform(lambda y: rng.permutation(y.to_numpy()))
    with warnings.catch_warnings():
        warnings.simplefilter("error", BlockDesignWarning)
        report = audit_block_design(table, n_permutations=50)
    assert not report.confounded
    assert abs(report.accuracy - report.chance) < 0.1
    assert report.mean_run_length < 2.0


def test_audit_flags_one_label_per_recording():
    table = pd.DataFrame(
        {
            "recording": np.repeat(["rest", "task"], 30),
            "index": np.tile(np.arange(30), 2),
            "label": np.repeat(["rest", "task"], 30),
            "subject": "s1",
        }
    )
    with pytest.warns(BlockDesignWarning, match="single label"):
        report = audit_block_design(table)
    assert report.confounded and report.single_label_groups == 2
    assert np.isnan(report.accuracy)


def test_audit_bad_input():
    table = blocked_table()
    with pytest.raises(DataError, match="time columns"):
        audit_block_design(table.drop(columns="start"))
    with pytest.raises(DataError, match="non-numeric"):
        audit_block_design(table.assign(start=np.nan))
    with pytest.raises(DataError, match="no column"):
        audit_block_design(table, group_col="session")


@pytest.mark.realdata
def test_audit_n400_interleaved_design(data_root):
    """The N400 experiment interleaves related and unrelated word pairs: not a block design."""
    mne = pytest.importorskip("mne")
    epochs = mne.read_epochs(data_root / "n400" / "subject04-epo.fif", preload=False, verbose=False)
    trials = pd.DataFrame({"label": epochs.metadata["label"].to_numpy(), "start": epochs.events[:, 0]})
    with warnings.catch_warnings():
        warnings.simplefilter("error", BlockDesignWarning)
        report = audit_block_design(trials, group_col=None, n_permutations=50)
    assert not report.confounded
    assert report.mean_run_length < 3.0
