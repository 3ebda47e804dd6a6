"""From a recipe's ``data`` section to split, paired training data.

reader -> preset pipeline (cached windows) -> label filter -> split (leakage
checked) -> per-window pair keys (the text, the image path, or the label) and
integer class codes. Pairs are stored once per distinct value (``pair_values``)
and referenced by index, so a frozen tower embeds each text or image once.
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

import numpy as np
import pandas as pd
import torch
from torch.utils.data import BatchSampler, Dataset, Sampler

from brainalign.data import splits as splits_mod
from brainalign.data.base import open_dataset
from brainalign.data.catalog import find_dataset
from brainalign.errors import ConfigError, DataError
from brainalign.preprocessing import Windows, align_windows, cached_windows, get_preset
from brainalign.training.recipe import DataConfig, SplitConfig

#: what windows are paired with: a text, an image, the ECG of the same time span,
#: their class label, or nothing (self-supervised pretraining)
PAIR_KINDS = ("text", "image", "ecg", "label", "none")


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

    def part(self, name: str) -> np.ndarray:
        return self.split.part(name)

    def dataset(self, part: str) -> "WindowDataset":
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
            return x, int(self.data.pair_index[w]), int(self.data.labels[w]), w
        return self.batch(i)

    def batch(self, indices: Sequence[int] | np.ndarray) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Items ``indices`` stacked: ``(x (n, ch, t) float32, pair index, label code, window index)``."""
        w = self.index[np.asarray(indices, dtype=np.int64)]
        x = np.take(self.data.windows.data, w, axis=0)
        if x.dtype != np.float32:
            x = x.astype(np.float32)
        return (torch.from_numpy(x), torch.from_numpy(self.data.pair_index[w]),
                torch.from_numpy(self.data.labels[w]), torch.from_numpy(w))


class BatchLoader:
    """The batches of ``DataLoader(ds, batch_size, sampler=sampler, drop_last=drop_last,
    generator=generator)`` (one process), in the same order and from the same random
    draws, each fetched with one ``ds.batch(indices)`` call: no per-item fetch or
    collation, and none of DataLoader's per-batch profiling and fetcher layers
    (which cost as much as the gather itself: measured by benchmarks/bench_read.py)."""

    def __init__(self, ds: "WindowDataset", sampler: Sampler[int], batch_size: int, drop_last: bool,
                 generator: torch.Generator | None = None):
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


def batch_loader(ds: "WindowDataset", sampler: Sampler[int], batch_size: int, drop_last: bool,
                 generator: torch.Generator | None = None) -> BatchLoader:
    """See :class:`BatchLoader`."""
    return BatchLoader(ds, sampler, batch_size, drop_last, generator)


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
        val_pos.extend(order[len(order) - n_val:].tolist())
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
        "within_subject": lambda: splits_mod.within_subject_split(
            table, test=cfg.test, val=cfg.val, seed=cfg.seed
        ),
        "kfold": lambda: _nth_fold(table, cfg),
    }
    if cfg.kind not in kinds:
        raise ConfigError(f"data.split.kind: {cfg.kind!r} is not one of {sorted(kinds)}")
    split = kinds[cfg.kind]()
    split.check(table, allow_overlap=list(cfg.allow_overlap) or False)
    return split


def load_windows(cfg: DataConfig, data_dir: str | os.PathLike | None = None, progress: bool = True) -> Windows:
    if not cfg.dataset:
        raise ConfigError("data.dataset is required (a dataset folder name in the data directory, or a path)")
    if not cfg.preset:
        raise ConfigError("data.preset is required (see brainalign.preprocessing.presets)")
    reader = open_dataset(find_dataset(cfg.dataset, data_dir), **cfg.reader_params)
    pipeline = get_preset(cfg.preset, **cfg.preset_params)
    return cached_windows(reader, pipeline, progress=progress)


def _paired_signal_windows(cfg: DataConfig, windows: Windows, data_dir: str | os.PathLike | None,
                           progress: bool) -> Windows:
    """The paired signal's windows (``cfg.pair_preset``), row i = the time span of EEG window i."""
    if not cfg.pair_preset:
        raise ConfigError(f"data.pair_preset is required with data.pair: {cfg.pair} (e.g. eegmat_ecg_windows)")
    reader = open_dataset(find_dataset(cfg.dataset, data_dir), **cfg.reader_params)
    paired = cached_windows(reader, get_preset(cfg.pair_preset, **cfg.pair_preset_params), progress=progress)
    return align_windows(windows, paired)[1]


def build_paired_data(
    cfg: DataConfig, data_dir: str | os.PathLike | None = None, progress: bool = True, seed: int = 0
) -> PairedData:
    if cfg.pair not in PAIR_KINDS:
        raise ConfigError(f"data.pair: {cfg.pair!r} is not one of {PAIR_KINDS}")
    windows = load_windows(cfg, data_dir, progress)
    table = windows.table
    if cfg.pair != "none" and cfg.label not in table:
        raise ConfigError(f"data.label: the windows have no column {cfg.label!r} (have {list(table.columns)})")
    keep = np.ones(len(table), dtype=bool)
    if cfg.labels:
        keep &= table[cfg.label].astype(str).isin([str(x) for x in cfg.labels]).to_numpy()
    if cfg.pair in ("text", "image"):
        keep &= table[cfg.pair].notna().to_numpy()
    if cfg.max_windows is not None and keep.sum() > cfg.max_windows:
        rng = np.random.default_rng(seed)
        chosen = rng.choice(np.flatnonzero(keep), size=cfg.max_windows, replace=False)
        keep = np.zeros_like(keep)
        keep[chosen] = True
    if not keep.any():
        raise DataError(None, f"no window of {cfg.dataset!r} is left after the label/pair filters")
    windows = windows.select(np.flatnonzero(keep))
    table = windows.table

    label_values = table[cfg.label] if cfg.label in table else pd.Series([None] * len(table))
    classes = sorted(label_values.dropna().astype(str).unique().tolist())
    code = {c: i for i, c in enumerate(classes)}
    labels = np.array([code.get(str(v), -1) if pd.notna(v) else -1 for v in label_values], dtype=np.int64)

    pair_windows = None
    if cfg.pair == "none":
        pair_values, pair_index = [], np.full(len(table), -1, dtype=np.int64)
    elif cfg.pair == "ecg":
        pair_windows = _paired_signal_windows(cfg, windows, data_dir, progress)
        pair_values, pair_index = [], np.arange(len(table), dtype=np.int64)
    elif cfg.pair == "label":
        pair_values = classes
        pair_index = labels.copy()
    else:
        values = table[cfg.pair].astype(str)
        pair_values = sorted(values.unique().tolist())
        pos = {v: i for i, v in enumerate(pair_values)}
        pair_index = np.array([pos[v] for v in values], dtype=np.int64)

    split = make_split(table, cfg.split)
    if cfg.shuffle_pairs:
        train = split.train
        order = train[np.random.default_rng(seed + 7919).permutation(len(train))]
        pair_index = pair_index.copy()
        pair_index[train] = pair_index[order]
        if cfg.pair == "label":  # the pairing is the label: objectives on labels (triplet, CE) see it shuffled too
            labels = labels.copy()
            labels[train] = labels[order]
    return PairedData(windows, split, pair_index, pair_values, cfg.pair, labels, classes, pair_windows)


def describe(data: PairedData) -> dict[str, Any]:
    """Counts per part (windows, subjects, classes) for logs and metrics.json."""
    out: dict[str, Any] = {"pair": data.pair_kind, "classes": data.classes, "n_pairs": len(data.pair_values)}
    for part in ("train", "val", "test"):
        idx = data.part(part)
        t = data.windows.table.iloc[idx]
        out[part] = {
            "windows": int(len(idx)),
            "subjects": sorted(t["subject"].astype(str).unique().tolist()) if "subject" in t else [],
            "per_class": {data.classes[c]: int(n) for c, n in zip(*np.unique(data.labels[idx], return_counts=True)) if c >= 0},
        }
    return out
