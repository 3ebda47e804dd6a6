"""Tasks ``multidataset_text`` (one text-aligned encoder across eegmat, EEGMMIDB, SMNI and
P300, against per-dataset encoders) and ``muse_pretrain`` (masked pre-training on
``muse_cueing``, fine-tuning on P300 and N170, against scratch and xDAWN), issue 10.

The protocols are the plain functions of :mod:`brainalign.experiments.multidata` and
:mod:`brainalign.experiments.muse_pretrain`; this module runs them with the benchmark's
budget (:data:`~brainalign.experiments.budgets.MULTIDATA_FULL` / ``MULTIDATA_QUICK``)
and turns their dicts into typed :class:`~brainalign.results.TaskResult` s.
"""

from __future__ import annotations

import math
from typing import Any

from brainalign.experiments.budgets import MULTIDATA_FULL, MULTIDATA_QUICK, MultiDataBudget
from brainalign.experiments.common import Bench
from brainalign.results import Score, TaskResult

__all__ = ["multidata_budget", "multidataset_results", "muse_results", "task_multidataset_text", "task_muse_pretrain"]


def multidata_budget(b: Bench) -> MultiDataBudget:
    """QUICK when the benchmark runs ``--quick`` (its budget's ``fusion_quick`` flag)."""
    return MULTIDATA_QUICK if b.budget.fusion_quick else MULTIDATA_FULL


def _score(value: float, ci: list[float] | None = None, p: float = math.nan, chance: float = 0.5) -> Score:
    low, high = (ci or [math.nan, math.nan])[:2]
    return Score(float(value), float(low), float(high), float(p), chance)


def _difference(d: dict[str, float]) -> Score:
    """A paired bootstrap difference as a Score: value, 95 % interval, the share of draws
    at or below zero as p, chance 0 (no difference)."""
    return Score(d["difference"], d["ci_low"], d["ci_high"], d["p_a_not_above_b"], 0.0)


def _ba_auc(method: dict[str, Any], prefix: str = "") -> dict[str, float]:
    return {"balanced_accuracy": float(method[f"{prefix}balanced_accuracy"]), "auc": float(method[f"{prefix}auc"])}


def multidataset_results(res: dict[str, Any], quick: bool = False) -> dict[str, TaskResult]:
    """One :class:`TaskResult` per dataset from :func:`~brainalign.experiments.multidata.multidataset_text`."""
    out: dict[str, TaskResult] = {}
    seeds = res["seeds"]
    for name, d in res["datasets"].items():
        m = d["methods"]
        joint, single, shuffled, lr = m["joint"], m["single"], m["joint_shuffled"], m["lr"]
        metrics = {
            "zeroshot_bacc_joint": _score(
                joint["balanced_accuracy"], joint.get("ci_bootstrap"), joint.get("p_permutation_seed0", math.nan)
            ),
            "zeroshot_auc_joint": _score(joint["auc"]),
            "zeroshot_bacc_per_dataset_encoder": _score(single["balanced_accuracy"]),
        }
        baselines = {
            "chance": {"balanced_accuracy": 0.5, "auc": 0.5},
            "per_dataset_encoder_zeroshot": _ba_auc(single),
            "lr_same_features": _ba_auc(lr),
        }
        notes = [
            f"Joint model: one linear adapter per dataset into a shared MLP trunk, CLIP-trained on the union of "
            f"the four datasets' training rows ({', '.join(f'{k} {v}' for k, v in res['n_train_rows'].items())} "
            f"rows in all); per-dataset encoder: the same network with one adapter, trained on this dataset only, "
            f"same folds, seeds and configuration. Zero-shot with reworded prompts (two classes: text-prototype "
            f"classification). Mean over seeds {seeds}.",
            f"Front end: {d['front_end']}. Normalisation: {d['normalization']}.",
        ]
        if "subject_balanced_accuracy" in joint:
            metrics["zeroshot_subject_bacc_joint"] = _score(joint["subject_balanced_accuracy"])
            for base, method in (("per_dataset_encoder_zeroshot", single), ("lr_same_features", lr)):
                baselines[base]["subject_balanced_accuracy"] = float(method["subject_balanced_accuracy"])
                baselines[base]["subject_auc"] = float(method["subject_auc"])
            notes.append("Subject-level label: no per-subject normalisation; per subject = mean score of its trials.")
        if quick:
            notes.insert(0, "QUICK mode (little training: for tests and demos, not for conclusions).")
        tr = TaskResult(
            description=f"One EEG encoder aligned to text across {', '.join(res['datasets'])} at once; "
            f"{name}: {d['task']}.",
            protocol=res["protocol"] + f"; bootstrap unit: {d['bootstrap_unit']}.",
            metrics=metrics,
            baselines=baselines,
            controls={
                "shuffled_pairing": {
                    "zeroshot_bacc_joint": _score(
                        shuffled["balanced_accuracy"], p=shuffled.get("p_permutation_seed0", math.nan)
                    ),
                    "zeroshot_auc_joint": _score(shuffled["auc"]),
                },
                "joint_minus_per_dataset_encoder": {
                    "balanced_accuracy_difference": _difference(d["joint_minus_single"])
                },
                "joint_minus_lr": {"balanced_accuracy_difference": _difference(d["joint_minus_lr"])},
            },
            notes=notes,
        )
        out[f"multidataset_text_{name}"] = tr.headline("zeroshot_bacc_joint")
    return out


def muse_results(res: dict[str, Any], quick: bool = False) -> dict[str, TaskResult]:
    """One :class:`TaskResult` per (dataset, protocol) from
    :func:`~brainalign.experiments.muse_pretrain.muse_pretrain_finetune`."""
    out: dict[str, TaskResult] = {}
    diag = res["diagnostics"]
    for key, d in res["results"].items():
        m = d["methods"]
        dataset = key.split("_")[0]
        pre = m["pretrained"]
        metrics = {
            "finetuned_bacc_pretrained": _score(
                pre["balanced_accuracy"], pre.get("ci_bootstrap"), pre.get("p_permutation_seed0", math.nan)
            ),
            "finetuned_auc_pretrained": _score(m["pretrained"]["auc"]),
            "finetuned_bacc_scratch": _score(m["scratch"]["balanced_accuracy"]),
        }
        # masked-patch MSE; "chance" = the MSE of predicting zero for every hidden patch
        recon = {
            f"seed{s}_{where}_{init}": _score(
                v[f"{where}_{init}"]["masked_mse"], chance=v[f"{where}_{init}"]["zero_mse"]
            )
            for s, v in diag.items()
            for where in ("heldout_corpus", f"{dataset}_epochs")
            for init in ("random_init", "pretrained")
        }
        notes = [
            "masked_reconstruction_mse: masked-patch MSE of the random and the pre-trained network on "
            "held-out corpus subjects and on this set's epochs; its 'chance' is the MSE of predicting zero.",
            f"Pre-training: {res['corpus']['windows']} muse_cueing windows of 1 s ({res['corpus']['subjects']} "
            "subjects, two held out for the reconstruction diagnostic); no window of the evaluated sets. "
            f"Mean over seeds {res['seeds']}.",
            "probe_pretrained / probe_random: LR on the frozen embedding of the pre-trained / randomly "
            "initialised network; masked_reconstruction: MSE on hidden patches vs predicting zero.",
        ]
        if quick:
            notes.insert(0, "QUICK mode (little training: for tests and demos, not for conclusions).")
        tr = TaskResult(
            description=f"Masked pre-training (CBraMod-style) on unlabelled Muse recordings, fine-tuned on "
            f"{dataset.upper()} ({'target vs non-target' if dataset == 'p300' else 'face vs house'}), against "
            "the same network from scratch.",
            protocol=(
                "within subject, one model for all subjects: fold k tests each subject's session k "
                f"(stratified parts for single-session subjects), {res['n_splits_within']} folds"
                if key.endswith("within")
                else "leave one subject out"
            )
            + "; pooled over folds; bootstrap unit subject x session.",
            metrics=metrics,
            baselines={
                "chance": {"balanced_accuracy": 0.5, "auc": 0.5},
                "scratch": _ba_auc(m["scratch"]),
                "xdawn_ts_lr": _ba_auc(m["xdawn_ts_lr"]),
                "probe_pretrained": _ba_auc(m["probe_pretrained"]),
                "probe_random": _ba_auc(m["probe_random"]),
            },
            controls={
                "pretrained_minus_scratch": {
                    "balanced_accuracy_difference": _difference(d["pretrained_minus_scratch"])
                },
                "pretrained_minus_xdawn_ts_lr": {
                    "balanced_accuracy_difference": _difference(d["pretrained_minus_xdawn_ts_lr"])
                },
                "masked_reconstruction_mse": recon,
            },
            notes=notes,
        )
        out[f"muse_pretrain_{key}"] = tr.headline("finetuned_bacc_pretrained")
    return out


def task_multidataset_text(b: Bench) -> dict[str, TaskResult]:
    from brainalign.experiments.multidata import MultiConfig, multidataset_text

    budget = multidata_budget(b)
    res = multidataset_text(
        seeds=tuple(b.seed + s for s in budget.multi_seeds),
        cfg=MultiConfig(epochs=budget.multi_epochs),
        n_boot=budget.n_boot,
        n_perm=budget.n_perm,
        data_dir=b.data_dir,
        log=b.log,
    )
    return multidataset_results(res, quick=budget is MULTIDATA_QUICK)


def task_muse_pretrain(b: Bench) -> dict[str, TaskResult]:
    from brainalign.experiments.muse_pretrain import MuseConfig, muse_pretrain_finetune

    budget = multidata_budget(b)
    res = muse_pretrain_finetune(
        seeds=tuple(b.seed + s for s in budget.muse_seeds),
        cfg=MuseConfig(pretrain_epochs=budget.pretrain_epochs, finetune_epochs=budget.finetune_epochs),
        max_pretrain_windows=budget.max_pretrain_windows,
        n_boot=budget.n_boot,
        n_perm=budget.n_perm,
        data_dir=b.data_dir,
        log=b.log,
    )
    return muse_results(res, quick=budget is MULTIDATA_QUICK)
