"""Benchmark figures: embedding maps, confusion matrices, retrieval grids,
label-efficiency curves, scalp maps and scores with their uncertainty.

Every function takes plain arrays/sequences (or the score records of
:mod:`brainalign.evaluation.stats`), writes one PNG through
:func:`brainalign.report.figures.save_figure` (Agg backend, atomic write) and
returns its path. Malformed input (NaN/Inf, mismatched lengths, missing image
files) raises :class:`~brainalign.errors.DataError` before anything is written.

Conventions shared by all figures, so a reader learns them once: the model is
blue, chance is a grey dashed line, a filled marker means "above chance at
p < 0.05" and a hollow one means it is not.
"""

from __future__ import annotations

import os
import textwrap
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from brainalign.errors import DataError
from brainalign.report.figures import save_figure
from brainalign.results import Score
from brainalign.utils.arrays import as_array

__all__ = [
    "plot_embedding_map",
    "plot_confusion",
    "plot_retrieval_grid",
    "plot_few_shot",
    "plot_topomap",
    "plot_scores_with_ci",
    "plot_score_by_group",
    "plot_method_bars",
]

MODEL_COLOR = "tab:blue"
SCRATCH_COLOR = "tab:orange"
CHANCE_STYLE: dict[str, Any] = {"color": "0.45", "linestyle": "--", "linewidth": 1.0}
CORRECT_COLOR = "#2ca02c"
WRONG_COLOR = "#d62728"
SIGNIFICANCE = 0.05
_RANDOM_STATE = 0
_MAX_LEGEND = 20  # more classes than this: no legend, the colours only show structure
_MAX_ANNOTATED = 20  # confusion matrices larger than this are not annotated cell by cell
_MAX_TOPO_NAMES = 32  # scalp maps with more channels do not print their names
_THUMB_PX = 160


def _tidy(ax: plt.Axes) -> None:
    """House style: no top/right spines, small title."""
    ax.spines[["top", "right"]].set_visible(False)
    ax.title.set_fontsize(10)


def _labels(labels: Any, n: int | None, name: str) -> np.ndarray:
    """``labels`` as a 1-D array of strings, with ``n`` entries (one per data row) when given."""
    arr = as_array(labels, name, ndim=1)
    if n is not None and len(arr) != n:
        raise DataError(None, f"{name} has {len(arr)} entries but there are {n} rows")
    return np.asarray([str(x) for x in arr])


def _score_fields(score: Score | Mapping[str, Any]) -> Score:
    """A :class:`Score` from either a Score or its ``to_dict()`` form (as in results.json).

    Missing interval or p-value become NaN so that the figure simply leaves them out.
    """
    if isinstance(score, Score):
        return score
    if not isinstance(score, Mapping) or "value" not in score:
        raise DataError(None, f"expected a score with a 'value', got {score!r}")

    def num(key: str) -> float:
        val = score.get(key)
        if val is None:
            return float("nan")
        if isinstance(val, bool) or not isinstance(val, (int, float, np.number)):
            raise DataError(None, f"score field {key!r} must be a number, got {val!r}")
        return float(val)

    return Score(num("value"), num("ci_low"), num("ci_high"), num("p_value"), num("chance"))


def _is_significant(score: Score) -> bool:
    """Above chance at p < 0.05 (an unknown chance level or p-value is not significant)."""
    return bool(score.p_value < SIGNIFICANCE and score.value > score.chance)


def _ci_err(scores: Sequence[Score]) -> np.ndarray:
    """Asymmetric error-bar lengths (2, n) from the intervals; 0 where unknown."""
    lo = np.array([s.value - s.ci_low for s in scores], dtype=float)
    hi = np.array([s.ci_high - s.value for s in scores], dtype=float)
    return np.nan_to_num(np.clip(np.vstack([lo, hi]), 0.0, None))


def plot_embedding_map(
    emb: Any,
    labels: Sequence[Any],
    path: str | os.PathLike,
    title: str,
    method: str = "umap",
) -> Path:
    """2-D map of embeddings (rows of ``emb``), one colour per label.

    ``method="umap"`` uses umap-learn with a fixed ``random_state`` so the map repeats
    exactly; if umap-learn is missing or fails (it can on tiny or degenerate data) the
    map falls back to PCA, says so in its title and warns. ``method="pca"`` skips
    UMAP. Up to 20 classes get a legend; beyond that the colours only show structure.
    """
    x = as_array(emb, "embeddings", ndim=2, finite=True).astype(float)
    if len(x) < 3:
        raise DataError(None, f"an embedding map needs at least 3 embeddings, got {len(x)}")
    y = _labels(labels, len(x), "labels")
    if method not in ("umap", "pca"):
        raise DataError(None, f"method must be 'umap' or 'pca', got {method!r}")
    used = "PCA"
    xy = None
    if method == "umap":
        try:
            import umap

            reducer = umap.UMAP(n_components=2, n_neighbors=min(15, len(x) - 1), random_state=_RANDOM_STATE)
            with warnings.catch_warnings():  # a fixed seed makes UMAP single-threaded, and it says so
                warnings.filterwarnings("ignore", message="n_jobs value", category=UserWarning)
                xy = np.asarray(reducer.fit_transform(x), dtype=float)
            used = "UMAP"
        except Exception as err:  # noqa: BLE001 - any UMAP failure falls back to PCA, reported below
            warnings.warn(f"UMAP failed ({type(err).__name__}: {err}); using PCA instead", stacklevel=2)
            used = "PCA (UMAP failed)"
    if xy is None:
        from sklearn.decomposition import PCA

        xy = PCA(n_components=min(2, x.shape[1]), random_state=_RANDOM_STATE).fit_transform(x)
        if xy.shape[1] == 1:  # 1-D embeddings: spread along x only
            xy = np.column_stack([xy[:, 0], np.zeros(len(xy))])

    classes = sorted(set(y))
    cmap = plt.get_cmap("tab10" if len(classes) <= 10 else "tab20" if len(classes) <= 20 else "turbo")
    fig, ax = plt.subplots(figsize=(6.4, 5.2))
    for i, cls in enumerate(classes):
        sel = y == cls
        color = cmap(i if len(classes) <= 20 else i / max(len(classes) - 1, 1))
        ax.scatter(xy[sel, 0], xy[sel, 1], s=14, alpha=0.8, color=color, label=f"{cls} (n={sel.sum()})", lw=0)
    if len(classes) <= _MAX_LEGEND:
        ax.legend(fontsize=7, frameon=False, loc="center left", bbox_to_anchor=(1.0, 0.5), markerscale=1.5)
    else:
        ax.text(1.01, 0.5, f"{len(classes)} classes", transform=ax.transAxes, fontsize=8, va="center")
    ax.set(xticks=[], yticks=[], xlabel=f"{used} 1", ylabel=f"{used} 2")
    ax.set_title(f"{title}\n{used} of {len(x)} embeddings", fontsize=10)
    _tidy(ax)
    return save_figure(fig, path)


def plot_confusion(
    y_true: Sequence[Any],
    y_pred: Sequence[Any],
    classes: Sequence[Any],
    path: str | os.PathLike,
    title: str,
) -> Path:
    """Confusion matrix: colour is the row-normalised fraction (recall per true class),
    each cell shows its trial count (up to 20 classes; larger matrices are colour only).

    Every label in ``y_true`` and ``y_pred`` must be one of ``classes``, whose order
    sets the order of rows and columns.
    """
    from sklearn.metrics import confusion_matrix

    names = [str(c) for c in classes]
    if not names or len(set(names)) != len(names):
        raise DataError(None, f"classes must be non-empty and distinct, got {list(classes)!r}")
    yt = _labels(y_true, None, "y_true")
    yp = _labels(y_pred, len(yt), "y_pred")
    unknown = sorted((set(yt) | set(yp)) - set(names))
    if unknown:
        raise DataError(None, f"labels not among the classes: {unknown[:10]}")
    counts = confusion_matrix(yt, yp, labels=names)
    totals = counts.sum(axis=1, keepdims=True)
    frac = np.divide(counts, totals, out=np.zeros(counts.shape, dtype=float), where=totals > 0)

    n = len(names)
    side = min(3.2 + 0.45 * n, 14.0)
    fig, ax = plt.subplots(figsize=(side + 1.2, side))
    im = ax.imshow(frac, cmap="Blues", vmin=0.0, vmax=1.0)
    if n <= _MAX_ANNOTATED:
        for i in range(n):
            for j in range(n):
                ax.text(
                    j,
                    i,
                    str(counts[i, j]),
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if frac[i, j] > 0.6 else "black",
                )
    fontsize = 8 if n <= _MAX_ANNOTATED else 6
    ax.set_xticks(range(n), names, rotation=45 if n > 4 else 0, ha="right" if n > 4 else "center", fontsize=fontsize)
    ax.set_yticks(range(n), [f"{nm} (n={t})" for nm, t in zip(names, totals[:, 0])], fontsize=fontsize)
    ax.set(xlabel="predicted", ylabel="true")
    balanced = float(np.mean(np.diag(frac)[totals[:, 0] > 0]))
    ax.set_title(
        f"{title}\nbalanced accuracy {balanced:.3f} (chance {1 / n:.3f}); numbers are trial counts", fontsize=10
    )
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="fraction of the true class")
    return save_figure(fig, path)


def _thumbnail(path: str | os.PathLike) -> np.ndarray:
    """An RGB thumbnail of an image file, or DataError naming the file."""
    from PIL import Image, UnidentifiedImageError

    p = Path(path)
    if not p.is_file():
        raise DataError(p, "missing image")
    try:
        with Image.open(p) as im:
            im = im.convert("RGB")
            im.thumbnail((_THUMB_PX, _THUMB_PX))
            return np.asarray(im)
    except (UnidentifiedImageError, OSError, ValueError) as err:
        raise DataError(p, f"cannot read image ({err})") from err


def plot_retrieval_grid(
    query_labels: Sequence[Any],
    ranked_gallery_images: Sequence[Sequence[str | os.PathLike]],
    gallery_labels: Sequence[Sequence[Any]] | Mapping[str, Any],
    path: str | os.PathLike,
    n_queries: int = 6,
    k: int = 5,
    title: str = "EEG → image retrieval",
) -> Path:
    """One row per EEG query: its true class, then its top-``k`` retrieved stimulus
    images, each framed green when its class matches the query's and red when not.

    ``ranked_gallery_images[i]`` lists image files best first for query ``i``;
    ``gallery_labels`` gives their classes, either as lists parallel to
    ``ranked_gallery_images`` or as a mapping from image path to class. The first
    ``n_queries`` queries are shown. A missing or unreadable image raises DataError.
    """
    if len(query_labels) != len(ranked_gallery_images):
        raise DataError(None, f"{len(query_labels)} query labels but {len(ranked_gallery_images)} ranked lists")
    if n_queries < 1 or k < 1:
        raise DataError(None, f"n_queries and k must be positive, got {n_queries} and {k}")
    rows = min(n_queries, len(query_labels))
    if rows == 0:
        raise DataError(None, "no queries to show")

    def label_of(i: int, j: int, img: str | os.PathLike) -> str:
        if isinstance(gallery_labels, Mapping):
            if str(img) not in gallery_labels:
                raise DataError(img, "image has no class in gallery_labels")
            return str(gallery_labels[str(img)])
        if len(gallery_labels[i]) < len(ranked_gallery_images[i]):
            raise DataError(None, f"query {i}: fewer gallery labels than ranked images")
        return str(gallery_labels[i][j])

    fig, axes = plt.subplots(rows, k + 1, figsize=(1.7 * (k + 1), 1.95 * rows), squeeze=False)
    n_hits = 0
    for i in range(rows):
        query = str(query_labels[i])
        ax = axes[i, 0]
        ax.set_axis_off()
        ax.text(
            0.5,
            0.5,
            "EEG query\ntrue class:\n" + textwrap.fill(query, 14),
            ha="center",
            va="center",
            fontsize=8,
            transform=ax.transAxes,
            bbox={"boxstyle": "round", "fc": "0.93", "ec": "0.6"},
        )
        ranked = list(ranked_gallery_images[i])[:k]
        for j in range(k):
            ax = axes[i, j + 1]
            if j >= len(ranked):
                ax.set_axis_off()
                continue
            cls = label_of(i, j, ranked[j])
            hit = cls == query
            n_hits += hit
            ax.imshow(_thumbnail(ranked[j]))
            ax.set_xticks([])
            ax.set_yticks([])
            color = CORRECT_COLOR if hit else WRONG_COLOR
            for spine in ax.spines.values():
                spine.set(color=color, linewidth=4)
            ax.set_title(f"#{j + 1} {textwrap.shorten(cls, 16, placeholder='…')}", fontsize=7, color=color)
    shown = sum(min(len(ranked_gallery_images[i]), k) for i in range(rows))
    fig.suptitle(
        f"{title}: top-{k} per query; green frame = same class as the query, red = other class "
        f"({n_hits}/{shown} correct)",
        fontsize=9,
    )
    fig.tight_layout()
    return save_figure(fig, path)


def plot_few_shot(
    curve_dict: Mapping[str, Any],
    path: str | os.PathLike,
    *,
    full_score: float | None = None,
    chance: float | None = None,
    metric: str | None = None,
    title: str = "Label efficiency",
) -> Path:
    """Score against the fraction of training labels (log x-axis).

    ``curve_dict`` is the output of :func:`brainalign.evaluation.probes.few_shot_curve`
    (``fractions``, ``n_train``, ``probe`` and optionally ``scratch``, each with
    ``mean``/``std``). The probe on frozen embeddings is drawn as mean ± std, the model
    trained from scratch on the same subsets as a second curve; ``full_score`` (the
    score with all training data, dashed) and ``chance`` (grey) are horizontal lines.
    Each of ``full_score``, ``chance`` and ``metric`` defaults to the key of the same
    name in ``curve_dict`` when present.
    """
    full_score = curve_dict.get("full_score") if full_score is None else full_score
    chance = curve_dict.get("chance") if chance is None else chance
    metric = curve_dict.get("metric", "balanced accuracy") if metric is None else metric
    if "fractions" not in curve_dict or "probe" not in curve_dict:
        raise DataError(None, "few-shot curve needs 'fractions' and 'probe'")
    fractions = as_array(curve_dict["fractions"], "fractions", ndim=1, finite=True).astype(float)
    if (fractions <= 0).any() or (fractions > 1).any():
        raise DataError(None, f"fractions must lie in (0, 1], got {fractions.tolist()}")

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    styles = {
        "probe": (MODEL_COLOR, "o", "linear probe on frozen embeddings"),
        "scratch": (SCRATCH_COLOR, "s", "trained from scratch"),
    }
    for name, (color, marker, label) in styles.items():
        if name not in curve_dict:
            continue
        mean = as_array(curve_dict[name]["mean"], f"{name} mean", ndim=1, finite=True).astype(float)
        std = np.asarray(curve_dict[name].get("std", np.zeros_like(mean)), dtype=float)
        if len(mean) != len(fractions) or std.shape != mean.shape:
            raise DataError(None, f"{name} curve has {len(mean)} points but there are {len(fractions)} fractions")
        ax.plot(fractions, mean, marker=marker, ms=4, color=color, label=f"{label} (mean ± std)")
        ax.fill_between(fractions, mean - std, mean + std, color=color, alpha=0.2, lw=0)
    if full_score is not None:
        ax.axhline(
            float(full_score),
            color=MODEL_COLOR,
            linestyle="--",
            lw=1.2,
            label=f"full training data ({float(full_score):.3f})",
        )
    if chance is not None:
        ax.axhline(float(chance), **CHANCE_STYLE, label=f"chance ({float(chance):.3f})")
    ax.set_xscale("log")
    ticks = [f"{f:g}" for f in fractions]
    n_train = curve_dict.get("n_train")
    if n_train is not None and len(n_train) == len(ticks):
        ticks = [f"{f}\n(n={n})" for f, n in zip(ticks, n_train)]
    ax.set_xticks(fractions, ticks, fontsize=8)
    ax.minorticks_off()
    ax.set(xlabel="fraction of training labels (training trials)", ylabel=metric, title=title)
    ax.legend(fontsize=8, frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=2)
    _tidy(ax)
    fig.tight_layout()
    return save_figure(fig, path)


def _best_montage(ch_names: Sequence[str]) -> tuple[Any, list[int]]:
    """The built-in montage (10-05 standard or EasyCap M1) that places the most of
    ``ch_names`` (case-insensitively), and the indices of the channels it places."""
    import mne

    available = set(mne.channels.get_builtin_montages())
    # MNE 1.13 renamed standard_1005 to colin27_1005 (same positions); older MNE lacks the new name
    standard = "colin27_1005" if "colin27_1005" in available else "standard_1005"
    candidates = []
    for name in (standard, "easycap-M1"):
        montage = mne.channels.make_standard_montage(name)
        known = {ch.lower() for ch in montage.ch_names}
        candidates.append((montage, [i for i, ch in enumerate(ch_names) if ch.lower() in known]))
    return max(candidates, key=lambda cand: len(cand[1]))  # the first wins ties


def plot_topomap(
    values_per_channel: Any,
    ch_names: Sequence[str],
    path: str | os.PathLike,
    title: str,
    cbar_label: str = "",
) -> Path:
    """Scalp map of one value per EEG channel (e.g. probe weight or decoding score).

    Channel positions come from the standard 10-05 montage (a superset of 10-20) or
    the EasyCap M1 montage, whichever places more channels; names match
    case-insensitively. Channels that neither knows are left out and listed under the
    map. At least 4 placed channels are needed for the interpolation.
    """
    import mne

    values = as_array(values_per_channel, "values_per_channel", ndim=1, finite=True).astype(float)
    names = [str(c) for c in ch_names]
    if len(names) != len(values):
        raise DataError(None, f"{len(values)} values but {len(names)} channel names")
    if len({n.lower() for n in names}) != len(names):
        raise DataError(None, "channel names repeat (case-insensitively)")
    montage, kept = _best_montage(names)
    if len(kept) < 4:
        raise DataError(None, f"a scalp map needs at least 4 channels with known positions, got {len(kept)}")
    info = mne.create_info([names[i] for i in kept], sfreq=1.0, ch_types="eeg")
    info.set_montage(montage, match_case=False)
    placed = set(kept)
    skipped = [n for i, n in enumerate(names) if i not in placed]

    fig, ax = plt.subplots(figsize=(5.0, 4.6))
    show_names = len(kept) <= _MAX_TOPO_NAMES
    im, _ = mne.viz.plot_topomap(
        values[kept],
        info,
        axes=ax,
        show=False,
        cmap="RdBu_r",
        contours=4,
        names=info.ch_names if show_names else None,
        sensors=True,
    )
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label=cbar_label)
    ax.set_title(title, fontsize=10)
    if skipped:
        note = f"no position, not shown ({len(skipped)}): " + ", ".join(skipped)
        fig.text(
            0.5,
            0.01,
            textwrap.fill(textwrap.shorten(note, 300, placeholder=" …"), 80),
            ha="center",
            va="bottom",
            fontsize=7,
            color="0.35",
        )
    return save_figure(fig, path)


def plot_scores_with_ci(task_results: Mapping[str, Any], path: str | os.PathLike, title: str | None = None) -> Path:
    """One task's scores: a horizontal bar per metric with its 95 % interval, every
    baseline as a marker on the same row, and the metric's chance level as a dashed
    vertical line across the row.

    ``task_results`` is one entry of ``results["tasks"]`` (``metrics``: name -> score
    dict, ``baselines``: name -> {metric: value}); ``title`` defaults to its
    ``description``.
    """
    metrics = task_results.get("metrics")
    if not isinstance(metrics, Mapping) or not metrics:
        raise DataError(None, "task results have no metrics")
    names = list(metrics)
    scores = [_score_fields(metrics[m]) for m in names]
    baselines = task_results.get("baselines") or {}
    y = np.arange(len(names))[::-1]

    fig, ax = plt.subplots(figsize=(7.5, 1.2 + 0.6 * len(names)))
    colors = [MODEL_COLOR if _is_significant(s) else "0.7" for s in scores]
    ax.barh(
        y,
        [s.value for s in scores],
        height=0.55,
        color=colors,
        xerr=_ci_err(scores),
        error_kw={"ecolor": "0.15", "capsize": 3, "lw": 1},
        label="model (95% CI)",
    )
    for yi, s in zip(y, scores):
        ax.text(max(s.value, 0) + 0.01, yi + 0.3, f"{s.value:.3f}", fontsize=7, va="bottom")
        if np.isfinite(s.chance):
            ax.vlines(s.chance, yi - 0.4, yi + 0.4, **CHANCE_STYLE)
    ax.plot([], [], **CHANCE_STYLE, label="chance")
    markers = "DvX^<>ph*"
    for b, (bname, bvals) in enumerate(baselines.items()):
        pts = [(yi, bvals[m]) for yi, m in zip(y, names) if isinstance(bvals, Mapping) and bvals.get(m) is not None]
        if pts:
            ax.scatter(
                [v for _, v in pts],
                [yi for yi, _ in pts],
                marker=markers[b % len(markers)],
                s=36,
                color=plt.get_cmap("Dark2")(b % 8),
                zorder=3,
                label=f"baseline: {bname}",
            )
    ax.set_yticks(y, names, fontsize=8)
    ax.set_xlabel("score (grey bar: not above chance at p < 0.05)")
    ax.set_title(title if title is not None else str(task_results.get("description", "")), fontsize=10)
    ax.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    _tidy(ax)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_score_by_group(
    scores: Mapping[str, Score | Mapping[str, Any]],
    path: str | os.PathLike,
    title: str,
    xlabel: str,
    ylabel: str = "score",
) -> Path:
    """Score per group (time window, channel group, frequency band: NICE-style
    analyses) in the given order, each with its 95 % interval and its chance level as
    a short grey dash; filled markers are above chance at p < 0.05, hollow ones not.
    """
    if not scores:
        raise DataError(None, "no group scores to plot")
    groups = [str(g) for g in scores]
    vals = [_score_fields(s) for s in scores.values()]
    x = np.arange(len(groups))
    fig, ax = plt.subplots(figsize=(max(4.5, 0.8 * len(groups) + 2.0), 4.0))
    ax.errorbar(x, [s.value for s in vals], yerr=_ci_err(vals), fmt="none", ecolor="0.2", capsize=3, lw=1)
    sig = np.array([_is_significant(s) for s in vals])
    values = np.array([s.value for s in vals])
    ax.plot(x, values, color=MODEL_COLOR, lw=0.8, alpha=0.5)
    ax.scatter(x[sig], values[sig], color=MODEL_COLOR, s=40, zorder=3, label="above chance (p < 0.05)")
    ax.scatter(x[~sig], values[~sig], facecolor="white", edgecolor=MODEL_COLOR, s=40, zorder=3, label="not significant")
    chance = np.array([s.chance for s in vals])
    ok = np.isfinite(chance)
    ax.hlines(chance[ok], x[ok] - 0.4, x[ok] + 0.4, **CHANCE_STYLE, label="chance")
    long_names = max(len(g) for g in groups) > 6 or len(groups) > 8
    ax.set_xticks(x, groups, rotation=35 if long_names else 0, ha="right" if long_names else "center", fontsize=8)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    ax.legend(fontsize=7, frameon=False, loc="best")
    _tidy(ax)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_method_bars(
    scores: Mapping[str, Score | Mapping[str, Any]],
    path: str | os.PathLike,
    title: str,
    ylabel: str = "balanced accuracy",
    kinds: Mapping[str, str] | None = None,
) -> Path:
    """Methods side by side on one task: a bar per method with its 95 % interval, the
    value printed above it, and chance as a dashed line. ``kinds`` (method -> ``"model"``,
    ``"baseline"`` or ``"control"``) colours the bars; hatched bars are not above chance at
    p < 0.05 (or have no p-value)."""
    if not scores:
        raise DataError(None, "no method scores to plot")
    names = [str(n) for n in scores]
    vals = [_score_fields(s) for s in scores.values()]
    colors = {"model": MODEL_COLOR, "baseline": "tab:gray", "control": "tab:red"}
    x = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(max(4.5, 0.9 * len(names) + 2.0), 4.0))
    for xi, name, s in zip(x, names, vals):
        kind = (kinds or {}).get(name, "model")
        ax.bar(
            xi,
            s.value,
            width=0.65,
            color=colors.get(kind, MODEL_COLOR),
            alpha=0.85,
            hatch="" if _is_significant(s) else "//",
            edgecolor="white",
        )
        ax.text(float(xi), s.value + 0.01, f"{s.value:.3f}", ha="center", va="bottom", fontsize=7)
    err = _ci_err(vals)
    ax.errorbar(x, [s.value for s in vals], yerr=err, fmt="none", ecolor="0.15", capsize=3, lw=1)
    chance = [s.chance for s in vals if np.isfinite(s.chance)]
    if chance:
        ax.axhline(float(np.median(chance)), **CHANCE_STYLE, label=f"chance ({float(np.median(chance)):.2f})")
    from matplotlib.patches import Patch

    handles, _ = ax.get_legend_handles_labels()
    handles += [Patch(color=c, alpha=0.85, label=k) for k, c in colors.items() if kinds and k in set(kinds.values())]
    ax.set_xticks(x, names, rotation=30, ha="right", fontsize=8)
    lows = [s.ci_low for s in vals if np.isfinite(s.ci_low)] + [s.value for s in vals]
    ax.set_ylim(
        max(0.0, min(lows) - 0.1), min(1.05, max(s.ci_high if np.isfinite(s.ci_high) else s.value for s in vals) + 0.08)
    )
    ax.set(ylabel=ylabel, title=title)
    ax.legend(handles=handles, fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    _tidy(ax)
    fig.tight_layout()
    return save_figure(fig, path)
