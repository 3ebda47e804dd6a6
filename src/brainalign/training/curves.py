"""The training-curve figure of a run folder (``curves.png``)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from brainalign.utils.figures import plt, save_figure


def plot_training_curves(rows: Sequence[Mapping[str, float]], path: str | os.PathLike) -> Path:
    """Loss curves (train vs validation) and every other logged metric, per epoch."""
    epochs = [r["epoch"] for r in rows]
    keys = [k for k in rows[0] if k != "epoch" and isinstance(rows[0][k], (int, float))] if rows else []
    losses = [k for k in keys if "loss" in k]
    others = [k for k in keys if k not in losses and k not in ("lr", "seconds")]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for k in losses:
        axes[0].plot(epochs, [r.get(k, np.nan) for r in rows], marker="o", ms=3, label=k)
    axes[0].set(xlabel="epoch", ylabel="loss", title="losses")
    for k in others:
        axes[1].plot(epochs, [r.get(k, np.nan) for r in rows], marker="o", ms=3, label=k)
    axes[1].set(xlabel="epoch", title="validation metrics")
    for ax in axes:
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7, frameon=False)
        ax.spines[["top", "right"]].set_visible(False)
        ax.title.set_fontsize(9)
    fig.tight_layout()
    return save_figure(fig, path)
