"""braindecode models used as feature extractors, registered in the encoder registry.

Two ways of turning a braindecode decoder into an embedding network:

* **head** (``deep4``, ``shallow``, ``eegnet``): the classic braindecode way,
  ``n_outputs=emb_dim`` so that the model's final layer (a convolution or a
  max-norm-constrained linear layer over the last feature map) *is* the
  embedding.  These models are trained from scratch, so there is no head to
  keep.
* **features** (``cbramod``, ``labram``, ``biot``, ``eegpt``): foundation
  models are called with ``return_features=True``; their token features are
  mean-pooled over every token axis (patches and channels; EEGPT's four summary
  tokens per patch stay concatenated, BIOT already returns one vector) and a
  linear layer maps the pooled vector to ``emb_dim``.  The backbone keeps its pretrained layout, so
  weights from ``Model.from_pretrained`` can be loaded into ``.backbone``; the
  large flatten-everything classifier head is never used.

Input constraints found by running braindecode 1.8.1 (enforced at build time
with a :class:`ConfigError`):

* ``cbramod``: ``n_times`` a multiple of ``patch_size`` (200 = 1 s at the 200 Hz
  of its pre-training); any channel count.
* ``labram``: ``n_times`` a multiple of ``patch_size`` (200, 200 Hz pre-training)
  and channel names from ``LABRAM_CHANNEL_ORDER`` (10-10 names, case-insensitive),
  which select its channel position embeddings; without names exactly the 128
  canonical channels are required.
* ``biot``: any length and channel count; its STFT uses ``n_fft = sfreq`` (200 Hz
  in pre-training).
* ``eegpt``: ``n_times >= patch_size`` (64); a learned channel projection maps
  any montage to its 19 standard channels (256 Hz pre-training).
* ``deep4`` shrinks its kernels itself (with a warning) for windows shorter than
  441 samples; ``shallow`` and ``eegnet`` need a window longer than their
  temporal kernel plus pooling (about 100 and 130 samples by default).
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from functools import partial
from typing import Any

import torch
from braindecode.models import (
    BIOT,
    EEGPT,
    CBraMod,
    Deep4Net,
    EEGNet,
    Labram,
    ShallowFBCSPNet,
)
from braindecode.models.labram import LABRAM_CHANNEL_ORDER
from torch import nn

from brainalign.errors import ConfigError
from brainalign.models.registry import EEGEncoder, register_encoder

#: braindecode arguments that the wrapper sets itself.
_MANAGED = {"n_chans", "n_times", "sfreq", "n_outputs", "chs_info", "input_window_seconds"}


def _backbone_kwargs(backbone: type[nn.Module], options: dict[str, Any], name: str) -> dict[str, Any]:
    """Refuse options that ``backbone`` does not take or that the wrapper manages."""
    accepted = set(inspect.signature(backbone.__init__).parameters) - {"self", "kwargs"} - _MANAGED
    unknown = sorted(set(options) - accepted)
    if unknown:
        raise ConfigError(f"{name}: unknown options {unknown} for {backbone.__name__}; accepted: {sorted(accepted)}")
    return options


def _multiple_of(n_times: int, patch_size: int, name: str) -> None:
    if n_times % patch_size:
        raise ConfigError(
            f"{name}: n_times={n_times} must be a multiple of patch_size={patch_size} "
            f"(pick a window of k*{patch_size} samples or set patch_size)"
        )


class BraindecodeHeadEncoder(EEGEncoder):
    """A braindecode decoder built with ``n_outputs=emb_dim``: its final layer is the embedding."""

    def __init__(
        self,
        backbone_cls: type[nn.Module],
        n_chans: int,
        n_times: int,
        sfreq: float,
        emb_dim: int,
        ch_names: Sequence[str] | None = None,
        modality: str = "eeg",
        **options: Any,
    ) -> None:
        super().__init__(n_chans, n_times, sfreq, emb_dim, ch_names, modality)
        options = _backbone_kwargs(backbone_cls, options, backbone_cls.__name__)
        self.backbone = backbone_cls(n_chans=n_chans, n_times=n_times, sfreq=sfreq, n_outputs=emb_dim, **options)
        # Deep4Net switches itself to eval mode while sizing its head.
        self.train()

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone(x)


class BraindecodeFeatureEncoder(EEGEncoder):
    """A braindecode foundation model whose pooled token features are projected to ``emb_dim``."""

    def __init__(
        self,
        backbone_cls: type[nn.Module],
        n_chans: int,
        n_times: int,
        sfreq: float,
        emb_dim: int,
        ch_names: Sequence[str] | None = None,
        modality: str = "eeg",
        **options: Any,
    ) -> None:
        super().__init__(n_chans, n_times, sfreq, emb_dim, ch_names, modality)
        name = backbone_cls.__name__
        options = _backbone_kwargs(backbone_cls, options, name)
        defaults = inspect.signature(backbone_cls.__init__).parameters
        self._forward_kwargs: dict[str, Any] = {}
        if backbone_cls in (CBraMod, Labram):
            _multiple_of(n_times, options.get("patch_size", defaults["patch_size"].default), name)
        if backbone_cls is Labram:
            self._forward_kwargs["ch_names"] = self._labram_channels(n_chans)
        if backbone_cls is EEGPT and n_times < options.get("patch_size", defaults["patch_size"].default):
            raise ConfigError(f"{name}: n_times={n_times} is shorter than one patch")
        # n_outputs only sizes the unused classifier head; 1 keeps it small.
        self.backbone = backbone_cls(n_chans=n_chans, n_times=n_times, sfreq=sfreq, n_outputs=1, **options)
        with torch.no_grad():
            width = self._features(torch.zeros(1, n_chans, n_times)).shape[-1]
        self.proj = nn.Linear(width, emb_dim)
        self.train()

    def _labram_channels(self, n_chans: int) -> list[str] | None:
        canonical = {c.upper() for c in LABRAM_CHANNEL_ORDER}
        if self.ch_names is None:
            if n_chans != len(LABRAM_CHANNEL_ORDER):
                raise ConfigError(
                    f"Labram: give ch_names (10-10 names) for a {n_chans}-channel montage; "
                    f"only the {len(LABRAM_CHANNEL_ORDER)} canonical channels work without names"
                )
            return None
        unknown = [n for n in self.ch_names if n.upper() not in canonical]
        if unknown:
            raise ConfigError(f"Labram: channels {unknown} are not in LABRAM_CHANNEL_ORDER")
        return list(self.ch_names)

    def _features(self, x: torch.Tensor) -> torch.Tensor:
        """Token features of the backbone, mean-pooled to ``(batch, width)``."""
        feats = self.backbone(x, return_features=True, **self._forward_kwargs)["features"]
        return feats.reshape(feats.shape[0], -1, feats.shape[-1]).mean(dim=1)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(self._features(x))


register_encoder(
    "deep4",
    partial(BraindecodeHeadEncoder, Deep4Net),
    description="braindecode Deep4Net (Schirrmeister 2017); final conv layer = embedding",
)
register_encoder(
    "shallow",
    partial(BraindecodeHeadEncoder, ShallowFBCSPNet),
    description="braindecode ShallowFBCSPNet; final conv layer = embedding",
)
register_encoder(
    "eegnet",
    partial(BraindecodeHeadEncoder, EEGNet, final_layer_with_constraint=True),
    description="braindecode EEGNet (v4); max-norm linear final layer = embedding",
)
register_encoder(
    "cbramod",
    partial(BraindecodeFeatureEncoder, CBraMod),
    description="braindecode CBraMod foundation model; pooled features -> linear (200 Hz, n_times % 200 == 0)",
)
register_encoder(
    "labram",
    partial(BraindecodeFeatureEncoder, Labram),
    description="braindecode LaBraM foundation model; pooled tokens -> linear (200 Hz, n_times % 200 == 0, 10-10 names)",
)
register_encoder(
    "biot",
    partial(BraindecodeFeatureEncoder, BIOT),
    description="braindecode BIOT foundation model; STFT-token features -> linear (200 Hz)",
)
register_encoder(
    "eegpt",
    partial(BraindecodeFeatureEncoder, EEGPT),
    description="braindecode EEGPT foundation model; pooled summary tokens -> linear (256 Hz)",
)
