"""Performance benchmarks: brainalign against what users would pick instead, and
against this machine's limits (issue 13).

Every benchmark measures its comparators in the same process, interleaved
(A, B, A, B...), keeps the best of the rounds and reports ratios, so a busy or
slow machine shifts both sides alike. Times come from :mod:`timeit`, memory
from :mod:`resource`. ``run_benchmarks(names, quick)`` returns one row (a dict)
per figure and ``format_table(rows)`` prints them; ``benchmarks/*.py`` are thin
wrappers, ``python benchmarks/run_all.py [--quick]`` prints the whole table.

=============  ==========================================================
name           what
=============  ==========================================================
``train``      1. Deep4 training windows/s on eegmat: brainalign's training
               step path vs braindecode ``EEGClassifier`` vs a bare loop;
               the per-epoch validation pass as its own row
``read``       2. reading cached windows for training vs braindecode windows
               datasets (lazy, preloaded); 3. vs numpy memory-copy bandwidth
``preprocess`` 4. all eegmat recordings through ``eegmat_windows`` vs the
               plain MNE calls, serially; joblib across files
``scoring``    5. 200-way zero-shot over 100 000 embeddings; retrieval over
               1 000 000 items: numpy brute force vs FAISS (flat, IVF)
``flops``      6. achieved FLOP/s of a training step vs a large matmul
``memory``     7. peak RSS per epoch of ``brainalign train`` on eegmat
``ddp``        8. 2 gloo ranks vs 1 rank on the same global batch
=============  ==========================================================
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import math
import os
import resource
import sys
import tempfile
import timeit
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

#: threads for the throughput benchmarks (the issue's setting)
THREADS = 2
BATCH = 64
EEGMAT_SPLIT = {"kind": "subject", "val": 3, "test": 3, "seed": 0}


# ----------------------------------------------------------------------------- helpers
def _row(
    bench: str,
    what: str,
    value: float,
    unit: str,
    *,
    compared_with: str = "",
    other: float | None = None,
    ratio: float | None = None,
    goal: str = "",
    met: bool | None = None,
    note: str = "",
) -> dict[str, Any]:
    return {
        "bench": bench,
        "what": what,
        "value": float(value),
        "unit": unit,
        "compared_with": compared_with,
        "other": None if other is None else float(other),
        "ratio": None if ratio is None else float(ratio),
        "goal": goal,
        "met": met,
        "note": note,
    }


def interleaved(fns: dict[str, Callable[[], Any]], rounds: int, number: int = 1) -> dict[str, float]:
    """Best seconds per call of each function, measured in turn, ``rounds`` times."""
    best = {name: math.inf for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            best[name] = min(best[name], timeit.Timer(fn).timeit(number=number) / number)
    return best


@contextlib.contextmanager
def threads(n: int) -> Iterator[None]:
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _quiet() -> None:
    import mne

    mne.set_log_level("ERROR")
    warnings.filterwarnings("ignore")


def _data_root() -> Path:
    from brainalign.config import data_dir

    return Path(data_dir())


def _eegmat_subset(n_files: int | None) -> Iterator[Path]:
    """The eegmat folder, or a temporary one linking its first ``n_files`` recordings."""
    src = _data_root() / "eegmat"
    if n_files is None:
        return contextlib.nullcontext(src)

    @contextlib.contextmanager
    def subset() -> Iterator[Path]:
        with tempfile.TemporaryDirectory(prefix="brainalign-bench-") as tmp:
            root = Path(tmp) / "eegmat"
            root.mkdir()
            for f in sorted(src.glob("*.edf"))[:n_files]:
                (root / f.name).symlink_to(f)
            for f in src.glob("*.csv"):
                (root / f.name).symlink_to(f)
            yield root

    return subset()


def _max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


# ----------------------------------------------------------------------------- 1. training
SUPERVISED = {
    "name": "bench_deep4_eegmat",
    "seed": 0,
    "data": {"dataset": "eegmat", "preset": "eegmat_windows", "pair": "label", "label": "label", "split": EEGMAT_SPLIT},
    "model": {"eeg": {"name": "deep4", "emb_dim": 128}},
    "objectives": [{"name": "ce"}],
    "train": {"epochs": 3, "batch_size": BATCH, "lr": 1e-3, "device": "cpu", "amp": False},
}


def _supervised_setup(n_train: int | None):
    import torch

    from brainalign.training import distributed as dist_mod
    from brainalign.training.data import build_paired_data
    from brainalign.training.recipe import recipe_from_dict
    from brainalign.training.trainer import _spec_for

    recipe = recipe_from_dict(SUPERVISED)
    data = build_paired_data(recipe.data, progress=False, seed=recipe.seed)
    if n_train is not None:
        data = dataclasses.replace(data, split=dataclasses.replace(data.split, train=data.split.train[:n_train]))
    spec = _spec_for(recipe, data)
    return recipe, data, spec, dist_mod.DistInfo(), torch.device("cpu")


class _Logits:
    """``x -> classifier(encode_eeg(x))``: brainalign's supervised network as one module."""

    def __new__(cls, model):
        from torch import nn

        class Logits(nn.Module):
            def __init__(self, m):
                super().__init__()
                self.m = m

            def forward(self, x):
                return self.m.classifier(self.m.encode_eeg(x))

        return Logits(model)


def bench_train(quick: bool) -> list[dict[str, Any]]:
    """Deep4 (brainalign's ``deep4`` encoder, 128-d, its head and linear classifier:
    the same network for all three) on eegmat's training windows, batch 64, 2 threads."""
    import torch
    from braindecode import EEGClassifier
    from torch import nn

    from brainalign.models.aligned import build_model
    from brainalign.training.schedule import warmup_cosine
    from brainalign.training.trainer import TrainModule, _loader, _param_groups, evaluate_part
    from brainalign.utils.fastconv import use_fast_kernels

    _quiet()
    recipe, data, spec, info, device = _supervised_setup(6 * BATCH if quick else None)
    cfg = recipe.train
    train_idx = data.part("train")
    n = len(train_idx)
    torch.manual_seed(0)
    stock = build_model(spec)

    # brainalign: the trainer's own pieces, the body of train()'s epoch loop
    model = copy.deepcopy(stock)
    use_fast_kernels(model)  # what train() does on CPU
    tm = TrainModule(model, spec["objectives"], gather=False)
    optimizer = torch.optim.AdamW(_param_groups(tm, cfg.lr, cfg.weight_decay))
    steps = len(_loader(data, "train", cfg.batch_size, True, recipe.seed, 0, info))
    scheduler = warmup_cosine(optimizer, steps, 100 * steps)
    epoch = {"i": 0}

    def brainalign_epoch() -> None:
        tm.train()
        for x, pidx, lab, _ in _loader(data, "train", cfg.batch_size, True, recipe.seed, epoch["i"], info):
            total, _, _ = tm(x, pidx, lab)
            optimizer.zero_grad(set_to_none=True)
            total.backward()
            nn.utils.clip_grad_norm_(tm.parameters(), cfg.grad_clip)
            optimizer.step()
            scheduler.step()
            float(total.detach())
        epoch["i"] += 1

    def brainalign_val() -> None:
        evaluate_part(tm, data, "val", cfg.batch_size, device)

    # braindecode EEGClassifier (skorch) on the same network, data, batch size, optimiser
    X = np.ascontiguousarray(data.windows.data[train_idx], dtype=np.float32)
    y = data.labels[train_idx]
    val_idx = data.part("val")
    Xv = np.ascontiguousarray(data.windows.data[val_idx], dtype=np.float32)
    clf = EEGClassifier(
        _Logits(copy.deepcopy(stock)),
        criterion=nn.CrossEntropyLoss,
        optimizer=torch.optim.AdamW,
        lr=cfg.lr,
        optimizer__weight_decay=cfg.weight_decay,
        batch_size=cfg.batch_size,
        train_split=None,
        iterator_train__shuffle=True,
        max_epochs=1,
        device="cpu",
        verbose=0,
    )

    def skorch_epoch() -> None:
        clf.partial_fit(X, y)

    def skorch_val() -> None:
        clf.predict_proba(Xv)

    # a bare PyTorch loop: tensors indexed by a permutation, nothing else
    bare = _Logits(copy.deepcopy(stock))
    bare_opt = torch.optim.AdamW(bare.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)

    def bare_epoch(module=bare, opt=bare_opt) -> None:
        module.train()
        perm = torch.randperm(n)
        for i in range(0, n, cfg.batch_size):
            idx = perm[i : i + cfg.batch_size]
            loss = nn.functional.cross_entropy(module(Xt[idx]), yt[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

    fast_bare = _Logits(copy.deepcopy(stock))
    use_fast_kernels(fast_bare)
    fast_opt = torch.optim.AdamW(fast_bare.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)

    with threads(THREADS):
        t = interleaved(
            {
                "brainalign": brainalign_epoch,
                "eegclassifier": skorch_epoch,
                "bare": bare_epoch,
                "bare_fast": lambda: bare_epoch(fast_bare, fast_opt),
            },
            rounds=2,
        )
        v = interleaved({"brainalign": brainalign_val, "eegclassifier": skorch_val}, rounds=2)
    w = {k: n / s for k, s in t.items()}
    nv = len(val_idx)
    what = f"Deep4 train windows/s ({n} eegmat windows 19x200, batch {BATCH}, {THREADS} threads)"
    return [
        _row(
            "1",
            what,
            w["brainalign"],
            "win/s",
            compared_with="braindecode EEGClassifier",
            other=w["eegclassifier"],
            ratio=w["brainalign"] / w["eegclassifier"],
            goal=">= 1.5x",
            met=w["brainalign"] / w["eegclassifier"] >= 1.5,
        ),
        _row(
            "1",
            what,
            w["brainalign"],
            "win/s",
            compared_with="bare PyTorch loop (stock kernels)",
            other=w["bare"],
            ratio=w["brainalign"] / w["bare"],
        ),
        _row(
            "1",
            what,
            w["brainalign"],
            "win/s",
            compared_with="bare loop + brainalign's fast kernels",
            other=w["bare_fast"],
            ratio=w["brainalign"] / w["bare_fast"],
            note="brainalign's step also clips gradients and steps the LR schedule (docs/performance.md)",
        ),
        _row(
            "1",
            f"validation pass per epoch ({nv} windows: loss + balanced accuracy)",
            nv / v["brainalign"],
            "win/s",
            compared_with="EEGClassifier.predict_proba on the same windows",
            other=nv / v["eegclassifier"],
            ratio=v["eegclassifier"] / v["brainalign"],
            note=f"{v['brainalign']:.2f} s vs {v['eegclassifier']:.2f} s per epoch",
        ),
    ]


# ----------------------------------------------------------------------------- 2-3. reading
def _braindecode_fifs(root: Path, refs: list[Path], out: Path) -> Path:
    """eegmat through braindecode's own preprocessing (pick the 19 channels, 0.5-40 Hz,
    100 Hz), saved as its FIF dataset folder; built once per cache and reused."""
    import mne
    from braindecode.datasets import BaseConcatDataset, RawDataset
    from braindecode.preprocessing import Preprocessor, preprocess

    from brainalign.preprocessing.presets import TEN_TWENTY_19

    done = out.with_name(out.name + ".done")
    if done.exists():
        return out
    out.mkdir(parents=True, exist_ok=True)
    rename = {"EEG T3": "T7", "EEG T4": "T8", "EEG T5": "P7", "EEG T6": "P8"}
    raws = []
    for path in refs:
        raw = mne.io.read_raw_edf(path, preload=False, verbose="error")
        raw.rename_channels({c: rename.get(c, c.replace("EEG ", "")) for c in raw.ch_names})
        raws.append(RawDataset(raw, description={"file": path.name}))
    ds = BaseConcatDataset(raws)
    preprocess(
        ds,
        [
            Preprocessor("pick_channels", ch_names=TEN_TWENTY_19, ordered=True),
            Preprocessor("filter", l_freq=0.5, h_freq=40.0),
            Preprocessor("resample", sfreq=100.0),
        ],
        save_dir=str(out),
        overwrite=True,
    )
    done.write_text("ok")
    return out


def bench_read(quick: bool) -> list[dict[str, Any]]:
    import torch
    from braindecode.datautil import load_concat_dataset
    from braindecode.preprocessing import create_fixed_length_windows
    from torch.utils.data import DataLoader, RandomSampler

    from brainalign.config import cache_dir
    from brainalign.data import open_dataset
    from brainalign.data.splits import Split
    from brainalign.preprocessing import cached_windows, get_preset
    from brainalign.training.data import PairedData, WindowDataset, batch_loader

    _quiet()
    n_files = None  # all 60 recordings (55 MB): more than the last-level cache, as the bandwidth row needs
    with _eegmat_subset(n_files) as root, threads(THREADS):
        reader = open_dataset(root)
        pipeline = get_preset("eegmat_windows")
        windows = cached_windows(reader, pipeline, progress=False)  # build the entry if absent
        n = len(windows)
        fif_dir = _braindecode_fifs(
            root,
            [r.paths[0] for r in reader.refs()],
            Path(cache_dir()) / "bench" / f"braindecode_eegmat_{n_files or 'all'}",
        )
        state: dict[str, Any] = {}

        def open_brainalign() -> None:
            state["ba"] = cached_windows(reader, pipeline, progress=False)

        def open_lazy() -> None:
            ds = load_concat_dataset(str(fif_dir), preload=False)
            state["lazy"] = create_fixed_length_windows(
                ds, window_size_samples=200, window_stride_samples=200, drop_last_window=True, preload=False
            )

        def open_preloaded() -> None:
            ds = load_concat_dataset(str(fif_dir), preload=True)
            state["pre"] = create_fixed_length_windows(
                ds, window_size_samples=200, window_stride_samples=200, drop_last_window=True, preload=True
            )

        opened = interleaved({"brainalign": open_brainalign, "lazy": open_lazy, "preloaded": open_preloaded}, rounds=2)
        w = state["ba"]
        everything = np.arange(len(w))
        paired = PairedData(
            w,
            Split(everything, everything[:0], everything[:0], kind="all"),
            np.zeros(len(w), np.int64),
            [],
            "none",
            np.zeros(len(w), np.int64),
            [],
        )
        gen = torch.Generator().manual_seed(0)

        def epoch_brainalign() -> None:
            ds = WindowDataset(paired, everything)
            for batch in batch_loader(ds, RandomSampler(ds, generator=gen), BATCH, False, gen):
                batch[0]

        def epoch_braindecode(key: str) -> Callable[[], None]:
            def run() -> None:
                for batch in DataLoader(state[key], batch_size=BATCH, shuffle=True, generator=gen):
                    batch[0]

            return run

        big = np.ones((256 << 20) // 4, dtype=np.float32)
        dst = np.empty_like(big)
        epochs = interleaved(
            {
                "brainalign": epoch_brainalign,
                "lazy": epoch_braindecode("lazy"),
                "preloaded": epoch_braindecode("pre"),
                "copy": lambda: np.copyto(dst, big),
            },
            rounds=3,
        )
    nbytes = w.data.nbytes
    n_lazy = len(state["lazy"])
    read_gbs = nbytes / epochs["brainalign"] / 1e9
    copy_gbs = big.nbytes / epochs["copy"] / 1e9
    what = f"one shuffled epoch of batches of {BATCH} ({n} windows, {nbytes / 1e6:.0f} MB)"
    return [
        _row(
            "2",
            what,
            n / epochs["brainalign"],
            "win/s",
            compared_with="braindecode windows, lazy",
            other=n_lazy / epochs["lazy"],
            ratio=epochs["lazy"] / epochs["brainalign"] * n / n_lazy,
            goal=">= 10x",
            met=epochs["lazy"] / epochs["brainalign"] * n / n_lazy >= 10,
        ),
        _row(
            "2",
            what,
            n / epochs["brainalign"],
            "win/s",
            compared_with="braindecode windows, preloaded",
            other=n_lazy / epochs["preloaded"],
            ratio=epochs["preloaded"] / epochs["brainalign"] * n / n_lazy,
            goal=">= 10x",
            met=epochs["preloaded"] / epochs["brainalign"] * n / n_lazy >= 10,
        ),
        _row(
            "2",
            "opening: cache hit (key + memory map) vs loading braindecode's saved dataset + windowing",
            opened["brainalign"],
            "s",
            compared_with="braindecode lazy / preloaded",
            other=opened["preloaded"],
            ratio=opened["preloaded"] / opened["brainalign"],
            note=f"lazy {opened['lazy']:.2f} s, preloaded {opened['preloaded']:.2f} s",
        ),
        _row(
            "3",
            "cache read bandwidth (same epoch)",
            read_gbs,
            "GB/s",
            compared_with=f"numpy copy of {big.nbytes >> 20} MiB",
            other=copy_gbs,
            ratio=read_gbs / copy_gbs,
            goal=">= 50%",
            met=read_gbs / copy_gbs >= 0.5,
        ),
    ]


# ----------------------------------------------------------------------------- 4. preprocessing
def _plain_mne(paths: list[Path]) -> np.ndarray:
    """What a user writes with MNE for eegmat_windows: read, rename, pick, filter,
    resample, cut fixed 2 s windows, in µV."""
    import mne

    from brainalign.preprocessing.presets import TEN_TWENTY_19

    rename = {"EEG T3": "T7", "EEG T4": "T8", "EEG T5": "P7", "EEG T6": "P8"}
    out = []
    for path in paths:
        raw = mne.io.read_raw_edf(path, preload=True, verbose="error")
        raw.rename_channels({c: rename.get(c, c.replace("EEG ", "")) for c in raw.ch_names})
        raw.pick(TEN_TWENTY_19)
        raw.filter(0.5, 40.0, verbose="error")
        raw.resample(100.0, method="polyphase", verbose="error")
        epochs = mne.make_fixed_length_epochs(raw, duration=2.0, preload=True, verbose="error")
        out.append(epochs.get_data(units="uV").astype(np.float32))
    return np.concatenate(out)


def bench_preprocess(quick: bool) -> list[dict[str, Any]]:
    from brainalign.data import open_dataset
    from brainalign.preprocessing import get_preset

    _quiet()
    n_files = 12 if quick else None
    with _eegmat_subset(n_files) as root:
        reader = open_dataset(root)
        paths = [r.paths[0] for r in reader.refs()]
        pipeline = get_preset("eegmat_windows")
        shapes = {}
        pipeline.transform(reader, progress=False, n_jobs=2)  # start the joblib workers once

        def ours(jobs: int) -> Callable[[], None]:
            return lambda: shapes.__setitem__(
                f"ba{jobs}", pipeline.transform(reader, progress=False, n_jobs=jobs).data.shape
            )

        with threads(1):
            t = interleaved(
                {"ba1": ours(1), "mne": lambda: shapes.__setitem__("mne", _plain_mne(paths).shape), "ba2": ours(2)},
                rounds=2,
            )
    what = f"eegmat_windows over {len(paths)} recordings {shapes['ba1']}"
    cores = os.cpu_count() or 1
    return [
        _row(
            "4",
            what + ", 1 process",
            t["ba1"],
            "s",
            compared_with=f"plain MNE calls, serially {shapes['mne']}",
            other=t["mne"],
            ratio=t["mne"] / t["ba1"],
            goal=">= 1x",
            met=t["mne"] / t["ba1"] >= 0.97,
            note="ratio = MNE time / brainalign time",
        ),
        _row(
            "4",
            what + ", n_jobs=2 (joblib)",
            t["ba2"],
            "s",
            compared_with="the same, n_jobs=1",
            other=t["ba1"],
            ratio=t["ba1"] / t["ba2"],
            goal=f"scales with cores ({cores})",
            met=t["ba1"] / t["ba2"] >= 1.5,
        ),
    ]


# ----------------------------------------------------------------------------- 5. scoring
def _clustered(n: int, dim: int, rng: np.random.Generator, centres: np.ndarray) -> np.ndarray:
    x = centres[rng.integers(0, len(centres), n)] + 0.5 * rng.standard_normal((n, dim), dtype=np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x.astype(np.float32)


def brute_topk(queries: np.ndarray, gallery: np.ndarray, k: int, chunk: int = 16) -> np.ndarray:
    """Exact top-k by inner product in numpy, ``chunk`` queries at a time, best first."""
    out = np.empty((len(queries), k), dtype=np.int64)
    for i in range(0, len(queries), chunk):
        s = queries[i : i + chunk] @ gallery.T
        part = np.argpartition(-s, k - 1, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(s, part, axis=1), axis=1, kind="stable")
        out[i : i + chunk] = np.take_along_axis(part, order, axis=1)
    return out


def recall_at_k(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found, truth)]))


def bench_scoring(quick: bool) -> list[dict[str, Any]]:
    import faiss
    import torch

    rng = np.random.default_rng(0)
    dim, k = 64, 10
    n_emb, n_gallery, n_query = 100_000, 1_000_000, (200 if quick else 1000)
    faiss.omp_set_num_threads(THREADS)
    centres = rng.standard_normal((1000, dim), dtype=np.float32)
    emb = _clustered(n_emb, dim, rng, centres)
    protos = _clustered(200, dim, rng, centres)
    et, pt = torch.from_numpy(emb), torch.from_numpy(protos)
    with threads(THREADS):
        zs = interleaved(
            {"numpy": lambda: (emb @ protos.T).argmax(axis=1), "torch": lambda: (et @ pt.T).argmax(dim=1)}, rounds=3
        )
        gallery = _clustered(n_gallery, dim, rng, centres)
        queries = _clustered(n_query, dim, rng, centres)
        flat = faiss.IndexFlatIP(dim)
        flat.add(gallery)
        nlist = 1024
        quant = faiss.IndexFlatIP(dim)
        ivf = faiss.IndexIVFFlat(quant, dim, nlist, faiss.METRIC_INNER_PRODUCT)
        build = timeit.Timer(
            lambda: (ivf.train(gallery[rng.choice(n_gallery, 40 * nlist, replace=False)]), ivf.add(gallery))
        ).timeit(number=1)
        ivf.nprobe = 16
        res: dict[str, np.ndarray] = {}
        t = interleaved(
            {
                "numpy": lambda: res.__setitem__("numpy", brute_topk(queries, gallery, k)),
                "flat": lambda: res.__setitem__("flat", flat.search(queries, k)[1]),
                "ivf": lambda: res.__setitem__("ivf", ivf.search(queries, k)[1]),
            },
            rounds=2,
        )
    truth = res["numpy"]
    r_flat, r_ivf = recall_at_k(res["flat"], truth), recall_at_k(res["ivf"], truth)
    what = f"retrieval top-{k}, {n_query} queries over {n_gallery:,} x {dim}"
    return [
        _row(
            "5",
            f"200-way zero-shot over {n_emb:,} embeddings (matmul + argmax, torch)",
            zs["torch"],
            "s",
            compared_with="numpy",
            other=zs["numpy"],
            ratio=zs["numpy"] / zs["torch"],
            goal="< 1 s",
            met=min(zs.values()) < 1.0,
        ),
        _row(
            "5",
            what + ": FAISS IndexFlatIP (exact)",
            n_query / t["flat"],
            "queries/s",
            compared_with="numpy brute force",
            other=n_query / t["numpy"],
            ratio=t["numpy"] / t["flat"],
            note=f"recall@10 {r_flat:.3f}",
        ),
        _row(
            "5",
            what + f": FAISS IVF{nlist},Flat nprobe 16",
            n_query / t["ivf"],
            "queries/s",
            compared_with="numpy brute force",
            other=n_query / t["numpy"],
            ratio=t["numpy"] / t["ivf"],
            note=f"recall@10 {r_ivf:.3f}; build {build:.1f} s; clustered synthetic embeddings",
        ),
    ]


# ----------------------------------------------------------------------------- 6. FLOP/s
def _step_flops(model, x, y) -> tuple[int, Callable[[], None]]:
    import torch
    from torch import nn
    from torch.utils.flop_counter import FlopCounterMode

    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def step() -> None:
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    step()
    with FlopCounterMode(display=False) as counter:
        step()
    return counter.get_total_flops(), step


def largest_default_encoder(n_chans: int = 19, n_times: int = 200, sfreq: float = 100.0):
    """(name, encoder) of the registered encoder with the most parameters at its
    defaults on eegmat's window; encoders that cannot take the window are skipped."""
    from brainalign.errors import BrainalignError
    from brainalign.models.registry import create_encoder, list_encoders
    from brainalign.preprocessing.presets import TEN_TWENTY_19

    best = None
    for name in list_encoders():
        try:
            enc = create_encoder(name, n_chans=n_chans, n_times=n_times, sfreq=sfreq, ch_names=TEN_TWENTY_19)
        except (BrainalignError, TypeError, ValueError, RuntimeError):
            continue
        size = sum(p.numel() for p in enc.parameters())
        if best is None or size > best[0]:
            best = (size, name, enc)
    return best[1], best[2]


def bench_flops(quick: bool) -> list[dict[str, Any]]:
    import torch
    from torch import nn

    from brainalign.models.registry import create_encoder
    from brainalign.utils.fastconv import use_fast_kernels

    _quiet()
    torch.manual_seed(0)
    batch = 16 if quick else BATCH
    x = torch.randn(batch, 19, 200)
    y = torch.randint(0, 2, (batch,))
    rows = []
    with threads(THREADS):
        size = 2048 if quick else 4096
        a, b = torch.randn(size, size), torch.randn(size, size)
        mm = interleaved({"mm": lambda: a @ b}, rounds=3)["mm"]
        peak = 2 * size**3 / mm
        name, enc = largest_default_encoder()
        deep4 = create_encoder("deep4", n_chans=19, n_times=200, sfreq=100.0, emb_dim=128)
        use_fast_kernels(deep4)
        for label, encoder in (
            (
                f"{name} (largest default encoder, {sum(p.numel() for p in enc.parameters()) / 1e6:.1f} M parameters)",
                enc,
            ),
            ("deep4 (eegmat benchmark encoder, fast kernels)", deep4),
        ):
            model = nn.Sequential(encoder, nn.Linear(encoder.emb_dim, 2))
            model.train()
            flops, step = _step_flops(model, x, y)
            t = interleaved({"step": step, "mm": lambda: a @ b}, rounds=2)
            achieved = flops / t["step"]
            peak = max(peak, 2 * size**3 / t["mm"])
            rows.append((label, flops, achieved))
    return [
        _row(
            "6",
            f"training step FLOP/s, batch {batch}: {label} ({flops / 1e9:.1f} GFLOP/step)",
            ach / 1e9,
            "GFLOP/s",
            compared_with=f"{size}x{size} float32 matmul",
            other=peak / 1e9,
            ratio=ach / peak,
            goal=">= 40% of peak",
            met=ach / peak >= 0.4,
        )
        for label, flops, ach in rows
    ]


# ----------------------------------------------------------------------------- 7. memory
def _memory_run(quick: bool, out: str) -> None:
    """Train in this (fresh) process, recording peak RSS at the end of every epoch."""
    from brainalign.training import trainer as trainer_mod
    from brainalign.training.recipe import recipe_from_dict

    _quiet()
    epochs = 6 if quick else 12
    tree = copy.deepcopy(SUPERVISED)
    tree["train"].update(epochs=epochs, patience=epochs)
    tree["data"]["max_windows"] = 800 if quick else None
    recipe = recipe_from_dict(tree)
    peaks: list[float] = []
    original = trainer_mod.evaluate_part

    def recording(tm, data, part, *args, **kwargs):  # called once per epoch, on "val"
        result = original(tm, data, part, *args, **kwargs)
        if part == "val":
            peaks.append(_max_rss_mb())
        return result

    trainer_mod.evaluate_part = recording
    with threads(THREADS), tempfile.TemporaryDirectory(prefix="brainalign-bench-") as tmp:
        trainer_mod.train(recipe, Path(tmp) / "run", progress=False)
    np.save(out, np.array(peaks))


def bench_memory(quick: bool) -> list[dict[str, Any]]:
    """Peak RSS (ru_maxrss) of a fresh process after each epoch of ``brainalign train``."""
    import multiprocessing

    with tempfile.TemporaryDirectory(prefix="brainalign-bench-") as tmp:
        out = str(Path(tmp) / "peaks.npy")
        proc = multiprocessing.get_context("spawn").Process(target=_memory_run, args=(quick, out))
        proc.start()
        proc.join()
        if proc.exitcode != 0:
            raise RuntimeError(f"memory benchmark process failed (exit {proc.exitcode})")
        peaks = np.load(out).tolist()
    growth = peaks[-1] - peaks[1]
    return [
        _row(
            "7",
            f"peak RSS after each of {len(peaks)} epochs (brainalign train, eegmat Deep4, fresh process)",
            peaks[-1],
            "MB",
            compared_with="peak after epoch 2",
            other=peaks[1],
            ratio=peaks[-1] / peaks[1],
            goal="flat",
            met=growth < 0.02 * peaks[1] + 8,
            note="per epoch: " + " ".join(f"{p:.0f}" for p in peaks),
        )
    ]


# ----------------------------------------------------------------------------- 8. DDP
def _ddp_model(seed: int):
    import torch

    from brainalign.models.aligned import build_model, model_spec
    from brainalign.models.registry import create_encoder

    torch.manual_seed(seed)
    eeg = create_encoder("deep4", n_chans=19, n_times=200, sfreq=100.0, emb_dim=128)
    ecg = create_encoder("nice", n_chans=1, n_times=200, sfreq=100.0, emb_dim=64)  # as recipes/eegmat_ecg.yaml
    tower = {"name": "signal", "encoder": ecg.encoder_config(), "trainable": True, "lr_factor": 1.0}
    model = build_model(model_spec(eeg.encoder_config(), {"depth": 3, "dim": 64, "hidden": None}, tower, None))
    return model


def _ddp_batches(steps: int, global_batch: int):
    import torch

    gen = torch.Generator().manual_seed(1)
    eeg = torch.randn(steps, global_batch, 19, 200, generator=gen)
    ecg = torch.randn(steps * global_batch, 1, 200, generator=gen)
    return eeg, ecg


def _ddp_run(rank: int, world: int, steps: int, global_batch: int, init_file: str | None, out: str) -> None:
    import torch
    from torch import nn

    from brainalign.training.trainer import TrainModule
    from brainalign.utils.fastconv import use_fast_kernels

    _quiet()
    torch.set_num_threads(THREADS // world)
    if world > 1:
        import torch.distributed as dist

        dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    model = _ddp_model(0)
    use_fast_kernels(model)
    eeg, ecg = _ddp_batches(steps, global_batch)
    model.set_pair_signals(ecg)
    tm = TrainModule(model, [{"name": "clip"}], gather=world > 1)
    # BatchNorm and dropout in eval mode: each window's computation must not depend on how the
    # global batch is split (SyncBatchNorm would be needed otherwise); gradients flow as usual
    tm.eval()
    runner = nn.parallel.DistributedDataParallel(tm, find_unused_parameters=True) if world > 1 else tm
    opt = torch.optim.AdamW(tm.parameters(), lr=1e-3)
    share = global_batch // world
    losses, times = [], []
    for s in range(steps):
        rows = slice(rank * share, (rank + 1) * share)
        x = eeg[s, rows]
        pidx = torch.arange(s * global_batch, (s + 1) * global_batch)[rows]
        lab = torch.zeros(share, dtype=torch.long)

        def step(x: torch.Tensor = x, pidx: torch.Tensor = pidx, lab: torch.Tensor = lab) -> None:
            total, _, _ = runner(x, pidx, lab)
            opt.zero_grad(set_to_none=True)
            total.backward()
            opt.step()
            losses.append(float(total.detach()))

        times.append(timeit.Timer(step).timeit(number=1))
    np.savez(Path(out) / f"rank{rank}.npz", losses=np.array(losses), times=np.array(times))
    if world > 1:
        dist.destroy_process_group()


def bench_ddp(quick: bool) -> list[dict[str, Any]]:
    import torch.multiprocessing as mp

    steps, global_batch = (4, 64) if quick else (8, 64)
    best = {1: math.inf, 2: math.inf}
    losses: dict[int, np.ndarray] = {}
    for _ in range(2):  # interleaved rounds: 1 rank, 2 ranks
        for world in (1, 2):
            with tempfile.TemporaryDirectory(prefix="brainalign-ddp-") as tmp:
                if world == 1:
                    _ddp_run(0, 1, steps, global_batch, None, tmp)
                else:
                    mp.spawn(_ddp_run, args=(2, steps, global_batch, str(Path(tmp) / "init"), tmp), nprocs=2)
                ranks = [np.load(Path(tmp) / f"rank{r}.npz") for r in range(world)]
                step_times = np.max([r["times"] for r in ranks], axis=0)[1:]  # the first step warms up
                best[world] = min(best[world], float(np.median(step_times)))
                losses[world] = np.mean([r["losses"] for r in ranks], axis=0)
    diff = float(np.max(np.abs(losses[2] - losses[1])))
    return [
        _row(
            "8",
            f"DDP CLIP step (Deep4 + NICE ECG tower, global batch {global_batch}, gathered negatives): "
            f"2 gloo ranks x {THREADS // 2} thread",
            best[2],
            "s/step",
            compared_with=f"1 rank x {THREADS} threads",
            other=best[1],
            ratio=best[1] / best[2],
            goal="equal losses",
            met=diff < 1e-4,
            note=f"max |loss diff| over {steps} steps {diff:.1e}; losses " + " ".join(f"{v:.4f}" for v in losses[2]),
        )
    ]


# ----------------------------------------------------------------------------- driver
BENCHMARKS: dict[str, Callable[[bool], list[dict[str, Any]]]] = {
    "train": bench_train,
    "read": bench_read,
    "preprocess": bench_preprocess,
    "scoring": bench_scoring,
    "flops": bench_flops,
    "memory": bench_memory,
    "ddp": bench_ddp,
}


def run_benchmarks(names: list[str] | None = None, quick: bool = False) -> list[dict[str, Any]]:
    """Rows of every named benchmark (all when ``names`` is None), in table order."""
    names = list(BENCHMARKS) if not names else list(names)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        from brainalign.errors import ConfigError

        raise ConfigError(f"unknown benchmark(s) {unknown}; choose from {list(BENCHMARKS)}")
    rows: list[dict[str, Any]] = []
    for name in names:
        start = timeit.default_timer()
        try:
            out = BENCHMARKS[name](quick)
        except Exception as err:  # one failing benchmark must not lose the others' rows  # noqa: BLE001
            out = [_row(name, f"{name}: failed", math.nan, "", note=f"{type(err).__name__}: {err}")]
        for row in out:
            row["seconds"] = round(timeit.default_timer() - start, 1)
        rows.extend(out)
        print(format_table(out, header=not rows[: -len(out)]), flush=True, file=sys.stderr)
    return rows


def _fmt(v: float | None) -> str:
    if v is None:
        return ""
    if v == 0 or 0.01 <= abs(v) < 10_000:
        return f"{v:.3g}" if abs(v) < 100 else f"{v:.0f}"
    return f"{v:.3g}"


def format_table(rows: list[dict[str, Any]], header: bool = True) -> str:
    """A Markdown table: benchmark, brainalign's figure, the comparator's, ratio, goal."""
    lines = []
    if header:
        lines += [
            "| # | what | brainalign | compared with | theirs | ratio | goal | met | note |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
    for r in rows:
        met = "" if r["met"] is None else ("yes" if r["met"] else "**no**")
        ratio = "" if r["ratio"] is None else (f"{100 * r['ratio']:.0f}%" if "%" in r["goal"] else f"{r['ratio']:.2f}x")
        lines.append(
            f"| {r['bench']} | {r['what']} | {_fmt(r['value'])} {r['unit']} | {r['compared_with']} | "
            f"{_fmt(r['other'])} | {ratio} | {r['goal']} | {met} | {r['note']} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="brainalign performance benchmarks (issue 13)")
    parser.add_argument("names", nargs="*", help=f"benchmarks to run (default: all): {', '.join(BENCHMARKS)}")
    parser.add_argument("--quick", action="store_true", help="smaller sizes, fewer rounds")
    args = parser.parse_args(argv)
    rows = run_benchmarks(args.names or None, quick=args.quick)
    print(format_table(rows))
    return 0
