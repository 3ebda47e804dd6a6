"""Shared fixtures of the training-engine tests: a tiny recipe on the real N400
epochs (one subject, 200 epochs x 32 channels x 60 samples at 50 Hz), a helper
that runs the ``brainalign`` command line in a subprocess, and one finished run
shared by the tests that only read it. Tests import ``TINY_RECIPE`` and vary it by
overrides or a deep copy (``recipe_from_dict`` never modifies its input).

The tiny recipe trains a small EEGNet (16-d embedding, one-layer head) with the
semi-hard triplet loss on the related / unrelated labels. N400 is one
recording of one subject, so the split is ``within_subject``: the subject's
epochs in time order are cut into 5 contiguous blocks, one block for
validation, one for test (40 epochs each), three for training.
"""

from __future__ import annotations

import contextlib
import csv
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml

TINY_RECIPE: dict[str, Any] = {
    "name": "tiny_n400",
    "seed": 0,
    "data": {
        "dataset": "n400",
        "preset": "n400_epochs",
        "pair": "label",
        "label": "label",
        "split": {"kind": "within_subject", "val": 1, "test": 1, "seed": 0},
    },
    "model": {
        # a small EEGNet: braindecode's default (kernel 64, F1 8, D 2) costs 25x more on CPU
        "eeg": {"name": "eegnet", "emb_dim": 16, "kwargs": {"F1": 4, "D": 1, "F2": 4, "kernel_length": 16}},
        "head": {"depth": 1, "dim": 16},
    },
    "objectives": [{"name": "triplet"}],
    "train": {
        "epochs": 3,
        "batch_size": 32,
        "lr": 0.003,
        "warmup_epochs": 1,
        "patience": 10,
        "device": "cpu",
        "amp": False,
    },
}

#: files that every finished run folder holds
RUN_FILES = (
    "model.safetensors",
    "config.json",
    "metrics.json",
    "log.csv",
    "curves.png",
    "test_embeddings.npy",
    "train_embeddings.npy",
    "train_windows.json",
)
#: log.csv columns that measure time, not training (they differ between identical runs)
TIMING_COLUMNS = ("seconds",)


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Torch on one CPU thread. The test machines are small and shared: two
    OpenMP threads competing with other processes make these tiny models many
    times slower than one thread."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    with one_thread():
        yield


@pytest.fixture
def write_recipe(tmp_path: Path) -> Callable[..., Path]:
    """``write_recipe(tree, name="recipe.yaml") -> path`` of the YAML file written."""

    def write(tree: dict[str, Any], name: str = "recipe.yaml") -> Path:
        path = tmp_path / name
        path.write_text(yaml.safe_dump(tree, sort_keys=False))
        return path

    return write


@pytest.fixture
def real_env(data_root: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The environment for real-data runs (in-process and subprocesses): the data
    folder, and this test's temporary cache (set by tests/conftest.py)."""
    monkeypatch.setenv("BRAINALIGN_DATA", str(data_root))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # subprocesses compute like the tests (one thread)
    return dict(os.environ)


@pytest.fixture
def cli(real_env: dict[str, str]) -> Callable[..., subprocess.CompletedProcess]:
    """``cli(*args, timeout=...)``: run ``python -m brainalign ARGS`` to the end."""

    def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "brainalign", *map(str, args)],
            env=real_env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    return run


@pytest.fixture(scope="session")
def trained_run(data_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished run of the tiny recipe (trained once per session, in-process)."""
    from brainalign.training.recipe import recipe_from_dict
    from brainalign.training.trainer import train

    out = tmp_path_factory.mktemp("trained") / "run"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BRAINALIGN_DATA", str(data_root))
        mp.setenv("BRAINALIGN_CACHE", str(tmp_path_factory.mktemp("trained_cache")))
        with one_thread():
            train(recipe_from_dict(TINY_RECIPE), out, progress=False)
    return out


def read_log(path: Path) -> list[dict[str, str]]:
    """Rows of a run's log.csv without the timing columns."""
    with open(path, newline="") as fh:
        return [{k: v for k, v in row.items() if k not in TIMING_COLUMNS} for row in csv.DictReader(fh)]
