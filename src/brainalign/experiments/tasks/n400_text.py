"""Task ``n400_text``: EEG-text alignment with the N400 word pairs, trial-disjoint folds, and the words-only reference."""

from __future__ import annotations

import numpy as np

from brainalign.evaluation.protocols import (
    score_predictions,
)
from brainalign.experiments.common import (
    Bench,
    fold_overrides,
    mean_baselines,
    pooled,
)
from brainalign.experiments.figures import figures_for
from brainalign.recipes import recipe_path
from brainalign.results import TaskResult


def text_relatedness_reference(b: Bench, recipe: str, folds: list[list[str]]) -> dict[str, float]:
    """What the words alone say about related vs unrelated: the cosine between the
    frozen text tower's embeddings of cue and association, thresholded at its median
    over each fold's training trials (no label used), averaged over the folds (``folds``:
    one override list each) weighted by test size. An upper reference for decoding
    relatedness through alignment with this text tower."""
    import torch
    from sklearn.metrics import balanced_accuracy_score, roc_auc_score

    from brainalign.models.towers import create_tower
    from brainalign.training.data import build_paired_data
    from brainalign.training.recipe import load_recipe

    per_fold, cos = [], None
    for overrides in folds:
        rec = load_recipe(recipe_path(recipe), [f"seed={b.seed}", *overrides])
        data = build_paired_data(rec.data, b.data_dir, progress=False, seed=b.seed)
        if cos is None:  # the folds share the trials; only the split differs
            table = data.windows.table
            tower = create_tower(rec.model.pair.name)
            with torch.no_grad():
                cue, assoc = (
                    torch.nn.functional.normalize(tower.encode(table[c].astype(str).tolist()), dim=-1)
                    for c in ("cue", "association")
                )
            cos = (cue * assoc).sum(-1).numpy()
        related = np.array(data.classes)[data.labels] == "related"
        train, test = data.split.train, data.split.test
        pred = cos[test] > np.median(cos[train])
        per_fold.append(
            {
                "t": {
                    "balanced_accuracy": float(balanced_accuracy_score(related[test], pred)),
                    "auc": float(roc_auc_score(related[test], cos[test])),
                    "n_test": int(len(test)),
                }
            }
        )
    return mean_baselines(per_fold)["t"]


def task_n400_text(b: Bench) -> dict[str, TaskResult]:
    n = b.budget.folds["n400_text"]
    extra = [f"train.epochs={b.budget.epochs['n400_text']}"]
    kw = dict(n_boot=b.budget.n_boot, n_perm=b.budget.n_perm, seed=b.seed)
    preds, runs = b.cv_task("n400_text", "n400_text", n, "window", ["label"], extra)
    shuffled, _ = b.cv_task("n400_text", "n400_text", n, "window", ["label"], extra, shuffle=True)
    base = b.cv_baselines(
        "n400_text",
        n,
        "window",
        extra,
        ["chance", "erp_lr", "xdawn_ts_lr", "eegclassifier"],
        {"erp_lr": {"target_sfreq": 25}, "eegclassifier": {"model": "eegnet", "epochs": b.budget.baseline_epochs}},
    )
    text_only = text_relatedness_reference(
        b, "n400_text", [[*fold_overrides(n, "window", f), *extra] for f in range(n)]
    )
    ev0 = b.eval_set(runs[0])
    out = {
        "n400_text": TaskResult(
            description="EEG-text alignment with the word pairs (EEGNet + frozen multilingual E5, CLIP); "
            "related vs unrelated decoded by probes on the aligned embeddings, and with 10% of the labels.",
            protocol=f"{n}-fold trial-disjoint cross-validation (one subject, 200 trials); pooled.",
            metrics=score_predictions(preds["label"], **kw),
            baselines=base,
            controls={"shuffled_pairing": pooled(shuffled["label"], kw, ("logreg_bacc", "fewshot_10pct_bacc"))},
            references={"text_only_cosine": text_only},
            figures=figures_for(b, "n400_text", ev0, preds["label"], runs[0], "label"),
            notes=[
                "The pairs carry no relatedness label: the text tower sees the words only; the FAS and "
                "button columns, which encode the label, are never inputs.",
                "text_only_cosine is not an EEG method: it thresholds the text tower's cosine between cue "
                "and association at its training median. It shows how much relatedness the texts carry "
                "for an aligned EEG model to pick up.",
            ],
        )
    }
    out["n400_text"].headline("logreg_bacc")
    return out
