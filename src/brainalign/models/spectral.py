"""A spectral EEG encoder: log power spectrum of every channel, then a small MLP.

Resting-state and mental-workload contrasts (rest vs arithmetic, eyes open vs closed,
vigilance) live in the power spectrum: alpha drops, theta and beta rise. Between
subjects, though, the absolute power differs more than any of these effects, so a
raw-waveform network trained on a dozen subjects learns who is recorded before it learns
what they do. This encoder puts the inductive bias in the architecture:

1. Welch's estimate inside the network: Hann-windowed segments of ``seg_s`` seconds
   (50 % overlap), power averaged over segments, bins between ``fmin`` and ``fmax`` kept;
2. ``log10`` power, and with ``relative=True`` each channel's mean log power over the
   kept bins subtracted, so the encoder sees the *shape* of every channel's spectrum,
   not its gain (electrode impedance, skull thickness, amplifier);
3. a linear map of every channel's spectrum to ``spec_dim`` features shared by all
   channels (a learned filter bank), then an MLP over channels x features.

The spectrum is computed in torch, so the encoder takes the same ``(batch, channels,
samples)`` windows as every other encoder and is saved with its input contract.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from brainalign.errors import ConfigError
from brainalign.models.registry import EEGEncoder, register_encoder


def log_power_spectrum(
    x: torch.Tensor, sfreq: float, seg: int, fmin: float, fmax: float, relative: bool = True
) -> torch.Tensor:
    """``(batch, channels, samples)`` -> ``(batch, channels, bins)`` log10 Welch power.

    Segments of ``seg`` samples with 50 % overlap and a Hann window; bins in
    ``[fmin, fmax]``. ``relative`` subtracts each channel's mean over those bins.
    """
    hop = max(1, seg // 2)
    frames = x.unfold(-1, seg, hop)  # (batch, channels, n_seg, seg)
    window = torch.hann_window(seg, periodic=False, dtype=x.dtype, device=x.device)
    frames = (frames - frames.mean(-1, keepdim=True)) * window
    power = torch.fft.rfft(frames, dim=-1).abs().pow(2).mean(dim=-2)
    freqs = torch.fft.rfftfreq(seg, d=1.0 / sfreq)
    keep = (freqs >= fmin) & (freqs <= fmax)
    logp = torch.log10(power[..., keep.to(x.device)] + 1e-12)
    if relative:
        logp = logp - logp.mean(dim=-1, keepdim=True)
    return logp


class SpectralEncoder(EEGEncoder):
    """Log power spectra of every channel -> shared spectral filter bank -> MLP."""

    def __init__(
        self,
        n_chans: int,
        n_times: int,
        sfreq: float,
        emb_dim: int = 128,
        ch_names: Sequence[str] | None = None,
        modality: str = "eeg",
        fmin: float = 1.0,
        fmax: float = 40.0,
        seg_s: float = 1.0,
        relative: bool = True,
        spec_dim: int = 8,
        hidden: int = 128,
        dropout: float = 0.25,
    ) -> None:
        super().__init__(n_chans, n_times, sfreq, emb_dim, ch_names, modality)
        seg = int(round(seg_s * sfreq))
        if seg < 4 or seg > n_times:
            raise ConfigError(
                f"spectral: seg_s={seg_s} s is {seg} samples at {sfreq:g} Hz; it must lie "
                f"between 4 samples and the window ({n_times} samples)"
            )
        if not 0 <= fmin < fmax <= sfreq / 2:
            raise ConfigError(
                f"spectral: need 0 <= fmin < fmax <= Nyquist ({sfreq / 2:g} Hz), got fmin={fmin}, fmax={fmax}"
            )
        freqs = torch.fft.rfftfreq(seg, d=1.0 / sfreq)
        n_bins = int(((freqs >= fmin) & (freqs <= fmax)).sum())
        if n_bins < 2:
            raise ConfigError(
                f"spectral: only {n_bins} frequency bin(s) between {fmin} and {fmax} Hz "
                f"with {seg_s} s segments; widen the band or lengthen seg_s"
            )
        self.seg, self.fmin, self.fmax, self.relative = seg, float(fmin), float(fmax), bool(relative)
        self.n_bins = n_bins
        self.norm = nn.BatchNorm1d(n_chans * n_bins)
        self.filter_bank = nn.Linear(n_bins, spec_dim)
        self.mlp = nn.Sequential(
            nn.Dropout(dropout),
            nn.Linear(n_chans * spec_dim, hidden),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, emb_dim),
        )

    def spectrum(self, x: torch.Tensor) -> torch.Tensor:
        """The (relative) log power spectra this encoder reads: ``(batch, channels, bins)``."""
        return log_power_spectrum(x, self.sfreq, self.seg, self.fmin, self.fmax, self.relative)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        spec = self.spectrum(x)
        b = spec.shape[0]
        spec = self.norm(spec.reshape(b, -1)).reshape(b, self.n_chans, self.n_bins)
        return self.mlp(self.filter_bank(spec).reshape(b, -1))


register_encoder(
    "spectral",
    SpectralEncoder,
    default_emb_dim=128,
    description="log power spectrum per channel (Welch, in the network) -> shared spectral filter bank -> MLP",
)
