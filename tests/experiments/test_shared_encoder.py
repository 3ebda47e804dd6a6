"""The shared-encoder comparison (issue 11) and its benchmark task, on synthetic stand-ins:
the training, the data and the trained runs are faked so that the arms' quality is known
(the shared arm decodes the class, the single-task arms do not), while the pooling, the
classical baselines (real, on synthetic windows), the statistics and the TaskResult are real."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest

import brainalign
from brainalign.data.splits import within_subject_split
from brainalign.experiments import shared_encoder as se
from brainalign.experiments.benchmark import TASKS, format_headline
from brainalign.experiments.budgets import QUICK
from brainalign.experiments.common import Bench
from brainalign.preprocessing.pipeline import Windows
from brainalign.results import BenchmarkResult, Score, TaskResult


def _data(seed: int = 0) -> Any:
    """4 subjects x 60 trials, 4 channels; channel 0 carries +-1.5 at samples 8-12 by class,
    with the sign flipped for subjects s2 and s3 (as the N170 effect flips between subjects)."""
    rng = np.random.default_rng(seed)
    subjects = np.repeat([f"s{i}" for i in range(4)], 60)
    labels = rng.permutation(np.tile(["face", "house"], 120))
    x = 0.5 * rng.standard_normal((240, 4, 32))
    sign = np.where(np.isin(subjects, ["s2", "s3"]), -1.0, 1.0)
    x[:, 0, 8:13] += (sign * np.where(labels == "face", 1.5, -1.5))[:, None]
    table = pd.DataFrame(
        {
            "recording": subjects,
            "subject": subjects,
            "start": np.tile(np.arange(60), 4),
            "label": labels,
            "image": [f"{lab}_{i % 3}.jpg" for i, lab in enumerate(labels)],
        }
    )
    windows = Windows(x.astype(np.float32), ["a", "b", "c", "d"], 64.0, table)
    split = within_subject_split(table, test=0.25, val=0.15, seed=seed)
    return SimpleNamespace(windows=windows, split=split, part=split.part, sign=sign)


class _Run:
    """A trained run: the ``shared`` arm embeds the (subject-corrected) class signal; the
    single-task arms embed noise."""

    def __init__(self, folder: Path, data: Any):
        self.name = folder.name.split("_within")[0]
        self.data = data
        self.modalities = ["image", "text"] if self.name.startswith("shared") else []
        kind = "image" if self.name == "image" else "text"
        self.config = {"pair_kind": kind}

    def encode_eeg(self, x: np.ndarray, normalized: bool = True, modality: str | None = None) -> np.ndarray:
        if self.name == "shared":
            test = self.data.split.test
            s = x[:, 0, 10] * self.data.sign[test]
        else:
            s = np.random.default_rng(len(x)).standard_normal(len(x))
        z = np.stack([s, -s], axis=1)
        return z / np.linalg.norm(z, axis=1, keepdims=True)

    def encode_pairs(self, items: list[str], modality: str | None = None) -> np.ndarray:
        return np.array([[1.0, -1.0] if "face" in str(i) else [-1.0, 1.0] for i in items]) / np.sqrt(2)


@pytest.fixture()
def fake(monkeypatch: pytest.MonkeyPatch) -> Any:
    import brainalign.training.data as training_data

    data = _data()
    trained: list[str] = []

    def train(recipe: str, overrides: list[str], folder: Path, data_dir: Any) -> float:
        trained.append(folder.name)
        folder.mkdir(parents=True, exist_ok=True)
        if "name=n170_ce" in overrides:  # the supervised run: always right
            test = data.windows.table.iloc[data.split.test]
            face = (test["label"] == "face").to_numpy(float)
            pd.DataFrame({"start": test["start"], "p_face": face, "p_house": 1 - face}).to_csv(
                folder / "test_predictions.csv", index=False
            )
        return 1.0

    monkeypatch.setattr(se, "_train", train)
    monkeypatch.setattr(training_data, "build_paired_data", lambda *a, **k: data)
    monkeypatch.setattr(brainalign, "load", lambda folder: _Run(Path(folder), data))
    return SimpleNamespace(data=data, trained=trained)


def test_within_protocol_scores_every_arm_on_the_same_test_windows(tmp_path: Path, fake: Any):
    r = se.compare(tmp_path, protocol="within", epochs=1, n_boot=200)
    n_test = len(fake.data.split.test)
    assert r["n_windows"]["test"] == n_test and sum(r["subjects"].values()) == n_test
    # one model per arm, the shuffled-pairing control included
    assert sorted(fake.trained) == sorted(
        f"{a}_within_fold0" for a in ("image", "text", "shared", "supervised", "shared_shuffled")
    )
    s = r["scores"]
    assert s["supervised:label"]["value"] == 1.0
    assert s["shared:image"]["value"] > 0.9 and s["shared:text"]["value"] > 0.9
    assert s["shared:image"]["p_value"] < 0.01 and s["shared:image"]["ci_low"] > 0.8
    assert s["image:image"]["p_value"] > 0.01 and s["image:image"]["ci_low"] < 0.5 < s["image:image"]["ci_high"]
    # the effect flips sign between subjects: a pooled linear model is near chance, per subject it is not
    assert s["erp_lr_per_subject"]["value"] > s["erp_lr"]["value"] + 0.2
    d = r["differences"]["shared - image-only (image zero-shot)"]
    assert d["ci_low"] > 0 and d["value"] == pytest.approx(s["shared:image"]["value"] - s["image:image"]["value"])
    assert (tmp_path / "results.json").exists()


def test_subject_protocol_pools_the_folds(tmp_path: Path, fake: Any):
    r = se.compare(tmp_path, protocol="subject", n_folds=2, epochs=1, n_boot=50, arms=("image", "shared"))
    assert sorted(fake.trained) == sorted(f"{a}_subject_fold{f}" for a in ("image", "shared") for f in (0, 1))
    assert r["n_windows"]["test"] == 2 * len(fake.data.split.test)  # the fake data repeat the split
    assert "erp_lr_per_subject" not in r["scores"] and "shared_shuffled:image" not in r["scores"]


def test_stratified_bootstrap_keeps_each_subject_and_paired_difference_of_a_model_with_itself_is_zero():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    p = np.where(rng.random(300) < 0.7, y, 1 - y)
    strata = np.repeat(["a", "b", "c"], 100)
    sizes = []
    low, high = se.stratified_ci(
        lambda yt, pt: sizes.append(len(yt)) or se.bacc(yt, pt), y, p, strata, n_boot=100, seed=0
    )
    assert set(sizes) == {300} and low < se.bacc(y, p) < high
    assert se.paired_difference(y, p, p, strata, 100, 0) == {"value": 0.0, "ci_low": 0.0, "ci_high": 0.0}


def test_task_is_registered_and_returns_typed_results(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake: Any):
    calls = []
    real = se.compare

    def compare(*a: Any, **kw: Any) -> dict[str, Any]:
        calls.append(kw)
        return real(*a, **{**kw, "n_boot": 50})

    monkeypatch.setattr(se, "compare", compare)
    out = TASKS["shared_encoder"](Bench(tmp_path, None, QUICK, 0, lambda _m: None))
    assert set(out) == {"shared_encoder_within", "shared_encoder_loso"}
    assert [c["protocol"] for c in calls] == ["within", "subject"]
    assert all(c["n_folds"] == QUICK.shared.folds == 2 and c["epochs"] == QUICK.shared.epochs for c in calls)
    within = out["shared_encoder_within"]
    assert isinstance(within, TaskResult) and within.primary_metric == "shared_zeroshot_image_bacc"
    assert all(isinstance(s, Score) for s in within.metrics.values())
    assert {"image_only_zeroshot_image_bacc", "text_only_zeroshot_text_bacc", "supervised_ce_bacc"} <= set(
        within.metrics
    )
    assert within.baselines["chance"]["balanced_accuracy"] == 0.5
    assert {"erp_lr", "xdawn_ts_lr", "erp_lr_per_subject", "xdawn_ts_lr_per_subject"} <= set(within.baselines)
    assert "shared - text-only (text zero-shot)" in within.controls["differences"]
    assert "shared_zeroshot_image_bacc" in within.controls["shuffled_pairing"]
    run = BenchmarkResult(meta={}, tasks=out)
    assert BenchmarkResult.from_dict(run.to_dict()).tasks.keys() == out.keys()
    assert "shared_encoder_within" in format_headline(run)
