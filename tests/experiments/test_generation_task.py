"""The benchmark's generation task without data: typed results from the experiment's
plain results (shapes as :mod:`brainalign.experiments.generation` returns them), the
round trip through results.json, and the report's generation section (each trial's
generated image beside real stimuli, sentences beside references, measures)."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import pytest
import torch

from brainalign.experiments.benchmark import TASKS, headline_rows
from brainalign.experiments.budgets import DEMO, FULL, GENERATION_BUDGETS, GENERATION_FULL, GENERATION_QUICK, QUICK
from brainalign.experiments.tasks.generation import image_task_result, text_task_result
from brainalign.generation.figures import save_trial_grid
from brainalign.report.html import write_report
from brainalign.results import BenchmarkResult

EVIL = "<script>alert('x')</script>"


def _s(value: float, p: float = 0.5, chance: float = 0.5) -> dict[str, float]:
    return {"value": value, "ci_low": value - 0.05, "ci_high": value + 0.05, "p_value": p, "chance": chance, "n": 40}


def _image_result(figure: Path, noise_p: float = 0.6, primary_probe: str = "logistic") -> dict:
    return {
        "primary_probe": primary_probe,
        "probe_ceiling_nearest_stimulus": 0.75,
        "class_consistency_nearest_stimulus": {
            "eeg": _s(0.7, 0.001),
            "eeg_soft": _s(0.68, 0.001),
            "shuffled_eeg": _s(0.5, 0.5),
            "noise": _s(0.5, 0.5),
            "true_class": _s(1.0, 0.001),
        },
        "dataset": "n170",
        "labels": ["house", "face"],
        "n_trials": {"train": 160, "test": 40},
        "n_stimuli": 8,
        "resolution": 8,
        "encoder": "ERP + LR",
        "encoder_decoding": _s(0.6, 0.01),
        "encoder_decoding_scored_trials": _s(0.61, 0.01),
        "n_scored_trials": 40,
        "image_map": {
            "note": "class-conditional",
            "map": {"n_way2_identification_test_trials": 0.6, "class_consistency_of_mapped_stimuli": 1.0},
            "shuffled_map": {"n_way2_identification_test_trials": 0.5, "class_consistency_of_mapped_stimuli": 0.5},
        },
        "class_consistency": {
            "eeg": _s(0.59, 0.02),
            "eeg_soft": _s(0.58, 0.03),
            "shuffled_eeg": _s(0.51, 0.4),
            "noise": _s(0.5, noise_p),
            "true_class": _s(0.97, 0.001),
            "eeg_agreement_with_encoder_prediction": 0.9,
        },
        "probe_ceiling_real_images": 0.97,
        "reconstruction_image_to_eeg_to_image": {"map": 0.9, "shuffled_map": 0.5},
        "distances": {"fd_effnet": 80.0, "kid_effnet": 0.05, "fd_floor": 20.0, "kid_floor": 0.001, "note": "4 vs 4"},
        "diversity": {"generated_eeg": 10.0, "real": 12.0},
        "memorisation": {"ratio": 1.5, "copy_fraction": 0.0},
        "gan": {"steps": 5, "seconds": 1.0, "ada_p": 0.01},
        "figure": str(figure),
        "feature_extractor": "EfficientNet-Lite0",
    }


def _text_result() -> dict:
    def block(acc: float, p: float) -> dict:
        return {
            "attribute_accuracy": _s(acc, p),
            "named_no_task_fraction": 0.0,
            "bleu4": 0.7,
            "rouge": {"rouge1_fmeasure": 0.9},
            "distinct_1": 0.1,
            "distinct_2": 0.2,
            "n_distinct_outputs": 3,
        }

    keys = (
        "decoder",
        "decoder_noise_input",
        "decoder_shuffled_eeg_input",
        "decoder_shuffled_pairs",
        "retrieval",
        "retrieval_noise_input",
        "most_frequent_sentence",
    )
    results = {k: block(0.65 if k in ("decoder", "retrieval") else 0.5, 0.001 if k == "decoder" else 0.7) for k in keys}
    results["encoder_probe_reference"] = {"attribute_accuracy": _s(0.66, 0.001)}
    return {
        "protocol": "3 subject-grouped folds",
        "eeg_embedding": "band power",
        "results": results,
        "note": "templated sentences",
        "samples": [
            {
                "label": "rest",
                "subject": "s1",
                "generated": f"eeg at rest {EVIL}",
                "retrieved": "r",
                "reference": "EEG a",
            },
            {"label": "arithmetic", "subject": "s2", "generated": "eeg doing sums", "retrieved": "r", "reference": "b"},
        ],
    }


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.images: list[str] = []
        self.text: list[str] = []
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self.images.append(dict(attrs).get("alt") or "")
        if tag == "script":
            self.scripts += 1

    def handle_data(self, data: str) -> None:
        self.text.append(data)


@pytest.fixture
def grid(tmp_path: Path) -> Path:
    gen = torch.rand(2, 3, 8, 8) * 2 - 1
    real = {"house": torch.rand(3, 3, 8, 8) * 2 - 1, "face": torch.rand(3, 3, 8, 8) * 2 - 1}
    return save_trial_grid(tmp_path / "generation" / "n170_trials.png", gen, ["house", "face"], real, n_real=2)


def test_task_is_registered_with_both_budgets() -> None:
    assert "generation" in TASKS
    assert (QUICK.generation, FULL.generation, DEMO.generation) == ("quick", "full", "demo")
    assert GENERATION_BUDGETS["demo"].resolution == 64 and GENERATION_BUDGETS["demo"].grow_steps > 0
    assert GENERATION_QUICK.resolution < GENERATION_FULL.resolution
    assert GENERATION_FULL.gan_time_limit_s is None  # steps only: the same result whatever the load
    assert GENERATION_QUICK.gan_steps < GENERATION_FULL.gan_steps <= 1000


def test_typed_results_round_trip_and_report(tmp_path: Path, grid: Path) -> None:
    results = BenchmarkResult(meta={"seed": 0})
    results.tasks["n170_generation"] = image_task_result(_image_result(grid), tmp_path, GENERATION_FULL)
    results.tasks["eegmat_text_generation"] = text_task_result(_text_result())
    tree = json.loads(json.dumps(results.to_dict()))
    assert BenchmarkResult.from_dict(tree).to_dict() == tree
    img = tree["tasks"]["n170_generation"]
    assert img["generation"]["image_grids"] == {
        "n170: EEG-conditioned images of held-out trials": "generation/n170_trials.png"
    }
    assert set(img["controls"]) == {"shuffled_pairing", "noise_input", "true_class_ceiling"}
    assert img["metrics"]["class_consistency"]["value"] == 0.59 and img["primary_metric"] == "class_consistency"
    assert img["generation"]["measures"]["fd_effnet real-vs-real floor"] == 20.0
    txt = tree["tasks"]["eegmat_text_generation"]
    assert txt["baselines"]["most frequent sentence (constant)"]["attribute_accuracy"] == 0.5
    assert len(txt["generation"]["sentences"]) == 2

    rows = {r[0]: r for r in headline_rows(results)}
    assert rows["n170_generation"][5] == "encoder decoding, same trials (the bar) 0.610"
    assert rows["eegmat_text_generation"][1] == "attribute_accuracy"

    page_path = write_report(tree, tmp_path)
    page = _Page()
    html = page_path.read_text()
    page.feed(html)
    assert "generated images for n170_generation" in page.images
    text = " ".join(page.text)
    assert "Generated sentences beside their references" in text and "eeg doing sums" in text
    assert page.scripts == 0 and "&lt;script&gt;" in html  # sentences are escaped
    assert "Noise input" in text and "passed" in text


def test_noise_input_above_chance_is_flagged(tmp_path: Path, grid: Path) -> None:
    results = BenchmarkResult(meta={})
    results.tasks["n170_generation"] = image_task_result(_image_result(grid, noise_p=0.001), tmp_path, GENERATION_FULL)
    results.tasks["n170_generation"].controls["noise_input"]["class_consistency_noise_eeg"] = (
        results.tasks["n170_generation"]
        .controls["noise_input"]["class_consistency_noise_eeg"]
        .__class__(0.7, 0.65, 0.75, 0.001, 0.5)
    )
    page = write_report(results, tmp_path).read_text()
    assert "noise input above chance (class_consistency_noise_eeg)" in page


def test_missing_grid_is_reported_not_fatal(tmp_path: Path, grid: Path) -> None:
    results = BenchmarkResult(meta={})
    results.tasks["n170_generation"] = image_task_result(
        _image_result(tmp_path / "gone.png"), tmp_path, GENERATION_FULL
    )
    page = write_report(results, tmp_path).read_text()
    assert "could not be shown" in page and "gone.png" in page


def test_small_stimulus_sets_use_the_nearest_stimulus_probe(tmp_path: Path, grid: Path) -> None:
    r = image_task_result(_image_result(grid, primary_probe="nearest_stimulus"), tmp_path, GENERATION_FULL)
    assert r.metrics["class_consistency"].value == 0.7
    assert r.metrics["class_consistency_logistic_probe"].value == 0.59
    assert r.controls["true_class_ceiling"]["class_consistency_true_class"].value == 1.0
    assert r.references["nearest_stimulus probe on real images (held out)"] == {"balanced_accuracy": 0.75}
    assert "nearest_stimulus probe" in r.protocol


def test_fast_balanced_accuracy_matches_sklearn() -> None:
    import warnings

    import numpy as np
    from sklearn.metrics import balanced_accuracy_score

    from brainalign.experiments.generation import _balanced

    rng = np.random.default_rng(0)
    for _ in range(100):
        y = rng.choice(["a", "b", "c"][: rng.integers(2, 4)], size=rng.integers(5, 40))
        p = rng.choice(["a", "b", "c"], size=len(y))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # sklearn warns when p holds a class y does not
            assert _balanced(y, p) == pytest.approx(balanced_accuracy_score(y, p), abs=1e-12)
