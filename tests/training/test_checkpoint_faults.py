"""Checkpoints damaged after they were written (a disk fault, a run folder copied
in part): the checksums catch it, the previous complete checkpoint is used, or
none, and the damage is reported."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from brainalign.training.checkpoint import (
    CHECKSUMS,
    checkpoint_problem,
    latest_checkpoint,
    load_checkpoint,
    save_checkpoint,
)
from tests.training.test_resume import _tiny_state


def _two_checkpoints(last: Path) -> Path:
    """Epoch 0 saved as the previous checkpoint, epoch 1 as ``last`` (as a kill
    between the two renames of a save leaves them); returns the previous one."""
    save_checkpoint(last, *_tiny_state(1), {"epoch": 1})
    prev = last.parent / f".{last.name}.prev"
    save_checkpoint(prev, *_tiny_state(0), {"epoch": 0})
    return prev


def _damage(path: Path, how: str) -> None:
    data = bytearray(path.read_bytes())
    if how == "truncate":
        path.write_bytes(bytes(data[: len(data) // 2]))
    elif how == "flip":
        data[len(data) // 2] ^= 0xFF
        path.write_bytes(bytes(data))
    else:
        path.unlink()


def test_fresh_checkpoint_is_clean(tmp_path: Path) -> None:
    last = tmp_path / "last"
    save_checkpoint(last, *_tiny_state(0), {"epoch": 0})
    recorded = json.loads((last / CHECKSUMS).read_text())
    assert set(recorded) == {"model.safetensors", "optim.pt", "rng.pt", "state.json"}
    assert checkpoint_problem(last) is None and latest_checkpoint(last) == last


@pytest.mark.parametrize("how", ["truncate", "flip", "delete"])
@pytest.mark.parametrize("victim", ["model.safetensors", "optim.pt", "rng.pt"])
def test_damaged_checkpoint_falls_back_to_the_previous_one(tmp_path: Path, victim: str, how: str) -> None:
    last = tmp_path / "last"
    prev = _two_checkpoints(last)
    _damage(last / victim, how)
    expected = f"{victim} missing" if how == "delete" else f"checksum mismatch of {victim}"
    assert checkpoint_problem(last) == expected
    with pytest.warns(UserWarning, match=rf"last: damaged checkpoint \({expected}\); using the previous one"):
        found = latest_checkpoint(last)
    assert found == prev
    model, opt, sched = _tiny_state(5)
    assert load_checkpoint(found, model, opt, sched)["epoch"] == 0
    reference, _, _ = _tiny_state(0)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), reference.state_dict().values()))


def test_damaged_checkpoint_without_a_previous_one_is_refused(tmp_path: Path) -> None:
    """Nothing to fall back on: resuming stops with an error naming the damage."""
    from brainalign.errors import DataError

    last = tmp_path / "last"
    save_checkpoint(last, *_tiny_state(0), {"epoch": 0})
    (last / "state.json").write_text(json.dumps({"epoch": 7}))  # edited by hand, or half copied
    assert latest_checkpoint(last) == last
    with pytest.raises(DataError, match=r"last: damaged checkpoint: checksum mismatch of state\.json"):
        load_checkpoint(last, *_tiny_state(1))
    save_checkpoint(last, *_tiny_state(1), {"epoch": 1})  # a fresh run writes a good one over it
    assert checkpoint_problem(last) is None
