"""``torchrun --nproc-per-node 2 -m brainalign train``: two CPU ranks (gloo) train
the N400 epochs paired with their texts (frozen MiniLM tower) under the CLIP
loss gathered across ranks, write one loadable model, and report validation and
test scores equal to a one-process evaluation of the weights they kept."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import brainalign
from brainalign.models.aligned import build_model
from brainalign.training.checkpoint import load_weights
from brainalign.training.data import build_paired_data
from brainalign.training.recipe import recipe_from_dict
from brainalign.training.trainer import TrainModule, evaluate_part

from .conftest import TINY_RECIPE

pytestmark = pytest.mark.realdata

TORCHRUN = Path(sys.executable).parent / "torchrun"
CLIP_OVERRIDES = (
    "data.pair=text",
    "model.pair={name: minilm, trainable: false}",
    "objectives=[{name: clip}]",
    "train.epochs=2",
)


@pytest.mark.skipif(not TORCHRUN.exists(), reason=f"no torchrun beside {sys.executable}")
def test_torchrun_two_ranks_clip(real_env, write_recipe, tmp_path: Path) -> None:
    run = tmp_path / "run"
    recipe = write_recipe(TINY_RECIPE)
    overrides = [arg for item in CLIP_OVERRIDES for arg in ("--set", item)]
    result = subprocess.run(
        [
            str(TORCHRUN),
            "--standalone",
            "--nproc-per-node",
            "2",
            "-m",
            "brainalign",
            "train",
            str(recipe),
            "--out",
            str(run),
            *overrides,
        ],
        env=real_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["epochs_run"] == 2
    assert metrics["test_top1_chance"] == pytest.approx(1 / 40)  # 40 distinct texts in the test part

    # the model loads and reproduces the test embeddings it was saved with
    model = brainalign.load(run)
    config = model.config
    assert config["pair_kind"] == "text" and len(model.pair_values) == 200
    data = build_paired_data(recipe_from_dict(TINY_RECIPE, CLIP_OVERRIDES).data, progress=False)
    test = data.part("test")
    np.testing.assert_allclose(
        model.encode_eeg(np.asarray(data.windows.data[test])), np.load(run / "test_embeddings.npy"), atol=1e-5
    )

    # the scores the ranks logged are those of one process evaluating the kept weights:
    # every rank scores the whole part, so nothing may be gathered across ranks there
    spec = config["spec"]
    kept = build_model(spec)
    kept.set_pair_values(data.pair_values)
    tm = TrainModule(kept, spec["objectives"], gather=False)
    load_weights(tm, run / "checkpoints" / "best.safetensors")
    cpu = torch.device("cpu")
    val = evaluate_part(tm, data, "val", 32, cpu)
    test_scores = evaluate_part(tm, data, "test", 32, cpu)
    assert metrics["best_val_loss"] == pytest.approx(val["val_loss"], abs=1e-5)
    assert metrics["test_loss"] == pytest.approx(test_scores["test_loss"], abs=1e-5)
    assert metrics["test_top1"] == pytest.approx(test_scores["test_top1"], abs=1e-9)
