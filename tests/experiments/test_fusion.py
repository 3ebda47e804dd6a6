"""Masked pre-training + EEG/ECG fusion task: the window helpers on small synthetic
input, the recipes, and the quick run on the real eegmat recordings."""

from __future__ import annotations

import json
import math
from pathlib import Path

import mne
import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import balanced_accuracy_score

from brainalign.data.recording import Recording
from brainalign.errors import DataError
from brainalign.experiments.budgets import FUSION_FULL, FUSION_QUICK
from brainalign.experiments.tasks.fusion import VARIANTS, recipe_overrides, run_fusion_benchmark
from brainalign.models.registry import create_encoder
from brainalign.preprocessing.pipeline import Windows, align_windows
from brainalign.preprocessing.presets import TEN_TWENTY_19, get_preset
from brainalign.recipes import recipe_path, recipes_root
from brainalign.training.data import join_epochs, last_seconds_mask, standardize_per_recording
from brainalign.training.recipe import load_recipe
from brainalign.training.trainer import train
from tests.data.emotion_layouts import write_dreamer

RECIPES = recipes_root()
METRICS = ("eeg_only", "ecg_only", "fused", "scratch", "pretrained")
SCORE_FIELDS = ("value", "ci_low", "ci_high", "p_value", "chance")


def _windows(recordings: list[str], starts: list[float], n_chans: int = 1, offset: float = 0.0) -> Windows:
    """Windows whose every sample is ``offset + start`` (so a row's content names its span)."""
    data = np.repeat((offset + np.asarray(starts, dtype=np.float32))[:, None, None], 4, axis=2)
    data = np.repeat(data, n_chans, axis=1)
    table = pd.DataFrame({"recording": recordings, "start": starts, "label": "rest"})
    return Windows(data, [f"C{i}" for i in range(n_chans)], 100.0, table)


def test_align_windows_reorders_ecg_rows_to_the_eeg_spans():
    eeg = _windows(["a", "a", "b", "b"], [0.0, 2.0, 0.0, 2.0], n_chans=3)
    ecg = _windows(["b", "a", "b", "a", "c"], [2.0, 2.0, 0.0, 0.0, 0.0], offset=100.0)
    ecg.table["start"] = ecg.table["start"].astype(float)
    ecg.data[:, 0, :] += np.array([0, 0, 10, 0, 0], dtype=np.float32)[:, None]  # mark recording b
    eeg_out, ecg_out = align_windows(eeg, ecg)
    assert eeg_out is eeg
    assert ecg_out.table[["recording", "start"]].values.tolist() == eeg.table[["recording", "start"]].values.tolist()
    # the content moved with its row: 100 + start (+10 for b at 0 s)
    np.testing.assert_array_equal(ecg_out.data[:, 0, 0], [100.0, 102.0, 110.0, 102.0])


def test_align_windows_refuses_an_eeg_window_without_ecg():
    eeg = _windows(["a", "a"], [0.0, 2.0])
    ecg = _windows(["a"], [0.0])
    with pytest.raises(DataError, match="1 EEG window"):
        align_windows(eeg, ecg)
    with pytest.raises(DataError, match="repeat"):
        align_windows(eeg, _windows(["a", "a", "a"], [0.0, 0.0, 2.0]))


def _two_modality_recording(seconds: float = 12.0) -> Recording:
    """19 EEG channels at 250 Hz and an ECG lead at 500 Hz carrying the same 7 Hz sine."""

    def raw(names: list[str], kind: str, sfreq: float) -> mne.io.RawArray:
        t = np.arange(int(seconds * sfreq)) / sfreq
        data = np.tile(20e-6 * np.sin(2 * np.pi * 7.0 * t), (len(names), 1))
        return mne.io.RawArray(data, mne.create_info(names, sfreq, kind), verbose="error")

    return Recording(
        signals={"eeg": raw(list(TEN_TWENTY_19), "eeg", 250.0), "ecg": raw(["ECG"], "ecg", 500.0)},
        subject="01",
        dataset="synthetic",
        metadata={"label": "rest"},
        units={"eeg": "V", "ecg": "V"},
    )


def test_eeg_and_ecg_presets_cut_the_same_spans_row_by_row():
    """The EEG and ECG presets window every modality on one time grid, so row i of
    both is the same span: the same sine, at different source rates, comes out equal."""
    rec = _two_modality_recording()
    with mne.utils.use_log_level("error"):
        eeg = get_preset("eegmat_windows").transform(rec)
        ecg = get_preset("eegmat_ecg_windows").transform(rec)
    eeg, ecg = align_windows(eeg, ecg)
    assert len(eeg) == len(ecg) == 6 and ecg.ch_names == ["ECG"] and ecg.sfreq == eeg.sfreq == 100.0
    assert eeg.table["start"].tolist() == ecg.table["start"].tolist() == [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]
    inner = slice(2, 4)  # away from the filter edges
    np.testing.assert_allclose(ecg.data[inner, 0], eeg.data[inner, 0], atol=0.5)  # µV, amplitude 20
    assert np.abs(ecg.data[inner]).max() > 15


def test_downstream_mask_keeps_the_last_minute_of_rest_and_all_of_the_task():
    rest_starts = np.arange(0, 182, 2.0)  # 182 s rest: 91 windows
    short_rest = np.arange(0, 170, 2.0)  # subject 04's 170 s
    task_starts = np.arange(0, 62, 2.0)
    table = pd.DataFrame(
        {
            "recording": ["r1"] * len(rest_starts) + ["r2"] * len(short_rest) + ["t1"] * len(task_starts),
            "start": np.concatenate([rest_starts, short_rest, task_starts]),
            "label": ["rest"] * (len(rest_starts) + len(short_rest)) + ["arithmetic"] * len(task_starts),
        }
    )
    keep = last_seconds_mask(table, {"rest": 60}, window_s=2.0)
    kept = table[keep]
    assert kept.groupby("recording").size().to_dict() == {"r1": 30, "r2": 30, "t1": 31}
    assert kept[kept.recording == "r1"]["start"].min() == 122.0
    assert kept[kept.recording == "r2"]["start"].min() == 110.0
    with pytest.raises(DataError, match="label"):
        last_seconds_mask(table.drop(columns="label"), {"rest": 60}, window_s=2.0)


def test_join_epochs_joins_consecutive_epochs_at_the_patch_boundary():
    data = np.arange(5, dtype=np.float32)[:, None, None] * np.ones((5, 2, 6), dtype=np.float32)
    data[:, :, 4:] = -1  # beyond the kept samples
    windows = Windows(data, ["A", "B"], 100.0, pd.DataFrame({"recording": ["n"] * 5, "start": np.arange(5.0)}))
    spliced = join_epochs(windows, 4)
    assert spliced.data.shape == (2, 2, 8)
    np.testing.assert_array_equal(spliced.data[1, 0], [2, 2, 2, 2, 3, 3, 3, 3])
    assert spliced.table["start"].tolist() == [0.0, 2.0]
    with pytest.raises(DataError, match="shorter"):
        join_epochs(windows, 7)


def test_with_channels_shares_every_weight_across_lead_counts():
    torch.manual_seed(0)
    enc = create_encoder(
        "cbramod_mae", 19, 200, 100.0, emb_dim=16, patch_size=100, width=16, depth=1, heads=2, dim_feedforward=32
    )
    view = enc.with_channels(4)
    assert enc.with_channels(19) is enc
    assert all(a is b for a, b in zip(enc.parameters(), view.parameters()))
    out = view.forward_mae(torch.randn(3, 4, 200))
    assert out.pred.shape == (3, 4 * 2, 100)
    ((out.pred - out.target) ** 2).mean().backward()
    assert enc.temporal_embed.weight.grad is not None and enc.temporal_embed.weight.grad.abs().sum() > 0
    with pytest.raises(Exception, match="expects input"):
        enc(torch.randn(2, 4, 200))


def test_standardize_per_recording_uses_each_recordings_own_statistics():
    rng = np.random.default_rng(0)
    data = np.concatenate([5 + 2 * rng.standard_normal((20, 1, 50)), -3 + 40 * rng.standard_normal((20, 1, 50))])
    table = pd.DataFrame({"recording": ["a"] * 20 + ["b"] * 20, "start": np.arange(40.0)})
    z = standardize_per_recording(Windows(data.astype(np.float32), ["ECG"], 100.0, table))
    for rows in (slice(0, 20), slice(20, 40)):
        assert abs(np.median(z[rows])) < 0.05
        assert np.std(z[rows]) == pytest.approx(1.0, abs=0.1)


@pytest.mark.parametrize("budget", [FUSION_QUICK, FUSION_FULL])
def test_every_run_of_the_experiment_is_a_recipe_plus_overrides(budget):
    """Pre-training and fine-tuning use the fold's kfold split (so pre-training never sees
    its test subjects); scratch is the eeg variant without init_from; budgets are overrides."""
    fold = 2
    split = {
        "data.split.kind": "kfold",
        "data.split.by": "subject",
        "data.split.n_splits": 4,
        "data.split.fold": fold,
        "data.split.val": 2,
        "data.split.seed": 0,
    }
    extra = [{"dataset": "n400", "preset": "pretrain_epochs", "join_epochs": 100, "max_windows": 8}]
    runs = {
        "eeg": ("pretrain_eeg_all", recipe_overrides("eeg", fold, budget, 0, extra=extra)),
        "ecg": ("pretrain_ecg_eegmat", recipe_overrides("ecg", fold, budget, 0)),
    }
    for variant in VARIANTS:
        runs[variant] = (
            "eegmat_fusion",
            recipe_overrides("finetune", fold, budget, 0, variant=variant, init=("RUN_EEG", "RUN_ECG")),
        )
    recipes = {k: load_recipe(recipe_path(name), items) for k, (name, items) in runs.items()}
    for recipe in recipes.values():
        s = recipe.data.split
        assert {"data.split." + k: getattr(s, k) for k in ("kind", "by", "n_splits", "fold", "val", "seed")} == split
    assert [e.dataset for e in recipes["eeg"].data.extra] == ["n400"]
    assert recipes["eeg"].data.standardize == "train" and recipes["ecg"].data.standardize == "recording"
    for variant, (fusion, pretrained) in VARIANTS.items():
        model = recipes[variant].model
        assert model.fusion == fusion and model.classifier == "mlp"
        assert bool(model.eeg.init_from or model.pair.init_from) == pretrained
    assert recipes["scratch"].model.fusion == "eeg" and not recipes["scratch"].model.eeg.init_from
    assert recipes["eeg_only"].model.eeg.init_from == "RUN_EEG"
    assert recipes["fused"].model.pair.init_from == "RUN_ECG"
    assert recipes["eeg"].train.epochs == (2 if budget is FUSION_QUICK else 12)


@pytest.mark.parametrize("name", ["pretrain_eeg_all.yaml", "pretrain_ecg_eegmat.yaml"])
def test_pretraining_recipes_load(name: str):
    recipe = load_recipe(RECIPES / name)
    assert recipe.data.pair == "none"
    assert recipe.model.eeg.name == "cbramod_mae"
    assert [o.name for o in recipe.objectives] == ["masked"]


@pytest.mark.parametrize("name", ["eegmat_fusion.yaml", "published/emotion_dreamer.yaml"])
def test_fusion_recipes_load(name: str):
    """EEG and ECG encoders of the same family, a classifier on both embeddings."""
    recipe = load_recipe(RECIPES / name)
    assert recipe.data.pair == "ecg" and recipe.data.pair_preset
    assert recipe.model.eeg.name == recipe.model.pair.name == "cbramod_mae"
    assert recipe.model.fusion == "concat"
    assert [o.name for o in recipe.objectives] == ["ce"]


def test_dreamer_recipe_pretrains_one_epoch_on_the_published_layout(tmp_path: Path):
    write_dreamer(tmp_path / "data" / "dreamer", n_subjects=4, stimulus_s=(8.0, 8.0))
    recipe = load_recipe(
        RECIPES / "published" / "emotion_dreamer.yaml",
        overrides=[
            "train.epochs=1",
            "train.device=cpu",
            "train.amp=false",
            "data.split.val=1",
            "data.split.test=1",
            "train.batch_size=8",
        ],
    )
    metrics = train(recipe, tmp_path / "run", data_dir=tmp_path / "data", progress=False)
    assert metrics["epochs_run"] == 1 and math.isfinite(metrics["test_loss"])
    assert (tmp_path / "run" / "model.safetensors").is_file()


@pytest.mark.realdata
@pytest.mark.slow
def test_quick_fusion_benchmark_on_real_data(data_root: Path, tmp_path: Path):
    if not (data_root / "eegmat").is_dir():
        pytest.skip("eegmat recordings absent")
    out = tmp_path / "fusion"
    res = run_fusion_benchmark(data_dir=data_root, out_dir=out, seed=0, quick=True, progress=False).to_dict()

    assert set(res) >= {"description", "protocol", "metrics", "baselines", "figures", "notes"}
    for name in METRICS:
        score = res["metrics"][name]
        assert set(score) == set(SCORE_FIELDS)
        assert all(math.isfinite(score[f]) for f in SCORE_FIELDS)
        assert score["ci_low"] <= score["value"] <= score["ci_high"]
        assert 0.0 < score["p_value"] <= 1.0 and score["chance"] == 0.5
    assert res["metrics"]["pretrained"] == res["metrics"]["eeg_only"]
    for name in ("bandpower_lr", "ecg_hrv_lr"):
        assert 0.0 <= res["baselines"][name]["balanced_accuracy"] <= 1.0
    for name in ("reconstruction", "pretraining_loss", "scores"):
        path = Path(res["figures"][name])
        assert path.parent == out and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert res["notes"] and all(isinstance(n, str) for n in res["notes"])
    # every model is a trainer run: pre-training never saw the fold's test subjects
    for fold in sorted((out / "runs").iterdir()):
        test = set(json.loads((fold / "fused" / "config.json").read_text())["split"]["groups"]["test"])
        for pre in ("pretrain_eeg", "pretrain_ecg"):
            groups = json.loads((fold / pre / "config.json").read_text())["split"]["groups"]
            assert not test & (set(groups["train"]) | set(groups["val"])) and set(groups["test"]) == test

    # every subject tested exactly once; the reported score is the pooled out-of-fold one
    pred = pd.read_csv(out / "predictions.csv", dtype={"subject": str})
    n_subjects = len(list((data_root / "eegmat").glob("Subject*_1.edf")))
    assert n_subjects == 30  # data README: Subject00..Subject29
    assert pred["subject"].nunique() == n_subjects and pred["recording"].nunique() == 2 * n_subjects
    assert pred.groupby("recording").size().between(29, 31).all()  # 60 s of rest, 62 s of task
    y = (pred["label"] == "arithmetic").to_numpy()
    for name in ("eeg_only", "fused", "scratch"):
        p = pred[f"p_{name}"].to_numpy()
        assert np.isfinite(p).all()
        assert res["metrics"][name]["value"] == pytest.approx(balanced_accuracy_score(y, p >= 0.5))
