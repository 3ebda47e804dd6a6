"""Task ``generation``: images from EEG (N170, optionally P300) and text from EEG (eegmat).

Runs :func:`brainalign.experiments.generation.image_experiment` and
:func:`~brainalign.experiments.generation.text_experiment` with the budget's
settings (:data:`~brainalign.experiments.budgets.GENERATION_FULL` /
``GENERATION_QUICK`` / ``GENERATION_DEMO``, chosen by ``Budget.generation``) and turns
their plain results into typed task results:

* ``{set}_generation`` (images): class consistency of the EEG-conditioned images
  (the headline), beside the encoder's own decoding on the same held-out trials (the
  bar to reach) and chance; controls: shuffled EEG conditioning and noise in place of
  EEG (both must sit at chance), true-class conditioning (the ceiling); the probe's
  accuracy on real images as a reference; ``fd_effnet`` / ``kid_effnet`` beside their
  real-vs-real floor, diversity, memorisation and the image map's scores as
  generation measures; the grid of held-out trials' images beside real stimuli.
* ``eegmat_text_generation``: attribute accuracy (the task named in the generated
  sentence) of free-running decoding from held-out subjects' EEG (the headline), and
  of retrieval; baselines: the most frequent training sentence (constant), a logistic
  probe on the same EEG embedding; controls: shuffled EEG input and a decoder
  trained on shuffled pairs (shuffled pairing), noise input; BLEU, ROUGE, distinct-n
  and the number of distinct outputs as measures; generated sentences beside their
  references.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from brainalign.config import data_dir as resolve_data_dir
from brainalign.experiments.budgets import GENERATION_BUDGETS, GenerationBudget
from brainalign.experiments.common import Bench
from brainalign.results import Score, TaskResult

__all__ = ["IMAGE_SETS", "image_task_result", "task_generation", "text_task_result"]

#: name -> (data folder, class labels in the reader's terms)
IMAGE_SETS: dict[str, tuple[str, list[str]]] = {
    "n170": ("eegnb_n170", ["house", "face"]),
    "p300": ("eegnb_p300", ["nontarget", "target"]),
}


def _score(d: dict[str, Any]) -> Score:
    return Score.from_dict(d)


def _rel(path: str | os.PathLike, base: Path) -> str:
    p = Path(path)
    try:
        return str(p.resolve().relative_to(base.resolve()))
    except ValueError:
        return str(p)


def image_task_result(r: dict[str, Any], base: Path, budget: GenerationBudget) -> TaskResult:
    """The typed result of one :func:`image_experiment` run (``r``); figure paths
    relative to ``base`` (the benchmark's output folder)."""
    primary = r.get("primary_probe", "logistic")
    logistic, nearest = r["class_consistency"], r.get("class_consistency_nearest_stimulus")
    cc = nearest if primary == "nearest_stimulus" and nearest is not None else logistic
    other = logistic if cc is nearest else nearest
    other_name = "logistic" if cc is nearest else "nearest_stimulus"
    ceiling = r["probe_ceiling_nearest_stimulus"] if cc is nearest else r["probe_ceiling_real_images"]
    name = r["dataset"]
    decoding = r["encoder_decoding_scored_trials"]
    mem, dist, div = r["memorisation"], r["distances"], r["diversity"]
    measures: dict[str, float] = {
        "fd_effnet (generated vs real)": dist["fd_effnet"],
        "fd_effnet real-vs-real floor": dist["fd_floor"],
        "kid_effnet (generated vs real)": dist["kid_effnet"],
        "kid_effnet real-vs-real floor": dist["kid_floor"],
        "diversity generated (EEG-conditioned)": div["generated_eeg"],
        "diversity real stimuli": div["real"],
        "memorisation: median NN distance ratio (generated / real)": mem["ratio"],
        "memorisation: near-copy fraction": mem["copy_fraction"],
        "agreement of generated class (logistic probe) with encoder prediction": logistic[
            "eeg_agreement_with_encoder_prediction"
        ],
        "image map: 2-way identification (test trials)": r["image_map"]["map"]["n_way2_identification_test_trials"],
        "shuffled image map: 2-way identification": r["image_map"]["shuffled_map"]["n_way2_identification_test_trials"],
        "image -> EEG space -> image: class consistency (in-sample)": r["reconstruction_image_to_eeg_to_image"]["map"],
        "same through the shuffled map": r["reconstruction_image_to_eeg_to_image"]["shuffled_map"],
        "GAN steps": float(r["gan"]["steps"]),
        "GAN seconds": float(r["gan"]["seconds"]),
        "ADA augmentation probability at the end": float(r["gan"]["ada_p"]),
    }
    metrics = {
        "class_consistency": _score(cc["eeg"]),
        "class_consistency_soft_code": _score(cc["eeg_soft"]),
        "encoder_decoding_same_trials": _score(decoding),
    }
    references = {f"{primary} probe on real images (held out)": {"balanced_accuracy": float(ceiling)}}
    if other is not None:
        metrics[f"class_consistency_{other_name}_probe"] = _score(other["eeg"])
        metrics[f"class_consistency_true_class_{other_name}_probe"] = _score(other["true_class"])
        other_ceiling = r["probe_ceiling_real_images"] if other is logistic else r["probe_ceiling_nearest_stimulus"]
        references[f"{other_name} probe on real images (held out)"] = {"balanced_accuracy": float(other_ceiling)}
    return TaskResult(
        description=(
            f"{name}: images generated from held-out trials' EEG. A conditional GAN ({r['resolution']} px, mapping "
            "network, projection discriminator, EMA, R1, DiffAugment with an ADA controller) is trained on all "
            f"{r['n_stimuli']} stimulus images, each conditioned on its image embedding mapped (ridge) into the EEG "
            "space, then conditioned on EEG through the class code."
        ),
        protocol=(
            f"within subject, session/time-block split (train {r['n_trials']['train']}, test "
            f"{r['n_trials']['test']} trials; {r['n_scored_trials']} scored); encoder: {r['encoder']}; class "
            f"consistency = balanced accuracy of a {primary} probe on EfficientNet-Lite0 features of the real "
            "stimuli (nearest stimulus when a class has fewer than 10 images), applied to the generated images; CI "
            "clustered by recording, permutation p-value"
        ),
        metrics=metrics,
        baselines={
            "chance": {"balanced_accuracy": 1.0 / len(r["labels"])},
            "encoder decoding, same trials (the bar)": {"balanced_accuracy": decoding["value"]},
        },
        controls={
            "shuffled_pairing": {"class_consistency_shuffled_eeg": _score(cc["shuffled_eeg"])},
            "noise_input": {"class_consistency_noise_eeg": _score(cc["noise"])},
            "true_class_ceiling": {"class_consistency_true_class": _score(cc["true_class"])},
        },
        references=references,
        generation={
            "image_grids": {f"{name}: EEG-conditioned images of held-out trials": _rel(r["figure"], base)},
            "measures": measures,
        },
        notes=[
            r["image_map"]["note"],
            "done when: class consistency no more than its CI below the encoder's decoding on the same trials, "
            "and above the shuffled-conditioning control, which sits at chance",
            f"fd/kid: {dist['note']}; features of {r['feature_extractor']}",
            f"budget: {budget.gan_steps} GAN steps at most"
            + (f", {budget.gan_time_limit_s} s at most" if budget.gan_time_limit_s is not None else ""),
        ],
    ).headline("class_consistency", "balanced_accuracy")


def text_task_result(r: dict[str, Any]) -> TaskResult:
    """The typed result of one :func:`text_experiment` run."""
    res = r["results"]

    def acc(key: str) -> Score:
        return _score(res[key]["attribute_accuracy"])

    measures: dict[str, float] = {}
    for key in ("decoder", "retrieval", "most_frequent_sentence", "decoder_noise_input"):
        m = res[key]
        measures[f"{key}: BLEU-4"] = m["bleu4"]
        for k, v in m["rouge"].items():
            measures[f"{key}: {k}"] = v
        measures[f"{key}: distinct-1"] = m["distinct_1"]
        measures[f"{key}: distinct-2"] = m["distinct_2"]
        measures[f"{key}: distinct outputs"] = float(m["n_distinct_outputs"])
        measures[f"{key}: fraction naming no task"] = m["named_no_task_fraction"]
    metrics = {"attribute_accuracy": acc("decoder"), "attribute_accuracy_retrieval": acc("retrieval")}
    if "decoder_beam" in res:
        metrics["attribute_accuracy_beam3_subset"] = acc("decoder_beam")
    return TaskResult(
        description=(
            "eegmat: EEG -> text, free-running. A small transformer decoder on MiniLM's WordPiece tokens, "
            "conditioned on EEG memory tokens, and retrieval of the nearest training description; the evaluation "
            "takes EEG and nothing else. Attribute accuracy: rest vs mental arithmetic parsed back out of the "
            "sentence."
        ),
        protocol=f"{r['protocol']}; EEG embedding: {r['eeg_embedding']}; subject-clustered CI, permutation p-value "
        "(recording labels permuted within subject)",
        metrics=metrics,
        baselines={
            "chance": {"attribute_accuracy": float(res["decoder"]["attribute_accuracy"]["chance"])},
            "most frequent sentence (constant)": {"attribute_accuracy": acc("most_frequent_sentence").value},
            "logistic probe on the same EEG embedding": {
                "attribute_accuracy": _score(res["encoder_probe_reference"]["attribute_accuracy"]).value
            },
        },
        controls={
            "shuffled_pairing": {
                "decoder_shuffled_eeg_input": acc("decoder_shuffled_eeg_input"),
                "decoder_trained_on_shuffled_pairs": acc("decoder_shuffled_pairs"),
            },
            "noise_input": {"decoder": acc("decoder_noise_input"), "retrieval": acc("retrieval_noise_input")},
            "most_frequent_sentence": {"attribute_accuracy": acc("most_frequent_sentence")},
        },
        generation={"sentences": r.get("samples", []), "measures": measures},
        notes=[
            r["note"],
            "done when: free-running EEG -> text names the task more often than chance (p < 0.05) on held-out "
            "subjects, and the noise-input control does not",
        ],
    ).headline("attribute_accuracy", "attribute_accuracy")


def task_generation(b: Bench) -> dict[str, TaskResult]:
    from brainalign.experiments.generation import _quiet, image_experiment, text_experiment

    budget = GENERATION_BUDGETS[b.budget.generation]
    _quiet()
    root = resolve_data_dir(b.data_dir)
    out = b.out / "generation"
    out.mkdir(parents=True, exist_ok=True)
    results: dict[str, TaskResult] = {}
    for name in budget.image_sets:
        folder, labels = IMAGE_SETS[name]
        if not (root / folder).is_dir():
            b.log(f"    {name}: {root / folder} not found, skipped")
            continue
        r = image_experiment(
            name,
            root / folder,
            labels,
            out,
            resolution=budget.resolution,
            steps=budget.gan_steps,
            time_limit_s=budget.gan_time_limit_s,
            seed=b.seed,
            feature_size=budget.feature_size,
            max_scored_trials=budget.max_scored_trials,
            grow_steps=budget.grow_steps,
        )
        results[f"{name}_generation"] = image_task_result(r, b.out, budget)
    if budget.text and (root / "eegmat").is_dir():
        r = text_experiment(
            root,
            out,
            n_folds=budget.text_folds,
            epochs=budget.text_epochs,
            seed=b.seed,
            max_windows_per_recording=budget.text_windows_per_recording,
            batch_size=budget.text_batch_size,
        )
        results["eegmat_text_generation"] = text_task_result(r)
    return results
