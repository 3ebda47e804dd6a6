"""Figures of generation results: image grids (PNG, matplotlib) and sentence tables.

* :func:`save_trial_grid`: one row per held-out trial, its generated image first,
  then real stimuli of the trial's class, labelled with the true and decoded class.
* :func:`sentence_table`: generated vs reference sentences as aligned plain text
  (also usable as the body of a ``<pre>`` block in a report).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch

from brainalign.generation.images import to_uint8

__all__ = ["save_image_grid", "save_trial_grid", "sentence_table"]


def save_trial_grid(
    path: str | os.PathLike,
    generated: torch.Tensor,
    trial_labels: Sequence[str],
    real_by_class: Mapping[str, torch.Tensor],
    decoded: Sequence[str] | None = None,
    n_real: int = 3,
    seed: int = 0,
    title: str | None = None,
) -> Path:
    """Write a PNG grid: row i = generated image of trial i, then ``n_real`` real
    stimuli of its class (drawn with ``seed``)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(seed)
    gen = to_uint8(generated)
    n = len(gen)
    fig, axes = plt.subplots(max(n, 1), 1 + n_real, figsize=(1.4 * (1 + n_real), 1.4 * max(n, 1) + 0.6), squeeze=False)
    for i in range(n):
        label = str(trial_labels[i])
        axes[i, 0].imshow(gen[i])
        text = f"trial: {label}" + (f"\ndecoded: {decoded[i]}" if decoded is not None else "")
        axes[i, 0].set_title(text, fontsize=6)
        reals = real_by_class[label]
        pick = rng.choice(len(reals), size=min(n_real, len(reals)), replace=False)
        real_u8 = to_uint8(reals[pick])
        for j in range(n_real):
            if j < len(real_u8):
                axes[i, 1 + j].imshow(real_u8[j])
                if i == 0:
                    axes[i, 1 + j].set_title("real", fontsize=6)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    if title:
        fig.suptitle(title, fontsize=7)
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


def save_image_grid(
    path: str | os.PathLike, images: torch.Tensor, labels: Sequence[str] | None = None, n_cols: int = 8
) -> Path:
    """Write images (n, 3, h, w) in [-1, 1] as a PNG grid, optionally titled."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    u8 = to_uint8(images)
    n = len(u8)
    rows = max(1, int(np.ceil(n / n_cols)))
    fig, axes = plt.subplots(rows, n_cols, figsize=(1.2 * n_cols, 1.3 * rows), squeeze=False)
    for k, ax in enumerate(axes.ravel()):
        ax.set_xticks([])
        ax.set_yticks([])
        if k < n:
            ax.imshow(u8[k])
            if labels is not None:
                ax.set_title(str(labels[k]), fontsize=6)
        else:
            ax.axis("off")
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


def sentence_table(
    generated: Sequence[str],
    references: Sequence[str],
    labels: Sequence[str] | None = None,
    max_rows: int = 20,
    width: int = 70,
) -> str:
    """Plain-text table of generated vs reference sentences (first ``max_rows``)."""

    def cut(s: str) -> str:
        return s if len(s) <= width else s[: width - 3] + "..."

    head = ["#", "class", "generated", "reference"]
    rows = [
        [str(i), str(labels[i]) if labels is not None else "", cut(g), cut(r)]
        for i, (g, r) in enumerate(zip(generated, references))
        if i < max_rows
    ]
    widths = [max(len(h), *(len(r[k]) for r in rows)) if rows else len(h) for k, h in enumerate(head)]
    line = lambda cells: " | ".join(c.ljust(w) for c, w in zip(cells, widths))
    out = [line(head), "-+-".join("-" * w for w in widths)] + [line(r) for r in rows]
    return "\n".join(out) + "\n"
