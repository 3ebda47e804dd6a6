"""Resuming after SIGKILL ends with exactly the numbers of an uninterrupted run,
and a checkpoint is never visible half-written, whenever the kill comes."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.numpy import load_file

from brainalign.errors import DataError
from brainalign.training.checkpoint import (
    latest_checkpoint,
    load_checkpoint,
    save_checkpoint,
)
from brainalign.training.recipe import recipe_from_dict
from brainalign.training.schedule import warmup_cosine
from brainalign.training.trainer import train

from .conftest import TINY_RECIPE, read_log

CHECKPOINT_FILES = {"model.safetensors", "optim.pt", "rng.pt", "state.json", "checksums.json"}
EPOCHS = 8


def _complete_or_absent(folder: Path) -> set[str] | None:
    """The file names of ``folder`` when they could be listed from one and the same
    folder (it was not swapped during the listing); None when it is absent or was swapped."""
    try:
        before = os.stat(folder).st_ino
        names = set(os.listdir(folder))
        after = os.stat(folder).st_ino
    except FileNotFoundError:
        return None
    return names if before == after else None


@pytest.mark.realdata
def test_resume_after_sigkill_matches_an_uninterrupted_run(real_env, write_recipe, cli, tmp_path: Path) -> None:
    overrides = (f"train.epochs={EPOCHS}",)
    reference = train(recipe_from_dict(TINY_RECIPE, overrides), tmp_path / "reference", progress=False)
    assert reference["epochs_run"] == EPOCHS

    run = tmp_path / "run"
    last = run / "checkpoints" / "last"
    recipe = write_recipe(TINY_RECIPE)
    proc = subprocess.Popen(
        [sys.executable, "-m", "brainalign", "train", str(recipe), "--out", str(run), "--set", overrides[0]],
        env=real_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    seen_incomplete: list[set[str]] = []
    try:
        deadline = time.monotonic() + 120
        epoch = -1
        while epoch < 1:
            assert proc.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline, "no checkpoint of epoch 1 within 120 s"
            names = _complete_or_absent(last)
            if names is not None and names != CHECKPOINT_FILES:
                seen_incomplete.append(names)
            if names is not None and "state.json" in names:
                try:
                    epoch = json.loads((last / "state.json").read_text())["epoch"]
                except FileNotFoundError:  # swapped for a newer one meanwhile
                    pass
            time.sleep(0.005)
        assert proc.poll() is None, "the run ended before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert not seen_incomplete, f"half-written checkpoint visible: {seen_incomplete}"

    # what the kill left: no results, one complete checkpoint under its final name
    assert not (run / "metrics.json").exists() and not (run / "model.safetensors").exists()
    visible = {p.name for p in (run / "checkpoints").iterdir() if not p.name.startswith(".")}
    assert visible == {"last", "best.safetensors"}
    assert set(os.listdir(last)) == CHECKPOINT_FILES
    state = json.loads((last / "state.json").read_text())
    killed_at = state["epoch"]
    assert 1 <= killed_at < EPOCHS - 1
    # mark the logged rows so that the resumed run shows it continued the checkpoint
    # (a run restarted from scratch would re-time them)
    for row in state["history"]:
        row["seconds"] = 1000.0 + row["epoch"]
    (last / "state.json").write_text(json.dumps(state))
    checksums = json.loads((last / "checksums.json").read_text())  # a deliberate edit: record it
    checksums["state.json"] = hashlib.sha256((last / "state.json").read_bytes()).hexdigest()
    (last / "checksums.json").write_text(json.dumps(checksums))

    # refused without --resume, continued with it
    with pytest.raises(DataError, match="pass --resume"):
        train(recipe_from_dict(TINY_RECIPE, overrides), run, progress=False)
    resumed = cli("train", recipe, "--out", run, "--set", overrides[0], "--resume")
    assert resumed.returncode == 0, resumed.stderr[-2000:]

    assert json.loads((run / "metrics.json").read_text()) == reference
    assert read_log(run / "log.csv") == read_log(tmp_path / "reference" / "log.csv")
    seconds = [float(r["seconds"]) for r in _raw_log(run / "log.csv")]
    assert seconds[: killed_at + 1] == [1000.0 + e for e in range(killed_at + 1)]
    assert all(s < 1000.0 for s in seconds[killed_at + 1 :])
    a, b = load_file(str(run / "model.safetensors")), load_file(str(tmp_path / "reference" / "model.safetensors"))
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    np.testing.assert_array_equal(
        np.load(run / "test_embeddings.npy"), np.load(tmp_path / "reference" / "test_embeddings.npy")
    )


def _raw_log(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


# ------------------------------------------------------------------ kill at any moment of a save
def _tiny_state(seed: int) -> tuple[torch.nn.Module, torch.optim.Optimizer, object]:
    torch.manual_seed(seed)
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.AdamW(model.parameters(), lr=0.1)
    sched = warmup_cosine(opt, 1, 10)
    model(torch.randn(4, 3)).sum().backward()
    opt.step()
    sched.step()
    return model, opt, sched


#: the calls that change which names exist in a folder: every point a kill can fall between
MUTATIONS = ("rename", "replace", "unlink", "rmdir")


def _save_with_kill(folder: Path, kill_at: int | None) -> int:
    """In a forked child: save epoch 1 over the checkpoint of epoch 0, dying (no
    clean-up, like SIGKILL) just before the ``kill_at``-th name-changing call.
    Returns the number of such calls when ``kill_at`` is None."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(read_end)
        count = 0
        originals = {name: getattr(os, name) for name in MUTATIONS}

        def make(name: str):
            def call(*args, **kwargs):
                nonlocal count
                count += 1
                if count == kill_at:
                    os._exit(0)
                return originals[name](*args, **kwargs)

            return call

        try:
            model, opt, sched = _tiny_state(1)
            for name in MUTATIONS:
                setattr(os, name, make(name))
            save_checkpoint(folder, model, opt, sched, {"epoch": 1})
            os.write(write_end, str(count).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    os.waitpid(pid, 0)
    with os.fdopen(read_end) as fh:
        out = fh.read()
    return int(out) if out else -1


def test_a_kill_during_a_save_leaves_a_complete_checkpoint(tmp_path: Path) -> None:
    probe = tmp_path / "probe" / "last"
    save_checkpoint(probe, *_tiny_state(0), {"epoch": 0})
    n_calls = _save_with_kill(probe, None)
    assert n_calls > 0 and json.loads((probe / "state.json").read_text())["epoch"] == 1

    for kill_at in range(1, n_calls + 1):
        last = tmp_path / f"kill{kill_at}" / "last"
        save_checkpoint(last, *_tiny_state(0), {"epoch": 0})
        _save_with_kill(last, kill_at)
        if last.exists():
            assert set(os.listdir(last)) == CHECKPOINT_FILES, f"kill before call {kill_at}: half-written 'last'"
        found = latest_checkpoint(last)
        assert found is not None, f"kill before call {kill_at}: no checkpoint left"
        model, opt, sched = _tiny_state(2)
        state = load_checkpoint(found, model, opt, sched)
        expected, _, _ = _tiny_state(state["epoch"])
        assert state["epoch"] in (0, 1)
        assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), expected.state_dict().values()))
        # and the next save works from whatever the kill left
        save_checkpoint(last, *_tiny_state(1), {"epoch": 2})
        assert latest_checkpoint(last) == last and set(os.listdir(last)) == CHECKPOINT_FILES


def test_resume_refuses_a_changed_recipe(cli, write_recipe, tmp_path):
    """--resume continues a run only with the recipe it was started with."""
    import copy

    from tests.training.conftest import TINY_RECIPE

    recipe = write_recipe(copy.deepcopy(TINY_RECIPE))
    run = tmp_path / "run"
    first = cli("train", recipe, "--out", run, "--set", "train.epochs=1")
    assert first.returncode == 0, first.stderr
    (run / "metrics.json").unlink()  # as if it had been killed after its checkpoint
    second = cli("train", recipe, "--out", run, "--resume", "--set", "train.epochs=1", "--set", "train.lr=0.1")
    assert second.returncode == 2
    assert "different recipe" in second.stderr and "train.lr" in second.stderr
    assert "Traceback" not in second.stderr
