"""CBraMod-style masked pre-training of EEG and ECG encoders with dual masking.

After CBraMod (Wang et al., ICLR 2025, arXiv 2412.07236), adapted so that one
class pre-trains EEG of any montage and ECG of 1 to 12 leads (``modality="ecg"``).

Tokens.  The signal ``(batch, leads, n_times)`` is cut into non-overlapping
patches of ``patch_size`` samples *per lead* (default 200 = 1 s at 200 Hz, as
CBraMod); ``n_times`` must be a multiple of ``patch_size`` (checked when the
encoder is built, so no sample is silently dropped or padded).  Each patch is
embedded by a linear map of its samples plus a linear map of its rfft magnitude
(CBraMod's spectral embedding), giving a ``(batch, leads, patches, width)`` grid.

Positions, montage-free.  A learned embedding per time patch, plus (with
``conditional_pos``) CBraMod's asymmetric conditional positional encoding: a
depthwise 2-D convolution over the (lead, patch) grid of the token embeddings.
It derives each lead's positional information from the data around it rather
than from a fixed channel table, so any montage and any lead count work.

Backbone.  A stack of braindecode's :class:`CrissCrossTransformerEncoderLayer`
(half of the width and heads attend across leads at each time patch, the other
half across time within each lead), the layer CBraMod itself is built of.

Dual masking (:meth:`CBraModMAE.sample_mask`).  Per sample, a random
``lead_mask_ratio`` of the leads is hidden entirely (never all of them: at most
``leads - 1``, so whole-lead masking is off for single-lead ECG), and within
every lead a random ``patch_mask_ratio`` of the patches is hidden.  Counts are
rounded stochastically (``floor(ratio * n + U(0, 1))``) so that the expected
hidden fraction equals the ratio even for few leads or patches.  Hidden tokens
are replaced by a learned mask token and, as in CBraMod, every token stays in
the encoder.  A linear head predicts each patch's samples and, with
``spectral_weight > 0``, its rfft magnitude.

What is reused from braindecode 1.8.1: the criss-cross layer
(``braindecode.modules.CrissCrossTransformerEncoderLayer``).  Not reused:
``CBraMod``'s private ``_PatchEmbedding``, which hard-codes 101 frequency bins
(only ``patch_size=200`` works), ties the width to its convolution stack and
masks with a fixed zero patch in signal space instead of a learned token.

Scale: the reconstruction targets are the input values, so feed standardised
or suitably scaled signals (CBraMod used microvolts / 100), not volts.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence

import torch
from braindecode.modules import CrissCrossTransformerEncoderLayer
from torch import nn

from brainalign.errors import ConfigError, ContractError
from brainalign.models.mae import MAEOutput
from brainalign.models.registry import EEGEncoder, register_encoder

#: Kernel (leads, patches) of the conditional positional convolution, CBraMod's choice.
_ACPE_KERNEL = (19, 7)


def random_subset(
    rows: Sequence[int],
    n: int,
    ratio: float,
    max_count: int,
    device: torch.device | str | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Boolean ``(*rows, n)``: in every row a uniformly random subset of the ``n`` slots is True.

    The subset size is ``min(floor(ratio * n + u), max_count)`` with ``u ~ U(0, 1)``
    drawn per row, so its expectation is ``ratio * n`` (before the cap).
    """
    u = torch.rand(*rows, device=device, generator=generator)
    count = torch.floor(ratio * n + u).clamp(max=max_count)
    ranks = torch.rand(*rows, n, device=device, generator=generator).argsort(dim=-1).argsort(dim=-1)
    return ranks < count.unsqueeze(-1)


class CBraModMAE(EEGEncoder):
    """Criss-cross transformer over per-lead patches, pre-trained by dual-masked reconstruction.

    ``forward(x)`` (no masking) returns the mean of the encoded tokens mapped
    linearly to ``emb_dim``; :meth:`forward_tokens` returns the encoded
    ``(batch, leads, patches, width)`` grid; :meth:`forward_mae` is the
    pre-training pass (same :class:`MAEOutput` contract as the ``mae`` encoder,
    so :class:`~brainalign.objectives.loss.MaskedReconstructionLoss` applies
    unchanged); :meth:`reconstruct` gives signal-space traces for plots.
    """

    def __init__(
        self,
        n_chans: int,
        n_times: int,
        sfreq: float,
        emb_dim: int = 128,
        ch_names: Sequence[str] | None = None,
        modality: str = "eeg",
        patch_size: int = 200,
        width: int = 200,
        depth: int = 12,
        heads: int = 8,
        dim_feedforward: int = 800,
        dropout: float = 0.1,
        patch_mask_ratio: float = 0.5,
        lead_mask_ratio: float = 0.2,
        spectral_weight: float = 0.0,
        conditional_pos: bool = True,
    ) -> None:
        super().__init__(n_chans, n_times, sfreq, emb_dim, ch_names, modality)
        if not 1 <= patch_size <= n_times or n_times % patch_size:
            raise ConfigError(
                f"cbramod_mae: n_times={n_times} must be a positive multiple of patch_size={patch_size} "
                f"(pick a window of k*{patch_size} samples or set patch_size)"
            )
        if heads < 2 or heads % 2 or width % heads:
            raise ConfigError(
                f"cbramod_mae: heads must be even (half spatial, half temporal) and divide width={width}, got {heads}"
            )
        for label, ratio in (("patch_mask_ratio", patch_mask_ratio), ("lead_mask_ratio", lead_mask_ratio)):
            if not 0.0 <= ratio < 1.0:
                raise ConfigError(f"cbramod_mae: {label} must be in [0, 1), got {ratio}")
        if not (math.isfinite(spectral_weight) and spectral_weight >= 0.0):
            raise ConfigError(f"cbramod_mae: spectral_weight must be >= 0, got {spectral_weight}")
        self.patch_size = patch_size
        self.n_patches = n_times // patch_size
        self.width = width
        self.patch_mask_ratio = patch_mask_ratio
        self.lead_mask_ratio = lead_mask_ratio
        self.spectral_weight = float(spectral_weight)
        n_freqs = patch_size // 2 + 1
        # The patch embedding comes first so that it is the module's first layer.
        self.temporal_embed = nn.Linear(patch_size, width)
        self.spectral_embed = nn.Linear(n_freqs, width)
        self.mask_token = nn.Parameter(torch.zeros(width))
        self.time_pos = nn.Parameter(torch.zeros(self.n_patches, width))
        nn.init.normal_(self.mask_token, std=0.02)
        nn.init.normal_(self.time_pos, std=0.02)
        self.conditional_pos = (
            nn.Conv2d(width, width, _ACPE_KERNEL, padding=(_ACPE_KERNEL[0] // 2, _ACPE_KERNEL[1] // 2), groups=width)
            if conditional_pos
            else None
        )
        self.layers = nn.ModuleList(
            CrissCrossTransformerEncoderLayer(
                width,
                heads,
                dim_feedforward,
                dropout=dropout,
                batch_first=True,
                norm_first=True,
            )
            for _ in range(depth)
        )
        self.norm = nn.LayerNorm(width)
        self.time_head = nn.Linear(width, patch_size)
        self.spectrum_head = nn.Linear(width, n_freqs) if self.spectral_weight > 0 else None
        self.proj = nn.Linear(width, emb_dim)

    def patchify(self, x: torch.Tensor) -> torch.Tensor:
        """``(batch, leads, n_times) -> (batch, leads, patches, patch_size)``."""
        return x.reshape(x.shape[0], x.shape[1], self.n_patches, self.patch_size)

    @staticmethod
    def spectrum(patches: torch.Tensor) -> torch.Tensor:
        """rfft magnitude of each patch (``norm="forward"``: amplitude, independent of the patch length)."""
        return torch.fft.rfft(patches, dim=-1, norm="forward").abs()

    def _check_mask(self, mask: torch.Tensor, batch: int) -> torch.Tensor:
        expected = (batch, self.n_chans, self.n_patches)
        if tuple(mask.shape) != expected:
            raise ContractError(
                f"cbramod_mae: mask must have shape {expected} (batch, leads, patches), got {tuple(mask.shape)}"
            )
        return mask.to(torch.bool)

    def _encode(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Encoded tokens ``(batch, leads, patches, width)``; tokens where ``mask`` is True are hidden."""
        patches = self.patchify(x)
        tokens = self.temporal_embed(patches) + self.spectral_embed(self.spectrum(patches))
        if mask is not None:
            tokens = torch.where(mask.unsqueeze(-1), self.mask_token.to(tokens.dtype), tokens)
        if self.conditional_pos is not None:
            tokens = tokens + self.conditional_pos(tokens.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
        tokens = tokens + self.time_pos
        for layer in self.layers:
            tokens = layer(tokens)
        return self.norm(tokens)

    def with_channels(self, n_chans: int) -> CBraModMAE:
        """The same encoder (every parameter shared, not copied) accepting ``n_chans`` leads.

        The patch embedding, positional convolution and criss-cross layers apply to any
        number of leads; only the input check and mask sampling read ``n_chans``. A
        shallow copy with another ``n_chans`` therefore trains one set of weights on
        every montage (masked pretraining on several datasets).
        """
        if n_chans == self.n_chans:
            return self
        view = copy.copy(self)
        view.n_chans = int(n_chans)
        return view

    def forward_tokens(self, x: torch.Tensor) -> torch.Tensor:
        """Encoded patch tokens without masking, ``(batch, leads, patches, width)``."""
        self.check_input(x)
        return self._encode(x)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(self._encode(x).mean(dim=(1, 2)))

    def sample_mask(
        self, batch: int, device: torch.device | str | None = None, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """A dual mask, boolean ``(batch, leads, patches)``, True where hidden (see the module docstring)."""
        leads = random_subset((batch,), self.n_chans, self.lead_mask_ratio, self.n_chans - 1, device, generator)
        patches = random_subset(
            (batch, self.n_chans), self.n_patches, self.patch_mask_ratio, self.n_patches, device, generator
        )
        return patches | leads.unsqueeze(-1)

    def forward_mae(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> MAEOutput:
        """Hide patches (``mask``, or a fresh :meth:`sample_mask`) and predict every patch.

        ``pred`` and ``target`` are ``(batch, leads * patches, patch_size [+ n_freqs])``
        with tokens in lead-major order (token ``lead * patches + patch``); with
        ``spectral_weight > 0`` each row is the patch's samples followed by its rfft
        magnitude times ``sqrt(spectral_weight)``, so that in the mean squared error a
        spectral value counts ``spectral_weight`` times as much as a sample.  ``mask``
        is ``(batch, leads * patches)``, 1 where hidden.
        """
        self.check_input(x)
        b = x.shape[0]
        mask = self.sample_mask(b, x.device) if mask is None else self._check_mask(mask, b)
        tokens = self._encode(x, mask)
        patches = self.patchify(x)
        pred, target = self.time_head(tokens), patches
        if self.spectrum_head is not None:
            scale = math.sqrt(self.spectral_weight)
            pred = torch.cat([pred, scale * self.spectrum_head(tokens)], dim=-1)
            target = torch.cat([target, scale * self.spectrum(patches)], dim=-1)
        n_tokens = self.n_chans * self.n_patches
        return MAEOutput(
            pred.reshape(b, n_tokens, -1), target.reshape(b, n_tokens, -1), mask.reshape(b, n_tokens).to(x.dtype)
        )

    @torch.no_grad()
    def reconstruct(
        self, x: torch.Tensor, mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Signal-space view of a masked pass, for plotting reconstructed against true traces.

        Returns ``(masked_input, reconstruction, mask)``, each ``(batch, leads, n_times)``:
        the input with hidden samples set to NaN (plots show gaps), the predicted
        samples of every patch, and a boolean mask, True at hidden samples.  Runs in
        eval mode (no dropout) and restores the previous mode afterwards.
        """
        was_training = self.training
        self.eval()
        try:
            self.check_input(x)
            mask = self.sample_mask(x.shape[0], x.device) if mask is None else self._check_mask(mask, x.shape[0])
            recon = self.time_head(self._encode(x, mask)).reshape(x.shape)
        finally:
            self.train(was_training)
        sample_mask = mask.repeat_interleave(self.patch_size, dim=-1)
        masked = x.masked_fill(sample_mask, float("nan"))
        return masked, recon, sample_mask


register_encoder(
    "cbramod_mae",
    CBraModMAE,
    description="CBraMod-style criss-cross transformer over per-lead patches, dual (patch + whole-lead) "
    "masked pre-training; any montage, EEG or ECG (n_times % patch_size == 0)",
)
