"""Task ``shared_encoder`` (issue 11): one EEG encoder with an image and a text head against
the single-task encoders, on N170 faces vs houses, within subject and subject-disjoint.

The comparison itself is :func:`brainalign.experiments.shared_encoder.compare`; this turns
its results into TaskResults (``shared_encoder_within``, ``shared_encoder_loso``)."""

from __future__ import annotations

from typing import Any

from brainalign.experiments import shared_encoder as se
from brainalign.experiments.common import Bench
from brainalign.results import Score, TaskResult

#: metric name -> key of compare()'s scores
METRICS = {
    "shared_zeroshot_image_bacc": "shared:image",
    "image_only_zeroshot_image_bacc": "image:image",
    "shared_zeroshot_text_bacc": "shared:text",
    "text_only_zeroshot_text_bacc": "text:text",
    "supervised_ce_bacc": "supervised:label",
}
CONTROLS = {
    "shared_zeroshot_image_bacc": "shared_shuffled:image",
    "shared_zeroshot_text_bacc": "shared_shuffled:text",
}
NAMES = {"within": "shared_encoder_within", "subject": "shared_encoder_loso"}


def _score(s: dict[str, Any]) -> Score:
    return Score(s["value"], s["ci_low"], s["ci_high"], s["p_value"], s["chance"])


def task_result(r: dict[str, Any]) -> TaskResult:
    """The TaskResult of one :func:`~brainalign.experiments.shared_encoder.compare` result."""
    scores = r["scores"]
    metrics = {name: _score(scores[key]) for name, key in METRICS.items() if key in scores}
    baselines: dict[str, dict[str, float]] = {"chance": {"balanced_accuracy": 0.5}}
    for key, s in scores.items():
        if ":" not in key:  # the classical pipelines
            baselines[key] = {
                "balanced_accuracy": s["value"],
                "ci_low": s["ci_low"],
                "ci_high": s["ci_high"],
                "p_value": s["p_value"],
            }
    controls: dict[str, Any] = {"differences": r["differences"]}
    shuffled = {name: _score(scores[key]) for name, key in CONTROLS.items() if key in scores}
    if shuffled:
        controls["shuffled_pairing"] = shuffled
    seconds = ", ".join(f"{k} {v:.0f} s" for k, v in r["train_seconds"].items())
    notes = [
        "Arms: image-only (n170_image), text-only (the same recipe paired with the trial text, MiniLM), "
        "shared (n170_shared: one NICE encoder, image and text heads), supervised (the same NICE encoder "
        "and recipe trained with cross-entropy on the labels); same split, seed and schedule.",
        "CIs resample test windows within each subject (conditional on these 5 subjects); permutation "
        "p-values permute labels within subject; differences (controls.differences) are paired on the "
        "same resampled windows.",
        f"Training / fitting seconds: {seconds}.",
    ]
    if r["protocol"] == "within":
        notes.append(
            "Baselines without a suffix are one model for all subjects, like the arms; *_per_subject are "
            "fitted on each subject's own training windows. The face/house effect changes sign between "
            "subjects, so pooled models are near chance even within subject."
        )
    result = TaskResult(
        description="Shared multi-task EEG encoder (one NICE encoder, image and text CLIP heads) against "
        "the single-task encoders: N170 faces vs houses zero-shot from image prototypes and from text prompts.",
        protocol=r["description"],
        metrics=metrics,
        baselines=baselines,
        controls=controls,
        notes=notes,
    )
    return result.headline("shared_zeroshot_image_bacc")


def task_shared_encoder(b: Bench) -> dict[str, TaskResult]:
    budget = b.budget.shared
    out = {}
    for protocol in budget.protocols:
        r = se.compare(
            b.runs / NAMES[protocol],
            b.data_dir,
            protocol=protocol,
            n_folds=budget.folds,
            epochs=budget.epochs,
            seed=budget.seed + b.seed,
            n_boot=budget.n_boot,
            controls=budget.controls,
            log=b.log,
        )
        out[NAMES[protocol]] = task_result(r)
    return out
