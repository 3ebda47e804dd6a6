"""Figures a person would rather look at than read.

All figures are written atomically (temporary file, then rename) with the Agg
backend, so they work on headless machines.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from scipy.signal import welch  # noqa: E402

from brainalign.data.recording import Recording  # noqa: E402
from brainalign.utils.figures import save_figure  # noqa: E402  (re-exported)

_MAX_TRACES = 8


def _stacked_traces(ax: plt.Axes, data: np.ndarray, names: Sequence[str], sfreq: float, unit: str) -> None:
    """Plot channels one above the other, each scaled by a common robust spread."""
    t = np.arange(data.shape[-1]) / sfreq
    spread = float(np.nanpercentile(np.abs(data - np.median(data, axis=-1, keepdims=True)), 95)) or 1.0
    for i, row in enumerate(data[: len(names)]):
        ax.plot(t, (row - np.median(row)) / (2.5 * spread) - i, lw=0.6, color="0.15")
    ax.set_yticks(-np.arange(len(names)), names, fontsize=7)
    ax.set_xlabel("time (s)")
    ax.set_title(f"signals (scale: {2.5 * spread:.3g} {unit} per row)", fontsize=9)
    ax.spines[["top", "right"]].set_visible(False)


def plot_recording(rec: Recording, path: str | os.PathLike, seconds: float = 10.0) -> Path:
    """The first ``seconds`` of every signal modality of a recording, with its events."""
    mods = list(rec.signals)
    fig, axes = plt.subplots(len(mods), 1, figsize=(10, 2.2 + 2.2 * len(mods)), squeeze=False)
    for ax, mod in zip(axes[:, 0], mods):
        data = rec.get_data(mod, units="uV")
        sfreq = float(rec.signal(mod).info["sfreq"])
        if data.ndim == 3:  # epochs: concatenate the first few
            data = np.concatenate(list(data[: max(1, int(seconds * sfreq // data.shape[-1]))]), axis=-1)
        n = int(min(data.shape[-1], seconds * sfreq))
        names = rec.signal(mod).ch_names[:_MAX_TRACES]
        unit = "µV" if rec.units.get(mod, "V") == "V" else rec.units[mod]
        _stacked_traces(ax, data[: len(names), :n], names, sfreq, unit)
        ax.set_title(f"{mod.upper()}: {ax.get_title()}", fontsize=9)
        if rec.trials is not None and "onset" in rec.trials and not rec.is_epoched:
            for onset in rec.trials["onset"].dropna():
                if onset * sfreq < n:
                    ax.axvline(onset, color="tab:red", lw=0.5, alpha=0.5)
    title = repr(rec).strip("<>")
    if rec.text:
        title += "\n" + rec.text
    fig.suptitle(title, fontsize=9)
    return save_figure(fig, path)


def plot_windows_summary(
    data: np.ndarray,
    labels: Sequence[str] | None,
    ch_names: Sequence[str],
    sfreq: float,
    path: str | os.PathLike,
    title: str,
    unit: str = "µV",
    images: Mapping[str, Sequence[Path]] | None = None,
    tmin: float = 0.0,
) -> Path:
    """One figure per dataset: an example window, class-average waveforms and
    power spectra per class, and (if paired) a row of stimulus images per class.

    ``data`` is (windows, channels, times); ``labels`` one label per window.
    """
    data = np.asarray(data)
    labels = np.asarray(["all"] * len(data) if labels is None else [str(x) for x in labels])
    classes = sorted(set(labels))[:6]
    n_img_rows = 1 if images else 0
    fig = plt.figure(figsize=(13, 4.2 + 1.6 * n_img_rows))
    gs = fig.add_gridspec(1 + n_img_rows, 3, height_ratios=[3] + [1.2] * n_img_rows)
    ax0 = fig.add_subplot(gs[0, 0])
    names = list(ch_names)[:_MAX_TRACES]
    _stacked_traces(ax0, data[0, : len(names)], names, sfreq, unit)
    ax0.set_title(f"example window ({ax0.get_title()})", fontsize=9)

    ax1 = fig.add_subplot(gs[0, 1])
    t = tmin + np.arange(data.shape[-1]) / sfreq
    ax2 = fig.add_subplot(gs[0, 2])
    for cls in classes:
        sel = data[labels == cls]
        wave = sel.mean(axis=1)  # average over channels
        m, se = wave.mean(0), wave.std(0) / np.sqrt(max(len(sel), 1))
        line = ax1.plot(t, m, lw=1, label=f"{cls} (n={len(sel)})")[0]
        ax1.fill_between(t, m - se, m + se, color=line.get_color(), alpha=0.25)
        nper = min(sel.shape[-1], int(2 * sfreq))
        f, p = welch(sel, fs=sfreq, nperseg=nper, axis=-1)
        ax2.semilogy(f, p.mean(axis=(0, 1)), lw=1, label=cls, color=line.get_color())
    ax1.set(xlabel="time (s)", ylabel=f"mean over channels ({unit})", title="class average ± s.e.m.")
    ax1.legend(fontsize=7, frameon=False)
    ax2.set(xlabel="frequency (Hz)", ylabel=f"power ({unit}²/Hz)", title="power spectrum per class")
    for ax in (ax1, ax2):
        ax.title.set_fontsize(9)
        ax.spines[["top", "right"]].set_visible(False)

    if images:
        from PIL import Image

        sub = gs[1, :].subgridspec(1, 12)
        shown = [(cls, p) for cls, paths in images.items() for p in list(paths)[: 12 // max(len(images), 1)]]
        for i, (cls, p) in enumerate(shown[:12]):
            ax = fig.add_subplot(sub[0, i])
            with Image.open(p) as im:
                ax.imshow(np.asarray(im.convert("RGB")))
            ax.set_axis_off()
            ax.set_title(cls, fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)
