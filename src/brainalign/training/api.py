"""``brainalign.load(RUN_DIR)``: a trained model back from its run folder.

Only ``config.json`` (JSON) and ``model.safetensors`` are read: loading never
executes pickled code. The model refuses input that violates its input contract
(channels, rate, units, window length) unless the caller asks to adapt it
(reorder channels, resample).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from brainalign.errors import DataError
from brainalign.models.aligned import AlignedModel, build_model
from brainalign.models.contract import InputContract
from brainalign.training.checkpoint import load_weights


class TrainedModel:
    """A trained model with its input contract; ``encode_eeg`` checks the contract."""

    def __init__(self, run_dir: Path, config: dict[str, Any], model: AlignedModel):
        self.run_dir = run_dir
        self.config = config
        self.model = model.eval()
        self.contract = InputContract.from_dict(config["contract"])
        self.classes: list[str] = list(config.get("classes", []))
        self.pair_values: list[str] = list(config.get("pair_values", []))

    def __repr__(self) -> str:
        c = self.contract
        return (
            f"<TrainedModel {self.config['recipe']['name']} | {c.n_chans} ch @ {c.sfreq:g} Hz x "
            f"{c.n_times} samples ({c.units}), pair={self.config.get('pair_kind')}>"
        )

    @torch.no_grad()
    def encode_eeg(
        self,
        data: np.ndarray,
        ch_names: Sequence[str] | None = None,
        sfreq: float | None = None,
        units: str | None = None,
        adapt: bool = False,
        batch_size: int = 256,
    ) -> np.ndarray:
        """Shared-space embeddings of ``data`` (windows, channels, times).

        ``ch_names``, ``sfreq`` and ``units`` describe the input and default to
        the contract's; they are checked against it (ContractError on mismatch),
        or, with ``adapt=True``, channels are reordered and the data resampled."""
        data = np.asarray(data, dtype=np.float32)
        if data.ndim == 2:
            data = data[None]
        c = self.contract
        names = list(ch_names) if ch_names is not None else (list(c.ch_names) if c.ch_names else None)
        rate = c.sfreq if sfreq is None else float(sfreq)
        unit = c.units if units is None else units
        if adapt:
            data = np.asarray(c.adapt(data, names, rate), dtype=np.float32)
            names, rate = list(c.ch_names) if c.ch_names else names, c.sfreq
        c.check(names, rate, unit, n_times=data.shape[-1])
        out = [
            self.model.encode_eeg(torch.from_numpy(data[i : i + batch_size])) for i in range(0, len(data), batch_size)
        ]
        return torch.cat(out).numpy()

    @torch.no_grad()
    def encode_pairs(self, items: Sequence[str] | np.ndarray | None = None) -> np.ndarray:
        """Shared-space embeddings of texts or image paths (default: the pair
        values seen in training), or of paired signal windows (ECG)."""
        if self.model.pair_head is None:
            raise DataError(self.run_dir, "this model was trained without a paired tower")
        if self.config["spec"]["tower"]["name"] == "signal":  # ECG windows (n, channels, times)
            if items is None:
                raise DataError(self.run_dir, "give the paired signal windows to embed")
            x = torch.as_tensor(np.asarray(items, dtype=np.float32))
            return self.model.pair_head(self.model.pair_tower(x)).numpy()
        items = self.pair_values if items is None else list(items)
        feats = self.model.pair_tower.encode(list(items)).float()
        return self.model.pair_head(feats).numpy()


def load(run_dir: str | os.PathLike) -> TrainedModel:
    """Re-create the model of a finished ``brainalign train`` run."""
    run_dir = Path(run_dir)
    cfg_path = run_dir / "config.json"
    if not cfg_path.exists():
        raise DataError(run_dir, "not a run folder (no config.json)")
    try:
        config = json.loads(cfg_path.read_text())
    except json.JSONDecodeError as err:
        raise DataError(cfg_path, f"not valid JSON ({err})") from None
    model = build_model(config["spec"])
    load_weights(model, run_dir / "model.safetensors")
    return TrainedModel(run_dir, config, model)
