"""``brainalign generate RUN --data SPLIT_OR_FOLDER --out DIR`` on tiny runs trained on
copies of a few real files: an N170 image run (generator heads of a few steps) and an
eegmat text run (a decoder of one epoch). Checks the files written, determinism,
that a failure names the file and leaves no half-written output folder."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

pytestmark = [pytest.mark.realdata, pytest.mark.slow]

N170 = "eegnb_n170"
N170_FILES = (
    "subject2/session1/data_2018-04-15-21.18.48.csv",
    "subject2/session1/data_2018-04-15-21.21.20.csv",
    "subject3/session1/data_2018-05-14-19.14.37.csv",
)
EEGMAT_SUBJECTS = ("Subject00", "Subject01", "Subject02", "Subject03", "Subject04")


def _cli(*args: object, env: dict[str, str], timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "brainalign", *map(str, args)],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def env(data_root: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    e = dict(os.environ)
    e.update(
        BRAINALIGN_DATA=str(data_root),
        BRAINALIGN_CACHE=str(tmp_path_factory.mktemp("gen_cache")),
        OMP_NUM_THREADS="1",
    )
    return e


def _train(recipe: dict, out: Path, env: dict[str, str]) -> Path:
    from brainalign.training.recipe import recipe_from_dict
    from brainalign.training.trainer import train

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with pytest.MonkeyPatch.context() as mp:
            for k in ("BRAINALIGN_DATA", "BRAINALIGN_CACHE"):
                mp.setenv(k, env[k])
            train(recipe_from_dict(recipe), out, progress=False)
    finally:
        torch.set_num_threads(before)
    return out


@pytest.fixture(scope="module")
def image_run(data_root: Path, env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A one-epoch N170 image run on three real CSVs and 4 stimuli of each class."""
    from brainalign.recipes import resolve_recipe
    from brainalign.training.recipe import load_recipe

    root = tmp_path_factory.mktemp("n170_copy")
    for rel in N170_FILES:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(data_root / N170 / rel, root / rel)
    for cls in ("faces", "houses"):
        (root / "stimuli" / cls).mkdir(parents=True)
        for image in sorted((data_root / N170 / "stimuli" / cls).glob("*.jpg"))[:4]:
            shutil.copyfile(image, root / "stimuli" / cls / image.name)
    recipe = load_recipe(
        resolve_recipe("n170_image"),
        [
            f"data.dataset={root}",
            "data.split.kind=recording",
            "data.max_windows=240",
            "train.epochs=1",
            "train.batch_size=48",
            "train.device=cpu",
            "train.amp=false",
            "model.eeg.emb_dim=32",
        ],
    ).to_dict()
    return _train(recipe, tmp_path_factory.mktemp("image_run") / "run", env)


@pytest.fixture(scope="module")
def text_run(data_root: Path, env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A one-epoch eegmat text run on five real subjects (frozen MiniLM)."""
    from brainalign.recipes import resolve_recipe
    from brainalign.training.recipe import load_recipe

    root = tmp_path_factory.mktemp("eegmat_copy")
    for s in EEGMAT_SUBJECTS:
        for part in ("1", "2"):
            (root / f"{s}_{part}.edf").symlink_to(data_root / "eegmat" / f"{s}_{part}.edf")
    shutil.copyfile(data_root / "eegmat" / "subject-info.csv", root / "subject-info.csv")
    recipe = load_recipe(
        resolve_recipe("eegmat_text"),
        [
            f"data.dataset={root}",
            "data.split.val=1",
            "data.split.test=1",
            "data.max_windows=200",
            "model.pair.trainable=false",
            "train.epochs=1",
            "train.device=cpu",
            "train.amp=false",
        ],
    ).to_dict()
    return _train(recipe, tmp_path_factory.mktemp("text_run") / "run", env)


def test_image_run_generate_writes_grids_and_is_deterministic(image_run: Path, env, tmp_path: Path) -> None:
    out = tmp_path / "gen"
    args = ("--resolution", 16, "--gan-steps", 3, "--grid-trials", 20, "--data-dir", env["BRAINALIGN_DATA"])
    proc = _cli("generate", image_run, "--data", "test", "--out", out, "--fit-heads", *args, env=env)
    assert proc.returncode == 0, proc.stderr
    assert (image_run / "generation" / "manifest.json").is_file()
    assert (image_run / "generation" / "gan" / "gan.safetensors").is_file()
    summary = json.loads((out / "summary.json").read_text())
    n = summary["n_trials"]
    assert n == len(json.loads((image_run / "config.json").read_text())["split"]["test"])
    assert {"grid_000.png", "grid_001.png", "images.npy", "trials.csv"} <= set(summary["files"])
    images = np.load(out / "images.npy", allow_pickle=False)
    assert images.shape == (n, 16, 16, 3) and images.dtype == np.uint8
    with open(out / "trials.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == n and {r["decoded_class"] for r in rows} <= {"face", "house"}
    assert sum(bool(r["grid"]) for r in rows) == min(n, 20)
    assert (out / "grid_000.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # the heads are reused (no --fit-heads): the same images again
    again = tmp_path / "again"
    proc = _cli("generate", image_run, "--out", again, "--data-dir", env["BRAINALIGN_DATA"], env=env)
    assert proc.returncode == 0, proc.stderr
    np.testing.assert_array_equal(np.load(again / "images.npy"), images)

    # an output folder that holds something is refused, and left as it was
    proc = _cli("generate", image_run, "--out", out, env=env)
    assert proc.returncode == 2 and "not an empty folder" in proc.stderr and "Traceback" not in proc.stderr
    assert json.loads((out / "summary.json").read_text()) == summary


def test_bad_input_names_the_problem_and_writes_nothing(image_run: Path, env, tmp_path: Path) -> None:
    proc = _cli("generate", tmp_path, "--out", tmp_path / "o1", env=env)
    assert proc.returncode == 2 and "not a run folder" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "o1").exists()

    proc = _cli("generate", image_run, "--data", tmp_path / "nowhere", "--out", tmp_path / "o2", env=env)
    assert proc.returncode == 2 and "nowhere: no such folder" in proc.stderr
    assert not (tmp_path / "o2").exists()

    # a damaged generator weights file: named in the error, no output folder left behind
    broken = tmp_path / "broken_run"
    shutil.copytree(image_run, broken)
    weights = broken / "generation" / "gan" / "gan.safetensors"
    if not weights.exists():  # this test ran first: fit tiny heads here
        from brainalign.experiments.generate import fit_generation_heads

        fit_generation_heads(broken, resolution=16, gan_steps=2)
    weights.write_bytes(b"not safetensors")
    proc = _cli("generate", broken, "--out", tmp_path / "o3", "--data-dir", env["BRAINALIGN_DATA"], env=env)
    assert proc.returncode == 2 and "gan.safetensors" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "o3").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".o3.")]  # no temporary folder either


def test_run_without_heads_says_how_to_fit_them(image_run: Path, env, tmp_path: Path) -> None:
    bare = tmp_path / "bare"
    shutil.copytree(image_run, bare, ignore=shutil.ignore_patterns("generation"))
    proc = _cli("generate", bare, "--out", tmp_path / "o", env=env)
    assert proc.returncode == 2 and "--fit-heads" in proc.stderr and "manifest.json" in proc.stderr


def test_text_run_generate_writes_sentences(text_run: Path, env, tmp_path: Path) -> None:
    from brainalign.experiments.generate import fit_generation_heads, generate_from_run

    with pytest.MonkeyPatch.context() as mp:
        for k in ("BRAINALIGN_DATA", "BRAINALIGN_CACHE"):
            mp.setenv(k, env[k])
        fit_generation_heads(text_run, text_epochs=1)
        summary = generate_from_run(text_run, "val", tmp_path / "out")
    lines = (tmp_path / "out" / "texts.jsonl").read_text().splitlines()
    assert len(lines) == summary["n_trials"] > 0
    row = json.loads(lines[0])
    assert {"trial", "subject", "label", "generated", "retrieved", "reference"} <= set(row)
    assert row["reference"].startswith("EEG of") and row["retrieved"].startswith("EEG of")
    assert isinstance(row["generated"], str)
    assert "texts.jsonl" in summary["files"] and "images.npy" not in summary["files"]
