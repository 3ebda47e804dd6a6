"""Masked-autoencoder transformer for EEG (and ECG), after DreamDiffusion
(Bai et al., 2023, arXiv 2306.16934), itself after MAE (He et al., 2022).

The recording is cut into 1-D patches over time that span every channel (a
patch is ``n_chans x patch_size`` samples, embedded by a strided 1-D
convolution).  For pre-training a random 75 % of the patches is hidden per
sample; a transformer encoder sees only the visible ones, and a lightweight
transformer decoder, given the encoded visible tokens plus a shared mask token
at each hidden position, reconstructs every patch.  The loss is the mean squared
error on the hidden patches (:meth:`MAEEncoder.reconstruction_loss`).

As an encoder (``forward``) nothing is masked: the embedding is the mean of the
encoded patch tokens, linearly mapped to ``emb_dim`` when that differs from the
transformer width.  Samples beyond the last whole patch are ignored.  The
default ``patch_size`` of 4 samples (DreamDiffusion's choice at 1 kHz) suits
short windows; use 8-16 for long windows at high rates to keep the token count
in the low hundreds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple, cast

import torch
from torch import nn

from brainalign.errors import ConfigError
from brainalign.models.registry import EEGEncoder, register_encoder


class MAEOutput(NamedTuple):
    """What :meth:`MAEEncoder.forward_mae` returns; all three feed :meth:`MAEEncoder.reconstruction_loss`.

    ``pred`` and ``target`` are ``(batch, n_patches, n_chans * patch_size)``;
    ``mask`` is ``(batch, n_patches)`` with 1 where the patch was hidden.
    """

    pred: torch.Tensor
    target: torch.Tensor
    mask: torch.Tensor


def sincos_positions(n_positions: int, dim: int) -> torch.Tensor:
    """Fixed 1-D sine-cosine position embeddings, ``(n_positions, dim)`` (Vaswani et al. 2017)."""
    if dim % 2:
        raise ConfigError(f"MAE: embedding width must be even for sine-cosine positions, got {dim}")
    pos = torch.arange(n_positions, dtype=torch.float32).unsqueeze(1)
    freq = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    table = torch.zeros(n_positions, dim)
    table[:, 0::2] = torch.sin(pos * freq)
    table[:, 1::2] = torch.cos(pos * freq)
    return table


def _transformer(width: int, depth: int, heads: int, mlp_ratio: float, dropout: float) -> nn.TransformerEncoder:
    layer = nn.TransformerEncoderLayer(
        width,
        heads,
        int(width * mlp_ratio),
        dropout=dropout,
        activation="gelu",
        batch_first=True,
        norm_first=True,
    )
    return nn.TransformerEncoder(layer, depth, norm=nn.LayerNorm(width), enable_nested_tensor=False)


class MAEEncoder(EEGEncoder):
    """Masked-autoencoder transformer over time patches of all channels."""

    def __init__(
        self,
        n_chans: int,
        n_times: int,
        sfreq: float,
        emb_dim: int = 128,
        ch_names: Sequence[str] | None = None,
        modality: str = "eeg",
        patch_size: int = 4,
        width: int = 256,
        depth: int = 6,
        heads: int = 8,
        decoder_width: int = 128,
        decoder_depth: int = 2,
        decoder_heads: int = 4,
        mlp_ratio: float = 4.0,
        mask_ratio: float = 0.75,
        dropout: float = 0.0,
    ) -> None:
        super().__init__(n_chans, n_times, sfreq, emb_dim, ch_names, modality)
        if not 1 <= patch_size <= n_times:
            raise ConfigError(f"MAE: patch_size must be between 1 and n_times={n_times}, got {patch_size}")
        if not 0.0 <= mask_ratio < 1.0:
            raise ConfigError(f"MAE: mask_ratio must be in [0, 1), got {mask_ratio}")
        self.patch_size = patch_size
        self.n_patches = n_times // patch_size
        self.mask_ratio = mask_ratio
        self.patch_embed = nn.Conv1d(n_chans, width, patch_size, stride=patch_size)
        self.register_buffer("pos", sincos_positions(self.n_patches, width), persistent=False)
        self.encoder = _transformer(width, depth, heads, mlp_ratio, dropout)
        self.decoder_embed = nn.Linear(width, decoder_width)
        self.mask_token = nn.Parameter(torch.zeros(decoder_width))
        nn.init.normal_(self.mask_token, std=0.02)
        self.register_buffer("decoder_pos", sincos_positions(self.n_patches, decoder_width), persistent=False)
        self.decoder = _transformer(decoder_width, decoder_depth, decoder_heads, mlp_ratio, dropout)
        self.decoder_pred = nn.Linear(decoder_width, n_chans * patch_size)
        self.proj = nn.Identity() if emb_dim == width else nn.Linear(width, emb_dim)

    def patchify(self, x: torch.Tensor) -> torch.Tensor:
        """``(batch, n_chans, n_times) -> (batch, n_patches, n_chans * patch_size)``, channel-major."""
        x = x[..., : self.n_patches * self.patch_size]
        b, c, _ = x.shape
        return x.reshape(b, c, self.n_patches, self.patch_size).permute(0, 2, 1, 3).reshape(b, self.n_patches, -1)

    def _tokens(self, x: torch.Tensor) -> torch.Tensor:
        """Embedded patches with positions, ``(batch, n_patches, width)``."""
        x = x[..., : self.n_patches * self.patch_size]
        return self.patch_embed(x).transpose(1, 2) + self.pos

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(self.encoder(self._tokens(x)).mean(dim=1))

    def forward_mae(self, x: torch.Tensor, mask_ratio: float | None = None) -> MAEOutput:
        """Hide a random ``mask_ratio`` of the patches of each sample and reconstruct all patches."""
        self.check_input(x)
        ratio = self.mask_ratio if mask_ratio is None else mask_ratio
        tokens = self._tokens(x)
        b, n, width = tokens.shape
        n_keep = max(1, int(round(n * (1.0 - ratio))))
        order = torch.rand(b, n, device=x.device).argsort(dim=1)
        restore = order.argsort(dim=1)
        keep = order[:, :n_keep]
        visible = torch.gather(tokens, 1, keep.unsqueeze(-1).expand(-1, -1, width))
        latent = self.decoder_embed(self.encoder(visible))
        hidden = self.mask_token.expand(b, n - n_keep, -1)
        shuffled = torch.cat([latent, hidden], dim=1)
        full = torch.gather(shuffled, 1, restore.unsqueeze(-1).expand(-1, -1, shuffled.shape[-1]))
        pos = cast(torch.Tensor, self.decoder_pos)
        pred = self.decoder_pred(self.decoder(full + pos))
        mask = (restore >= n_keep).to(x.dtype)
        return MAEOutput(pred, self.patchify(x), mask)

    @staticmethod
    def reconstruction_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Mean squared error over the hidden patches only."""
        per_patch = ((pred - target) ** 2).mean(dim=-1)
        return (per_patch * mask).sum() / mask.sum().clamp_min(1.0)


register_encoder(
    "mae",
    MAEEncoder,
    description="masked-autoencoder transformer over time patches of all channels (DreamDiffusion-style)",
)
