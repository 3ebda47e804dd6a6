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
        #: a shared multi-task encoder: each modality's training values (recipe order); empty otherwise
        self.modality_values: dict[str, list[str]] = {m: list(v) for m, v in (config.get("modalities") or {}).items()}

    @property
    def modalities(self) -> list[str]:
        """A shared multi-task encoder's modalities (``encode_eeg`` / ``encode_pairs``
        ``modality=``); empty for a single-pair model."""
        return list(self.model.modalities)

    def _check_modality(self, modality: str | None) -> None:
        if modality is not None and modality not in self.model.modalities:
            have = ", ".join(self.model.modalities) or f"only its pair ({self.config.get('pair_kind')})"
            raise DataError(self.run_dir, f"this model has no modality {modality!r} (it has {have})")

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
        *,
        groups: Sequence[Any] | np.ndarray | None = None,
        calibration: np.ndarray | tuple[np.ndarray, Sequence[Any] | np.ndarray] | None = None,
        normalized: bool = False,
        modality: str | None = None,
    ) -> np.ndarray:
        """Shared-space embeddings of ``data`` (windows, channels, times); for a shared
        multi-task encoder, in ``modality``'s space (default: its primary modality).

        ``ch_names``, ``sfreq`` and ``units`` describe the input and default to
        the contract's; they are checked against it (ContractError on mismatch),
        or, with ``adapt=True``, channels are reordered and the data resampled.

        A model trained with a subject normalisation (the contract's ``normalization``)
        applies it here: training statistics need nothing more; a calibration-block
        normaliser needs ``calibration``: the subject's calibration windows (one subject:
        ``data`` and ``calibration`` are all its windows) or ``(windows, subject of each)``
        with ``groups`` (the subject of each row of ``data``), in the same channels, rate
        and units as ``data``; a transductive one (``own``) uses each subject's own rows
        (``groups``; default: all rows one subject). ``normalized=True``: ``data`` already
        went through the normalisation (the training pipeline's windows)."""
        self._check_modality(modality)
        data = np.asarray(data, dtype=np.float32)
        if data.ndim == 2:
            data = data[None]
        c = self.contract
        names = list(ch_names) if ch_names is not None else (list(c.ch_names) if c.ch_names else None)
        rate = c.sfreq if sfreq is None else float(sfreq)
        unit = c.units if units is None else units
        cal_x, cal_groups = _calibration_parts(calibration)
        if adapt:
            data = np.asarray(c.adapt(data, names, rate), dtype=np.float32)
            if cal_x is not None:
                cal_x = np.asarray(c.adapt(cal_x, names, rate), dtype=np.float32)
            names, rate = list(c.ch_names) if c.ch_names else names, c.sfreq
        c.check(names, rate, unit, n_times=data.shape[-1])
        if cal_x is not None:
            c.check(names, rate, unit, n_times=cal_x.shape[-1])
        if c.normalization and not normalized:
            data = self._normalise(data, groups, cal_x, cal_groups)
        out = [
            self.model.encode_eeg(torch.from_numpy(data[i : i + batch_size]), modality)
            for i in range(0, len(data), batch_size)
        ]
        return torch.cat(out).numpy()

    @property
    def normalizer(self) -> Any:
        """The subject normaliser of the contract (fitted global statistics), or None."""
        from brainalign.preprocessing.normalize import normalizer_from_dict

        spec = (self.contract.normalization or {}).get("normalizer")
        return None if not spec else normalizer_from_dict(spec)

    def _normalise(
        self, data: np.ndarray, groups: Any, cal_x: np.ndarray | None, cal_groups: np.ndarray | None
    ) -> np.ndarray:
        norm = self.normalizer
        g = np.full(len(data), "subject", dtype=object) if groups is None else np.asarray(groups, dtype=object)
        if len(g) != len(data):
            raise DataError(self.run_dir, f"{len(g)} group values for {len(data)} windows")
        calibration = None
        if norm.source == "calibration":
            if cal_x is None:
                raise DataError(
                    self.run_dir,
                    "this model was trained with each subject normalised by its calibration block "
                    f"({self.contract.normalization.get('calibration')}); pass calibration= "  # type: ignore[union-attr]
                    "(that subject's calibration windows, or (windows, subject of each) with groups=)",
                )
            if cal_groups is None:
                if groups is not None and len(set(g.tolist())) > 1:
                    raise DataError(self.run_dir, "several subjects in groups=: give calibration=(windows, subjects)")
                cal_groups = np.full(len(cal_x), g[0] if len(g) else "subject", dtype=object)
            calibration = (cal_x, cal_groups)
        return np.asarray(norm.transform(data, g, calibration=calibration), dtype=np.float32)

    @torch.no_grad()
    def encode_pairs(self, items: Sequence[str] | np.ndarray | None = None, modality: str | None = None) -> np.ndarray:
        """Shared-space embeddings of texts or image paths (default: the pair
        values seen in training), or of paired signal windows (ECG). A shared
        multi-task encoder embeds them as ``modality`` (default: its primary one)."""
        self._check_modality(modality)
        if modality is not None and modality != self.model.primary:
            branch = self.model.branches[modality]
            values = self.modality_values.get(modality, []) if items is None else list(items)
            return branch.pair_head(branch.tower.encode(list(values)).float()).numpy()
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


def _calibration_parts(calibration: Any) -> tuple[np.ndarray | None, np.ndarray | None]:
    """``calibration=`` of :meth:`TrainedModel.encode_eeg` as (windows, groups or None)."""
    if calibration is None:
        return None, None
    if isinstance(calibration, tuple):
        x, g = calibration
        x = np.asarray(x, dtype=np.float32)
        g = np.asarray(g, dtype=object)
        if len(g) != len(x):
            raise DataError(None, f"calibration: {len(g)} group values for {len(x)} windows")
    else:
        x, g = np.asarray(calibration, dtype=np.float32), None
    if x.ndim == 2:
        x = x[None]
    if len(x) == 0:
        raise DataError(None, "calibration: no window")
    return x, g


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
