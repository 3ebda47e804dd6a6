"""The multi-dataset text encoder and the Muse pre-training protocols: folds, the fold
loop on synthetic datasets, and the typed results (fast); the real-data runs are marked."""

from __future__ import annotations

import numpy as np
import pytest

from brainalign.experiments import fair, multidata
from brainalign.experiments.muse_pretrain import within_folds
from brainalign.experiments.tasks.multidata import multidataset_results, muse_results
from brainalign.results import BenchmarkResult


def _fake_text_embeddings(texts):
    out = []
    for t in texts:
        rng = np.random.default_rng(abs(hash(t)) % 2**32)
        v = rng.normal(size=16)
        out.append(v / np.linalg.norm(v))
    return np.asarray(out, dtype=np.float32)


def _part(name: str, n_subjects: int, per_subject: int, dim: int, seed: int) -> multidata.DatasetPart:
    rng = np.random.default_rng(seed)
    subjects = np.repeat([f"{name}{i}" for i in range(n_subjects)], per_subject)
    y = np.tile(np.arange(2), len(subjects) // 2)
    x = rng.normal(size=(len(y), dim))
    x[:, 0] += 1.5 * (2 * y - 1)
    classes = [f"{name} class a", f"{name} class b"]
    return multidata.DatasetPart(
        name=name,
        task="toy",
        y=y,
        subjects=subjects,
        texts=np.array([f"EEG of {classes[v]}" for v in y]),
        classes=classes,
        prompts={c: [f"a recording of {c}"] for c in classes},
        features=lambda train: multidata._scaled(x, train),
        folds=lambda s: fair._subject_folds(subjects, 3, s),
        normalization={"method": "training statistics", "transductive": False},
        front_end="toy",
        boot_units=subjects,
        boot_unit_name="subject",
        perm={"groups": subjects, "units": None},
    )


@pytest.fixture()
def fake_texts(monkeypatch):
    monkeypatch.setattr(fair, "text_embeddings", _fake_text_embeddings)


def _renders(tasks, tmp_path):
    """The HTML report accepts the tasks (every control a mapping of scores)."""
    from brainalign.report.html import write_report

    write_report(BenchmarkResult({}, tasks), tmp_path, base_dir=tmp_path)


def test_run_folds_and_summaries_on_synthetic_datasets(fake_texts, tmp_path):
    parts = [_part("a", 6, 20, 5, 0), _part("b", 6, 20, 9, 1)]
    cfg = multidata.MultiConfig(epochs=4, hidden=16, emb_dim=8)
    scores = multidata.run_folds(parts, (0,), 3, cfg, lambda s: None)
    for p in parts:
        for method in ("joint", "single", "joint_shuffled", "lr"):
            assert np.isfinite(scores[p.name][method][0]).all()  # every row tested exactly once
        summary = multidata.summarise_part(p, scores[p.name], (0,), n_boot=50, n_perm=20)
        assert summary["n_tested"] == len(p)
        assert summary["methods"]["lr"]["balanced_accuracy"] > 0.7
        assert set(summary["joint_minus_single"]) == {"difference", "ci_low", "ci_high", "p_a_not_above_b"}
    res = {
        "seeds": [0],
        "protocol": "toy",
        "n_train_rows": {p.name: len(p) for p in parts},
        "datasets": {p.name: multidata.summarise_part(p, scores[p.name], (0,), 50, 20) for p in parts},
    }
    tasks = multidataset_results(res, quick=True)
    assert set(tasks) == {"multidataset_text_a", "multidataset_text_b"}
    back = BenchmarkResult.from_dict(BenchmarkResult({}, tasks).to_dict())
    assert back.tasks["multidataset_text_a"].primary_metric == "zeroshot_bacc_joint"
    assert "per_dataset_encoder_zeroshot" in back.tasks["multidataset_text_a"].baselines
    _renders(tasks, tmp_path)


def test_a_dataset_with_fewer_folds_only_trains_in_the_others():
    folds = multidata._pad_folds([(np.arange(3), np.arange(3, 5))], 3, 5)
    assert len(folds) == 3 and len(folds[1][1]) == 0 and len(folds[2][0]) == 5


def test_within_folds_are_session_disjoint_and_cover_every_epoch_once():
    subjects = np.array(["1"] * 12 + ["4"] * 10)
    sessions = np.array(["1"] * 4 + ["2"] * 4 + ["3"] * 4 + ["1"] * 10)
    y = np.tile([0, 1], 11)
    folds = within_folds(subjects, sessions, y, 3, seed=0)
    tested = np.concatenate([te for _, te in folds])
    assert sorted(tested.tolist()) == list(range(22))
    for train, test in folds:
        assert not set(train) & set(test)
        s1 = test[subjects[test] == "1"]
        assert len(set(sessions[s1])) == 1  # one whole session of subject 1 per fold
        assert not set(sessions[train][subjects[train] == "1"]) & set(sessions[s1])


def test_muse_results_are_typed(tmp_path):
    method = {"balanced_accuracy": 0.6, "auc": 0.65, "balanced_accuracy_mean_of_subjects": 0.6}
    diff = {"difference": 0.01, "ci_low": -0.02, "ci_high": 0.04, "p_a_not_above_b": 0.3}
    recon = {"masked_mse": 0.5, "zero_mse": 1.0}
    res = {
        "seeds": [0],
        "n_splits_within": 3,
        "corpus": {"windows": 100, "subjects": 10},
        "diagnostics": {
            "0": {
                "heldout_corpus_random_init": recon,
                "heldout_corpus_pretrained": recon,
                "p300_epochs_random_init": recon,
                "p300_epochs_pretrained": recon,
                "pretrain_loss_per_epoch": [1.0, 0.5],
            }
        },
        "results": {
            "p300_within": {
                "methods": {
                    m: method for m in ("pretrained", "scratch", "probe_pretrained", "probe_random", "xdawn_ts_lr")
                },
                "pretrained_minus_scratch": diff,
                "pretrained_minus_xdawn_ts_lr": diff,
            }
        },
    }
    tasks = muse_results(res)
    t = tasks["muse_pretrain_p300_within"]
    assert t.primary_metric == "finetuned_bacc_pretrained"
    assert t.baselines["xdawn_ts_lr"]["balanced_accuracy"] == 0.6
    assert t.controls["masked_reconstruction_mse"]["seed0_p300_epochs_pretrained"].chance == 1.0
    _renders(tasks, tmp_path)


def test_both_tasks_are_in_the_benchmark_table():
    from brainalign.experiments.benchmark import TASKS

    assert {"multidataset_text", "muse_pretrain"} <= set(TASKS)


@pytest.mark.realdata
@pytest.mark.slow
def test_multidataset_text_on_real_data_quick(data_root):
    """Two of the four datasets, one seed, few epochs: every row tested once, LR above chance on P300."""
    res = multidata.multidataset_text(
        seeds=(0,),
        cfg=multidata.MultiConfig(epochs=2),
        datasets=("eegmmidb", "p300"),
        n_boot=50,
        n_perm=20,
        data_dir=data_root,
    )
    p300 = res["datasets"]["p300"]
    assert p300["n_tested"] == p300["n_rows"]
    assert res["datasets"]["eegmmidb"]["n_tested"] == 30
    assert p300["methods"]["lr"]["balanced_accuracy"] > 0.5


@pytest.mark.realdata
@pytest.mark.slow
def test_muse_pretraining_on_real_data_quick(data_root):
    from brainalign.experiments.muse_pretrain import MuseConfig, muse_pretrain_finetune

    res = muse_pretrain_finetune(
        runs=(("n170", "loso"),),
        cfg=MuseConfig(pretrain_epochs=1, finetune_epochs=1),
        max_pretrain_windows=128,
        n_boot=50,
        data_dir=data_root,
    )
    r = res["results"]["n170_loso"]
    assert r["n_tested"] == r["n_epochs"]
    assert res["corpus"]["dataset"] == "muse_cueing"
