"""ERP encoder: each channel's time course averaged in short time bins -> standardisation -> MLP.

The classical decoder of an evoked response (a stimulus condition, a target) is a linear
model on the averaged amplitude in short windows after the stimulus (e.g. Blankertz et al.
2011, NeuroImage 56(2), "single-trial analysis and classification of ERP components"). This
encoder is that front end with a trainable head, so an aligned model and the ERP + LR
baseline see the same features:

1. ``features``: each channel's samples averaged in consecutive bins of
   ``round(sfreq / bin_hz)`` samples (32 Hz bins: 8 samples at 256 Hz; a trailing partial
   bin is dropped), flattened channel-major (all bins of channel 0 first); equal to
   :func:`brainalign.experiments.fair.erp_bins`;
2. a fixed standardisation (:meth:`ERPEncoder.set_feature_stats`, e.g. training-subject
   statistics), then an MLP.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from brainalign.errors import ConfigError
from brainalign.models.feature_head import StandardisedHead
from brainalign.models.registry import register_encoder


class ERPEncoder(StandardisedHead):
    """Time-binned amplitude per channel -> fixed standardisation -> MLP."""

    encoder_name = "erp"

    def __init__(
        self,
        n_chans: int,
        n_times: int,
        sfreq: float,
        emb_dim: int = 64,
        ch_names: Sequence[str] | None = None,
        modality: str = "eeg",
        bin_hz: float = 32.0,
        hidden: int = 64,
        depth: int = 1,
        dropout: float = 0.2,
    ) -> None:
        super().__init__(n_chans, n_times, sfreq, emb_dim, ch_names, modality)
        if not bin_hz > 0:
            raise ConfigError(f"erp: bin_hz must be positive, got {bin_hz}")
        width = max(1, round(float(sfreq) / float(bin_hz)))
        n_bins = n_times // width
        if n_bins < 1:
            raise ConfigError(f"erp: {n_times} samples hold no bin of {width} samples ({bin_hz:g} Hz at {sfreq:g} Hz)")
        self.bin_hz, self.bin_width, self.n_bins = float(bin_hz), int(width), int(n_bins)
        self._build_head(n_chans * n_bins, emb_dim, hidden, depth, dropout)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """``(batch, channels, samples)`` -> ``(batch, channels * bins)`` bin means, channel-major."""
        x = x.to(self.feature_mean.dtype)[..., : self.n_bins * self.bin_width]
        return x.reshape(len(x), self.n_chans, self.n_bins, self.bin_width).mean(-1).reshape(len(x), -1)


register_encoder(
    "erp",
    ERPEncoder,
    default_emb_dim=64,
    description="ERP amplitude per channel in short time bins (32 Hz by default) -> standardisation -> MLP",
)
