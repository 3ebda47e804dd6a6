"""Task ``n170_image``: EEG-image alignment on the N170 set, leave-subjects-out and within subject."""

from __future__ import annotations

from brainalign.evaluation.protocols import (
    evaluate_task,
    label_predictions,
    score_predictions,
)
from brainalign.experiments.common import (
    Bench,
    pooled,
    strip_baselines,
)
from brainalign.experiments.figures import figures_for, nice_analyses, retrieval_grid
from brainalign.results import TaskResult


def task_n170_image(b: Bench) -> dict[str, TaskResult]:
    n = b.budget.folds["n170_image"]
    extra = [f"train.epochs={b.budget.epochs['n170_image']}", "data.split.val=1"]
    kw = dict(n_boot=b.budget.n_boot, n_perm=b.budget.n_perm, seed=b.seed)
    preds, runs = b.cv_task("n170_image", "n170_image_loso", n, "subject", ["label"], extra)
    shuffled, _ = b.cv_task("n170_image", "n170_image_loso", n, "subject", ["label"], extra, shuffle=True)
    base_loso = b.cv_baselines(
        "n170_image",
        n,
        "subject",
        extra,
        ["chance", "xdawn_ts_lr", "erp_lr", "eegclassifier"],
        {"eegclassifier": {"model": "eegnet", "epochs": b.budget.baseline_epochs}},
    )
    out = {
        "n170_image_loso": TaskResult(
            description="EEG-image alignment (NICE encoder + frozen EfficientNet-Lite0, CLIP): faces vs houses "
            "2-way zero-shot from image prototypes of each class.",
            protocol=f"{n}-fold leave-subjects-out (5 subjects, 1 validation subject per fold); pooled.",
            metrics=score_predictions(preds["label"], **kw),
            baselines=base_loso,
            controls={"shuffled_pairing": pooled(shuffled["label"], kw, ("zeroshot",))},
            notes=[
                "The face/house effect changes sign between subjects in this set (data README): "
                "cross-subject decoding is hard for every method."
            ],
        )
    }
    out["n170_image_loso"].headline("zeroshot_image_bacc")
    # within subject: session-disjoint where sessions exist, else time blocks
    within = [
        "data.split.kind=within_subject",
        "data.split.test=0.25",
        "data.split.val=0.15",
        f"train.epochs={b.budget.epochs['n170_image']}",
    ]
    run = b.train("n170_image", "n170_image_within", within)
    ev = b.eval_set(run)
    metrics = evaluate_task(ev, "label", **kw)
    shuffled_run = b.train("n170_image", "n170_image_within_shuffled", [*within, "data.shuffle_pairs=true"])
    shuf = evaluate_task(b.eval_set(shuffled_run), "label", **kw)
    base = b.baselines(
        "n170_image",
        within,
        ["chance", "xdawn_ts_lr", "erp_lr", "eegclassifier"],
        {"eegclassifier": {"model": "eegnet", "epochs": b.budget.baseline_epochs}},
    )
    figs = figures_for(b, "n170_image_within", ev, [label_predictions(ev, "label", seed=b.seed)], run, "label")
    figs.update(retrieval_grid(b, ev))
    figs.update(nice_analyses(b, ev))
    out["n170_image_within"] = TaskResult(
        description=out["n170_image_loso"].description + " Retrieval: EEG -> image class.",
        protocol="within subject: each subject's later sessions (or last time blocks) tested, "
        "earlier ones trained; one model for all subjects.",
        metrics=metrics,
        baselines={k: strip_baselines(v) for k, v in base.items()},
        controls={"shuffled_pairing": {k: v for k, v in shuf.items() if k.startswith("zeroshot")}},
        figures=figs,
    )
    out["n170_image_within"].headline("zeroshot_image_bacc")
    return out
