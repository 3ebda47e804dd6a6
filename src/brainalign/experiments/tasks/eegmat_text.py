"""Task ``eegmat_text``: EEG-text alignment on eegmat (Deep4 and the spectral encoder), subject-disjoint folds."""

from __future__ import annotations

from brainalign.evaluation.protocols import (
    score_predictions,
)
from brainalign.experiments.common import (
    Bench,
    pooled,
)
from brainalign.experiments.figures import figures_for
from brainalign.results import TaskResult

_EEGMAT_ENCODERS = {
    "eegmat_text": "Deep4 (the EEG-CLIP encoder, raw waveform)",
    "eegmat_text_spectral": "the spectral encoder (relative log power spectrum per channel, in the network)",
}


def task_eegmat_text(b: Bench) -> dict[str, TaskResult]:
    out: dict[str, TaskResult] = {}
    for recipe in _EEGMAT_ENCODERS:
        out.update(_eegmat_text(b, recipe))
    return out


def _eegmat_text(b: Bench, recipe: str) -> dict[str, TaskResult]:
    n = b.budget.folds["eegmat_text"]
    # MiniLM frozen (its embeddings computed once): fine-tuning it at 1e-3 of the EEG rate, as
    # the recipe does, made one fold take over 20 minutes on two cores against about 2 with it frozen
    extra = [f"train.epochs={b.budget.epochs['eegmat_text']}", "data.split.val=2", "model.pair.trainable=false"]
    columns = ["label", "sex", "count_quality"] if recipe == "eegmat_text" else ["label"]
    preds, runs = b.cv_task(recipe, recipe, n, "subject", columns, extra)
    shuffled, _ = b.cv_task(recipe, recipe, n, "subject", columns, extra, shuffle=True)
    kw = dict(n_boot=b.budget.n_boot, n_perm=b.budget.n_perm, seed=b.seed)
    out: dict[str, TaskResult] = {}
    main = score_predictions(preds["label"], **kw)
    base = b.cv_baselines(
        recipe,
        n,
        "subject",
        extra,
        ["chance", "bandpower_lr", "ecg_hrv_lr", "eegclassifier"],
        {"eegclassifier": {"model": "deep4", "epochs": b.budget.baseline_epochs}},
        ecg=True,
    )
    ev0 = b.eval_set(runs[0])
    figs = figures_for(b, recipe, ev0, preds["label"], runs[0], "label")
    from brainalign.data.splits import audit_block_design

    audit = audit_block_design(ev0.test.assign(label=ev0.test["label"]), time_col="start", group_col="recording")
    out[recipe] = TaskResult(
        description=f"EEG-text alignment ({_EEGMAT_ENCODERS[recipe]} + MiniLM, frozen here (the recipe "
        "fine-tunes it at 1e-3 of the EEG rate), CLIP, 64-d): rest vs mental arithmetic decoded zero-shot from text prompts, and "
        "probes on the frozen EEG embeddings.",
        protocol=f"{n}-fold subject-disjoint cross-validation over every eegmat subject (2 validation subjects per "
        f"fold for early stopping); out-of-fold predictions pooled; permutations move whole "
        f"recordings within subjects.",
        metrics=main,
        baselines=base,
        controls={
            "shuffled_pairing": pooled(shuffled["label"], kw, ("zeroshot", "logreg_bacc")),
            "block_design": audit,
        },
        figures=figs,
        notes=[
            "Classes are unbalanced (182 s rest vs 62 s task per subject): balanced accuracy throughout.",
            "Block design: every eegmat recording holds one condition, so recording identity and time in "
            "the session predict the label; the model only sees 2 s windows of EEG, but subject-disjoint "
            "testing is what keeps identity from leaking.",
        ],
    )
    out[recipe].headline("zeroshot_text_bacc")
    for col, desc in (
        ("sex", "sex from text prompts (female / male)"),
        ("count_quality", "counting quality from text prompts (good / bad)"),
    ):
        if preds.get(col):
            out[f"eegmat_text_{col}"] = TaskResult(
                description=f"The eegmat EEG-text models: {desc}, zero-shot, and probes.",
                protocol=out[recipe].protocol,
                metrics=score_predictions(preds[col], **kw),
                # a subject-level label: the same folds, band power + LR on that label, and the
                # shuffled-pairing runs scored on it (no training of their own)
                baselines=b.cv_baselines(recipe, n, "subject", extra, ["chance", "bandpower_lr"], label_col=col),
                controls={"shuffled_pairing": pooled(shuffled[col], kw, ("zeroshot", "logreg_bacc"))}
                if shuffled.get(col)
                else {},
                notes=[f"{col} is a subject-level label: permutations and bootstrap move whole subjects."],
            )
            out[f"eegmat_text_{col}"].headline("zeroshot_text_bacc")
    return out
