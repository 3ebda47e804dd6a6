"""Task ``p300_fair``: issue 10's fair protocol on eegnb_p300 (target vs non-target).

The ``tangent`` encoder with an xDAWN front end (filters, prototypes and Riemannian
reference fitted on each fold's training epochs) -> MLP, aligned by CLIP with frozen MiniLM
embeddings of one text per class, beside xDAWN covariances + tangent space + LR and the same
network trained on the labels, on the same folds
(:func:`brainalign.experiments.fair.p300_aligned`). Within subject (session-disjoint where
a subject has several sessions) is the headline; leave-one-subject-out beside it; the shared
README's reference protocols (within 5-fold, leave one session out) re-measured.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from brainalign.experiments import fair
from brainalign.experiments.common import Bench
from brainalign.experiments.fair_scores import (
    FairScorer,
    baseline_entry,
    cached_fair_call,
    mean_of_groups,
    method_figure,
    pooled_auc,
    pooled_bacc,
)
from brainalign.results import Score, TaskResult
from brainalign.training.heads import HeadConfig

__all__ = ["p300_fair_result", "p300_references", "task_p300_fair"]


def p300_references(seeds: tuple[int, ...], data_dir: Any = None) -> dict[str, dict[str, float]]:
    """The shared README's P300 references re-measured: xDAWN covariances + tangent space + LR
    within subject (stratified 5-fold x ``seeds``, mean of subjects 1/3/4) and leaving one
    session out (subjects 1 and 3)."""
    out = {}
    for protocol, kw in (
        ("within_5fold", {"protocol": "within", "seeds": seeds}),
        ("loso_session", {"protocol": "loso_session"}),
    ):
        r = fair.p300_xdawn_reference(data_dir=data_dir, **kw)  # type: ignore[arg-type]
        entry = {"balanced_accuracy": r["balanced_accuracy"], "auc": r["auc"]}
        if "reference" in r:
            entry["readme_balanced_accuracy"] = r["reference"]["balanced_accuracy"]
        out[f"xdawn_ts_lr_readme_{protocol}"] = entry
    return out


def p300_fair_result(r: dict[str, Any], n_boot: int, n_perm: int, seed: int = 0) -> tuple[TaskResult, FairScorer]:
    """One :func:`fair.p300_aligned` run (``return_scores=True``) as a TaskResult."""
    within = r["protocol"] == "within"
    n = len(r["y"])
    sc = FairScorer(
        y=r["y"],
        by=r["subjects"],
        scores=r["scores"],
        boot_units=np.arange(n),
        boot_strata=r["subjects"],
        perm_units=np.arange(n),
        perm_groups=r["subjects"],
        n_boot=n_boot,
        n_perm=n_perm,
        seed=seed,
    )
    bacc = mean_of_groups(pooled_bacc) if within else pooled_bacc
    auc = mean_of_groups(pooled_auc) if within else pooled_auc
    metrics = {
        "zeroshot_text_bacc": sc.score("zero_shot", bacc),
        "zeroshot_text_auc": sc.score("zero_shot", auc, p=False),
        "train_texts_prototype_bacc": sc.score("train_texts", bacc),
        "ce_bacc": sc.score("ce", bacc),
    }
    both = (("balanced_accuracy", bacc), ("auc", auc))
    per_subject = {
        m: {k.rsplit("_", 1)[1]: v for k, v in r.items() if k.startswith(f"{m}_subject_") and not k.endswith("_sd")}
        for m in ("zero_shot", "ce", "xdawn_ts_lr")
    }
    result = TaskResult(
        description="P300 (eegnb_p300) target vs non-target: the tangent encoder (xDAWN filters + prototypes, "
        "OAS covariances, tangent space at the training Riemannian mean -> MLP, 64-d) aligned by CLIP with "
        "frozen MiniLM embeddings of one text per class; zero-shot from reworded prompts (with only the two "
        "training classes: text-prototype classification); 'train_texts_prototype' uses the training texts "
        "themselves.",
        protocol=f"{r['protocol_detail']}; epochs > 100 uV dropped; every filter, reference, network and LR "
        "fitted on training epochs only. CI: bootstrap of epochs within each subject (seeds stacked); p: labels "
        "permuted among a subject's epochs."
        + ("" if within else " Three subjects: subject-level inference is not possible."),
        metrics=metrics,
        baselines={
            "chance": {"balanced_accuracy": 0.5, "auc": 0.5},
            "xdawn_ts_lr": baseline_entry(sc, "xdawn_ts_lr", both),
            "same_network_ce": baseline_entry(sc, "ce", both),
        },
        controls={
            "shuffled_pairing": {"zeroshot_text_bacc": sc.score("shuffled", bacc)},
            "paired_bootstrap_difference": {
                "zero_shot - xdawn_ts_lr": sc.difference_score("zero_shot", "xdawn_ts_lr", bacc),
                "zero_shot - same_network_ce": sc.difference_score("zero_shot", "ce", bacc),
            },
        },
        notes=[
            f"Balanced accuracy per subject (mean over seeds): {per_subject}." if per_subject["zero_shot"] else "",
            f"Normalisation: {r['normalization']}.",
            f"Training texts: {r['training_texts']}; prompts: {r['prompts']}.",
            f"Head: {r['head_config']}; seeds {r['seeds']}; {r['n_epochs']} epochs.",
        ],
    ).headline("zeroshot_text_bacc")
    result.notes = [n for n in result.notes if n]
    return result, sc


def task_p300_fair(b: Bench) -> dict[str, TaskResult]:
    fb = b.budget.fair
    cfg = HeadConfig(epochs=fb.epochs)
    out: dict[str, TaskResult] = {}
    for name, protocol, seeds in (
        ("p300_fair_within", "within", fb.p300_within_seeds),
        ("p300_fair_loso_subject", "loso_subject", fb.p300_loso_seeds),
    ):
        t0 = time.perf_counter()
        r = cached_fair_call(
            b.out / "fair_runs", name, fair.p300_aligned, protocol=protocol, seeds=seeds, cfg=cfg, data_dir=b.data_dir
        )
        res, sc = p300_fair_result(r, fb.n_boot, fb.n_perm, b.seed)
        b.log(f"    {name}: {time.perf_counter() - t0:.0f} s")
        bacc = mean_of_groups(pooled_bacc) if protocol == "within" else pooled_bacc
        bars: dict[str, Score] = {
            "zero-shot": res.metrics["zeroshot_text_bacc"],
            "training texts": res.metrics["train_texts_prototype_bacc"],
            "CE (same net)": res.metrics["ce_bacc"],
            "xDAWN+TS+LR": sc.score("xdawn_ts_lr", bacc),
            "shuffled text": res.controls["shuffled_pairing"]["zeroshot_text_bacc"],
        }
        res.figures.update(method_figure(b.figures, name, bars, f"P300 target vs non-target, {protocol}"))
        out[name] = res
    refs = p300_references(fb.reference_seeds, b.data_dir)
    # other protocols (README's), so beside the task, not among its same-fold baselines
    out["p300_fair_within"].references.update(refs)
    return out
