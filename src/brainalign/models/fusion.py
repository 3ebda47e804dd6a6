"""EEG + ECG fusion classifiers on top of (pre-trained) signal encoders.

:class:`FusionClassifier` combines an EEG encoder and an ECG encoder (any
registered encoder, e.g. two ``cbramod_mae`` encoders pre-trained by masked
reconstruction) into one classifier:

* ``"concat"``: the two embeddings are concatenated and fed to an MLP head, as
  in the CBraMod + ECG fusion setting;
* ``"cross_attention"``: the tokens of both modalities, each projected to
  ``hidden`` and tagged with a learned modality embedding, form one sequence in
  which every token attends to every token of both modalities (so each
  modality attends to the other); the mean of each modality's attended tokens
  is concatenated and fed to the head.  The tokens are the encoder's patch
  tokens when it exposes ``forward_tokens`` (and ``use_tokens``), otherwise its
  embedding as a single token, so that two plain encoders give a 2-token
  sequence;
* ``"eeg"`` / ``"pair"``: one encoder (EEG, or the paired signal's, e.g. ECG) and
  the head; the other encoder is not part of the model and its input is ignored
  (it may be ``None``).

The mode names are the recipes' ``model.fusion`` values, one set everywhere.

:meth:`FusionClassifier.freeze_encoders` switches between linear/MLP probing
(encoders frozen and kept in eval mode) and fine-tuning.
:func:`load_pretrained_encoder` fills an encoder with the weights of a
pre-training run, read from safetensors (never from a pickle).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import nn

from brainalign.errors import ConfigError, ContractError, DataError

MODES = ("eeg", "pair", "concat", "cross_attention")


def _mlp(in_dim: int, hidden: int, n_classes: int, dropout: float) -> nn.Sequential:
    return nn.Sequential(nn.Linear(in_dim, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, n_classes))


def _emb_dim(encoder: nn.Module, label: str) -> int:
    dim = getattr(encoder, "emb_dim", None)
    if not isinstance(dim, int):
        raise ConfigError(f"FusionClassifier: the {label} encoder has no integer emb_dim attribute")
    return dim


class FusionClassifier(nn.Module):
    """Classify from EEG and/or ECG: ``forward(eeg, ecg) -> (batch, n_classes)`` logits."""

    def __init__(
        self,
        eeg_encoder: nn.Module | None,
        ecg_encoder: nn.Module | None,
        n_classes: int,
        mode: str = "concat",
        hidden: int = 128,
        dropout: float = 0.3,
        heads: int = 4,
        use_tokens: bool = True,
    ) -> None:
        super().__init__()
        if mode not in MODES:
            raise ConfigError(f"FusionClassifier: unknown mode {mode!r}; choose one of {list(MODES)}")
        if n_classes < 1 or hidden < 1:
            raise ConfigError(f"FusionClassifier: n_classes and hidden must be positive, got {n_classes}, {hidden}")
        uses_eeg, uses_ecg = mode != "pair", mode != "eeg"
        for label, used, enc in (("eeg", uses_eeg, eeg_encoder), ("ecg", uses_ecg, ecg_encoder)):
            if used and enc is None:
                raise ConfigError(f"FusionClassifier: mode {mode!r} needs an {label} encoder")
        self.mode = mode
        self.eeg_encoder: Any = eeg_encoder if uses_eeg else None
        self.ecg_encoder: Any = ecg_encoder if uses_ecg else None
        self.encoders_frozen = False
        self.use_tokens = use_tokens
        if mode == "cross_attention":
            if hidden % heads:
                raise ConfigError(f"FusionClassifier: heads={heads} must divide hidden={hidden}")
            self.eeg_in = nn.Linear(self._token_dim(self.eeg_encoder, "eeg"), hidden)
            self.ecg_in = nn.Linear(self._token_dim(self.ecg_encoder, "ecg"), hidden)
            self.modality_emb = nn.Parameter(torch.zeros(2, hidden))
            nn.init.normal_(self.modality_emb, std=0.02)
            self.attn = nn.MultiheadAttention(hidden, heads, dropout=dropout, batch_first=True)
            self.attn_norm = nn.LayerNorm(hidden)
            in_dim = 2 * hidden
        else:
            in_dim = sum(
                _emb_dim(e, label)
                for e, label in ((self.eeg_encoder, "eeg"), (self.ecg_encoder, "ecg"))
                if e is not None
            )
        self.head = _mlp(in_dim, hidden, n_classes, dropout)

    def _uses_tokens(self, encoder: Any) -> bool:
        return self.use_tokens and callable(getattr(encoder, "forward_tokens", None))

    def _token_dim(self, encoder: Any, label: str) -> int:
        if self._uses_tokens(encoder):
            width = getattr(encoder, "width", None)
            if not isinstance(width, int):
                raise ConfigError(f"FusionClassifier: the {label} encoder exposes forward_tokens but no integer width")
            return width
        return _emb_dim(encoder, label)

    def _tokens(self, encoder: Any, x: Any) -> torch.Tensor:
        """``(batch, n_tokens, dim)``: the encoder's patch tokens, or its embedding as one token."""
        if self._uses_tokens(encoder):
            tokens = encoder.forward_tokens(x)
            return tokens.reshape(tokens.shape[0], -1, tokens.shape[-1])
        return encoder(x).unsqueeze(1)

    def forward(self, eeg: torch.Tensor | None, ecg: torch.Tensor | None = None) -> torch.Tensor:
        """Logits ``(batch, n_classes)``; the input of a modality the mode does not use is ignored."""
        for label, enc, x in (("eeg", self.eeg_encoder, eeg), ("ecg", self.ecg_encoder, ecg)):
            if enc is not None and x is None:
                raise ContractError(f"FusionClassifier ({self.mode}) needs {label} input")
        if (
            eeg is not None
            and ecg is not None
            and self.eeg_encoder is not None
            and self.ecg_encoder is not None
            and eeg.shape[0] != ecg.shape[0]
        ):
            raise ContractError(f"FusionClassifier: eeg batch {eeg.shape[0]} != ecg batch {ecg.shape[0]}")
        if self.mode == "cross_attention":
            e = self.eeg_in(self._tokens(self.eeg_encoder, eeg)) + self.modality_emb[0]
            c = self.ecg_in(self._tokens(self.ecg_encoder, ecg)) + self.modality_emb[1]
            seq = torch.cat([e, c], dim=1)
            seq = self.attn_norm(seq + self.attn(seq, seq, seq, need_weights=False)[0])
            n_eeg = e.shape[1]
            features = torch.cat([seq[:, :n_eeg].mean(dim=1), seq[:, n_eeg:].mean(dim=1)], dim=-1)
        else:
            parts = [enc(x) for enc, x in ((self.eeg_encoder, eeg), (self.ecg_encoder, ecg)) if enc is not None]
            features = torch.cat(parts, dim=-1)
        return self.head(features)

    def _encoders(self) -> list[nn.Module]:
        return [e for e in (self.eeg_encoder, self.ecg_encoder) if e is not None]

    def freeze_encoders(self, frozen: bool = True) -> FusionClassifier:
        """Freeze (probing: no gradients, encoders in eval mode) or unfreeze (fine-tuning) the encoders."""
        self.encoders_frozen = frozen
        for enc in self._encoders():
            enc.requires_grad_(not frozen)
        return self.train(self.training)

    def train(self, mode: bool = True) -> FusionClassifier:
        """As :meth:`nn.Module.train`, but frozen encoders stay in eval mode (no dropout, fixed statistics)."""
        super().train(mode)
        if self.encoders_frozen:
            for enc in self._encoders():
                enc.eval()
        return self


def _read_state(source: str | os.PathLike) -> tuple[Path, dict[str, torch.Tensor]]:
    path = Path(source)
    if path.is_dir():
        path = path / "model.safetensors"
    if not path.is_file():
        raise DataError(path, "weights file not found (expected a run folder or a .safetensors file)")
    try:
        return path, load_file(str(path))
    except (SafetensorError, OSError, ValueError) as err:
        raise DataError(path, f"not a valid safetensors file ({err})") from None


def load_pretrained_encoder(
    source: str | os.PathLike | Mapping[str, torch.Tensor],
    encoder: nn.Module,
    prefix: str = "eeg_encoder.",
) -> nn.Module:
    """Load ``encoder``'s weights from a pre-training run and return ``encoder``.

    ``source`` is a run folder (its ``model.safetensors`` is read), a
    ``.safetensors`` file, or a state dict.  The weights are the entries whose
    key starts with ``prefix`` (the encoder inside the run's ``AlignedModel``;
    ``prefix=""`` for a bare encoder state dict); they must fit ``encoder``
    exactly (every key, every shape), else :class:`DataError` names the problem.
    """
    if isinstance(source, Mapping):
        path, state = None, dict(source)
    else:
        path, state = _read_state(source)
    selected = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
    if not selected:
        raise DataError(path, f"no weights with prefix {prefix!r} (keys start {sorted(state)[:3]})")
    own = encoder.state_dict()
    missing = sorted(set(own) - set(selected))
    unexpected = sorted(set(selected) - set(own))
    if missing or unexpected:
        raise DataError(path, f"weights do not fit the encoder (missing {missing[:5]}, unexpected {unexpected[:5]})")
    wrong = [f"{k} {tuple(v.shape)} vs {tuple(own[k].shape)}" for k, v in selected.items() if v.shape != own[k].shape]
    if wrong:
        raise DataError(path, f"weight shapes do not fit the encoder: {wrong[:3]}")
    encoder.load_state_dict(selected)
    return encoder
