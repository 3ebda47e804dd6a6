"""Task ``triplet``: semi-hard triplet embeddings on N170 (subject-disjoint) and EEGMMIDB (run-disjoint both ways)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from brainalign.evaluation.protocols import (
    evaluate_task,
    label_predictions,
)
from brainalign.experiments.common import (
    Bench,
    mean_baselines,
    pooled,
    strip_baselines,
)
from brainalign.experiments.figures import figures_for
from brainalign.results import TaskResult

_TRIPLET_METRICS = ("kmeans_acc", "svm_bacc", "knn_bacc", "logreg_bacc", "prototype_bacc")

#: EEGMMIDB S001 left vs right fist exists in two runs only (R03 executed, R04 imagined):
#: the run-disjoint protocol trains on one and tests on the other, both ways.
_MMIDB_DIRECTIONS = (("r03_to_r04", "eegmmidb_sub-001_run-04"), ("r04_to_r03", "eegmmidb_sub-001_run-03"))


def _triplet_predictions(b: Bench, name: str, runs: list[tuple[str, list[str]]]) -> tuple[list[Any], list[Path]]:
    preds, paths = [], []
    for run_name, ov in runs:
        run = b.train(name, run_name, ov)
        preds.append(label_predictions(b.eval_set(run), "label", few_shot=False, seed=b.seed))
        paths.append(run)
    return preds, paths


def task_triplet(b: Bench) -> dict[str, TaskResult]:
    kw = dict(n_boot=b.budget.n_boot, n_perm=b.budget.n_perm, seed=b.seed)
    out: dict[str, TaskResult] = {}
    # N170: one subject-disjoint split, scored with every protocol incl. k-means
    name = "n170_triplet"
    ov = [f"train.epochs={b.budget.epochs[name]}"]
    run = b.train(name, name, ov)
    ev = b.eval_set(run)
    metrics = {k: v for k, v in evaluate_task(ev, "label", few_shot=False, **kw).items() if k in _TRIPLET_METRICS}
    shuffled_run = b.train(name, f"{name}_shuffled", [*ov, "data.shuffle_pairs=true"])
    shuffled = {
        k: v
        for k, v in evaluate_task(b.eval_set(shuffled_run), "label", few_shot=False, **kw).items()
        if k in ("kmeans_acc", "svm_bacc")
    }
    base = b.baselines(
        name,
        ov,
        ["chance", "xdawn_ts_lr", "eegclassifier"],
        {"eegclassifier": {"model": "eegnet", "epochs": b.budget.baseline_epochs}},
    )
    out[name] = TaskResult(
        description="Semi-hard triplet embeddings (arXiv 2310.16532): k-means accuracy (Hungarian), "
        "linear SVM and kNN on the frozen embeddings.",
        protocol="subject-disjoint (1 validation, 1 test subject)",
        metrics=metrics,
        baselines={k: strip_baselines(v) for k, v in base.items()},
        controls={"shuffled_pairing": shuffled},
        figures=figures_for(b, name, ev, [label_predictions(ev, "label", few_shot=False, seed=b.seed)], run, "label"),
    )
    out[name].headline("svm_bacc")

    # EEGMMIDB: run-disjoint both ways, predictions pooled over the 30 test trials
    name = "eegmmidb_triplet"
    epochs = f"train.epochs={b.budget.epochs[name]}"
    directions = [(f"{name}_{d}", [epochs, f"data.split.test_groups=[{g}]"]) for d, g in _MMIDB_DIRECTIONS]
    preds, runs = _triplet_predictions(b, name, directions)
    shuf, _ = _triplet_predictions(b, name, [(f"{r}_shuffled", [*o, "data.shuffle_pairs=true"]) for r, o in directions])
    base = mean_baselines(
        [
            b.baselines(
                name,
                o,
                ["chance", "csp_lda", "eegclassifier"],
                {"eegclassifier": {"model": "shallow", "epochs": b.budget.baseline_epochs}},
            )
            for _, o in directions
        ]
    )
    ev = b.eval_set(runs[0])
    metrics = pooled(preds, kw, _TRIPLET_METRICS)
    for (direction, _), run in zip(_MMIDB_DIRECTIONS, runs):  # k-means clusters each test run on its own
        metrics[f"kmeans_acc_{direction}"] = evaluate_task(b.eval_set(run), "label", few_shot=False, **kw)["kmeans_acc"]
    out[name] = TaskResult(
        description=out["n170_triplet"].description,
        protocol="EEGMMIDB S001, left vs right fist, run-disjoint both ways: trained on the executed run "
        "(R03) and tested on the imagined run (R04), and the reverse; the 2 x 15 test trials pooled. "
        "Validation: the last 25% (in time) of the training run.",
        metrics=metrics,
        baselines=base,
        controls={"shuffled_pairing": pooled(shuf, kw, ("svm_bacc", "prototype_bacc"))},
        figures=figures_for(b, name, ev, preds[:1], runs[0], "label"),
        notes=[
            "Only runs R03 and R04 hold left vs right fist (R05/R06 are both fists vs both feet on "
            "PhysioNet): 30 trials in all, so a score needs about 0.67 to reach p < 0.05."
        ],
    )
    out[name].headline("svm_bacc")
    return out
