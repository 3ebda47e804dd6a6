"""Two CPU ranks (gloo) with half a batch each give the one-process loss and, after
DDP-style gradient averaging, the one-process gradients."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from brainalign.objectives import ClipLoss, SigLipLoss, gather_features

WORLD = 2
# Rank 0 holds 3 rows, rank 1 holds 2 (an uneven last batch); row 1 has no partner;
# rows 0 and 3, on different ranks, share their partner.
SPLIT = 3
CASES = {
    "clip": lambda: ClipLoss(gather=True),
    "clip_local": lambda: ClipLoss(gather=True, local_loss=True),
    "siglip_local": lambda: SigLipLoss(gather=True, local_loss=True),
}


def _batch() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(5, 4, generator=gen, dtype=torch.float64)
    y = torch.randn(5, 4, generator=gen, dtype=torch.float64)
    y[3] = y[0]
    valid = torch.tensor([True, False, True, True, True])
    pair_ids = torch.tensor([0, 1, 2, 0, 4])
    return x, y, valid, pair_ids


def _compute(
    name: str, x: torch.Tensor, y: torch.Tensor, valid: torch.Tensor, pair_ids: torch.Tensor
) -> dict[str, np.ndarray]:
    """Loss and gradients w.r.t. the inputs and the loss's parameters."""
    loss_fn = CASES[name]().double()
    x = x.clone().requires_grad_(True)
    y = y.clone().requires_grad_(True)
    loss = loss_fn(x, y, valid=valid, pair_ids=pair_ids)
    loss.backward()
    out = {"loss": loss.detach().numpy(), "gx": x.grad.numpy(), "gy": y.grad.numpy()}
    for pname, param in loss_fn.named_parameters():
        out[f"p_{pname}"] = param.grad.numpy()
    return out


def _worker(rank: int, init_file: str, out_dir: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=WORLD)
    try:
        x, y, valid, pair_ids = _batch()
        part = slice(0, SPLIT) if rank == 0 else slice(SPLIT, None)
        results = {}
        for name in CASES:
            for key, value in _compute(name, x[part], y[part], valid[part], pair_ids[part]).items():
                results[f"{name}/{key}"] = value
        gathered = gather_features(torch.arange(SPLIT) if rank == 0 else torch.arange(10, 12))
        results["gathered"] = gathered.numpy()
        np.savez(Path(out_dir) / f"rank{rank}.npz", **results)
    finally:
        dist.destroy_process_group()


def test_gathered_losses_match_single_process(tmp_path):
    mp.spawn(_worker, args=(str(tmp_path / "init"), str(tmp_path)), nprocs=WORLD, join=True)
    ranks = [dict(np.load(tmp_path / f"rank{r}.npz", allow_pickle=False)) for r in range(WORLD)]
    for r in ranks:
        np.testing.assert_array_equal(r["gathered"], [0, 1, 2, 10, 11])

    x, y, valid, pair_ids = _batch()
    for name in CASES:
        single = _compute(name, x, y, valid, pair_ids)
        losses = [r[f"{name}/loss"] for r in ranks]
        # DDP averages over ranks: the mean of the rank losses is the batch loss
        # (without local_loss every rank computes the whole batch loss).
        np.testing.assert_allclose(np.mean(losses), single["loss"], rtol=0, atol=1e-10)
        if not name.endswith("local"):
            np.testing.assert_allclose(losses, [single["loss"]] * WORLD, rtol=0, atol=1e-10)
        # Each rank's input gradient sums every rank's loss gradient (all_gather's
        # backward); DDP divides parameter gradients by the world size.
        for g in ("gx", "gy"):
            averaged = np.concatenate([r[f"{name}/{g}"] for r in ranks]) / WORLD
            np.testing.assert_allclose(averaged, single[g], rtol=0, atol=1e-5)
            assert np.all(averaged[1] == 0)
        params = [k for k in single if k.startswith("p_")]
        assert params
        for k in params:
            averaged = np.mean([r[f"{name}/{k}"] for r in ranks], axis=0)
            np.testing.assert_allclose(averaged, single[k], rtol=0, atol=1e-5)


def test_gather_is_identity_without_process_group():
    x = torch.randn(3, 2, requires_grad=True)
    assert gather_features(x) is x
