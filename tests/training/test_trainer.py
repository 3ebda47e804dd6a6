"""The training loop on real N400 epochs: what a run writes, reproducibility,
model selection on the validation part only, and refusals."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import mne
import numpy as np
import pytest
from safetensors.numpy import load_file

from brainalign.cli import main
from brainalign.errors import ConfigError, DataError
from brainalign.preprocessing.presets import get_preset
from brainalign.recipes import recipes_root
from brainalign.training import trainer as trainer_mod
from brainalign.training.data import PairedData
from brainalign.training.recipe import recipe_from_dict
from brainalign.training.runlog import RunLogger
from brainalign.utils.io import file_digest

from .conftest import RUN_FILES, TINY_RECIPE, read_log

pytestmark = pytest.mark.realdata


def _train(tree: dict, out: Path, overrides: tuple[str, ...] = ()) -> dict:
    return trainer_mod.train(recipe_from_dict(tree, overrides), out, progress=False)


def test_run_writes_every_artifact(trained_run: Path, data_root: Path) -> None:
    for name in RUN_FILES:
        assert (trained_run / name).is_file(), name
    assert list((trained_run / "tb").glob("events.out.tfevents.*"))
    assert (trained_run / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # the input contract, checked against the recording read independently
    epochs = mne.read_epochs(data_root / "n400" / "subject04-epo.fif", preload=False, verbose="error")
    eeg = mne.pick_types(epochs.info, eeg=True)
    config = json.loads((trained_run / "config.json").read_text())
    contract = config["contract"]
    assert contract["ch_names"] == [epochs.ch_names[i] for i in eeg] and contract["n_chans"] == 32
    assert contract["sfreq"] == epochs.info["sfreq"] == 50.0
    assert contract["n_times"] == len(epochs.times) == 60
    assert contract["units"] == "uV"
    assert contract["preprocessing"] == json.loads(json.dumps(get_preset("n400_epochs").to_dict()))
    assert config["recipe"]["name"] == TINY_RECIPE["name"]
    assert config["classes"] == ["related", "unrelated"] and config["pair_kind"] == "label"
    split = config["split"]
    parts = [set(split[p]) for p in ("train", "val", "test")]
    assert [len(p) for p in parts] == [120, 40, 40]
    assert len(parts[0] | parts[1] | parts[2]) == 200  # disjoint, and every epoch is used

    metrics = json.loads((trained_run / "metrics.json").read_text())
    assert metrics["epochs_run"] == TINY_RECIPE["train"]["epochs"]
    assert metrics["test_knn_bacc_chance"] == 0.5  # two classes in the test part
    assert 0.0 <= metrics["test_knn_bacc"] <= 1.0 and np.isfinite(metrics["test_loss"])

    rows = read_log(trained_run / "log.csv")
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2]
    assert {"train_loss", "val_loss", "val_knn_bacc", "val_knn_bacc_chance", "lr"} <= set(rows[0])

    weights = load_file(str(trained_run / "model.safetensors"))
    assert any(k.startswith("eeg_encoder.") for k in weights) and any(k.startswith("eeg_head.") for k in weights)
    emb = np.load(trained_run / "test_embeddings.npy", allow_pickle=False)
    assert emb.shape == (40, 16) and emb.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)


def test_same_seed_gives_identical_runs(trained_run: Path, real_env, tmp_path: Path) -> None:
    """The tiny recipe trained again from scratch, on CPU: the same numbers, bit for bit."""
    metrics = _train(TINY_RECIPE, tmp_path / "again")
    assert metrics == json.loads((trained_run / "metrics.json").read_text())
    assert read_log(tmp_path / "again" / "log.csv") == read_log(trained_run / "log.csv")
    a, b = load_file(str(trained_run / "model.safetensors")), load_file(str(tmp_path / "again" / "model.safetensors"))
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    # and a different seed gives a different run
    other = _train(TINY_RECIPE, tmp_path / "seed1", ("seed=1",))
    assert other["test_loss"] != metrics["test_loss"]


def test_selection_reads_only_the_validation_part(real_env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The test part's signals are loaded only after the last epoch is logged, and
    the kept weights are those of the epoch with the lowest validation loss."""
    events: list[str] = []
    make_dataset, log_row = PairedData.dataset, RunLogger.log

    def spy_dataset(self: PairedData, part: str):
        events.append(f"data:{part}")
        return make_dataset(self, part)

    def spy_log(self: RunLogger, row: dict) -> None:
        events.append(f"log:{row['epoch']}")
        log_row(self, row)

    monkeypatch.setattr(PairedData, "dataset", spy_dataset)
    monkeypatch.setattr(RunLogger, "log", spy_log)
    out = tmp_path / "run"
    metrics = _train(TINY_RECIPE, out, ("train.epochs=5", "train.lr=0.01"))

    last_log = max(i for i, e in enumerate(events) if e.startswith("log:"))
    test_reads = [i for i, e in enumerate(events) if e == "data:test"]
    assert events[last_log] == "log:4" and test_reads and min(test_reads) > last_log
    assert "data:val" in events[:last_log]

    val_loss = [float(r["val_loss"]) for r in read_log(out / "log.csv")]
    assert metrics["best_epoch"] == int(np.argmin(val_loss))
    assert metrics["best_val_loss"] == pytest.approx(min(val_loss), rel=1e-12)
    # model.safetensors holds the selected (best) weights, not the last epoch's
    best = load_file(str(out / "checkpoints" / "best.safetensors"))
    final = load_file(str(out / "model.safetensors"))
    assert all(np.array_equal(final[k], best[f"model.{k}"]) for k in final)


def test_objective_that_needs_a_tower_is_a_config_error(real_env, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="needs a paired tower"):
        _train(TINY_RECIPE, tmp_path / "run", ("objectives=[{name: clip}]",))
    with pytest.raises(ConfigError, match="unknown objective 'tripplet'"):
        _train(TINY_RECIPE, tmp_path / "run2", ("objectives=[{name: tripplet}]",))


def test_cli_bad_recipe_exits_2_with_one_line(cli, write_recipe, tmp_path: Path) -> None:
    tree = {**TINY_RECIPE, "train": {**TINY_RECIPE["train"], "epohcs": 2}}
    del tree["train"]["epochs"]
    out = tmp_path / "run"
    result = cli("train", write_recipe(tree, "bad.yaml"), "--out", out)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("brainalign train: error: ") and "bad.yaml" in lines[0]
    assert "'train.epohcs'" in lines[0] and "did you mean 'epochs'" in lines[0]
    assert "Traceback" not in result.stderr + result.stdout
    assert not out.exists()


def test_cli_bad_override_exits_2(capsys: pytest.CaptureFixture, write_recipe, tmp_path: Path) -> None:
    code = main(["train", str(write_recipe(TINY_RECIPE)), "--out", str(tmp_path / "run"), "--set", "train.lr=fast"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "train.lr: expected float, got 'fast'" in err[0]


def test_refuses_to_overwrite_a_finished_run(
    trained_run: Path, tmp_path: Path, write_recipe, capsys: pytest.CaptureFixture
) -> None:
    digests = {p.name: file_digest(p) for p in trained_run.iterdir() if p.is_file()}
    with pytest.raises(DataError, match="already holds a finished run"):
        _train(TINY_RECIPE, trained_run)
    code = main(["train", str(write_recipe(TINY_RECIPE)), "--out", str(trained_run)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "already holds a finished run" in err[0]
    assert {p.name: file_digest(p) for p in trained_run.iterdir() if p.is_file()} == digests

    # an unfinished run (a checkpoint, no metrics) is continued only with --resume
    unfinished = tmp_path / "unfinished"
    shutil.copytree(trained_run / "checkpoints", unfinished / "checkpoints")
    with pytest.raises(DataError, match="pass --resume"):
        _train(TINY_RECIPE, unfinished)


def test_eeg_ecg_pairing_trains_and_loads(data_root: Path, tmp_path: Path, monkeypatch):
    """pair: ecg aligns each EEG window with the ECG of the same span and trains an
    ECG encoder of its own; the loaded model embeds ECG windows in the shared space."""
    import numpy as np

    import brainalign
    from brainalign.training.data import build_paired_data
    from brainalign.training.recipe import load_recipe
    from brainalign.training.trainer import train

    monkeypatch.setenv("BRAINALIGN_DATA", str(data_root))
    recipe = load_recipe(
        recipes_root() / "eegmat_ecg.yaml",
        [
            "train.epochs=1",
            "data.max_windows=200",
            "model.eeg.name=shallow",
            "model.pair.kwargs.n_filters=4",
            "train.batch_size=50",
        ],
    )
    data = build_paired_data(recipe.data, progress=False)
    pw = data.pair_windows
    assert pw.ch_names == ["ECG"] and len(pw) == len(data.windows)
    assert (pw.table["recording"] == data.windows.table["recording"]).all()
    assert np.allclose(pw.table["start"], data.windows.table["start"])
    train(recipe, tmp_path / "run", progress=False)
    model = brainalign.load(tmp_path / "run")
    emb = model.encode_pairs(np.asarray(pw.data[:3]))
    assert emb.shape == (3, recipe.model.head.dim)
    assert np.allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    assert model.config["pair_contract"]["ch_names"] == ["ECG"]


def test_fusion_variants_and_pretrained_init_come_from_one_recipe(data_root: Path, tmp_path: Path, monkeypatch):
    """recipes/eegmat_fusion.yaml trains EEG-only, ECG-only and fused classifiers
    (model.fusion) and starts from pretrained encoders (init_from) when asked."""
    import json

    from safetensors.torch import load_file

    from brainalign.training.recipe import load_recipe
    from brainalign.training.trainer import train

    monkeypatch.setenv("BRAINALIGN_DATA", str(data_root))
    recipes = recipes_root()
    small = ["train.epochs=1", "data.max_windows=120", "train.batch_size=40"]
    pre = tmp_path / "pretrain_ecg"
    train(load_recipe(recipes / "pretrain_ecg_eegmat.yaml", small), pre, progress=False)
    for fusion in ("eeg", "pair", "concat"):
        out = tmp_path / fusion
        overrides = [*small, f"model.fusion={fusion}"]
        if fusion == "pair":
            overrides.append(f"model.pair.init_from={pre}")
        metrics = train(load_recipe(recipes / "eegmat_fusion.yaml", overrides), out, progress=False)
        assert 0.0 <= metrics["test_bacc"] <= 1.0 and metrics["test_bacc_chance"] == 0.5
        spec = json.loads((out / "config.json").read_text())["spec"]
        assert spec["fusion"] == fusion
        weights = load_file(str(out / "model.safetensors"))
        assert weights["classifier.weight"].shape[1] == (128 if fusion == "concat" else 64)
    # with a zero learning rate the ECG tower keeps exactly the pretrained weights
    frozen = tmp_path / "lr0"
    train(
        load_recipe(recipes / "eegmat_fusion.yaml", [*small, "train.lr=0", f"model.pair.init_from={pre}"]),
        frozen,
        progress=False,
    )
    pretrained = {
        k[len("eeg_encoder.") :]: v
        for k, v in load_file(str(pre / "model.safetensors")).items()
        if k.startswith("eeg_encoder.")
    }
    tower = {
        k[len("pair_tower.") :]: v
        for k, v in load_file(str(frozen / "model.safetensors")).items()
        if k.startswith("pair_tower.")
    }
    assert pretrained.keys() == tower.keys()
    assert all((pretrained[k] == tower[k]).all() for k in pretrained)


@pytest.mark.realdata
@pytest.mark.parametrize("pair", ["text", "label"])
def test_shuffled_pairing_permutes_the_training_part_only(data_root: Path, pair: str):
    """The shuffled-pairing control: the training part's pairs are permuted (same
    multiset, many moved), validation and test keep theirs; with ``pair: label`` the
    labels the objectives see are the pairing, so they move with it."""
    import numpy as np

    from brainalign.training.data import build_paired_data
    from brainalign.training.recipe import recipe_from_dict

    base = recipe_from_dict(TINY_RECIPE, [f"data.pair={pair}"])
    shuffled = recipe_from_dict(TINY_RECIPE, [f"data.pair={pair}", "data.shuffle_pairs=true"])
    a = build_paired_data(base.data, data_root, progress=False)
    b = build_paired_data(shuffled.data, data_root, progress=False)
    tr = a.split.train
    held = np.r_[a.split.val, a.split.test]
    assert np.array_equal(b.pair_index[held], a.pair_index[held])
    assert sorted(b.pair_index[tr]) == sorted(a.pair_index[tr])
    assert (b.pair_index[tr] != a.pair_index[tr]).mean() > 0.3
    assert np.array_equal(b.labels[held], a.labels[held])
    if pair == "label":
        assert np.array_equal(b.labels, b.pair_index)
        assert (b.labels[tr] != a.labels[tr]).mean() > 0.3
    else:
        assert np.array_equal(b.labels, a.labels)


def test_mlp_and_cross_attention_classifiers_write_test_predictions(data_root: Path, tmp_path: Path, monkeypatch):
    """model.classifier=mlp and model.fusion=cross_attention classify through a FusionClassifier
    sharing the model's encoders; a classifier run writes its test windows' probabilities."""
    import pandas as pd

    from brainalign.training.recipe import load_recipe
    from brainalign.training.trainer import train

    monkeypatch.setenv("BRAINALIGN_DATA", str(data_root))
    small = ["train.epochs=1", "data.max_windows=120", "train.batch_size=40", "model.classifier=mlp"]
    for fusion in ("cross_attention", "pair"):
        out = tmp_path / fusion
        metrics = train(
            load_recipe(recipes_root() / "eegmat_fusion.yaml", [*small, f"model.fusion={fusion}"]), out, progress=False
        )
        pred = pd.read_csv(out / "test_predictions.csv")
        config = json.loads((out / "config.json").read_text())
        assert list(pred.columns) == ["recording", "subject", "start", "label", "p_arithmetic", "p_rest"]
        assert len(pred) == config["data"]["test"]["windows"]
        assert np.allclose(pred[["p_arithmetic", "p_rest"]].sum(axis=1), 1.0, atol=1e-5)
        bacc = pd.Series(pred["label"] == "arithmetic").to_numpy()
        from sklearn.metrics import balanced_accuracy_score

        assert metrics["test_bacc"] == pytest.approx(balanced_accuracy_score(bacc, pred["p_arithmetic"] > 0.5))
        weights = load_file(str(out / "model.safetensors"))
        assert any(k.startswith("classifier.head.") for k in weights)
        assert any(k.startswith("classifier.attn.") for k in weights) == (fusion == "cross_attention")
    with pytest.raises(ConfigError, match="model.fusion"):
        train(
            load_recipe(recipes_root() / "eegmat_fusion.yaml", [*small, "model.fusion=sum"]),
            tmp_path / "x",
            progress=False,
        )


def test_extra_corpora_of_other_montages_join_the_training_part(data_root: Path, tmp_path: Path, monkeypatch):
    """data.extra: unlabelled corpora of other lead counts join the training batches of a
    masked run through one encoder; each is standardised with its own statistics; another
    objective is refused."""
    from brainalign.training.data import build_paired_data
    from brainalign.training.recipe import load_recipe
    from brainalign.training.trainer import _epoch_batches, train

    monkeypatch.setenv("BRAINALIGN_DATA", str(data_root))
    extra = (
        "data.extra=[{dataset: n400, preset: pretrain_epochs, join_epochs: 100, max_windows: 40}, "
        "{dataset: eegnb_n170, preset: pretrain_windows, max_windows: 40}]"
    )
    small = ["train.epochs=1", "data.max_windows=120", "train.batch_size=20", extra]
    recipe = load_recipe(recipes_root() / "pretrain_eeg_all.yaml", small)
    data = build_paired_data(recipe.data, progress=False)
    assert {k: v.shape[1:] for k, v in data.extra.items()} == {"n400": (32, 200), "eegnb_n170": (4, 200)}
    for x in data.extra.values():
        assert abs(float(np.median(x))) < 0.2 and np.abs(x).max() <= 10.0
    train_part = np.asarray(data.windows.data[data.part("train")])
    assert np.abs(np.median(train_part, axis=(0, 2))).max() < 1e-3  # the training part's own statistics
    batches = [
        (x.shape[1], extra_) for x, _, _, extra_ in _epoch_batches(data, 20, 0, 0, trainer_mod.dist_mod.DistInfo())
    ]
    assert {n for n, e in batches if e} == {32, 4} and {n for n, e in batches if not e} == {19}
    again = [(x.shape[1], e) for x, _, _, e in _epoch_batches(data, 20, 0, 0, trainer_mod.dist_mod.DistInfo())]
    assert again == batches  # the interleaving comes from (seed, epoch)
    metrics = train(recipe, tmp_path / "run", progress=False)
    assert np.isfinite(metrics["test_loss"])
    assert json.loads((tmp_path / "run" / "config.json").read_text())["data"]["extra"]["n400"] == {
        "windows": 40,
        "leads": 32,
    }
    with pytest.raises(ConfigError, match="masked objective only"):
        train(load_recipe(recipes_root() / "eegmat_fusion.yaml", small[:3] + [extra]), tmp_path / "ce", progress=False)
