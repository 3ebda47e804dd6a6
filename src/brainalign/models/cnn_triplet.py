"""``cnn_triplet``: the CNN EEG encoder of Singh et al. (WACV 2024, arXiv 2310.16532),
the paper's alternative to the LSTM (``lstm``), trained there with a triplet loss
on 128-d features. It treats the ``(time, channel)`` matrix as a one-plane image:
a stack of stride-2 3x3 convolutions with instance norm, LeakyReLU and light
dropout, global average pooling, then a bias-free linear layer to the embedding;
unit-norm output with ``normalize=True``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from brainalign.errors import ConfigError
from brainalign.models.registry import EEGEncoder, register_encoder


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
            stride = (2 if size[0] >= 4 else 1, 2 if size[1] >= 4 else 1)
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


register_encoder(
    "cnn_triplet",
    TripletCNNEncoder,
    description="stride-2 2-D CNN over (time, channel), global pool -> 128-d (arXiv 2310.16532)",
)
