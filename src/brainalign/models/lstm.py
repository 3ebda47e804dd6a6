"""The EEG encoders of Singh et al., "Learning Robust Deep Visual Representations
from EEG Brain Recordings" (WACV 2024, arXiv 2310.16532), trained there with a
triplet loss on 128-d features.

* ``lstm``: a stacked LSTM reads the recording one time step at a time, with the
  channels as the input features; the last layer's final hidden state goes
  through a bias-free linear layer to the embedding.
* ``cnn_triplet``: the paper's CNN variant, which treats the ``(time, channel)``
  matrix as a one-plane image: a stack of stride-2 3x3 convolutions with
  instance norm, LeakyReLU and light dropout, global average pooling, then a
  bias-free linear layer to the embedding.

Both return unit-norm embeddings when built with ``normalize=True`` (as for the
paper's triplet training); otherwise the objective normalises.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from brainalign.errors import ConfigError
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
            input_size=n_chans, hidden_size=hidden_size, num_layers=num_layers,
            batch_first=True, dropout=dropout if num_layers > 1 else 0.0,
        )
        self.fc = nn.Linear(hidden_size, emb_dim, bias=False)
        self.normalize = normalize

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        _, (h_n, _) = self.lstm(x.transpose(1, 2))
        out = self.fc(h_n[-1])
        return F.normalize(out, dim=-1) if self.normalize else out


class TripletCNNEncoder(EEGEncoder):
    """2-D conv stack over the ``(time, channel)`` plane, global average pool, linear."""

    def __init__(
        self,
        n_chans: int,
        n_times: int,
        sfreq: float,
        emb_dim: int = 128,
        ch_names: Sequence[str] | None = None,
        modality: str = "eeg",
        filters: Sequence[int] = (128, 256, 512, 1024),
        kernel_size: int = 3,
        dropout: float = 0.05,
        normalize: bool = False,
    ) -> None:
        super().__init__(n_chans, n_times, sfreq, emb_dim, ch_names, modality)
        if kernel_size % 2 == 0:
            raise ConfigError(f"cnn_triplet: kernel_size must be odd, got {kernel_size}")
        layers: list[nn.Module] = []
        in_ch = 1
        size = [n_times, n_chans]
        for out_ch in filters:
            # Stride 2 only along axes still >= 4 long, so that small montages never
            # shrink to a single element, on which instance norm is undefined.
            stride = tuple(2 if n >= 4 else 1 for n in size)
            size = [-(-n // s) for n, s in zip(size, stride)]
            layers += [
                nn.Conv2d(in_ch, out_ch, kernel_size, stride=stride, padding=kernel_size // 2, bias=False),
                nn.InstanceNorm2d(out_ch),
                nn.LeakyReLU(),
                nn.Dropout(dropout),
            ]
            in_ch = out_ch
        layers.append(nn.AdaptiveAvgPool2d(1))
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(in_ch, emb_dim, bias=False)
        self.normalize = normalize

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        feats = self.features(x.transpose(1, 2).unsqueeze(1)).flatten(1)
        out = self.fc(feats)
        return F.normalize(out, dim=-1) if self.normalize else out


register_encoder("lstm", LSTMEncoder,
                 description="stacked LSTM, channels as features, last hidden state -> 128-d (arXiv 2310.16532)")
register_encoder("cnn_triplet", TripletCNNEncoder,
                 description="stride-2 2-D CNN over (time, channel), global pool -> 128-d (arXiv 2310.16532)")
