"""From a recipe's ``data`` section to split, paired training data.

reader (named or detected) -> pipeline (a preset, or the recipe's inline spec;
cached windows) -> label filter -> split (leakage checked) -> per-window pair
keys (the text, the image path, or the label) and integer class codes. Pairs are
stored once per distinct value (``pair_values``) and referenced by index, so a
frozen tower embeds each text or image once.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch.utils.data import BatchSampler, Dataset, Sampler

from brainalign.data import splits as splits_mod
from brainalign.data.base import Reader, detect_reader
from brainalign.data.catalog import find_dataset
from brainalign.errors import ConfigError, DataError
from brainalign.preprocessing import Pipeline, Windows, align_windows, cached_windows, get_preset
from brainalign.training.recipe import (
    DataConfig,
    ExtraDataConfig,
    SourceConfig,
    SplitConfig,
    check_normalization,
    check_pipeline_spec,
    check_reader_params,
    reader_class,
    shared_modalities,
)

#: what windows are paired with: a text, an image, the ECG of the same time span,
#: their class label, or nothing (self-supervised pretraining)
PAIR_KINDS = ("text", "image", "ecg", "label", "none")
#: robust per-channel standardisation: none, the training part's statistics, each recording's own
STANDARDIZE = ("none", "train", "recording")
#: standardised samples are clipped to this many (robust) standard deviations: artefacts
CLIP_SD = 10.0


@dataclass
class PairedData:
    windows: Windows
    split: splits_mod.Split
    #: per window: index into ``pair_values`` (-1 where the window has no pair)
    pair_index: np.ndarray
    pair_values: list[str]
    pair_kind: str
    #: per window: integer class code (-1 where unlabelled); ``classes[code]``
    labels: np.ndarray
    classes: list[str]
    #: for ``pair: ecg``: the paired signal's windows, row i paired with window i
    pair_windows: Windows | None = None
    #: unlabelled corpora joining the training part (``data.extra``), by dataset name:
    #: ``(windows, leads, times)`` float32, standardised like the main windows
    extra: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)
    #: the name of the reader the windows were read with (named or detected)
    reader: str = ""
    #: the subject normalisation applied to ``windows`` (``data.normalization``), as the
    #: input contract records it: ``{"normalizer": spec with fitted global statistics,
    #: "calibration": the calibration-block selection}``; None without one
    normalization: dict[str, Any] | None = None
    #: a shared multi-task encoder (``data.pairs``): the modalities, in recipe order ...
    modalities: list[str] = dataclasses.field(default_factory=list)
    #: ... the distinct values of each (``pair_values`` is the primary ``pair_kind``'s) ...
    modality_values: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    #: ... and per window the index into each one's values, ``(windows, modalities)``, -1
    #: where the window lacks it: batches carry these rows as their pair index
    pair_indices: np.ndarray | None = None

    def part(self, name: str) -> np.ndarray:
        return self.split.part(name)

    def dataset(self, part: str) -> WindowDataset:
        return WindowDataset(self, self.part(part))


class WindowDataset(Dataset):
    """Items ``(eeg float32 tensor, pair index, label code, window index)``.

    ``ds[i]`` is one item; ``ds[indices]`` (a list or integer array) is the whole
    batch at once, stacked exactly as ``default_collate`` stacks the items, with one
    gather from the contiguous float32 window array instead of one copy, one
    tensor and one collation step per window. :class:`BatchLoader` serves batches
    this way.
    """

    def __init__(self, data: PairedData, index: np.ndarray):
        self.data = data
        self.index = np.asarray(index, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: Any) -> tuple[torch.Tensor, Any, Any, Any]:
        if isinstance(i, (int, np.integer)):
            w = int(self.index[i])
            x = torch.from_numpy(np.array(self.data.windows.data[w], dtype=np.float32))
            if self.data.pair_indices is not None:
                return x, torch.from_numpy(self.data.pair_indices[w]), int(self.data.labels[w]), w
            return x, int(self.data.pair_index[w]), int(self.data.labels[w]), w
        return self.batch(i)

    def batch(
        self, indices: Sequence[int] | np.ndarray
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Items ``indices`` stacked: ``(x (n, ch, t) float32, pair index, label code, window index)``;
        the pair index is ``(n, modalities)`` for a shared multi-task encoder (``data.pairs``)."""
        w = self.index[np.asarray(indices, dtype=np.int64)]
        pairs = self.data.pair_index if self.data.pair_indices is None else self.data.pair_indices
        x = np.take(self.data.windows.data, w, axis=0)
        if x.dtype != np.float32:
            x = x.astype(np.float32)
        return (
            torch.from_numpy(x),
            torch.from_numpy(pairs[w]),
            torch.from_numpy(self.data.labels[w]),
            torch.from_numpy(w),
        )


class BatchLoader:
    """The batches of ``DataLoader(ds, batch_size, sampler=sampler, drop_last=drop_last,
    generator=generator)`` (one process), in the same order and from the same random
    draws, each fetched with one ``ds.batch(indices)`` call: no per-item fetch or
    collation, and none of DataLoader's per-batch profiling and fetcher layers
    (which cost as much as the gather itself: measured by benchmarks/bench_read.py)."""

    def __init__(
        self,
        ds: WindowDataset,
        sampler: Sampler[int],
        batch_size: int,
        drop_last: bool,
        generator: torch.Generator | None = None,
    ):
        self.dataset = ds
        self.batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.generator = generator

    def __len__(self) -> int:
        return len(self.batch_sampler)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]]:
        # a DataLoader iterator draws its workers' base seed from the generator (the global RNG
        # without one) before the sampler runs; drawing it too keeps every later draw in place
        torch.empty((), dtype=torch.int64).random_(generator=self.generator)
        for indices in self.batch_sampler:
            yield self.dataset.batch(indices)


class _BatchFetch(Dataset):
    """Item ``indices`` (a list) is the batch ``ds.batch(indices)``: lets DataLoader
    workers gather whole batches, with the sampler's order unchanged."""

    def __init__(self, ds: WindowDataset):
        self.ds = ds

    def __len__(self) -> int:
        return len(self.ds)

    def __getitem__(self, indices: list[int]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.ds.batch(indices)


def batch_loader(
    ds: WindowDataset,
    sampler: Sampler[int],
    batch_size: int,
    drop_last: bool,
    generator: torch.Generator | None = None,
    num_workers: int = 0,
) -> Iterable[tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]]:
    """See :class:`BatchLoader`. With ``num_workers > 0`` the same batches, in the same
    order, are gathered in worker processes (``train.num_workers`` in a recipe: worth it
    when windows are read lazily from slow storage; the memory-mapped cache is faster
    read in process), through :func:`~brainalign.utils.loader.make_loader`, whose
    workers cannot stall a run."""
    if num_workers <= 0:
        return BatchLoader(ds, sampler, batch_size, drop_last, generator)
    from brainalign.utils.loader import make_loader

    return make_loader(
        _BatchFetch(ds),
        num_workers=num_workers,
        name=f"training windows ({num_workers} workers)",
        sampler=BatchSampler(sampler, batch_size, drop_last),
        batch_size=None,
        generator=generator,
        persistent_workers=False,
    )


def robust_stats(data: Any) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel median and 1.4826 x median absolute deviation of ``(windows, channels,
    times)`` data: the standard deviation for Gaussian data, not inflated by the few large
    artefacts (blinks, movement, electrode pops). Each ``(channels, 1)``."""
    x = np.moveaxis(np.asarray(data, dtype=np.float64), 1, 0).reshape(np.shape(data)[1], -1)
    if not np.isfinite(x).all():
        raise DataError(None, "windows contain NaN or Inf")
    center = np.median(x, axis=1)
    scale = 1.4826 * np.median(np.abs(x - center[:, None]), axis=1)
    return center[:, None], np.maximum(scale, 1e-6)[:, None]


def robust_standardize(data: Any, stats: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """``data`` standardised with ``stats`` (default: its own :func:`robust_stats`), clipped
    at +-:data:`CLIP_SD`, as float32."""
    center, scale = robust_stats(data) if stats is None else stats
    out = (np.asarray(data, dtype=np.float64) - center) / scale
    return np.clip(out, -CLIP_SD, CLIP_SD).astype(np.float32)


def standardize_per_recording(windows: Windows) -> np.ndarray:
    """Windows standardised with each recording's own robust channel statistics (no label,
    no other subject: test recordings may use theirs)."""
    out = np.empty(windows.data.shape, dtype=np.float32)
    recordings = windows.table["recording"].astype(str).to_numpy()
    for rec in np.unique(recordings):
        rows = np.flatnonzero(recordings == rec)
        out[rows] = robust_standardize(windows.data[rows])
    return out


def last_seconds_mask(
    table: pd.DataFrame, last_s: dict[str, float], window_s: float, label: str = "label"
) -> np.ndarray:
    """Boolean mask: every window of a recording whose label is not in ``last_s``, and the
    windows of one whose label is that start in its last ``last_s[label]`` seconds (its end
    being its last window's start plus ``window_s``)."""
    for col in ("recording", "start", label):
        if col not in table.columns:
            raise DataError(None, f"window table has no {col!r} column (data.last_s)")
    start = table["start"].to_numpy(dtype=float)
    end = table.groupby("recording")["start"].transform("max").to_numpy(dtype=float) + window_s
    keep = np.ones(len(table), dtype=bool)
    labels = table[label].astype(str).to_numpy()
    for value, seconds in last_s.items():
        if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or seconds <= 0:
            raise ConfigError(f"data.last_s.{value}: expected a positive number of seconds, got {seconds!r}")
        hit = labels == str(value)
        keep &= ~hit | (start >= end - float(seconds) - 1e-9)
    return keep


def join_epochs(windows: Windows, n_samples: int) -> Windows:
    """Join the first ``n_samples`` of consecutive epochs (0+1, 2+3...) into windows twice
    as long; the table row is the first epoch's. With ``n_samples`` one patch, each patch is
    one whole epoch's signal, so the join falls on a patch boundary. An odd last epoch is dropped."""
    if windows.n_times < n_samples:
        raise DataError(None, f"epochs of {windows.n_times} samples are shorter than {n_samples}")
    n_pairs = len(windows) // 2
    if n_pairs == 0:
        raise DataError(None, "fewer than two epochs to join")
    head = np.asarray(windows.data[: 2 * n_pairs, :, :n_samples])
    data = np.concatenate([head[0::2], head[1::2]], axis=-1)
    table = windows.table.iloc[0 : 2 * n_pairs : 2].reset_index(drop=True)
    return dataclasses.replace(windows, data=np.ascontiguousarray(data), table=table)


def _check_standardize(key: str, value: str) -> None:
    if value not in STANDARDIZE:
        raise ConfigError(f"data.{key}: {value!r} is not one of {', '.join(STANDARDIZE)}")


def _standardized(windows: Windows, how: str, rows: np.ndarray | None) -> Windows:
    """``windows`` standardised per ``how`` (``rows``: the training part, for ``train``)."""
    if how == "none":
        return windows
    if how == "recording":
        data = standardize_per_recording(windows)
    else:
        data = robust_standardize(windows.data, robust_stats(windows.data[np.sort(np.asarray(rows))]))
    return dataclasses.replace(windows, data=data)


def load_extra(
    cfg: ExtraDataConfig, data_dir: str | os.PathLike | None, progress: bool, seed: int, standardize: bool
) -> np.ndarray:
    """One ``data.extra`` corpus: its windows (joined epochs where asked), a random subset of
    at most ``max_windows``, standardised with the corpus's own statistics."""
    if not cfg.dataset or not cfg.preset:
        raise ConfigError("data.extra: every corpus needs a dataset and a preset")
    reader = open_reader(DataConfig(dataset=cfg.dataset, reader_params=dict(cfg.reader_params)), data_dir)
    windows = cached_windows(reader, get_preset(cfg.preset, **cfg.preset_params), progress=progress)
    if cfg.join_epochs is not None:
        windows = join_epochs(windows, int(cfg.join_epochs))
    stats = robust_stats(windows.data) if standardize else None
    rows = np.arange(len(windows))
    if cfg.max_windows is not None and len(rows) > cfg.max_windows:
        rows = np.sort(np.random.default_rng(seed).choice(len(rows), cfg.max_windows, replace=False))
    data = np.asarray(windows.data[rows], dtype=np.float32)
    return robust_standardize(data, stats) if stats is not None else data


def _val_from_train_end(table: pd.DataFrame, split: splits_mod.Split, fraction: float) -> splits_mod.Split:
    """Move the last ``fraction`` (by window start time) of every training
    recording into validation; test is untouched."""
    if not 0 < fraction < 1:
        raise ConfigError(f"data.split.val must be a fraction in (0, 1) with val_from_train_end, got {fraction}")
    train = table.iloc[split.train]
    val_pos: list[int] = []
    for _, grp in train.groupby("recording", sort=False):
        order = grp.sort_values(["start", "window"]).index.to_numpy()
        n_val = int(round(len(order) * fraction))
        val_pos.extend(order[len(order) - n_val :].tolist())
    val = np.array(sorted(val_pos), dtype=np.int64)
    keep = np.setdiff1d(split.train, val)
    return dataclasses.replace(split, train=keep, val=val, shared=tuple(split.shared) + ("recording",))


def _nth_fold(table: pd.DataFrame, cfg: SplitConfig) -> splits_mod.Split:
    if not 0 <= cfg.fold < cfg.n_splits:
        raise ConfigError(f"data.split.fold must be in [0, {cfg.n_splits}), got {cfg.fold}")
    folds = splits_mod.group_kfold(table, by=cfg.by, n_splits=cfg.n_splits, seed=cfg.seed, val=cfg.val)
    return next(f for i, f in enumerate(folds) if i == cfg.fold)


def make_split(table: pd.DataFrame, cfg: SplitConfig) -> splits_mod.Split:
    """The recipe's split of the window table, leakage-checked."""
    if cfg.val_from_train_end:
        inner = dataclasses.replace(cfg, val_from_train_end=False, val=0, val_groups=None)
        split = _val_from_train_end(table, make_split(table, inner), float(cfg.val))
        split.check(table, allow_overlap=list(cfg.allow_overlap) + ["recording"])
        return split
    kinds = {
        "subject": lambda: splits_mod.subject_split(
            table, test=cfg.test_groups or cfg.test, val=cfg.val_groups or cfg.val, seed=cfg.seed
        ),
        "recording": lambda: splits_mod.recording_split(
            table, test=cfg.test_groups or cfg.test, val=cfg.val_groups or cfg.val, seed=cfg.seed
        ),
        "class": lambda: splits_mod.class_split(
            table, test=cfg.test_groups or cfg.test, val=cfg.val_groups or cfg.val, seed=cfg.seed
        ),
        "within_subject": lambda: splits_mod.within_subject_split(table, test=cfg.test, val=cfg.val, seed=cfg.seed),
        "kfold": lambda: _nth_fold(table, cfg),
    }
    if cfg.kind not in kinds:
        raise ConfigError(f"data.split.kind: {cfg.kind!r} is not one of {sorted(kinds)}")
    split = kinds[cfg.kind]()
    split.check(table, allow_overlap=list(cfg.allow_overlap) or False)
    return split


def open_reader(
    cfg: DataConfig, data_dir: str | os.PathLike | None = None, dataset: str | None = None, reader: str | None = None
) -> Reader:
    """The recipe's dataset folder (or ``dataset``), opened with ``reader``, else the
    recipe's ``data.reader``, else the reader detected from the layout, with
    ``data.reader_params`` (checked against the reader's parameters)."""
    name = dataset or cfg.dataset
    if not name:
        raise ConfigError("data.dataset is required (a dataset folder name in the data directory, or a path)")
    folder = find_dataset(name, data_dir)
    chosen = reader or cfg.reader
    cls = reader_class(chosen) if chosen else detect_reader(folder)
    if cls is None:
        raise DataError(folder, "no reader recognises this folder's layout; name one with data.reader")
    check_reader_params(cls, cfg.reader_params)
    return cls(folder, **cfg.reader_params)


def data_pipeline(cfg: DataConfig) -> Pipeline:
    """The EEG pipeline of the recipe: its inline ``data.pipeline``, else its preset."""
    if cfg.pipeline is not None and cfg.preset:
        raise ConfigError("data: give data.preset or data.pipeline, not both")
    if cfg.pipeline is not None:
        return Pipeline.from_dict(check_pipeline_spec(cfg.pipeline, "data.pipeline"))
    if not cfg.preset:
        raise ConfigError("data.preset or data.pipeline is required (see brainalign.preprocessing.presets)")
    return get_preset(cfg.preset, **cfg.preset_params)


def pair_pipeline(cfg: DataConfig) -> Pipeline:
    """The paired signal's pipeline (``pair: ecg``): ``data.pair_pipeline``, else ``data.pair_preset``."""
    if cfg.pair_pipeline is not None and cfg.pair_preset:
        raise ConfigError("data: give data.pair_preset or data.pair_pipeline, not both")
    if cfg.pair_pipeline is not None:
        return Pipeline.from_dict(check_pipeline_spec(cfg.pair_pipeline, "data.pair_pipeline"))
    if not cfg.pair_preset:
        raise ConfigError(
            f"data.pair_preset (or data.pair_pipeline) is required with data.pair: {cfg.pair} (e.g. eegmat_ecg_windows)"
        )
    return get_preset(cfg.pair_preset, **cfg.pair_preset_params)


def load_windows(cfg: DataConfig, data_dir: str | os.PathLike | None = None, progress: bool = True) -> Windows:
    """Every window of the recipe's dataset through its pipeline (cached)."""
    return _read_windows(cfg, data_dir, progress)[1]


def _read_windows(cfg: DataConfig, data_dir: str | os.PathLike | None, progress: bool) -> tuple[Reader, Windows]:
    pipeline = data_pipeline(cfg)  # a bad recipe fails before any file is read
    reader = open_reader(cfg, data_dir)
    return reader, cached_windows(reader, pipeline, progress=progress)


def _paired_signal_windows(
    cfg: DataConfig, windows: Windows, data_dir: str | os.PathLike | None, progress: bool
) -> Windows:
    """The paired signal's windows (``cfg.pair_preset`` or ``cfg.pair_pipeline``),
    row i = the time span of EEG window i."""
    pipeline = pair_pipeline(cfg)
    paired = cached_windows(open_reader(cfg, data_dir), pipeline, progress=progress)
    return align_windows(windows, paired)[1]


def build_paired_data(
    cfg: DataConfig, data_dir: str | os.PathLike | None = None, progress: bool = True, seed: int = 0
) -> PairedData:
    if cfg.pair not in PAIR_KINDS:
        raise ConfigError(f"data.pair: {cfg.pair!r} is not one of {PAIR_KINDS}")
    _check_standardize("standardize", cfg.standardize)
    _check_standardize("pair_standardize", cfg.pair_standardize)
    if cfg.pair_standardize != "none" and cfg.pair != "ecg":
        raise ConfigError("data.pair_standardize needs a paired signal (data.pair: ecg)")
    reader, windows = _read_windows(cfg, data_dir, progress)
    # each recording's statistics come from all of its windows, before any filter
    pair_all = _paired_signal_windows(cfg, windows, data_dir, progress) if cfg.pair == "ecg" else None
    if cfg.standardize == "recording":
        windows = _standardized(windows, "recording", None)
    if pair_all is not None and cfg.pair_standardize == "recording":
        pair_all = _standardized(pair_all, "recording", None)
    table = windows.table
    if cfg.pair != "none" and cfg.label not in table:
        raise ConfigError(f"data.label: the windows have no column {cfg.label!r} (have {list(table.columns)})")
    keep = np.ones(len(table), dtype=bool)
    normalizer = check_normalization(cfg)
    calibration = None
    if normalizer is not None and normalizer.source == "calibration":
        # each subject's calibration block: statistics only, never trained on, validated or scored
        block = calibration_block(table, cfg.calibration, normalizer.by)
        calibration = (np.asarray(windows.data[block]), table[normalizer.by].astype(str).to_numpy()[block])
        keep &= ~block
    if cfg.labels:
        keep &= table[cfg.label].astype(str).isin([str(x) for x in cfg.labels]).to_numpy()
    if cfg.pairs:  # a shared encoder: every window with at least one of its modalities
        for m in cfg.pairs:
            if m not in table:
                raise ConfigError(f"data.pairs: the windows have no column {m!r} (have {list(table.columns)})")
        keep &= table[list(cfg.pairs)].notna().any(axis=1).to_numpy()
    elif cfg.pair in ("text", "image"):
        keep &= table[cfg.pair].notna().to_numpy()
    if cfg.last_s:
        keep &= last_seconds_mask(table, cfg.last_s, windows.n_times / windows.sfreq, cfg.label)
    if cfg.max_windows is not None and keep.sum() > cfg.max_windows:
        rng = np.random.default_rng(seed)
        chosen = rng.choice(np.flatnonzero(keep), size=cfg.max_windows, replace=False)
        keep = np.zeros_like(keep)
        keep[chosen] = True
    if not keep.any():
        raise DataError(None, f"no window of {cfg.dataset!r} is left after the label/pair filters")
    windows = windows.select(np.flatnonzero(keep))
    if pair_all is not None:
        pair_all = pair_all.select(np.flatnonzero(keep))
    modalities = shared_modalities(cfg)
    if cfg.sources:  # a shared encoder on several datasets: the main block is the first source
        windows = join_sources(cfg, windows, data_dir, progress, seed)
    table = windows.table

    label_values = table[cfg.label] if cfg.label in table else pd.Series([None] * len(table))
    classes = sorted(label_values.dropna().astype(str).unique().tolist())
    code = {c: i for i, c in enumerate(classes)}
    labels = np.array([code.get(str(v), -1) if pd.notna(v) else -1 for v in label_values], dtype=np.int64)

    pair_windows = None
    if cfg.pair == "none":
        pair_values, pair_index = [], np.full(len(table), -1, dtype=np.int64)
    elif cfg.pair == "ecg":
        pair_windows = pair_all
        pair_values, pair_index = [], np.arange(len(table), dtype=np.int64)
    elif cfg.pair == "label":
        pair_values = classes
        pair_index = labels.copy()
    else:
        pair_values, pair_index = pair_codes(table[cfg.pair])
    modality_values: dict[str, list[str]] = {}
    pair_indices = None
    if cfg.pairs:
        columns = [pair_codes(table[m]) for m in modalities]
        modality_values = {m: values for m, (values, _) in zip(modalities, columns)}
        pair_indices = np.stack([index for _, index in columns], axis=1)

    split = make_split(table, cfg.split)
    if cfg.shuffle_pairs:
        train = split.train
        order = train[np.random.default_rng(seed + 7919).permutation(len(train))]
        pair_index = pair_index.copy()
        pair_index[train] = pair_index[order]
        if pair_indices is not None:  # each window keeps its modalities together
            pair_indices = pair_indices.copy()
            pair_indices[train] = pair_indices[order]
        if cfg.pair == "label":  # the pairing is the label: objectives on labels (triplet, CE) see it shuffled too
            labels = labels.copy()
            labels[train] = labels[order]
    if cfg.standardize == "train":
        windows = _standardized(windows, "train", split.train)
    normalization = None
    if normalizer is not None:
        windows, normalization = _subject_normalised(windows, normalizer, split.train, labels, calibration, cfg)
    if pair_windows is not None and cfg.pair_standardize == "train":
        pair_windows = _standardized(pair_windows, "train", split.train)
    extra: dict[str, np.ndarray] = {}
    for k, e in enumerate(cfg.extra):
        data = load_extra(e, data_dir, progress, seed + 104_729 * (k + 1), cfg.standardize != "none")
        if data.shape[2] != windows.n_times:
            raise ConfigError(
                f"data.extra[{k}] ({e.dataset}): windows of {data.shape[2]} samples, the main "
                f"windows have {windows.n_times}"
            )
        extra[e.dataset if e.dataset not in extra else f"{e.dataset}_{k}"] = data
    return PairedData(
        windows,
        split,
        pair_index,
        pair_values,
        cfg.pair,
        labels,
        classes,
        pair_windows,
        extra,
        reader=reader.name,
        normalization=normalization,
        modalities=modalities,
        modality_values=modality_values,
        pair_indices=pair_indices,
    )


def _source_name(dataset: str, taken: Sequence[str]) -> str:
    """A short, unique name for a source: its dataset folder's name (``_2``... on a repeat)."""
    base = os.path.basename(os.path.normpath(dataset)) or "source"
    name, k = base, 1
    while name in taken:
        k += 1
        name = f"{base}_{k}"
    return name


def _as_source(windows: Windows, name: str, pairs: Sequence[str], modalities: Sequence[str]) -> Windows:
    """``windows`` tagged with their source: a ``source`` column, subject and recording ids
    prefixed by it, and only the modalities ``pairs`` (the others' columns emptied)."""
    table = windows.table.copy()
    table["source"] = name
    for col in ("subject", "recording"):
        if col in table:
            table[col] = name + "/" + table[col].astype(str)
    for m in modalities:
        if m not in pairs or m not in table:
            table[m] = None
    return dataclasses.replace(windows, table=table)


def load_source(
    source: SourceConfig,
    k: int,
    main: Windows,
    cfg: DataConfig,
    data_dir: str | os.PathLike | None,
    progress: bool,
    seed: int,
) -> Windows:
    """The windows of ``data.sources[k]``: read with its reader and preset, checked against
    the main windows' montage, rate and length, standardised per recording (before any
    filter, like the main windows) where ``cfg.standardize`` is ``recording``, filtered to its labels and to windows with
    one of its modalities, at most ``max_windows`` of them; its label column becomes ``label``."""
    where = f"data.sources[{k}] ({source.dataset})"
    pipeline = get_preset(source.preset, **source.preset_params)
    reader = open_reader(
        DataConfig(dataset=source.dataset, reader=source.reader, reader_params=dict(source.reader_params)), data_dir
    )
    windows = cached_windows(reader, pipeline, progress=progress)
    mismatch = [
        f"{what} {theirs} (the main windows: {ours})"
        for what, theirs, ours in (
            ("channels", list(windows.ch_names), list(main.ch_names)),
            ("sampling rate", f"{windows.sfreq:g} Hz", f"{main.sfreq:g} Hz"),
            ("window length", f"{windows.n_times} samples", f"{main.n_times} samples"),
            ("unit", windows.unit, main.unit),
        )
        if theirs != ours
    ]
    if mismatch:
        raise ConfigError(f"{where}: its windows differ from the main windows: {'; '.join(mismatch)}")
    if cfg.standardize == "recording":
        windows = _standardized(windows, "recording", None)
    table = windows.table
    for col in [source.label, *source.pairs]:
        if col not in table:
            raise ConfigError(f"{where}: the windows have no column {col!r} (have {list(table.columns)})")
    keep = table[list(source.pairs)].notna().any(axis=1).to_numpy()
    if source.labels:
        keep &= table[source.label].astype(str).isin([str(x) for x in source.labels]).to_numpy()
    if source.max_windows is not None and keep.sum() > source.max_windows:
        chosen = np.random.default_rng(seed).choice(np.flatnonzero(keep), size=source.max_windows, replace=False)
        keep = np.zeros_like(keep)
        keep[chosen] = True
    if not keep.any():
        raise DataError(None, f"{where}: no window is left after the label/pair filters")
    windows = windows.select(np.flatnonzero(keep))
    if source.label != cfg.label:
        windows.table[cfg.label] = windows.table[source.label]
    return windows


def join_sources(
    cfg: DataConfig, windows: Windows, data_dir: str | os.PathLike | None, progress: bool, seed: int
) -> Windows:
    """The main windows (the first source) and those of every ``data.sources`` entry, in
    one set (see :class:`~brainalign.training.recipe.SourceConfig`)."""
    modalities = shared_modalities(cfg)
    names = [_source_name(cfg.dataset, [])]
    parts = [_as_source(windows, names[0], cfg.pairs, modalities)]
    for k, source in enumerate(cfg.sources):
        extra = load_source(source, k, windows, cfg, data_dir, progress, seed + 15_485_863 * (k + 1))
        names.append(_source_name(source.dataset, names))
        parts.append(_as_source(extra, names[-1], source.pairs, modalities))
    data = np.concatenate([np.asarray(p.data, dtype=np.float32) for p in parts], axis=0)
    table = pd.concat([p.table for p in parts], ignore_index=True)
    return dataclasses.replace(windows, data=data, table=table)


def pair_codes(column: pd.Series) -> tuple[list[str], np.ndarray]:
    """The sorted distinct values of a pair column (text, image path) and each row's
    index into them, -1 where the row has none."""
    present = column.notna().to_numpy()
    values = column.astype(str)
    distinct = sorted(values[present].unique().tolist())
    pos = {v: i for i, v in enumerate(distinct)}
    index = np.array([pos[v] if ok else -1 for v, ok in zip(values, present)], dtype=np.int64)
    return distinct, index


def calibration_block(table: pd.DataFrame, calibration: dict[str, Any], by: str = "subject") -> np.ndarray:
    """Rows of ``table`` in each ``by`` group's calibration block (``data.calibration``:
    :func:`~brainalign.preprocessing.normalize.calibration_mask` keywords); DataError when
    a group has none."""
    from brainalign.preprocessing.normalize import calibration_mask

    if by not in table:
        raise DataError(None, f"data.normalization is per {by}, but the windows have no {by!r} column")
    block = calibration_mask(table, by=by, **calibration)
    missing = sorted(set(table[by].astype(str)) - set(table[by].astype(str)[block]))
    if missing:
        raise DataError(None, f"no calibration block ({calibration}) for {by}(s) {', '.join(missing)}")
    return block


def _subject_normalised(
    windows: Windows,
    normalizer: Any,
    train: np.ndarray,
    labels: np.ndarray,
    calibration: tuple[np.ndarray, np.ndarray] | None,
    cfg: DataConfig,
) -> tuple[Windows, dict[str, Any]]:
    """``windows`` through ``normalizer`` fitted on the training part (the label-level guard
    sees the training labels), and the record the input contract keeps."""
    by = normalizer.by
    if by not in windows.table:
        raise DataError(None, f"data.normalization is per {by}, but the windows have no {by!r} column")
    groups = windows.table[by].astype(str).to_numpy()
    train = np.sort(np.asarray(train))
    known = labels[train] >= 0
    normalizer.fit(
        np.asarray(windows.data[train]), groups[train], labels[train] if known.all() and len(known) else None
    )
    data = normalizer.transform(np.asarray(windows.data), groups, calibration=calibration).astype(np.float32)
    record = {
        "normalizer": normalizer.to_dict(),
        "calibration": dict(cfg.calibration),
        "transductive": normalizer.transductive,
    }
    # the unit stays the input's: the contract describes the raw windows encode_eeg accepts
    return dataclasses.replace(windows, data=data), record


def describe(data: PairedData) -> dict[str, Any]:
    """Counts per part (windows, subjects, classes) for logs and metrics.json."""
    out: dict[str, Any] = {"pair": data.pair_kind, "classes": data.classes, "n_pairs": len(data.pair_values)}
    if data.modalities:
        out["modalities"] = {m: len(data.modality_values[m]) for m in data.modalities}
    if data.extra:
        out["extra"] = {name: {"windows": int(len(x)), "leads": int(x.shape[1])} for name, x in data.extra.items()}
    for part in ("train", "val", "test"):
        idx = data.part(part)
        t = data.windows.table.iloc[idx]
        out[part] = {
            "windows": int(len(idx)),
            "subjects": sorted(t["subject"].astype(str).unique().tolist()) if "subject" in t else [],
            "per_class": {
                data.classes[c]: int(n) for c, n in zip(*np.unique(data.labels[idx], return_counts=True)) if c >= 0
            },
        }
    return out
