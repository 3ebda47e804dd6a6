"""Leakage-safe train/validation/test splits, the leakage check and the block-design audit.

Every split works on a per-window (or per-trial) table: a pandas DataFrame with one row
per window or trial and columns such as ``subject``, ``session``, ``recording``, ``run``,
``label``, ``image`` and ``start`` (time within the recording) or ``index`` (trial order).
A :class:`Split` holds *positions* into that table (``table.iloc[split.train]``), never
index labels, so it does not depend on how the table is indexed.

Why this module exists: EEG windows cut from one recording are strongly correlated, the
same subject's brain is recognisable across sessions, and the same stimulus shown to
several subjects is the same target. A random window-level split therefore measures
memorisation of recordings, subjects or stimuli, not generalisation. Each split function
here is disjoint by construction in one grouping (subject, session/recording, class or
stimulus), records that grouping and which other groupings it shares by design, and
:func:`check_leakage` verifies any split against the table before training.

:func:`audit_block_design` tests the other classic confound (EEGCVPR40, Li et al. 2020):
when all trials of a class are recorded in one block, a trial's time alone predicts its
label, and any split that mixes trials of one recording rewards slow drifts.
"""

from __future__ import annotations

import warnings
from collections.abc import Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import (
    GroupKFold,
    KFold,
    StratifiedGroupKFold,
    permutation_test_score,
)
from sklearn.neighbors import KNeighborsClassifier

from brainalign.errors import BrainalignError, ConfigError, DataError

__all__ = [
    "BlockDesignReport",
    "BlockDesignWarning",
    "LeakageError",
    "Split",
    "audit_block_design",
    "check_leakage",
    "class_split",
    "group_kfold",
    "recording_split",
    "subject_split",
    "within_subject_split",
]

#: A grouping: one column name, or several columns whose combination is the group
#: (e.g. ``("subject", "session")`` when session names repeat across subjects).
Key = str | tuple[str, ...]
#: How much goes to a part: a fraction in [0, 1), a count of groups, or explicit group values.
Amount = float | int | Sequence[Hashable]

PARTS = ("train", "val", "test")
#: Groupings that :meth:`Split.check` verifies by default when the table has them.
DEFAULT_CHECK = ("subject", "recording")
#: Columns tried, in order, for the time of a trial within its recording.
TIME_COLUMNS = ("start", "index")


class LeakageError(BrainalignError):
    """The same group (subject, recording, stimulus...) appears in more than one part of a split.

    ``overlaps`` maps each offending grouping to ``{group value: parts it appears in}``.
    """

    def __init__(self, message: str, overlaps: dict[Key, dict[Hashable, tuple[str, ...]]]):
        super().__init__(message)
        self.overlaps = overlaps


class BlockDesignWarning(UserWarning):
    """Labels are confounded with recording time: trials of a class were recorded in blocks."""


# -- the split ------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Split:
    """Positions of the train, validation and test rows of a table, with how they were made.

    ``by`` is the grouping that is disjoint between parts by construction (``None`` when
    only rows are disjoint), ``shared`` the groupings that may appear on several sides by
    design (e.g. ``("subject",)`` for a within-subject split), ``groups`` the group values
    of each part, ``seed`` the seed that drew it and ``fold`` the fold number of a k-fold.
    Compare splits with ``a.to_dict() == b.to_dict()``.
    """

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    kind: str
    seed: int | None = None
    by: Key | None = None
    shared: tuple[Key, ...] = ()
    groups: dict[str, list[Any]] = field(default_factory=dict)
    fold: int | None = None

    def __post_init__(self) -> None:
        for part in PARTS:
            object.__setattr__(self, part, _positions(getattr(self, part), part))

    def part(self, name: str) -> np.ndarray:
        """The positions of part ``name`` (``"train"``, ``"val"`` or ``"test"``)."""
        if name not in PARTS:
            raise ConfigError(f"unknown split part {name!r}; expected one of {PARTS}")
        return getattr(self, name)

    def check(
        self,
        table: pd.DataFrame,
        by: Iterable[Key] | None = None,
        allow_overlap: bool | Iterable[Key] = False,
    ) -> None:
        """Raise unless this split is valid for ``table`` and free of leakage.

        Always verified: positions lie inside the table, no row is in two parts, train is
        not empty. Then, unless ``allow_overlap`` is True, :func:`check_leakage` runs on
        ``by`` (default: the split's own grouping plus ``subject`` and ``recording`` where
        the table has them), allowing the groupings the split shares by design plus any
        given in ``allow_overlap``.
        """
        if allow_overlap is True:
            _check_positions(self, table)
            return
        if by is None:
            by = tuple(c for c in DEFAULT_CHECK if c in table.columns)
            if self.by is not None and self.by not in by:
                by += (self.by,)
        extra = [] if allow_overlap is False else _groupings(allow_overlap)
        check_leakage(self, table, by=by, allow=[*self.shared, *extra])

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable description, to save beside a run's results."""
        return {
            "kind": self.kind,
            "seed": self.seed,
            "fold": self.fold,
            "by": _to_json(self.by),
            "shared": [_to_json(k) for k in self.shared],
            "groups": {p: [_to_json(v) for v in vs] for p, vs in self.groups.items()},
            **{p: getattr(self, p).tolist() for p in PARTS},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: Any = None) -> Split:
        """Rebuild a split written by :meth:`to_dict`; ``source`` (e.g. the file) names bad input."""
        if not isinstance(data, dict):
            raise DataError(source, f"a split must be a mapping, not {type(data).__name__}")
        missing = [k for k in (*PARTS, "kind") if k not in data]
        unknown = sorted(set(data) - {*PARTS, "kind", "seed", "fold", "by", "shared", "groups"})
        if missing or unknown:
            raise DataError(source, f"split has missing keys {missing} / unknown keys {unknown}")
        groups = data.get("groups") or {}
        if not isinstance(groups, dict) or not set(groups) <= set(PARTS):
            raise DataError(source, "split 'groups' must map train/val/test to lists of groups")
        try:
            return cls(
                train=data["train"],
                val=data["val"],
                test=data["test"],
                kind=str(data["kind"]),
                seed=None if data.get("seed") is None else int(data["seed"]),
                by=_from_json(data.get("by")),
                shared=tuple(_from_json(k) for k in data.get("shared") or ()),
                groups={p: [_from_json(v) for v in vs] for p, vs in groups.items()},
                fold=None if data.get("fold") is None else int(data["fold"]),
            )
        except DataError as err:
            raise DataError(source, err.problem) from None
        except (TypeError, ValueError) as err:
            raise DataError(source, f"invalid split: {err}") from None


# -- leakage check --------------------------------------------------------------------


def check_leakage(
    split: Split,
    table: pd.DataFrame,
    by: Iterable[Key] = DEFAULT_CHECK,
    allow: Iterable[Key] = (),
) -> None:
    """Raise :class:`LeakageError` if any group of ``by`` appears in more than one part.

    ``by`` lists columns (or tuples of columns forming one compound group) to check, e.g.
    ``("subject", "recording", "image")``: with ``"image"`` the same stimulus on both sides
    is reported. Groupings listed in ``allow`` are skipped on purpose (a within-subject
    split allows ``"subject"`` but still forbids ``"recording"``). Rows whose group value
    is missing (no image shown) are ignored. The message names every offending value.
    """
    _check_positions(split, table)
    allowed = set(_groupings(allow))
    overlaps: dict[Key, dict[Hashable, tuple[str, ...]]] = {}
    for grouping in _groupings(by):
        if grouping in allowed:
            continue
        keys, null = _keys(table, grouping)
        seen: dict[Hashable, list[str]] = {}
        for part in PARTS:
            rows = split.part(part)
            for value in pd.unique(keys[rows[~null[rows]]]):
                seen.setdefault(value, []).append(part)
        shared = {v: tuple(ps) for v, ps in seen.items() if len(ps) > 1}
        if shared:
            overlaps[grouping] = dict(sorted(shared.items(), key=lambda item: _order(item[0])))
    if overlaps:
        raise LeakageError(_leak_message(split, overlaps), overlaps)


def _leak_message(split: Split, overlaps: dict[Key, dict[Hashable, tuple[str, ...]]]) -> str:
    """One line per offending grouping, naming up to ten values and their parts."""
    lines = [f"{split.kind} split leaks between parts:"]
    for grouping, values in overlaps.items():
        shown = "; ".join(f"{v!r} ({', '.join(ps)})" for v, ps in list(values.items())[:10])
        more = f"; ... and {len(values) - 10} more" if len(values) > 10 else ""
        lines.append(f"  {_name(grouping)}: {len(values)} value(s) on more than one side: {shown}{more}")
    return "\n".join(lines)


# -- split functions ------------------------------------------------------------------


def subject_split(
    table: pd.DataFrame,
    test: Amount = 0.2,
    val: Amount = 0.0,
    seed: int = 0,
    *,
    subject_col: str = "subject",
) -> Split:
    """Cross-subject split: every subject's rows go to exactly one part.

    ``test``/``val`` are fractions of the subjects, counts of subjects, or explicit lists
    of subject ids (a single int is a count: pass ``[3]`` for subject 3).
    """
    return _grouped(table, subject_col, test, val, seed, kind="subject")


def recording_split(
    table: pd.DataFrame,
    test: Amount = 0.2,
    val: Amount = 0.0,
    seed: int = 0,
    *,
    by: Key = "recording",
) -> Split:
    """Recording- or session-disjoint split; subjects may appear on several sides.

    ``by="recording"`` draws whole recordings; ``by="session"`` draws session values
    (``test=["2"]`` trains on every subject's first session and tests on the second);
    ``by=("subject", "session")`` draws subject-session pairs.
    """
    return _grouped(table, by, test, val, seed, kind="recording")


def class_split(
    table: pd.DataFrame,
    test: Amount = 0.15,
    val: Amount = 0.0,
    seed: int = 0,
    *,
    by: Key = "label",
) -> Split:
    """Class- or stimulus-disjoint split: test classes are never seen in training.

    ``by="label"`` holds out whole classes (``test=6`` of 40 classes gives 34 train / 6
    test classes, or pass the held-out classes); ``by="image"`` holds out stimuli.
    """
    return _grouped(table, by, test, val, seed, kind="class")


def group_kfold(
    table: pd.DataFrame,
    by: Key = "subject",
    n_splits: int = 5,
    seed: int = 0,
    *,
    stratify: str | None = None,
    val: float | int = 0.0,
) -> Iterator[Split]:
    """Yield ``n_splits`` group-disjoint folds (scikit-learn's GroupKFold, shuffled by ``seed``).

    With ``stratify`` (a label column) StratifiedGroupKFold keeps class proportions
    similar across folds. ``val`` moves that fraction (or count) of each fold's training
    groups to a validation part, drawn with the seed and fold number.
    """
    keys, _ = _keys(table, _key(by), require_values=True)
    codes, uniques = pd.factorize(keys)
    if n_splits < 2 or n_splits > len(uniques):
        raise DataError(
            None, f"group_kfold needs 2 <= n_splits <= {len(uniques)} groups of {_name(by)}, got {n_splits}"
        )
    if stratify is None:
        folds = GroupKFold(n_splits=n_splits, shuffle=True, random_state=seed).split(codes, groups=codes)
    else:
        labels, _ = _keys(table, stratify, require_values=True)
        strat = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
        folds = strat.split(codes, pd.factorize(labels)[0], groups=codes)
    for fold, (train_rows, test_rows) in enumerate(folds):
        train_groups = _sorted_unique(keys[train_rows])
        test_groups = _sorted_unique(keys[test_rows])
        val_groups = _draw(train_groups, 0, val, np.random.default_rng([seed, fold]), _name(by))["val"]
        train_groups = [g for g in train_groups if g not in set(val_groups)]
        yield _from_groups(
            keys,
            {"train": train_groups, "val": val_groups, "test": test_groups},
            kind="group_kfold",
            by=_key(by),
            seed=seed,
            fold=fold,
        )


def within_subject_split(
    table: pd.DataFrame,
    test: float | int = 0.2,
    val: float | int = 0.0,
    seed: int = 0,
    *,
    subject_col: str = "subject",
    session_col: str = "session",
    time_col: str | None = None,
    n_blocks: int = 5,
) -> Split:
    """Split each subject's own rows into train/val/test.

    A subject with enough sessions is split session-disjoint (``test``/``val`` are
    fractions or counts of its sessions). Otherwise its rows, in time order (session,
    recording, then ``time_col``: ``start`` or ``index`` by default), are cut into
    ``n_blocks`` contiguous blocks and ``test``/``val`` are fractions or counts of blocks,
    so that test trials are not interleaved with training trials. Subjects are shared by
    design; recordings are shared too when any subject had to be split by blocks.
    """
    subjects, _ = _keys(table, subject_col, require_values=True)
    has_sessions = session_col in table.columns
    order = _time_order(table, time_col, [c for c in (session_col, "recording") if c in table.columns])
    rng = np.random.default_rng(seed)
    part_rows: dict[str, list[np.ndarray]] = {p: [] for p in PARTS}
    groups: dict[str, list[Any]] = {p: [] for p in PARTS}
    used_blocks = False
    for subject in _sorted_unique(subjects):
        rows = order[subjects[order] == subject]  # this subject's positions, in time order
        sessions = table[session_col].to_numpy()[rows] if has_sessions else None
        n_sessions = len(pd.unique(sessions)) if has_sessions and not pd.isna(sessions).any() else 0
        if n_sessions - _count(test, n_sessions, "test") - _count(val, n_sessions, "val") >= 1:
            units, unit = sessions, "session"
        else:
            if len(rows) < n_blocks:
                raise DataError(None, f"subject {subject!r} has {len(rows)} rows, fewer than n_blocks={n_blocks}")
            units = np.empty(len(rows), dtype=np.int64)
            for block, chunk in enumerate(np.array_split(np.arange(len(rows)), n_blocks)):
                units[chunk] = block
            unit, used_blocks = "block", True
        drawn = _draw(_sorted_unique(units), test, val, rng, f"{unit}s of subject {subject!r}")
        for part, values in drawn.items():
            part_rows[part].append(rows[_isin(units, values)])
            groups[part].extend((subject, unit, v) for v in values)
    return Split(
        **{p: np.sort(np.concatenate(part_rows[p])) for p in PARTS},
        kind="within_subject",
        seed=seed,
        by=None if used_blocks else (subject_col, session_col),
        shared=(subject_col, "recording", session_col) if used_blocks else (subject_col,),
        groups=groups,
    )


# -- block-design audit ---------------------------------------------------------------


@dataclass(frozen=True)
class BlockDesignReport:
    """How much a trial's time within its recording tells about its label.

    ``accuracy``: cross-validated accuracy of a classifier that sees only the trial's
    position in its recording; ``chance``: mean accuracy with labels permuted within each
    recording; ``p_value``: permutation test. ``mean_run_length``: trials per run of equal
    consecutive labels; ``expected_run_length``: the same for a random trial order with the
    same class counts. ``single_label_groups``: recordings holding one label only (left out
    of the classifier test). Accuracy, chance and p are NaN when no recording holds two labels.
    """

    accuracy: float
    chance: float
    p_value: float
    mean_run_length: float
    expected_run_length: float
    n_trials: int
    n_groups: int
    single_label_groups: int
    confounded: bool

    def summary(self) -> str:
        """One readable line for logs and reports."""
        return (
            f"time-only accuracy {self.accuracy:.3f} vs chance {self.chance:.3f} (p={self.p_value:.3g}); "
            f"mean label run {self.mean_run_length:.1f} trials (random order {self.expected_run_length:.1f}); "
            f"{self.n_trials} trials in {self.n_groups} groups; confounded={self.confounded}"
        )


def audit_block_design(
    table: pd.DataFrame,
    label_col: str = "label",
    time_col: str | None = None,
    group_col: str | None = "recording",
    *,
    n_permutations: int = 100,
    n_neighbors: int = 5,
    cv: int = 5,
    alpha: float = 0.05,
    margin: float = 0.1,
    seed: int = 0,
) -> BlockDesignReport:
    """Test whether labels are confounded with recording order and warn if they are.

    A k-nearest-neighbour classifier sees only each trial's position (rank of
    ``time_col``, default ``start`` else ``index``) within its ``group_col`` (``None``: the
    whole table is one group); groups are placed far apart on that axis so neighbours are
    always from the same recording. Its accuracy under shuffled k-fold cross-validation
    (the leaky protocol) is compared by :func:`sklearn.model_selection.permutation_test_score`
    with labels permuted within each group. The design is ``confounded`` when the accuracy
    beats chance by at least ``margin`` with ``p_value < alpha``, or when every group holds
    a single label while the table holds several (each class recorded apart).
    A :class:`BlockDesignWarning` is issued then.

    Run it on one row per trial: consecutive windows of one trial share a label and
    would look blocked. Rows with no label are ignored.
    """
    _require(table, [label_col])
    frame = table[table[label_col].notna()]
    time_col = _time_column(frame, time_col)
    if time_col is None:
        raise DataError(None, f"table has none of the time columns {TIME_COLUMNS}; pass time_col=")
    times = pd.to_numeric(frame[time_col], errors="coerce").to_numpy(dtype=float)
    if not np.isfinite(times).all():
        raise DataError(None, f"column {time_col!r} holds missing or non-numeric times")
    if group_col is None:
        group_codes = np.zeros(len(frame), dtype=np.int64)
    else:
        group_codes = pd.factorize(_keys(frame, group_col, require_values=True)[0])[0]
    labels = pd.factorize(frame[label_col])[0]
    order = np.lexsort((np.arange(len(frame)), times, group_codes))
    n_groups = int(group_codes.max()) + 1 if len(frame) else 0

    runs = expected_runs = 0.0
    positions = np.empty(len(frame))
    multi_label = np.zeros(len(frame), dtype=bool)
    single_label_groups = 0
    for g in range(n_groups):
        rows = order[group_codes[order] == g]
        y = labels[rows]
        counts = np.bincount(y)
        runs += 1 + np.count_nonzero(y[1:] != y[:-1])
        expected_runs += len(y) - float(np.sum(counts * (counts - 1))) / len(y)
        positions[rows] = 2.0 * g + np.arange(len(rows)) / len(rows)
        if np.count_nonzero(counts) > 1:
            multi_label[rows] = True
        else:
            single_label_groups += 1

    n_trials = len(frame)
    if n_trials == 0:
        raise DataError(None, "no labelled rows to audit")
    if multi_label.any():
        if multi_label.sum() < 2 * cv:
            raise DataError(None, f"only {int(multi_label.sum())} trials in recordings with two labels; need {2 * cv}")
        x = positions[multi_label, None]
        accuracy, permuted, p_value = permutation_test_score(
            KNeighborsClassifier(n_neighbors=n_neighbors),
            x,
            labels[multi_label],
            groups=group_codes[multi_label],  # labels are permuted within each group
            cv=list(KFold(n_splits=cv, shuffle=True, random_state=seed).split(x)),
            n_permutations=n_permutations,
            random_state=seed,
            scoring="accuracy",
        )
        chance = float(np.mean(permuted))
        confounded = bool(p_value < alpha and accuracy - chance >= margin)
    else:
        accuracy = chance = p_value = float("nan")
        confounded = len(np.unique(labels)) > 1
    report = BlockDesignReport(
        accuracy=float(accuracy),
        chance=chance,
        p_value=float(p_value),
        mean_run_length=n_trials / runs,
        expected_run_length=n_trials / expected_runs,
        n_trials=n_trials,
        n_groups=n_groups,
        single_label_groups=single_label_groups,
        confounded=confounded,
    )
    if confounded:
        finding = report.summary() if multi_label.any() else f"every {group_col} holds a single label"
        warnings.warn(
            f"labels are confounded with time within {group_col or 'the table'} (block design): "
            f"{finding}. Split by {group_col or 'recording'} rather than by trial, and "
            "expect scores from trial-level splits of this data to be inflated.",
            BlockDesignWarning,
            stacklevel=2,
        )
    return report


# -- helpers --------------------------------------------------------------------------


def _grouped(table: pd.DataFrame, by: Key, test: Amount, val: Amount, seed: int, kind: str) -> Split:
    """Draw whole groups of ``by`` into test and val; the rest is train."""
    keys, _ = _keys(table, _key(by), require_values=True)
    drawn = _draw(_sorted_unique(keys), test, val, np.random.default_rng(seed), _name(by))
    return _from_groups(keys, drawn, kind=kind, by=_key(by), seed=seed)


def _from_groups(
    keys: np.ndarray, drawn: dict[str, list[Any]], *, kind: str, by: Key, seed: int, fold: int | None = None
) -> Split:
    """A Split whose parts are the rows of the drawn groups."""
    rows = {p: np.flatnonzero(_isin(keys, drawn[p])) for p in PARTS}
    return Split(**rows, kind=kind, seed=seed, by=by, shared=_shared_by_design(by), groups=drawn, fold=fold)


def _shared_by_design(by: Key) -> tuple[str, ...]:
    """Default-checked groupings that a split disjoint in ``by`` may share.

    Subject-disjoint implies recording-disjoint; session/recording-disjoint splits share
    subjects; class- or stimulus-disjoint splits share subjects and recordings.
    """
    columns = set(_columns(by))
    if by == "subject":
        return ()
    if columns & {"session", "recording", "run"}:
        return ("subject",)
    return ("subject", "recording")


def _draw(groups: list[Any], test: Amount, val: Amount, rng: np.random.Generator, what: str) -> dict[str, list[Any]]:
    """Assign sorted ``groups`` to test, val and train; explicit lists are honoured first."""
    known = set(groups)
    chosen: dict[str, list[Any]] = {}
    remaining = list(groups)
    for part, amount in sorted((("test", test), ("val", val)), key=lambda pa: not _is_explicit(pa[1])):
        if _is_explicit(amount):
            wanted = [_from_json(v) for v in amount]
            unknown = [v for v in wanted if v not in known]
            if unknown:
                raise ConfigError(f"{part} {what} {unknown} are not in the table")
            taken = [v for v in wanted if v not in remaining]
            if taken:
                raise ConfigError(f"{what} {taken} are asked for in both test and val")
            chosen[part] = [g for g in remaining if g in set(wanted)]
        else:
            n = _count(amount, len(groups), part)
            if n > len(remaining):
                raise DataError(None, f"cannot put {n} of {len(groups)} {what} in {part}: only {len(remaining)} left")
            picked = set(rng.permutation(len(remaining))[:n].tolist())
            chosen[part] = [g for i, g in enumerate(remaining) if i in picked]
        remaining = [g for g in remaining if g not in set(chosen[part])]
    if not remaining:
        raise DataError(
            None,
            f"no {what} left for training: {len(groups)} in all, {len(chosen['test'])} test, {len(chosen['val'])} val",
        )
    return {"train": remaining, "val": chosen["val"], "test": chosen["test"]}


def _is_explicit(amount: Amount) -> bool:
    """True for an explicit collection of group values (not a number, not a string)."""
    return not isinstance(amount, (int, float, str, np.number))


def _count(amount: float | int, n: int, part: str) -> int:
    """Number of groups (out of ``n``) that a fraction or count asks for."""
    if isinstance(amount, (bool, np.bool_)) or not isinstance(amount, (int, float, np.number)):
        raise ConfigError(f"{part} must be a fraction, a count or a list of groups, not {amount!r}")
    if isinstance(amount, (int, np.integer)):
        if amount < 0:
            raise ConfigError(f"{part} count must be >= 0, got {amount}")
        return int(amount)
    if not 0.0 <= amount < 1.0:
        raise ConfigError(f"{part} fraction must be in [0, 1), got {amount}")
    return 0 if amount == 0 else max(1, int(np.floor(amount * n + 0.5)))


def _key(by: Key | Sequence[str]) -> Key:
    """Normalise a grouping: a column name, or a tuple of column names."""
    if isinstance(by, str):
        return by
    columns = tuple(by)
    if not columns or not all(isinstance(c, str) for c in columns):
        raise ConfigError(f"a grouping is a column name or a tuple of column names, not {by!r}")
    return columns[0] if len(columns) == 1 else columns


def _groupings(by: Key | Iterable[Key]) -> list[Key]:
    """A list of groupings from one column name or an iterable of groupings."""
    return [by] if isinstance(by, str) else [_key(k) for k in by]


def _columns(by: Key) -> tuple[str, ...]:
    return (by,) if isinstance(by, str) else tuple(by)


def _name(by: Key) -> str:
    return "+".join(_columns(by))


def _require(table: pd.DataFrame, columns: Sequence[str]) -> None:
    """DataError unless ``table`` is a DataFrame holding every one of ``columns``."""
    if not isinstance(table, pd.DataFrame):
        raise DataError(None, f"expected a pandas DataFrame, got {type(table).__name__}")
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise DataError(None, f"table has no column(s) {missing} (columns: {list(table.columns)})")


def _keys(table: pd.DataFrame, by: Key, *, require_values: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Group value of every row (a tuple for compound groupings) and a mask of missing values."""
    columns = list(_columns(by))
    _require(table, columns)
    frame = table[columns]
    null = frame.isna().any(axis=1).to_numpy()
    if require_values and null.any():
        raise DataError(None, f"column(s) {columns} have {int(null.sum())} missing value(s); every row needs a group")
    keys = np.empty(len(frame), dtype=object)
    if len(columns) == 1:
        keys[:] = [_plain(v) for v in frame[columns[0]].tolist()]
    else:
        for i, row in enumerate(zip(*(frame[c].tolist() for c in columns))):
            keys[i] = tuple(_plain(v) for v in row)
    return keys, null


def _isin(keys: np.ndarray, values: list[Any]) -> np.ndarray:
    """Boolean mask of the ``keys`` that are among ``values`` (hash-based, any key type)."""
    return pd.Series(keys, dtype=object).isin(values).to_numpy()


def _plain(value: Any) -> Any:
    """A numpy scalar as the equal Python scalar, so groups compare and serialise alike."""
    return value.item() if isinstance(value, np.generic) else value


def _order(value: Any) -> tuple[str, Any]:
    """Sort key that orders values of one type naturally and never compares across types."""
    return (type(value).__name__, value)


def _sorted_unique(values: np.ndarray) -> list[Any]:
    """Distinct values in a canonical order, so draws do not depend on row order."""
    return sorted(pd.unique(pd.Series(values, dtype=object)).tolist(), key=_order)


def _time_column(table: pd.DataFrame, time_col: str | None) -> str | None:
    """The explicit ``time_col`` (must exist) or the first of TIME_COLUMNS present."""
    if time_col is not None:
        _require(table, [time_col])
        return time_col
    return next((c for c in TIME_COLUMNS if c in table.columns), None)


def _time_order(table: pd.DataFrame, time_col: str | None, outer: list[str]) -> np.ndarray:
    """Positions sorted by ``outer`` columns then time (stable: ties keep table order)."""
    time_col = _time_column(table, time_col)
    columns = outer + ([time_col] if time_col else [])
    if not columns:
        return np.arange(len(table))
    ranked = table[columns].reset_index(drop=True)
    return ranked.sort_values(columns, kind="stable").index.to_numpy()


def _positions(values: Any, part: str) -> np.ndarray:
    """A 1-D int64 array of row positions, or DataError."""
    array = np.asarray(values)
    if array.size == 0:
        return np.zeros(0, dtype=np.int64)
    if array.ndim != 1 or array.dtype.kind not in "iu":
        raise DataError(None, f"split part {part!r} must be a 1-D array of integer positions")
    return array.astype(np.int64)


def _check_positions(split: Split, table: pd.DataFrame) -> None:
    """Positions inside the table, no row in two parts, non-empty train."""
    _require(table, ())
    n = len(table)
    for part in PARTS:
        rows = split.part(part)
        if rows.size and (rows.min() < 0 or rows.max() >= n):
            raise DataError(None, f"split part {part!r} has positions outside a table of {n} rows")
    if split.train.size == 0:
        raise DataError(None, "split has an empty train part")
    everything = np.concatenate([split.part(p) for p in PARTS])
    if len(np.unique(everything)) != len(everything):
        raise LeakageError(f"{split.kind} split has rows in more than one part (or twice in one)", {})


def _to_json(value: Any) -> Any:
    """Tuples (compound groups) as lists, numpy scalars as Python scalars."""
    if isinstance(value, tuple):
        return [_to_json(v) for v in value]
    return _plain(value)


def _from_json(value: Any) -> Any:
    """Inverse of :func:`_to_json`: lists back to (hashable) tuples."""
    if isinstance(value, list):
        return tuple(_from_json(v) for v in value)
    return _plain(value)
