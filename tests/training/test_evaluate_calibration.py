"""Subject normalisation from a calibration block, end to end: a run trained with
``data.normalization: calibration`` records it in its input contract,
``brainalign.load(run).encode_eeg(x, calibration=...)`` re-applies it to a new subject, and
``brainalign evaluate RUN --dataset OTHER`` scores a folder of new subjects (in the training
layout) with each subject's own calibration block, the training data directory gone."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from brainalign.errors import ConfigError, DataError
from brainalign.recipes import recipe_path
from brainalign.training.recipe import load_recipe, recipe_from_dict

FIELDS = {"value", "ci_low", "ci_high", "p_value", "chance"}
CALIBRATION = "{where: {label: rest}, first_s: 60}"


def _eegmat_folder(data_root: Path, folder: Path, subjects: tuple[str, ...]) -> Path:
    """A folder in eegmat's layout holding symlinks to ``subjects`` and their info rows."""
    folder.mkdir(parents=True)
    for subject in subjects:
        for part in ("1", "2"):
            name = f"Subject{subject}_{part}.edf"
            (folder / name).symlink_to(data_root / "eegmat" / name)
    lines = (data_root / "eegmat" / "subject-info.csv").read_text().splitlines()
    kept = [lines[0]] + [ln for ln in lines[1:] if ln.split(",")[0].strip() in {f"Subject{s}" for s in subjects}]
    (folder / "subject-info.csv").write_text("\n".join(kept) + "\n")
    return folder


def test_recipe_normalization_keys_are_checked():
    base = load_recipe(recipe_path("eegmat_text")).to_dict()
    with pytest.raises(ConfigError, match="data.calibration"):
        recipe_from_dict(base, ["data.normalization=calibration"])
    with pytest.raises(ConfigError, match="data.normalization"):
        recipe_from_dict(base, ["data.normalization=sometimes"])
    with pytest.raises(ConfigError, match="first_s and first_n"):
        recipe_from_dict(base, ["data.normalization=calibration", "data.calibration={where: {label: rest}}"])
    with pytest.raises(ConfigError, match="not a block"):
        recipe_from_dict(base, ["data.normalization=train", f"data.calibration={CALIBRATION}"])
    ok = recipe_from_dict(base, ["data.normalization=calibration", f"data.calibration={CALIBRATION}"])
    assert ok.data.calibration == {"where": {"label": "rest"}, "first_s": 60}


@pytest.mark.realdata
@pytest.mark.slow
def test_evaluate_new_subjects_with_their_calibration_blocks(
    cli, real_env, data_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from brainalign.experiments.evaluate import load_eval_set
    from brainalign.training.api import load
    from brainalign.training.trainer import train

    train_dir = _eegmat_folder(data_root, tmp_path / "eegmat_train", ("00", "01", "02", "03"))
    new_dir = _eegmat_folder(data_root, tmp_path / "eegmat_new", ("10", "11"))
    recipe = load_recipe(
        recipe_path("eegmat_text"),
        [
            f"data.dataset={train_dir}",
            "data.split={kind: subject, val: 1, test: 1, seed: 0}",
            "data.last_s={rest: 60}",
            "data.normalization=calibration",
            f"data.calibration={CALIBRATION}",
            "model.eeg={name: bandpower, emb_dim: 32}",
            "model.pair.trainable=false",
            "train.epochs=1",
            "train.device=cpu",
            "train.amp=false",
        ],
    )
    run = tmp_path / "run"
    train(recipe, run, progress=False)
    config = json.loads((run / "config.json").read_text())
    record = config["contract"]["normalization"]
    assert record["normalizer"]["method"] == "standardize" and record["normalizer"]["source"] == "calibration"
    assert record["calibration"] == {"where": {"label": "rest"}, "first_s": 60}
    assert record["transductive"] is False
    # the calibration windows (first 60 s of rest) were neither trained on nor scored
    from brainalign.training.trainer import TRAIN_WINDOWS, table_from_json

    trained = table_from_json(json.loads((run / TRAIN_WINDOWS).read_text()), run / TRAIN_WINDOWS)
    assert (trained.loc[trained["label"] == "rest", "start"] >= 60).all()

    # the training data gone, the data directory pointing nowhere
    shutil.rmtree(train_dir)
    nowhere = tmp_path / "no_data_dir"
    real_env["BRAINALIGN_DATA"] = str(nowhere)
    monkeypatch.setenv("BRAINALIGN_DATA", str(nowhere))
    proc = cli("evaluate", run, "--dataset", new_dir, "--json", "--n-boot", "50", "--n-perm", "50", timeout=300)
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads(proc.stdout)["eegmat_text:label"]
    assert set(metrics["logreg_bacc"]) == FIELDS and metrics["logreg_bacc"]["chance"] == 0.5

    ev = load_eval_set(run, dataset=str(new_dir))
    assert sorted(ev.test["subject"].astype(str).unique()) == ["10", "11"]
    rest = ev.test[ev.test["label"] == "rest"]
    assert len(rest) and (rest["start"] >= 60).all()  # calibration block and early rest never scored

    # encode_eeg: a calibration model refuses a new subject without its calibration windows,
    # and with them equals the windows z-scored by hand with that block's channel statistics
    model = load(run)
    from brainalign.data import open_dataset
    from brainalign.preprocessing import cached_windows
    from brainalign.preprocessing.pipeline import Pipeline

    w = cached_windows(open_dataset(new_dir), Pipeline.from_dict(config["pipeline"]), progress=False)
    t = w.table
    s10 = (t["subject"].astype(str) == "10").to_numpy()
    block = s10 & (t["label"] == "rest").to_numpy() & (t["start"] < 60).to_numpy()
    task = np.flatnonzero(s10 & (t["label"] == "arithmetic").to_numpy())[:8]
    with pytest.raises(DataError, match="calibration"):
        model.encode_eeg(np.asarray(w.data[task]))
    z = model.encode_eeg(np.asarray(w.data[task]), calibration=np.asarray(w.data[block]))
    cal = np.asarray(w.data[block], dtype=np.float64)
    mean, std = cal.mean(axis=(0, 2), keepdims=True), cal.std(axis=(0, 2), keepdims=True)
    by_hand = ((np.asarray(w.data[task], dtype=np.float64) - mean) / std).astype(np.float32)
    np.testing.assert_allclose(z, model.encode_eeg(by_hand, normalized=True), rtol=1e-4, atol=1e-5)
