"""Losses of a shared EEG encoder trained on several modalities at once.

A batch may mix datasets: windows paired with images, windows paired with text,
windows with both or neither. :func:`masked_multitask_loss` averages each modality's
per-sample loss only over the samples that have that modality (its mask), then sums
the modality means with the caller's weights (the recipe's). A modality absent from
the whole batch contributes nothing (not a zero that would dilute the others' mean).

:func:`consistency_loss` is the optional term tying the generated image's features to
the generated text's embedding (1 - cosine, averaged over the samples that have both).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F

from brainalign.errors import ConfigError, DataError

__all__ = ["consistency_loss", "masked_mean", "masked_multitask_loss"]


def masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor | None:
    """Mean of ``values`` (batch,) over the rows where ``mask`` is true; None when no row is."""
    if values.ndim != 1 or mask.shape != values.shape:
        raise DataError(
            None,
            f"per-sample losses (batch,) and a mask of the same shape are needed, "
            f"got {tuple(values.shape)} and {tuple(mask.shape)}",
        )
    m = mask.to(torch.bool)
    n = int(m.sum())
    if n == 0:
        return None
    return torch.where(m, values, torch.zeros_like(values)).sum() / n


def masked_multitask_loss(
    losses: Mapping[str, torch.Tensor], masks: Mapping[str, torch.Tensor], weights: Mapping[str, float]
) -> tuple[torch.Tensor, dict[str, float]]:
    """``sum_m weights[m] * mean(losses[m][masks[m]])`` over the modalities present in
    the batch, and the per-modality means (for logging; absent modalities are left out).

    ``losses[m]`` are per-sample losses (batch,), computed for every row (rows without
    the modality may hold anything finite or not: they are never read); ``masks[m]`` says
    which rows have modality ``m``. Every modality needs a weight.
    """
    missing = sorted(set(losses) - set(weights))
    if missing:
        raise ConfigError(f"no loss weight for {missing}")
    unmasked = sorted(set(losses) - set(masks))
    if unmasked:
        raise ConfigError(f"no mask for {unmasked}")
    total: torch.Tensor | None = None
    parts: dict[str, float] = {}
    for name, values in losses.items():
        mean = masked_mean(values, masks[name])
        if mean is None:
            continue
        parts[name] = float(mean.detach())
        term = float(weights[name]) * mean
        total = term if total is None else total + term
    if total is None:
        ref = next(iter(losses.values()), None)
        total = torch.zeros((), device=ref.device if ref is not None else None)
    return total, parts


def consistency_loss(
    image_feats: torch.Tensor, text_emb: torch.Tensor, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """``1 - cos(image_feats, text_emb)`` averaged over the rows in ``mask`` (all rows by
    default); both must already live in one space (e.g. through projection heads)."""
    if image_feats.shape != text_emb.shape:
        raise DataError(
            None, f"image features {tuple(image_feats.shape)} and text embeddings {tuple(text_emb.shape)} differ"
        )
    per_sample = 1.0 - F.cosine_similarity(image_feats, text_emb, dim=-1)
    if mask is None:
        return per_sample.mean()
    mean = masked_mean(per_sample, mask)
    return per_sample.sum() * 0.0 if mean is None else mean
