"""NICE-EEG encoders (Song et al., "Decoding Natural Images from EEG for Object
Recognition", ICLR 2024, arXiv 2308.13234), written from the paper's description.

The EEG branch is a temporal-spatial convolution derived from ShallowNet:

1. temporal convolution ``1 x 25`` (40 filters), average pooling ``1 x 51`` with
   stride ``1 x 5``, batch norm, ELU;
2. spatial convolution over all channels (``n_chans x 1``), batch norm, ELU,
   dropout;
3. a ``1 x 1`` convolution to 40 feature maps, then flatten;
4. a projection to the image-feature size: linear, then a residual block
   (GELU, linear, dropout), then layer norm.

Two variants put a spatial module in front of the convolution, each added
residually to the raw signal (so they start close to the plain model):

* ``nice_sa``: self-attention across channels.  Each channel's time course is a
  token; queries and keys are linear maps of the layer-normed time course, the
  values are the time courses themselves, so channels are re-mixed by learned
  similarity.
* ``nice_ga``: one graph-attention (GAT) layer over a fully connected channel
  graph (self loops included), node features being the time courses.

Both modules act on the time axis, so one model accepts any channel count; the
flattened size for the projection is measured with a dummy forward, so any
window of at least ``temporal_kernel + pool_kernel - 1`` samples (75 by
default) works.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from brainalign.errors import ConfigError
from brainalign.models.registry import EEGEncoder, register_encoder

Spatial = Literal["none", "sa", "ga"]


class ChannelSelfAttention(nn.Module):
    """Scaled dot-product attention between channels, features being time samples."""

    def __init__(self, n_times: int, attn_dim: int = 64, dropout: float = 0.3) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(n_times)
        self.query = nn.Linear(n_times, attn_dim)
        self.key = nn.Linear(n_times, attn_dim)
        self.out = nn.Linear(n_times, n_times)
        self.dropout = nn.Dropout(dropout)
        self.scale = attn_dim**-0.5

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(batch, channels, time) -> (batch, channels, time)``, residual included."""
        h = self.norm(x)
        scores = torch.softmax(self.query(h) @ self.key(h).transpose(1, 2) * self.scale, dim=-1)
        return x + self.dropout(self.out(scores @ h))


class ChannelGraphAttention(nn.Module):
    """A single-head GAT layer (Velickovic et al. 2018) on the complete channel graph.

    ``e_ij = LeakyReLU(a_src . W h_i + a_dst . W h_j)``, ``alpha = softmax_j(e)``,
    ``h'_i = sum_j alpha_ij W h_j + b``.  On a complete graph with self loops the
    edge list is every pair, so dense matrices replace message passing.
    """

    def __init__(self, n_times: int, dropout: float = 0.3, negative_slope: float = 0.2) -> None:
        super().__init__()
        self.weight = nn.Linear(n_times, n_times, bias=False)
        self.att_src = nn.Parameter(torch.empty(n_times))
        self.att_dst = nn.Parameter(torch.empty(n_times))
        self.bias = nn.Parameter(torch.zeros(n_times))
        self.dropout = nn.Dropout(dropout)
        self.negative_slope = negative_slope
        bound = (6.0 / (n_times + 1)) ** 0.5
        nn.init.uniform_(self.att_src, -bound, bound)
        nn.init.uniform_(self.att_dst, -bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(batch, channels, time) -> (batch, channels, time)``, residual included."""
        h = self.weight(x)
        logits = (h @ self.att_src).unsqueeze(2) + (h @ self.att_dst).unsqueeze(1)
        alpha = torch.softmax(F.leaky_relu(logits, self.negative_slope), dim=-1)
        return x + self.dropout(alpha @ h + self.bias)


class _ResidualGELU(nn.Module):
    """``x + dropout(linear(gelu(x)))``: the residual block of NICE's projection."""

    def __init__(self, dim: int, dropout: float) -> None:
        super().__init__()
        self.block = nn.Sequential(nn.GELU(), nn.Linear(dim, dim), nn.Dropout(dropout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x)


class NICEEncoder(EEGEncoder):
    """NICE temporal-spatial convolution encoder with an optional spatial attention module."""

    def __init__(
        self,
        n_chans: int,
        n_times: int,
        sfreq: float,
        emb_dim: int = 768,
        ch_names: Sequence[str] | None = None,
        modality: str = "eeg",
        spatial: Spatial = "none",
        n_filters: int = 40,
        temporal_kernel: int = 25,
        pool_kernel: int = 51,
        pool_stride: int = 5,
        conv_dropout: float = 0.5,
        proj_dropout: float = 0.5,
        attn_dim: int = 64,
        attn_dropout: float = 0.3,
    ) -> None:
        super().__init__(n_chans, n_times, sfreq, emb_dim, ch_names, modality)
        min_times = temporal_kernel + pool_kernel - 1
        if n_times < min_times:
            raise ConfigError(
                f"NICE: n_times={n_times} is shorter than temporal_kernel + pool_kernel - 1 = {min_times}; "
                "use a longer window or smaller kernels"
            )
        if spatial == "sa":
            self.spatial: nn.Module = ChannelSelfAttention(n_times, attn_dim, attn_dropout)
        elif spatial == "ga":
            self.spatial = ChannelGraphAttention(n_times, attn_dropout)
        elif spatial == "none":
            self.spatial = nn.Identity()
        else:
            raise ConfigError(f"NICE: spatial must be 'none', 'sa' or 'ga', got {spatial!r}")
        self.tsconv = nn.Sequential(
            nn.Conv2d(1, n_filters, (1, temporal_kernel)),
            nn.AvgPool2d((1, pool_kernel), (1, pool_stride)),
            nn.BatchNorm2d(n_filters),
            nn.ELU(),
            nn.Conv2d(n_filters, n_filters, (n_chans, 1)),
            nn.BatchNorm2d(n_filters),
            nn.ELU(),
            nn.Dropout(conv_dropout),
            nn.Conv2d(n_filters, n_filters, 1),
            nn.Flatten(),
        )
        self.tsconv.eval()
        with torch.no_grad():
            flat = self.tsconv(torch.zeros(1, 1, n_chans, n_times)).shape[1]
        self.tsconv.train()
        self.projection = nn.Sequential(
            nn.Linear(flat, emb_dim), _ResidualGELU(emb_dim, proj_dropout), nn.LayerNorm(emb_dim)
        )

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.projection(self.tsconv(self.spatial(x).unsqueeze(1)))


register_encoder(
    "nice",
    NICEEncoder,
    default_emb_dim=768,
    description="NICE-EEG temporal-spatial conv + residual projection (arXiv 2308.13234)",
)
register_encoder(
    "nice_sa",
    partial(NICEEncoder, spatial="sa"),
    default_emb_dim=768,
    description="NICE-EEG with self-attention across channels before the convolution",
)
register_encoder(
    "nice_ga",
    partial(NICEEncoder, spatial="ga"),
    default_emb_dim=768,
    description="NICE-EEG with a graph-attention layer over a complete channel graph",
)
