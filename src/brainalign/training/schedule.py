"""Learning-rate schedule: linear warm-up then cosine decay (per optimisation step)."""

from __future__ import annotations

import math

import torch


def warmup_cosine(optimizer: torch.optim.Optimizer, warmup_steps: int, total_steps: int, min_factor: float = 0.0):
    """A LambdaLR that rises linearly over ``warmup_steps`` then follows a cosine
    down to ``min_factor`` of each group's base rate at ``total_steps``."""
    warmup_steps = max(0, int(warmup_steps))
    total_steps = max(total_steps, warmup_steps + 1)

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
        return min_factor + (1 - min_factor) * 0.5 * (1 + math.cos(math.pi * progress))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
