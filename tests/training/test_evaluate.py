"""``brainalign evaluate`` on a finished run: the JSON shape, repeatability, and
scoring another folder in the training data's layout with only the run folder
and that folder (the training data gone)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytestmark = pytest.mark.realdata

FIELDS = {"value", "ci_low", "ci_high", "p_value", "chance"}


def _evaluate(cli, run: Path, *extra: str) -> dict:
    proc = cli("evaluate", run, "--json", "--n-boot", "50", "--n-perm", "50", *extra, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_json_shape_and_repeatability(cli, trained_run: Path):
    first = _evaluate(cli, trained_run)
    assert list(first) == ["tiny_n400:label"]
    metrics = first["tiny_n400:label"]
    for name in ("prototype_bacc", "logreg_bacc", "svm_bacc", "knn_bacc", "kmeans_acc", "fewshot_10pct_bacc"):
        assert set(metrics[name]) == FIELDS, name
    for name, s in metrics.items():
        assert 0.0 <= s["value"] <= 1.0, name
        assert s["ci_low"] <= s["ci_high"], name
        assert 0.0 < s["p_value"] <= 1.0, name
    assert metrics["logreg_bacc"]["chance"] == 0.5
    assert _evaluate(cli, trained_run) == first  # fixed seeds: the same numbers


def test_another_folder_in_the_same_layout(cli, trained_run: Path, data_root: Path, tmp_path: Path):
    """Any folder in the layout of the training data can be scored (here: a copy
    of the N400 folder under another name)."""
    other = tmp_path / "n400_other"
    other.mkdir()
    (other / "subject04-epo.fif").symlink_to(data_root / "n400" / "subject04-epo.fif")
    results = _evaluate(cli, trained_run, "--dataset", str(other))
    assert set(results["tiny_n400:label"]["logreg_bacc"]) == FIELDS


def test_evaluate_refuses_a_folder_that_is_not_a_run(cli, tmp_path: Path):
    proc = cli("evaluate", tmp_path)
    assert proc.returncode == 2
    assert "not a run folder" in proc.stderr and "Traceback" not in proc.stderr


# ----------------------------------------------------------------- a self-contained run folder
N170 = "eegnb_n170"
N170_TRAIN = (
    "subject2/session1/data_2018-04-15-21.18.48.csv",
    "subject2/session1/data_2018-04-15-21.21.20.csv",
    "subject3/session1/data_2018-05-14-19.14.37.csv",
)
N170_NEW = ("subject11/session1/recording_2018-06-06-18.42.19.csv.csv",)


def _n170_copy(data_root: Path, dest: Path, files: tuple[str, ...], images: slice) -> Path:
    """A folder in the eeg-notebooks N170 layout: real CSVs and a few of the real
    stimulus images of each class (the image tower embeds each one on the CPU)."""
    for rel in files:
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(data_root / N170 / rel, dest / rel)
    for cls in ("faces", "houses"):
        (dest / "stimuli" / cls).mkdir(parents=True)
        for image in sorted((data_root / N170 / "stimuli" / cls).glob("*.jpg"))[images]:
            shutil.copyfile(image, dest / "stimuli" / cls / image.name)
    return dest


def test_training_reference_is_the_training_part(trained_run: Path, real_env) -> None:
    """train_embeddings.npy and train_windows.json are the embeddings and table of the
    split's training windows, as the model computes them from the data."""
    from brainalign.training.api import load
    from brainalign.training.data import build_paired_data
    from brainalign.training.recipe import recipe_from_dict
    from brainalign.training.trainer import table_from_json

    model = load(trained_run)
    data = build_paired_data(recipe_from_dict(model.config["recipe"]).data, progress=False)
    train = data.part("train")
    assert len(train) == len(model.config["split"]["train"]) == 120
    saved = np.load(trained_run / "train_embeddings.npy", allow_pickle=False)
    np.testing.assert_allclose(saved, model.encode_eeg(np.asarray(data.windows.data[train])), atol=1e-5)
    path = trained_run / "train_windows.json"
    table = table_from_json(json.loads(path.read_text()), path)
    expected = data.windows.table.iloc[train].reset_index(drop=True)
    assert {"label", "subject", "recording", "start", "text", "image"} <= set(table.columns)
    pd.testing.assert_frame_equal(table, expected)  # every column, values and dtypes
    assert not (trained_run / "pair_embeddings.npy").exists()  # label pairs: nothing to embed


def test_evaluate_new_folder_with_the_training_data_gone(
    cli, real_env, data_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Train an image-aligned run on a copy of real N170 files, delete that copy and point
    the data directory nowhere: `evaluate --dataset NEW` needs only the run folder and the
    new folder (image prototypes come from the saved pair embeddings); without --dataset
    the split cannot be rebuilt and the error says why."""
    train_dir = _n170_copy(data_root, tmp_path / "n170_train", N170_TRAIN, slice(0, 3))
    new_dir = _n170_copy(data_root, tmp_path / "n170_new", N170_NEW, slice(3, 5))
    run = tmp_path / "run"
    proc = cli(
        "train",
        "n170_image",
        "--out",
        run,
        "--set",
        f"data.dataset={train_dir}",
        "--set",
        "data.split.kind=recording",
        "--set",
        "data.max_windows=240",
        "--set",
        "train.epochs=1",
        "--set",
        "train.batch_size=48",
        "--set",
        "train.device=cpu",
        "--set",
        "train.amp=false",
        "--set",
        "model.eeg.emb_dim=32",
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    config = json.loads((run / "config.json").read_text())
    assert config["reader"] == {"name": "eegnb", "params": {}}
    n_train = len(config["split"]["train"])
    assert np.load(run / "train_embeddings.npy").shape == (n_train, 64)
    pairs = np.load(run / "pair_embeddings.npy")
    assert pairs.shape == (len(config["pair_values"]), 64) and len(config["pair_values"]) == 6
    assert all(str(train_dir) in p for p in config["pair_values"])  # training images, about to vanish

    shutil.rmtree(train_dir)
    real_env["BRAINALIGN_DATA"] = str(tmp_path / "no_data_dir")
    results = _evaluate(cli, run, "--dataset", str(new_dir))
    metrics = results["n170_image:label"]
    for name in ("zeroshot_image_bacc", "prototype_bacc", "retrieval_eeg2pair_mrr", "logreg_bacc", "kmeans_acc"):
        assert set(metrics[name]) == FIELDS, name
    assert metrics["zeroshot_image_bacc"]["chance"] == 0.5

    from brainalign.errors import DataError
    from brainalign.experiments.evaluate import load_eval_set

    monkeypatch.setenv("BRAINALIGN_DATA", str(tmp_path / "no_data_dir"))
    with pytest.raises(DataError, match="no_data_dir: data directory does not exist"):
        load_eval_set(run)  # without --dataset: the split is rebuilt from the (gone) training data
