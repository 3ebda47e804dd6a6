"""Training objectives: contrastive alignment, metric learning, supervision, reconstruction.

* :class:`ClipLoss` - symmetric InfoNCE (CLIP) with a learnable temperature.
* :class:`SigLipLoss` - pairwise sigmoid loss (SigLIP) with learnable scale and bias.
* :class:`SemiHardTripletLoss` - FaceNet triplet loss with in-batch semi-hard mining.
* :class:`CrossEntropy` - supervised classification.
* :class:`MaskedReconstructionLoss` - MSE on masked positions (masked autoencoding).
* :class:`WeightedSum` - a weighted sum of named losses for multi-task training.

Missing modalities: the paired losses take a boolean ``valid`` mask per sample and
treat a row holding NaN in either embedding as missing; only the pairs where both
sides exist take part. When no pair exists they return a zero that is still
connected to the autograd graph, so ``backward()`` (and DistributedDataParallel)
works and every gradient is zero.

Shared partners: when several samples are paired with the same text or image (many
trials of one stimulus), pass ``pair_ids`` (one integer per sample, equal for equal
partners); such samples are then not treated as negatives of one another.

Data parallelism: with ``gather=True`` the paired losses compare each sample with
the samples of every rank (see :mod:`brainalign.objectives.distributed`). Each rank's
loss is scaled so that its average over ranks is the loss on the concatenated batch,
which is what DistributedDataParallel's gradient averaging then optimises.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from brainalign.errors import ContractError
from brainalign.objectives.distributed import gather_features, rank, world_size
from brainalign.registry import Registry

__all__ = [
    "OBJECTIVES",
    "create_objective",
    "objective_inputs",
    "ClipLoss",
    "SigLipLoss",
    "SemiHardTripletLoss",
    "CrossEntropy",
    "MaskedReconstructionLoss",
    "WeightedSum",
]


def _graph_zero(*tensors: torch.Tensor) -> torch.Tensor:
    """A scalar 0 that depends on every tensor given (NaNs included), so that
    ``backward()`` reaches them all with zero gradients instead of failing."""
    zero: torch.Tensor | None = None
    for t in tensors:
        if t.is_floating_point():
            term = torch.nan_to_num(t, nan=0.0, posinf=0.0, neginf=0.0).sum() * 0.0
            zero = term if zero is None else zero + term
    if zero is None:
        raise ContractError("a loss needs at least one floating-point input")
    return zero


@dataclass
class _Pairs:
    """The pairs a paired loss uses on this rank.

    ``rows_x``/``rows_y`` are the query rows (this rank's valid pairs with
    ``local_loss``, else every valid pair), ``cols_x``/``cols_y`` every valid pair of
    every rank, ``targets[i]`` the column of row ``i``'s partner, ``same[i, j]``
    whether row ``i`` and column ``j`` have the same partner (their own pair included),
    and ``norm`` the divisor that makes the mean over ranks of the per-rank losses
    equal the loss on the whole (concatenated) batch.
    """

    rows_x: torch.Tensor
    rows_y: torch.Tensor
    cols_x: torch.Tensor
    cols_y: torch.Tensor
    targets: torch.Tensor
    same: torch.Tensor
    norm: float
    #: this rank's rows that hold a pair (``rows_x`` are these rows, in order, with ``local``)
    ok: torch.Tensor | None = None


class _PairedLoss(nn.Module):
    """Common input handling of the losses on paired embeddings ``x[i] <-> y[i]``."""

    def __init__(self, *, normalize: bool, gather: bool, local_loss: bool):
        super().__init__()
        self.normalize = normalize
        self.gather = gather
        self.local_loss = local_loss

    def _pairs(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        valid: torch.Tensor | None,
        pair_ids: torch.Tensor | None,
        local: bool = False,
    ) -> _Pairs | None:
        """Validate, mask missing pairs, normalise and gather; None when no pair exists.
        ``local``: the query rows are this rank's own (as ``local_loss``), whatever it says."""
        if x.ndim != 2 or y.ndim != 2 or x.shape != y.shape:
            raise ContractError(
                f"{type(self).__name__} needs two (batch, dim) embeddings of one shape, "
                f"got {tuple(x.shape)} and {tuple(y.shape)}"
            )
        ok = ~(torch.isnan(x).any(dim=1) | torch.isnan(y).any(dim=1))
        if valid is not None:
            if valid.shape != (x.shape[0],):
                raise ContractError(f"valid mask must have shape ({x.shape[0]},), got {tuple(valid.shape)}")
            ok = ok & valid.to(device=ok.device, dtype=torch.bool)
        if pair_ids is not None and pair_ids.shape != (x.shape[0],):
            raise ContractError(f"pair_ids must have shape ({x.shape[0]},), got {tuple(pair_ids.shape)}")
        ids = pair_ids.to(device=ok.device, dtype=torch.long) if pair_ids is not None else None
        # Zero the missing rows before any arithmetic so NaNs never reach the
        # gradients of the rows that exist.
        x = torch.where(ok[:, None], x, torch.zeros_like(x))
        y = torch.where(ok[:, None], y, torch.zeros_like(y))
        if self.normalize:
            x = F.normalize(x, dim=1)
            y = F.normalize(y, dim=1)
        n_ranks = world_size() if self.gather else 1
        if n_ranks > 1:
            owner = gather_features(torch.full_like(ok, rank(), dtype=torch.long))
            all_x, all_y, all_ok = gather_features(x), gather_features(y), gather_features(ok)
            all_ids = gather_features(ids) if ids is not None else None
        else:
            owner = torch.zeros_like(ok, dtype=torch.long)
            all_x, all_y, all_ok, all_ids = x, y, ok, ids
        n_pairs = int(all_ok.sum().item())
        if n_pairs == 0:
            return None
        column = torch.cumsum(all_ok.long(), dim=0) - 1
        if (self.local_loss or local) and n_ranks > 1:
            mine = all_ok & (owner == rank())
            norm = n_pairs / n_ranks
        else:
            mine = all_ok
            norm = float(n_pairs)
        if all_ids is None:  # every sample is its own partner
            all_ids = torch.arange(len(all_ok), device=all_ok.device)
        same = all_ids[mine][:, None] == all_ids[all_ok][None, :]
        return _Pairs(
            rows_x=all_x[mine],
            rows_y=all_y[mine],
            cols_x=all_x[all_ok],
            cols_y=all_y[all_ok],
            targets=column[mine],
            same=same,
            norm=norm,
            ok=ok,
        )


class ClipLoss(_PairedLoss):
    """Symmetric InfoNCE of CLIP (Radford et al. 2021) between paired embeddings.

    ``loss = (CE(s * x @ y.T, i) + CE(s * y @ x.T, i)) / 2`` with the cosine
    similarities of L2-normalised embeddings (``normalize=True``) and the scale
    ``s = exp(logit_scale)``, initialised to ``1 / temperature`` (1/0.07) and capped
    at ``max_scale`` (100) as in CLIP, learnable unless ``learn_scale=False``.

    ``gather=True`` uses the samples of every rank as negatives; ``local_loss=True``
    then computes only this rank's rows of the logit matrices (less memory, same
    gradient after DDP averaging).
    """

    def __init__(
        self,
        *,
        temperature: float = 0.07,
        learn_scale: bool = True,
        max_scale: float = 100.0,
        normalize: bool = True,
        gather: bool = False,
        local_loss: bool = False,
    ):
        super().__init__(normalize=normalize, gather=gather, local_loss=local_loss)
        init = torch.tensor(math.log(1.0 / temperature))
        if learn_scale:
            self.logit_scale = nn.Parameter(init)
        else:
            self.register_buffer("logit_scale", init)
        self.max_scale = max_scale

    @property
    def scale(self) -> torch.Tensor:
        """The multiplier of the cosine similarities, ``exp(logit_scale)`` capped."""
        return self.logit_scale.exp().clamp(max=self.max_scale)

    def forward(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        valid: torch.Tensor | None = None,
        pair_ids: torch.Tensor | None = None,
        reduction: str = "mean",
    ) -> torch.Tensor:
        """Loss of the pairs ``(x[i], y[i])``; ``valid[i]`` False marks a missing pair.

        With ``pair_ids``, the other samples that share a row's partner are left out
        of that row's softmax (neither positive nor negative).

        ``reduction="none"``: the per-sample losses ``(batch,)`` of this rank's rows,
        ``(CE_x->y[i] + CE_y->x[i]) / 2`` over the valid pairs as negatives, 0 where a
        row has no pair; their mean over the valid rows is the ``"mean"`` loss on one
        process (what :func:`~brainalign.generation.multitask.masked_multitask_loss`
        averages per modality).
        """
        if reduction not in ("mean", "none"):
            raise ContractError(f"reduction must be 'mean' or 'none', got {reduction!r}")
        per_sample = reduction == "none"
        pairs = self._pairs(x, y, valid, pair_ids, local=per_sample)
        if pairs is None:
            zero = _graph_zero(x, y, self.logit_scale)
            return zero + torch.zeros(x.shape[0], device=x.device) if per_sample else zero
        scale = self.scale
        own = torch.zeros_like(pairs.same)
        own[torch.arange(len(pairs.targets), device=own.device), pairs.targets] = True
        shared = pairs.same & ~own
        logits_xy = (scale * pairs.rows_x @ pairs.cols_y.T).masked_fill(shared, -math.inf)
        logits_yx = (scale * pairs.rows_y @ pairs.cols_x.T).masked_fill(shared, -math.inf)
        if per_sample:
            rows = (
                F.cross_entropy(logits_xy, pairs.targets, reduction="none")
                + F.cross_entropy(logits_yx, pairs.targets, reduction="none")
            ) / 2.0
            assert pairs.ok is not None
            out = torch.zeros(x.shape[0], device=rows.device, dtype=rows.dtype)
            return out.masked_scatter(pairs.ok, rows)
        total = F.cross_entropy(logits_xy, pairs.targets, reduction="sum") + F.cross_entropy(
            logits_yx, pairs.targets, reduction="sum"
        )
        return total / (2.0 * pairs.norm)


class SigLipLoss(_PairedLoss):
    """Pairwise sigmoid loss of SigLIP (Zhai et al. 2023).

    ``loss = -1/N * sum_ij log sigmoid(z_ij * (exp(t') * x_i . y_j + b))`` with
    ``z_ij = 1`` for a matching pair and -1 otherwise; ``t'`` starts at ``log 10`` and
    ``b`` at -10 as in the paper, both learnable unless ``learn_params=False``.
    """

    def __init__(
        self,
        *,
        init_logit_scale: float = math.log(10.0),
        init_logit_bias: float = -10.0,
        learn_params: bool = True,
        normalize: bool = True,
        gather: bool = False,
        local_loss: bool = False,
    ):
        super().__init__(normalize=normalize, gather=gather, local_loss=local_loss)
        scale, bias = torch.tensor(float(init_logit_scale)), torch.tensor(float(init_logit_bias))
        if learn_params:
            self.logit_scale = nn.Parameter(scale)
            self.logit_bias = nn.Parameter(bias)
        else:
            self.register_buffer("logit_scale", scale)
            self.register_buffer("logit_bias", bias)

    def forward(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        valid: torch.Tensor | None = None,
        pair_ids: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Loss of the pairs ``(x[i], y[i])``; ``valid[i]`` False marks a missing pair.

        With ``pair_ids``, ``x[i]`` and ``y[j]`` with equal ids also count as a match.
        """
        pairs = self._pairs(x, y, valid, pair_ids)
        if pairs is None:
            return _graph_zero(x, y, self.logit_scale, self.logit_bias)
        logits = self.logit_scale.exp() * pairs.rows_x @ pairs.cols_y.T + self.logit_bias
        signs = pairs.same.to(logits.dtype) * 2.0 - 1.0
        return -F.logsigmoid(signs * logits).sum() / pairs.norm


class SemiHardTripletLoss(nn.Module):
    """Triplet loss with in-batch semi-hard negative mining (FaceNet, Schroff et al.
    2015), following ``tfa.losses.TripletSemiHardLoss``.

    For every anchor-positive pair (same label, different samples) the negative is
    the closest one that is still farther from the anchor than the positive; when
    there is none, the farthest negative (as TensorFlow does). The loss is the mean
    over anchor-positive pairs of ``max(d(a, p) - d(a, n) + margin, 0)``, with ``d``
    the squared Euclidean distance (``squared=False``: the Euclidean distance).
    Pairs whose anchor has no negative in the batch form no triplet and are left out.

    To align two modalities, concatenate their embeddings and give both halves the
    pair identifiers as labels. Memory grows as ``batch**3``.
    """

    def __init__(self, margin: float = 1.0, *, squared: bool = True):
        super().__init__()
        self.margin = margin
        self.squared = squared

    def _distances(self, emb: torch.Tensor) -> torch.Tensor:
        sq_norms = (emb * emb).sum(dim=1)
        sq = (sq_norms[:, None] + sq_norms[None, :] - 2.0 * emb @ emb.T).clamp_min(0.0)
        sq = sq * (1.0 - torch.eye(len(emb), dtype=emb.dtype, device=emb.device))
        if self.squared:
            return sq
        # sqrt has an infinite slope at 0: keep exact zeros out of its gradient.
        return torch.where(sq > 0, sq.clamp_min(1e-16).sqrt(), torch.zeros_like(sq))

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Loss of ``embeddings`` (``(batch, dim)``) grouped by ``labels`` (``(batch,)``)."""
        if embeddings.ndim != 2 or labels.shape != (embeddings.shape[0],):
            raise ContractError(
                f"SemiHardTripletLoss needs (batch, dim) embeddings and (batch,) labels, "
                f"got {tuple(embeddings.shape)} and {tuple(labels.shape)}"
            )
        dist = self._distances(embeddings)
        same = labels[:, None] == labels[None, :]
        negative = ~same
        positive = same & ~torch.eye(len(labels), dtype=torch.bool, device=same.device)
        # [a, p, n]: n is a negative of a farther from a than p is.
        farther = negative[:, None, :] & (dist[:, None, :] > dist[:, :, None])
        inf = torch.full_like(dist, math.inf)
        semi_hard = torch.where(farther, dist[:, None, :], inf[:, None, :]).min(dim=2).values
        easiest = torch.where(negative, dist, -inf).max(dim=1).values
        chosen = torch.where(farther.any(dim=2), semi_hard, easiest[:, None].expand_as(dist))
        triplets = positive & negative.any(dim=1)[:, None]
        if not bool(triplets.any()):
            return _graph_zero(embeddings)
        loss = (dist - chosen + self.margin).clamp_min(0.0)
        return loss[triplets].mean()


class CrossEntropy(nn.Module):
    """Supervised classification loss: mean cross-entropy of ``logits`` (``(batch,
    classes)``) against integer ``targets``; targets equal to ``ignore_index`` (a
    trial without a label) are skipped, and a batch without any label gives a zero
    loss instead of NaN."""

    def __init__(
        self,
        *,
        class_weights: list[float] | torch.Tensor | None = None,
        label_smoothing: float = 0.0,
        ignore_index: int = -100,
    ):
        super().__init__()
        weight = None if class_weights is None else torch.as_tensor(class_weights, dtype=torch.float32)
        self.register_buffer("class_weights", weight)
        self.label_smoothing = label_smoothing
        self.ignore_index = ignore_index

    def _class_weights(self) -> torch.Tensor | None:
        weight = getattr(self, "class_weights", None)
        return weight if isinstance(weight, torch.Tensor) else None

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        if logits.ndim != 2 or targets.shape != (logits.shape[0],):
            raise ContractError(
                f"CrossEntropy needs (batch, classes) logits and (batch,) targets, "
                f"got {tuple(logits.shape)} and {tuple(targets.shape)}"
            )
        if not bool((targets != self.ignore_index).any()):
            return _graph_zero(logits)
        return F.cross_entropy(
            logits,
            targets.long(),
            weight=self._class_weights(),
            label_smoothing=self.label_smoothing,
            ignore_index=self.ignore_index,
        )


class MaskedReconstructionLoss(nn.Module):
    """Mean squared error over the masked positions only, as in masked autoencoders.

    ``mask`` is boolean, True where the input was hidden and must be reconstructed.
    Its shape is ``prediction.shape`` or a leading part of it (``(batch, patches)``
    for ``(batch, patches, dim)`` predictions): each mask entry then covers the
    trailing dimensions. Values at unmasked positions, NaN included, play no part.
    """

    def forward(self, prediction: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if prediction.shape != target.shape:
            raise ContractError(f"prediction {tuple(prediction.shape)} and target {tuple(target.shape)} differ")
        if mask.shape != prediction.shape[: mask.ndim]:
            raise ContractError(
                f"mask {tuple(mask.shape)} does not cover the leading dimensions of {tuple(prediction.shape)}"
            )
        full = mask.to(torch.bool).reshape(*mask.shape, *([1] * (prediction.ndim - mask.ndim))).expand_as(prediction)
        n_masked = int(full.sum().item())
        if n_masked == 0:
            return _graph_zero(prediction)
        err = torch.where(full, prediction - target, torch.zeros_like(prediction))
        return (err * err).sum() / n_masked


class ConsistencyLoss(nn.Module):
    """``1 - cos(a[i], b[i])``: two embeddings of one sample that should agree (a shared
    encoder's EEG embeddings in two modalities' spaces, or a generated image's features
    and a generated text's embedding, once both live in one space). Rows where ``valid``
    is False are left out; ``reduction="none"`` gives the per-sample values (0 there)."""

    def forward(
        self, a: torch.Tensor, b: torch.Tensor, valid: torch.Tensor | None = None, reduction: str = "mean"
    ) -> torch.Tensor:
        if a.shape != b.shape or a.ndim != 2:
            raise ContractError(
                f"ConsistencyLoss needs two (batch, dim) embeddings of one shape, got {a.shape}, {b.shape}"
            )
        if reduction not in ("mean", "none"):
            raise ContractError(f"reduction must be 'mean' or 'none', got {reduction!r}")
        ok = torch.ones(a.shape[0], dtype=torch.bool, device=a.device) if valid is None else valid.to(torch.bool)
        rows = torch.where(ok, 1.0 - F.cosine_similarity(a, b, dim=-1), torch.zeros((), device=a.device))
        if reduction == "none":
            return rows
        n = int(ok.sum())
        return rows.sum() / n if n else _graph_zero(a, b)


class WeightedSum(nn.Module):
    """Multi-task objective: ``total = sum_k weight_k * loss_k(*inputs_k)``.

    ``losses`` names the terms; ``weights`` (default 1 each) may name a subset.
    :meth:`forward` takes, per name, the positional arguments (a tuple) or keyword
    arguments (a mapping) of that loss; a name that is absent or None is skipped for
    this batch (a task without data in it). The learnable parameters of the terms
    (temperatures...) are parameters of this module.
    """

    def __init__(self, losses: Mapping[str, nn.Module], weights: Mapping[str, float] | None = None):
        super().__init__()
        weights = dict(weights or {})
        unknown = sorted(set(weights) - set(losses))
        if unknown:
            raise ContractError(f"weights given for unknown losses {unknown}; losses are {sorted(losses)}")
        self.losses = nn.ModuleDict(dict(losses))
        self.weights = {name: float(weights.get(name, 1.0)) for name in losses}

    def forward(self, inputs: Mapping[str, Any]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Return the weighted total and each computed term (detached, unweighted)."""
        unknown = sorted(set(inputs) - set(self.losses))
        if unknown:
            raise ContractError(f"inputs for unknown losses {unknown}; losses are {sorted(self.losses)}")
        total: torch.Tensor | None = None
        parts: dict[str, torch.Tensor] = {}
        for name, loss_fn in self.losses.items():
            args = inputs.get(name)
            if args is None:
                continue
            value = loss_fn(**args) if isinstance(args, Mapping) else loss_fn(*args)
            parts[name] = value.detach()
            term = self.weights[name] * value
            total = term if total is None else total + term
        if total is None:
            raise ContractError(f"no inputs for any of the losses {sorted(self.losses)}")
        return total, parts


# ---------------------------------------------------------------------------- by name
#: every objective a recipe can name; ``compares`` says what it reads from a batch:
#: ``pairs`` (EEG and paired embeddings), ``labels`` (EEG embeddings and class labels),
#: ``logits`` (classifier outputs and labels), ``masked`` (masked reconstruction) or
#: ``modalities`` (a shared encoder's EEG embeddings in two modalities' spaces, ``data.pairs``)
OBJECTIVES: Registry[type[nn.Module]] = Registry("objective")
OBJECTIVES.register("clip", ClipLoss, compares="pairs")
OBJECTIVES.register("siglip", SigLipLoss, compares="pairs")
OBJECTIVES.register("triplet", SemiHardTripletLoss, compares="labels")
OBJECTIVES.register("ce", CrossEntropy, compares="logits")
OBJECTIVES.register("masked", MaskedReconstructionLoss, compares="masked")
OBJECTIVES.register("consistency", ConsistencyLoss, compares="modalities")


def create_objective(name: str, **kwargs: Any) -> nn.Module:
    """The objective registered as ``name``, built with ``kwargs``."""
    return OBJECTIVES.get(name)(**kwargs)


def objective_inputs(name: str) -> str:
    """What the objective ``name`` compares (see :data:`OBJECTIVES`)."""
    return str(OBJECTIVES.meta(name)["compares"])
