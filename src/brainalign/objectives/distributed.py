"""Gathering embeddings across data-parallel ranks for contrastive losses.

A contrastive loss is only as good as its negatives, so with data parallelism each
rank compares its own samples with the samples of every rank. :func:`gather_features`
concatenates a tensor over ranks; gradients reach the local shard through
:func:`torch.distributed.nn.functional.all_gather`, whose backward pass *sums* over
ranks the gradient that each rank's loss sends to that shard.

Gradient semantics: let ``L_r`` be the loss computed on rank ``r``. The local shard
receives ``sum_r dL_r/dx``; DistributedDataParallel then averages the parameter
gradients over the ``W`` ranks, so the update follows ``d(mean_r L_r)/dθ``. The losses
in :mod:`brainalign.objectives.loss` scale ``L_r`` so that ``mean_r L_r`` equals the
loss on the concatenated batch, which makes a ``W``-rank run take exactly the step of
a one-process run on the whole batch.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.distributed.nn.functional as dist_fn


def world_size() -> int:
    """Number of ranks in the default process group, 1 when none is initialised."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size()
    return 1


def rank() -> int:
    """This process's rank in the default process group, 0 when none is initialised."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank()
    return 0


def gather_features(x: torch.Tensor) -> torch.Tensor:
    """Concatenate ``x`` (``(n_local, ...)``) over all ranks along dimension 0.

    Ranks may hold different numbers of rows (the last batch of an epoch): shards are
    zero-padded to the largest one for the collective and trimmed afterwards. Rank
    ``r``'s rows come before rank ``r + 1``'s. Boolean tensors are gathered as
    ``uint8`` (not every backend reduces booleans) and come back boolean.

    Without an initialised process group, or with a single rank, ``x`` is returned
    unchanged. Every rank must call this the same number of times, in the same order.
    """
    n_ranks = world_size()
    if n_ranks == 1:
        return x
    if x.dtype == torch.bool:
        return gather_features(x.to(torch.uint8)).bool()
    local_n = torch.tensor([x.shape[0]], device=x.device, dtype=torch.long)
    sizes = [torch.zeros_like(local_n) for _ in range(n_ranks)]
    dist.all_gather(sizes, local_n)
    counts = [int(s.item()) for s in sizes]
    longest = max(counts)
    if x.shape[0] < longest:
        pad = x.new_zeros((longest - x.shape[0], *x.shape[1:]))
        x = torch.cat([x, pad], dim=0)
    shards = dist_fn.all_gather(x)
    return torch.cat([shard[:count] for shard, count in zip(shards, counts)], dim=0)
