"""Figures of the benchmark's tasks: embedding maps, confusion matrices, few-shot
curves, training curves, topomaps, retrieval grids and NICE-style analyses."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from brainalign.errors import DataError
from brainalign.evaluation.protocols import EvalSet, TaskPredictions, prototypes
from brainalign.experiments.common import Bench

__all__ = ["figures_for", "nice_analyses", "retrieval_grid"]


def figures_for(
    b: Bench, name: str, ev: EvalSet, preds: list[TaskPredictions], run: Path, column: str
) -> dict[str, str]:
    """UMAP of test embeddings, confusion matrix, few-shot curve, training curves."""
    from brainalign.report.plots import plot_confusion, plot_embedding_map

    figs: dict[str, str] = {}
    y = ev.test[column].astype(str).to_numpy()
    figs["embedding map"] = str(
        plot_embedding_map(ev.z_test, y, b.figures / f"{name}_umap.png", f"{name}: test embeddings")
    )
    tp = preds[0]
    key = next(
        (k for k in ("zeroshot_text_bacc", "zeroshot_image_bacc", "svm_bacc", "logreg_bacc") if k in tp.preds), None
    )
    if key:
        pooled_y = np.concatenate([p.y for p in preds])
        pooled = np.concatenate([p.preds[key][0] for p in preds])
        classes = sorted(set(pooled_y))
        figs["confusion"] = str(
            plot_confusion(
                pooled_y, pooled, classes, b.figures / f"{name}_confusion.png", f"{name}: {key.replace('_bacc', '')}"
            )
        )
    few = [k for k in tp.preds if k.startswith("fewshot_")]
    if few:
        figs["few-shot"] = str(_few_shot_figure(b, name, preds))
    if (run / "curves.png").exists():
        dest = b.figures / f"{name}_training.png"
        shutil.copyfile(run / "curves.png", dest)
        figs["training curves"] = str(dest)
    if len(ev.model.contract.ch_names or ()) >= 4:
        topo = _channel_importance(ev, column, b.data_dir)
        if topo is not None:
            from brainalign.report.plots import plot_topomap

            try:
                figs["topomap"] = str(
                    plot_topomap(
                        topo,
                        list(ev.model.contract.ch_names),
                        b.figures / f"{name}_topomap.png",
                        f"{name}: drop in prototype accuracy when a channel is zeroed",
                        cbar_label="accuracy drop",
                    )
                )
            except DataError:
                pass
    return figs


def _few_shot_figure(b: Bench, name: str, preds: list[TaskPredictions]) -> Path:
    from brainalign.evaluation.metrics import balanced_accuracy
    from brainalign.report.plots import plot_few_shot

    y = np.concatenate([p.y for p in preds])
    fr, mean, n_train = [], [], []
    for k in sorted((k for k in preds[0].preds if k.startswith("fewshot_")), key=lambda k: int(k.split("_")[1][:-3])):
        fr.append(int(k.split("_")[1][:-3]) / 100)
        mean.append(balanced_accuracy(y, np.concatenate([p.preds[k][0] for p in preds])))
        # labelled training windows per fold (the mean over folds): what the probe was given
        n_train.append(int(round(np.mean([p.n_train.get(k, 0) for p in preds]))))
    curve = {"fractions": fr, "n_train": n_train, "probe": {"mean": mean, "std": [0.0] * len(fr)}}
    return plot_few_shot(
        curve,
        b.figures / f"{name}_fewshot.png",
        full_score=mean[-1],
        chance=preds[0].preds[next(iter(preds[0].preds))][1],
        metric="balanced accuracy",
        title=f"{name}: logistic-regression probe on a fraction of the training labels",
    )


def _channel_importance(ev: EvalSet, column: str, data_dir: str | os.PathLike | None) -> np.ndarray | None:
    """Occlusion: drop of class-centre accuracy when one channel is zeroed."""
    from brainalign.training.data import build_paired_data
    from brainalign.training.recipe import recipe_from_dict

    recipe = recipe_from_dict(ev.model.config["recipe"])
    data = build_paired_data(recipe.data, data_dir, progress=False, seed=recipe.seed)
    x = np.asarray(data.windows.data[data.part("test")][:400])
    y = data.windows.table.iloc[data.part("test")][column].astype(str).to_numpy()[:400]
    cls, proto = prototypes(ev, column, sorted(set(y)))["centroid"]

    def acc(z: np.ndarray) -> float:
        return float(np.mean(cls[(z @ proto.T).argmax(1)] == y))

    base = acc(ev.model.encode_eeg(x))
    drops = []
    for c in range(x.shape[1]):
        xc = x.copy()
        xc[:, c] = 0
        drops.append(base - acc(ev.model.encode_eeg(xc)))
    return np.asarray(drops)


def retrieval_grid(b: Bench, ev: EvalSet) -> dict[str, str]:
    """EEG queries and the stimulus images ranked closest in the shared space."""
    from brainalign.report.plots import plot_retrieval_grid

    images = sorted(set(ev.train["image"].dropna()) | set(ev.test["image"].dropna()))
    if not images:
        return {}
    emb = ev.model.encode_pairs(images)
    label_of = dict(zip(pd.concat([ev.train, ev.test])["image"], pd.concat([ev.train, ev.test])["label"]))
    rng = np.random.default_rng(b.seed)
    q = rng.choice(len(ev.z_test), size=min(6, len(ev.z_test)), replace=False)
    ranked = [[images[j] for j in np.argsort(-(ev.z_test[i] @ emb.T))[:5]] for i in q]
    path = plot_retrieval_grid(
        ev.test["label"].astype(str).to_numpy()[q],
        ranked,
        {p: str(label_of[p]) for p in images},
        b.figures / "n170_retrieval.png",
        n_queries=len(q),
        k=5,
    )
    return {"retrieval grid": str(path)}


def nice_analyses(b: Bench, ev: EvalSet) -> dict[str, str]:
    """NICE-style analyses of the within-subject image model: zero-shot accuracy
    with the test input restricted to one time window, one channel group, or one
    frequency band (the rest zeroed / filtered out)."""
    from scipy.signal import butter, sosfiltfilt

    from brainalign.evaluation.metrics import balanced_accuracy
    from brainalign.evaluation.stats import Score, bootstrap_ci
    from brainalign.report.plots import plot_score_by_group
    from brainalign.training.data import build_paired_data
    from brainalign.training.recipe import recipe_from_dict

    recipe = recipe_from_dict(ev.model.config["recipe"])
    data = build_paired_data(recipe.data, b.data_dir, progress=False, seed=recipe.seed)
    x = np.asarray(data.windows.data[data.part("test")])
    y = data.windows.table.iloc[data.part("test")]["label"].astype(str).to_numpy()
    cls, proto = prototypes(ev, "label", sorted(set(y)))["image"]
    sf = ev.model.contract.sfreq
    tmin = next(
        (s["tmin"] for s in (ev.model.contract.preprocessing or {}).get("steps", []) if s.get("step") == "EventWindow"),
        0.0,
    )

    def score(xm: np.ndarray) -> Score:
        pred = cls[(ev.model.encode_eeg(xm) @ proto.T).argmax(1)]
        lo, hi = bootstrap_ci(balanced_accuracy, y, pred, n_boot=200, seed=b.seed)
        return Score(balanced_accuracy(y, pred), lo, hi, float("nan"), 0.5)

    figs = {}
    by_time = {}
    step = int(round(0.1 * sf))
    for s0 in range(0, x.shape[-1] - step + 1, step):
        xm = np.zeros_like(x)
        xm[..., s0 : s0 + step] = x[..., s0 : s0 + step]
        by_time[f"{tmin + s0 / sf:.1f}-{tmin + (s0 + step) / sf:.1f} s"] = score(xm)
    figs["by time window"] = str(
        plot_score_by_group(
            by_time,
            b.figures / "n170_by_time.png",
            "zero-shot accuracy, input restricted to one 100 ms window",
            "time window",
        )
    )
    names = list(ev.model.contract.ch_names)
    groups = {"temporal (TP9, TP10)": ["TP9", "TP10"], "frontal (AF7, AF8)": ["AF7", "AF8"]}
    by_group = {}
    for g, chans in groups.items():
        xm = np.zeros_like(x)
        idx = [names.index(c) for c in chans if c in names]
        xm[:, idx] = x[:, idx]
        by_group[g] = score(xm)
    figs["by channel group"] = str(
        plot_score_by_group(
            by_group, b.figures / "n170_by_channels.png", "zero-shot accuracy, only one channel group kept", "channels"
        )
    )
    by_band = {}
    for band, (lo_f, hi_f) in {
        "delta 1-4 Hz": (1, 4),
        "theta 4-8 Hz": (4, 8),
        "alpha 8-13 Hz": (8, 13),
        "beta 13-30 Hz": (13, 30),
    }.items():
        if hi_f >= sf / 2:
            continue
        sos = butter(4, [lo_f, hi_f], btype="band", fs=sf, output="sos")
        by_band[band] = score(sosfiltfilt(sos, x, axis=-1).astype(np.float32))
    figs["by frequency band"] = str(
        plot_score_by_group(by_band, b.figures / "n170_by_band.png", "zero-shot accuracy, input band-passed", "band")
    )
    return figs
