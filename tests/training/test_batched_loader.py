"""The batched loader (one gather per batch) serves exactly the batches, in the same
order and from the same random draws, as the per-item DataLoader it replaced; and
the validation pass that scores the classifier from its own embeddings gives the
numbers of the former two-pass evaluation. Synthetic data: runs in about a second."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from torch.utils.data import DataLoader
from torch.utils.data.distributed import DistributedSampler

from brainalign.data.splits import Split
from brainalign.models.aligned import build_model, model_spec
from brainalign.preprocessing import Windows
from brainalign.training import distributed as dist_mod
from brainalign.training.data import PairedData
from brainalign.training.trainer import TrainModule, _loader, evaluate_part


def _paired(n: int = 103, mmap_dir=None) -> PairedData:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, 4, 32)).astype(np.float32)
    if mmap_dir is not None:  # as the cache serves it: a read-only memory map
        np.save(mmap_dir / "w.npy", x)
        x = np.load(mmap_dir / "w.npy", mmap_mode="r")
    table = pd.DataFrame(
        {
            "recording": [f"r{i % 5}" for i in range(n)],
            "subject": [f"s{i % 5}" for i in range(n)],
            "start": np.arange(n, dtype=float),
        }
    )
    windows = Windows(x, ["a", "b", "c", "d"], 16.0, table)
    perm = rng.permutation(n)
    split = Split(train=np.sort(perm[:71]), val=np.sort(perm[71:87]), test=np.sort(perm[87:]), kind="synthetic")
    labels = rng.integers(0, 3, n).astype(np.int64)
    labels[5] = -1
    pair_index = rng.integers(-1, 4, n).astype(np.int64)
    return PairedData(windows, split, pair_index, ["p0", "p1", "p2", "p3"], "text", labels, ["a", "b", "c"])


def _per_item_loader(data, part, batch_size, shuffle, seed, epoch, info) -> DataLoader:
    """The loader as it was: the default per-item fetch and collation."""
    ds = data.dataset(part)
    if info.enabled:
        sampler = DistributedSampler(
            ds, num_replicas=info.world_size, rank=info.rank, shuffle=shuffle, seed=seed, drop_last=shuffle
        )
        sampler.set_epoch(epoch)
        return DataLoader(ds, batch_size=batch_size, sampler=sampler, drop_last=shuffle)
    gen = torch.Generator().manual_seed(seed * 100_003 + epoch)
    drop_last = shuffle and len(ds) % batch_size == 1
    return DataLoader(ds, batch_size=batch_size, shuffle=shuffle, generator=gen, drop_last=drop_last)


def _drain(loader) -> tuple[list, torch.Tensor]:
    torch.manual_seed(123)
    batches = [tuple(b) for b in loader]
    return batches, torch.get_rng_state()  # the loader must draw from the global RNG as before


@pytest.mark.parametrize("memmap", [False, True])
@pytest.mark.parametrize("batch_size", [7, 10, 64])
@pytest.mark.parametrize("shuffle", [True, False])
@pytest.mark.parametrize("rank", [None, 0, 1])
def test_batched_loader_yields_the_per_item_batches(tmp_path, memmap, batch_size, shuffle, rank):
    data = _paired(mmap_dir=tmp_path if memmap else None)
    info = dist_mod.DistInfo() if rank is None else dist_mod.DistInfo(rank=rank, world_size=2)
    for part in ("train", "val"):
        for epoch in (0, 3):
            new = _loader(data, part, batch_size, shuffle, 5, epoch, info)
            old = _per_item_loader(data, part, batch_size, shuffle, 5, epoch, info)
            assert len(new) == len(old)
            (nb, nstate), (ob, ostate) = _drain(new), _drain(old)
            assert len(nb) == len(ob)
            for a, b in zip(nb, ob):
                assert len(a) == len(b) == 4
                for ta, tb in zip(a, b):
                    assert ta.dtype == tb.dtype and ta.shape == tb.shape
                    assert torch.equal(ta, tb)
            assert torch.equal(nstate, ostate)


@pytest.mark.parametrize("shuffle", [True, False])
@pytest.mark.parametrize("rank", [None, 1])
def test_worker_processes_yield_the_same_batches(tmp_path, shuffle, rank):
    """``train.num_workers``: the batches gathered in worker processes are the in-process ones."""
    data = _paired(mmap_dir=tmp_path)
    info = dist_mod.DistInfo() if rank is None else dist_mod.DistInfo(rank=rank, world_size=2)
    for epoch in (0, 2):
        (inproc, s0), (workers, s1) = (
            _drain(_loader(data, "train", 10, shuffle, 5, epoch, info, num_workers=n)) for n in (0, 2)
        )
        assert len(inproc) == len(workers) > 0
        for a, b in zip(inproc, workers):
            assert all(torch.equal(ta, tb) for ta, tb in zip(a, b))
        assert torch.equal(s0, s1)


def test_a_single_item_is_still_one_window():
    data = _paired()
    ds = data.dataset("train")
    x, p, y, w = ds[3]
    assert isinstance(p, int) and isinstance(w, int)
    assert torch.equal(x, torch.from_numpy(np.asarray(data.windows.data[data.part("train")[3]])))
    xb, pb, yb, wb = ds[[3, 0]]
    assert torch.equal(xb[0], x) and int(pb[0]) == p and int(yb[0]) == y and int(wb[0]) == w


def _two_pass_reference(tm, data, part, batch_size):
    """evaluate_part's former classifier scoring: a second pass through the encoder."""
    from sklearn.metrics import balanced_accuracy_score

    tm.eval()
    losses, logits = [], []
    with torch.no_grad(), tm.local_losses():
        for x, pidx, lab, _ in _per_item_loader(data, part, batch_size, False, 0, 0, dist_mod.DistInfo()):
            total, _, _ = tm(x, pidx, lab)
            losses.append((float(total), len(x)))
        for x, pidx, _, _ in _per_item_loader(data, part, batch_size, False, 0, 0, dist_mod.DistInfo()):
            z = tm.model.encode_eeg(x)
            logits.append(tm.model.classifier(tm.model.classifier_input(z, pidx)))
    y = data.labels[data.part(part)]
    pred = torch.cat(logits).argmax(dim=1).numpy()
    known = y >= 0
    return (
        sum(v * n for v, n in losses) / sum(n for _, n in losses),
        float(balanced_accuracy_score(y[known], pred[known])),
    )


def test_validation_scores_the_classifier_from_the_same_pass():
    from brainalign.models.registry import create_encoder

    data = _paired()
    enc = create_encoder(
        "shallow",
        n_chans=4,
        n_times=32,
        sfreq=16.0,
        emb_dim=8,
        filter_time_length=5,
        pool_time_length=4,
        pool_time_stride=2,
    )
    torch.manual_seed(0)
    model = build_model(model_spec(enc.encoder_config(), {"depth": 1, "dim": 8, "hidden": None}, None, 3))
    tm = TrainModule(model, [{"name": "ce"}], gather=False)
    loss, bacc = _two_pass_reference(tm, data, "val", 6)
    out = evaluate_part(tm, data, "val", 6, torch.device("cpu"))
    assert out["val_loss"] == loss
    assert out["val_bacc"] == bacc
