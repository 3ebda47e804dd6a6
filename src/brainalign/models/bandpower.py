"""Band-power encoder: absolute log band power per channel, computed in the network, then an MLP.

Rest-vs-task and workload contrasts live in the *absolute* power of a few bands (alpha
drops, theta and beta rise). A relative spectrum behind a global BatchNorm loses them
(the ``spectral`` encoder lands at 0.54 on eegmat); what the band-power + LR baseline
reads is the absolute log power of each band on each channel. This encoder reads the same:

1. Welch's estimate in torch, as :func:`scipy.signal.welch` computes it (periodic Hann
   window, ``seg_s`` segments with 50 % overlap, constant detrend, density scaling,
   one-sided), so its features equal :func:`brainalign.evaluation.baselines.band_log_power`;
2. power integrated over each band (half-open ``[low, high)``, all at or below 40 Hz by
   default), ``log10``;
3. a fixed standardisation of the ``channels x bands`` features (buffers, identity until
   :meth:`BandPowerEncoder.set_feature_stats` is given training statistics or a
   normaliser's), then an MLP to ``emb_dim``.

:meth:`BandPowerEncoder.features` exposes step 1-2 and :meth:`BandPowerEncoder.head`
step 3, so a training loop may compute the (parameter-free) features once and train the
head on them: the result is the same network.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch

from brainalign.errors import ConfigError
from brainalign.models.feature_head import StandardisedHead
from brainalign.models.registry import register_encoder

#: default bands, half-open [low, high) Hz, capped at 40 Hz (see the eegmat quirk in the data README)
DEFAULT_BANDS: dict[str, tuple[float, float]] = {
    "delta": (1.0, 4.0),
    "theta": (4.0, 8.0),
    "alpha": (8.0, 13.0),
    "beta": (13.0, 30.0),
    "gamma": (30.0, 40.0),
}


def welch_psd(x: torch.Tensor, sfreq: float, seg: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(freqs, psd)`` of ``(..., samples)``: scipy's default Welch (periodic Hann,
    50 % overlap, constant detrend, density scaling, one-sided)."""
    hop = seg - seg // 2
    frames = x.unfold(-1, seg, hop)
    window = torch.hann_window(seg, periodic=True, dtype=x.dtype, device=x.device)
    frames = (frames - frames.mean(-1, keepdim=True)) * window
    power = torch.fft.rfft(frames, dim=-1).abs().pow(2).mean(dim=-2) / (sfreq * window.pow(2).sum())
    scale = torch.full((power.shape[-1],), 2.0, dtype=x.dtype, device=x.device)
    scale[0] = 1.0
    if seg % 2 == 0:
        scale[-1] = 1.0
    freqs = torch.fft.rfftfreq(seg, d=1.0 / sfreq).to(device=x.device, dtype=x.dtype)
    return freqs, power * scale


class BandPowerEncoder(StandardisedHead):
    """Absolute log band power per channel -> fixed standardisation -> MLP."""

    encoder_name = "bandpower"
    # buffers (register_buffer), typed for mypy
    band_weights: torch.Tensor

    def __init__(
        self,
        n_chans: int,
        n_times: int,
        sfreq: float,
        emb_dim: int = 64,
        ch_names: Sequence[str] | None = None,
        modality: str = "eeg",
        bands: Mapping[str, Sequence[float]] | None = None,
        seg_s: float = 1.0,
        hidden: int = 64,
        depth: int = 1,
        dropout: float = 0.2,
    ) -> None:
        super().__init__(n_chans, n_times, sfreq, emb_dim, ch_names, modality)
        bands = {k: (float(v[0]), float(v[1])) for k, v in (bands or DEFAULT_BANDS).items()}
        seg = min(round(seg_s * sfreq), n_times)
        if seg < 4:
            raise ConfigError(f"bandpower: seg_s={seg_s} s is {seg} samples at {sfreq:g} Hz (need >= 4)")
        freqs = np.fft.rfftfreq(seg, d=1.0 / sfreq)
        masks = []
        for name, (low, high) in bands.items():
            mask = (freqs >= low) & (freqs < high)
            if not low < high or high > sfreq / 2 or not mask.any():
                raise ConfigError(
                    f"bandpower: band {name} ({low:g}-{high:g} Hz) holds no frequency bin at "
                    f"{sfreq:g} Hz with {seg}-sample segments, or reaches above Nyquist"
                )
            masks.append(mask)
        self.seg, self.bands = seg, bands
        self.register_buffer(
            "band_weights", torch.tensor(np.stack(masks, axis=1), dtype=torch.float32) * float(freqs[1] - freqs[0])
        )
        self._build_head(n_chans * len(bands), emb_dim, hidden, depth, dropout)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """``(batch, channels, samples)`` -> ``(batch, channels * bands)`` log10 band power,
        channel-major (all bands of channel 0 first), as ``band_log_power`` orders them."""
        _, psd = welch_psd(x.to(self.band_weights.dtype), self.sfreq, self.seg)
        power = psd @ self.band_weights  # (batch, channels, bands)
        return torch.log10(power + 1e-30).reshape(len(x), -1)


register_encoder(
    "bandpower",
    BandPowerEncoder,
    default_emb_dim=64,
    description="absolute log band power per channel (Welch in the network, <= 40 Hz) -> standardisation -> MLP",
)
