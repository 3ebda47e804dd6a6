"""``lstm``: the LSTM EEG encoder of Singh et al., "Learning Robust Deep Visual
Representations from EEG Brain Recordings" (WACV 2024, arXiv 2310.16532), trained
there with a triplet loss on 128-d features (the CNN variant is ``cnn_triplet``).

* ``lstm``: a stacked LSTM reads the recording one time step at a time, with the
  channels as the input features; the last layer's final hidden state goes
  through a bias-free linear layer to the embedding.
It returns unit-norm embeddings when built with ``normalize=True`` (as for the
paper's triplet training); otherwise the objective normalises.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from brainalign.models.registry import EEGEncoder, register_encoder


class LSTMEncoder(EEGEncoder):
    """Stacked LSTM over time steps (channels as features); last hidden state -> linear."""

    def __init__(
        self,
        n_chans: int,
        n_times: int,
        sfreq: float,
        emb_dim: int = 128,
        ch_names: Sequence[str] | None = None,
        modality: str = "eeg",
        hidden_size: int = 128,
        num_layers: int = 4,
        dropout: float = 0.0,
        normalize: bool = False,
    ) -> None:
        super().__init__(n_chans, n_times, sfreq, emb_dim, ch_names, modality)
        self.lstm = nn.LSTM(
            input_size=n_chans,
            hidden_size=hidden_size,
            num_layers=num_layers,
            batch_first=True,
            dropout=dropout if num_layers > 1 else 0.0,
        )
        self.fc = nn.Linear(hidden_size, emb_dim, bias=False)
        self.normalize = normalize

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        _, (h_n, _) = self.lstm(x.transpose(1, 2))
        out = self.fc(h_n[-1])
        return F.normalize(out, dim=-1) if self.normalize else out


register_encoder(
    "lstm", LSTMEncoder, description="stacked LSTM, channels as features, last hidden state -> 128-d (arXiv 2310.16532)"
)
