"""Atomic checkpoints that resume bit-for-bit.

A checkpoint is a folder written under a temporary name and renamed into place:
``model.safetensors`` (weights), ``optim.pt`` (optimizer and scheduler state, read
back with ``torch.load(weights_only=True)``, so loading executes no pickled code),
``rng.pt`` (torch / numpy / python RNG states), ``state.json`` (epoch, best
score, history) and ``checksums.json`` (the sha256 of the other four). A run killed
at any moment (SIGKILL included) leaves either the
previous checkpoint or the new one, never a half-written one: the folder is
never modified in place; a new one is renamed into place after the previous one
was renamed aside (``.last.prev``, removed afterwards), and
:func:`latest_checkpoint` falls back to that one when the kill came between the
two renames. A checkpoint whose files no longer match their checksums (a disk
fault, a partial copy of the run folder) is not resumed from: it is reported and
the previous complete one is used, or none, so the run starts again.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import random
import shutil
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from brainalign.errors import DataError
from brainalign.utils.io import atomic_path


def frozen_prefixes(module: torch.nn.Module) -> tuple[str, ...]:
    """Prefixes of sub-modules marked ``frozen`` (pretrained towers that are not
    trained): their weights come from their package, so they are not saved again."""
    return tuple(f"{name}." for name, m in module.named_modules() if name and getattr(m, "frozen", False) is True)


def state_dict_for_saving(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """Contiguous, de-duplicated CPU tensors (safetensors refuses shared storage),
    without the weights of frozen pretrained towers."""
    out: dict[str, torch.Tensor] = {}
    seen: dict[int, str] = {}
    skip = frozen_prefixes(module)
    for k, v in module.state_dict().items():
        if skip and k.startswith(skip):
            continue
        t = v.detach().cpu().contiguous()
        ptr = t.data_ptr() if t.numel() else -1
        if ptr in seen and ptr != -1:
            t = t.clone()
        seen[ptr] = k
        out[k] = t
    return out


def save_weights(module: torch.nn.Module, path: Path, metadata: dict[str, str] | None = None) -> None:
    with atomic_path(path) as tmp:
        save_file(state_dict_for_saving(module), str(tmp), metadata=metadata)


def load_weights(module: torch.nn.Module, path: Path) -> None:
    try:
        state = load_file(str(path))
    except FileNotFoundError:
        raise DataError(path, "weights file not found") from None
    except Exception as err:  # safetensors raises its own error types on corrupt files
        raise DataError(path, f"not a valid safetensors file ({err})") from None
    missing, unexpected = module.load_state_dict(state, strict=False)
    skip = frozen_prefixes(module)
    missing = [k for k in missing if not (skip and k.startswith(skip))]
    if missing or unexpected:
        raise DataError(path, f"weights do not fit the model (missing {missing[:5]}, unexpected {unexpected[:5]})")


def _rng_state() -> dict[str, Any]:
    np_state = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "numpy_keys": torch.from_numpy(np.asarray(np_state[1], dtype=np.int64)),
        "numpy_pos": int(np_state[2]),
        "python": json.dumps(random.getstate()[1]),
    }


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(("MT19937", state["numpy_keys"].numpy().astype(np.uint32), state["numpy_pos"], 0, 0.0))
    random.setstate((3, tuple(json.loads(state["python"])), None))


def save_checkpoint(
    folder: Path,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    state: dict[str, Any],
) -> None:
    prev = _previous(folder)
    with atomic_path(folder, is_dir=True) as tmp:
        save_file(state_dict_for_saving(model), str(tmp / "model.safetensors"))
        torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()}, tmp / "optim.pt")
        torch.save(_rng_state(), tmp / "rng.pt")
        (tmp / "state.json").write_text(json.dumps(state, indent=2))
        (tmp / CHECKSUMS).write_text(json.dumps({name: _sha256(tmp / name) for name in _DIGESTED}, indent=1))
        # Rename the complete previous checkpoint aside (atomic) rather than let
        # atomic_path delete it in place, which would expose a half-deleted folder.
        if folder.exists():
            shutil.rmtree(prev, ignore_errors=True)
            folder.rename(prev)
    shutil.rmtree(prev, ignore_errors=True)


def _previous(folder: Path) -> Path:
    """Where :func:`save_checkpoint` keeps the previous checkpoint while it swaps in a new one."""
    return folder.parent / f".{folder.name}.prev"


CHECKSUMS = "checksums.json"
_DIGESTED = ("model.safetensors", "optim.pt", "rng.pt", "state.json")


def _sha256(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def checkpoint_problem(folder: Path) -> str | None:
    """Why the checkpoint in ``folder`` cannot be trusted (a file missing, or not
    matching ``checksums.json``), or None. Checkpoints written before checksums
    were recorded are only checked for their files."""
    if not (folder / CHECKSUMS).is_file():
        missing = [n for n in _DIGESTED if not (folder / n).is_file()]
        return f"missing {', '.join(missing)}" if missing else None
    try:
        recorded = json.loads((folder / CHECKSUMS).read_text())
    except (OSError, ValueError) as err:
        return f"{CHECKSUMS} unreadable ({err})"
    if not isinstance(recorded, dict) or set(recorded) != set(_DIGESTED):
        return f"{CHECKSUMS} does not list {', '.join(_DIGESTED)}"
    for name, digest in recorded.items():
        try:
            found = _sha256(folder / name)
        except OSError:
            return f"{name} missing"
        if found != digest:
            return f"checksum mismatch of {name}"
    return None


def latest_checkpoint(folder: Path) -> Path | None:
    """The complete checkpoint saved as ``folder``, or the previous one when a kill
    came while the new one was being renamed into place, or when ``folder``'s files
    do not match their checksums (a warning says so); None when there is none. A
    damaged checkpoint with nothing to fall back on is returned as it is, so that
    :func:`load_checkpoint` names what is wrong with it."""
    found = [c for c in (folder, _previous(folder)) if (c / "state.json").is_file()]
    for i, candidate in enumerate(found):
        problem = checkpoint_problem(candidate)
        if problem is None:
            return candidate
        if i + 1 < len(found):
            warnings.warn(
                f"{candidate}: damaged checkpoint ({problem}); using the previous one, {found[i + 1]}", stacklevel=2
            )
    return found[0] if found else None


def load_checkpoint(
    folder: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer, scheduler: Any
) -> dict[str, Any]:
    """Restore model, optimizer, scheduler and RNG states; returns ``state.json``."""
    if not (folder / "state.json").exists():
        raise DataError(folder, "no complete checkpoint here")
    load_weights(model, folder / "model.safetensors")
    opt = _load_tensors(folder / "optim.pt")
    try:
        optimizer.load_state_dict(opt["optimizer"])
        scheduler.load_state_dict(opt["scheduler"])
    except (KeyError, TypeError, ValueError) as err:
        raise DataError(folder / "optim.pt", f"optimizer state does not fit this run ({err})") from None
    rng_path = folder / "rng.pt"
    try:
        _set_rng_state(_load_tensors(rng_path))
    except (KeyError, TypeError, ValueError, RuntimeError) as err:
        raise DataError(rng_path, f"not a valid RNG state ({err})") from None
    try:
        state = json.loads((folder / "state.json").read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DataError(folder / "state.json", f"not valid JSON ({err})") from None
    problem = checkpoint_problem(folder)  # after the loads, which name a refused or unreadable file
    if problem is not None:
        raise DataError(folder, f"damaged checkpoint: {problem}; delete it to start the run again")
    return state


def _load_tensors(path: Path) -> Any:
    """``torch.load`` restricted to tensors and plain containers (``weights_only``):
    a crafted pickle is refused before any of its code runs."""
    try:
        return torch.load(path, weights_only=True)
    except FileNotFoundError:
        raise DataError(path, "checkpoint file not found") from None
    except pickle.UnpicklingError as err:
        # torch's own message advises weights_only=False; name only what was refused
        detail = str(err).partition("WeightsUnpickler error:")[2].strip().split("\n\n")[0]
        raise DataError(
            path,
            "refused: holds objects other than tensors and plain containers, so it is "
            f"not unpickled ({detail or 'unsupported content'})",
        ) from None
    except Exception as err:  # RuntimeError / EOFError for truncated or corrupt files
        first_line = (str(err).splitlines() or [""])[0]
        raise DataError(path, f"refused: not a readable tensor checkpoint ({first_line})") from None
