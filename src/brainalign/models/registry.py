"""One registry of signal encoders (EEG, and ECG where the architecture fits).

Every encoder maps ``(batch, n_chans, n_times)`` to ``(batch, emb_dim)``,
carries an :class:`~brainalign.models.contract.InputContract` describing the
input it expects, and remembers the arguments it was built with so that
``create_encoder(**encoder.encoder_config())`` re-creates the same
architecture (load the weights afterwards).
"""

from __future__ import annotations

import copy
import functools
import inspect
import numbers
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from brainalign.errors import ConfigError, ContractError
from brainalign.models.contract import InputContract
from brainalign.registry import Registry

#: Modules whose import registers the built-in encoders.
_BUILTIN_MODULES = (
    "brainalign.models.braindecode_models",
    "brainalign.models.lstm",
    "brainalign.models.cnn_triplet",
    "brainalign.models.spectral",
    "brainalign.models.nice",
    "brainalign.models.mae",
    "brainalign.models.cbramod_mae",
    "brainalign.models.bandpower",
    "brainalign.models.erp",
    "brainalign.models.tangent",
    "brainalign.models.spatial_filter",
)


class EEGEncoder(nn.Module):
    """Base class of every registered encoder.

    Subclasses implement :meth:`embed`; :meth:`forward` first checks that the
    input shape matches the contract, so a wrong montage or window fails with
    a :class:`ContractError` instead of a shape error deep inside a layer.
    """

    def __init__(
        self,
        n_chans: int,
        n_times: int,
        sfreq: float,
        emb_dim: int,
        ch_names: Sequence[str] | None = None,
        modality: str = "eeg",
    ) -> None:
        super().__init__()
        for label, value in (("n_chans", n_chans), ("n_times", n_times), ("emb_dim", emb_dim)):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
                raise ConfigError(f"{label} must be a positive integer, got {value!r}")
        n_chans, n_times, emb_dim = int(n_chans), int(n_times), int(emb_dim)
        try:
            self.contract = InputContract(
                ch_names=None if ch_names is None else tuple(ch_names),
                n_chans=n_chans,
                sfreq=float(sfreq),
                n_times=n_times,
                modality=modality,
            )
        except ContractError as err:
            raise ConfigError(str(err)) from err
        self.n_chans = n_chans
        self.n_times = n_times
        self.sfreq = float(sfreq)
        self.emb_dim = emb_dim
        self.ch_names = self.contract.ch_names
        self._config: dict[str, Any] | None = None

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Map a checked ``(batch, n_chans, n_times)`` tensor to ``(batch, emb_dim)``."""
        raise NotImplementedError

    def check_input(self, x: torch.Tensor) -> None:
        """Raise :class:`ContractError` unless ``x`` is ``(batch, n_chans, n_times)``."""
        if x.ndim != 3 or tuple(x.shape[1:]) != (self.n_chans, self.n_times):
            raise ContractError(
                f"{type(self).__name__} expects input of shape (batch, {self.n_chans}, {self.n_times}) "
                f"= (batch, channels, samples), got {tuple(x.shape)}"
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Embed ``x``: ``(batch, n_chans, n_times) -> (batch, emb_dim)``."""
        self.check_input(x)
        return self.embed(x)

    def encoder_config(self) -> dict[str, Any]:
        """``{"name": ..., "kwargs": {...}}`` such that ``create_encoder(**config)`` rebuilds this encoder."""
        if self._config is None:
            raise ConfigError(f"{type(self).__name__} was not built by create_encoder, so its configuration is unknown")
        return copy.deepcopy(self._config)


@dataclass(frozen=True)
class EncoderSpec:
    """A registered encoder: its factory, default embedding size and one-line description."""

    name: str
    factory: Callable[..., EEGEncoder]
    default_emb_dim: int
    description: str


#: every EEG (and ECG) encoder a recipe can name; the built-ins register on first lookup
ENCODERS: Registry[EncoderSpec] = Registry("encoder", builtins=_BUILTIN_MODULES)


def register_encoder(
    name: str, factory: Callable[..., EEGEncoder], *, default_emb_dim: int = 128, description: str = ""
) -> None:
    """Register ``factory`` (an :class:`EEGEncoder` subclass or a partial of one) under ``name``."""
    existing = ENCODERS.peek(name)
    if existing is not None and existing.factory is not factory:
        raise ConfigError(f"an encoder named {name!r} is already registered")
    ENCODERS.register(name, EncoderSpec(name, factory, default_emb_dim, description), replace=True)


def list_encoders() -> dict[str, str]:
    """Names of the registered encoders, each with its one-line description."""
    return {name: spec.description for name, spec in ENCODERS.items()}


def _accepted_kwargs(factory: Callable[..., Any]) -> set[str] | None:
    """Keyword names ``factory`` accepts (``None`` when it takes ``**kwargs`` and checks them itself)."""
    bound = set(factory.keywords) if isinstance(factory, functools.partial) else set()
    params = inspect.signature(factory).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return None
    return {n for n, p in params.items() if p.kind is not inspect.Parameter.VAR_POSITIONAL} - bound


def create_encoder(
    name: str,
    n_chans: int | None = None,
    n_times: int | None = None,
    sfreq: float | None = None,
    emb_dim: int | None = None,
    *,
    ch_names: Sequence[str] | None = None,
    chs_info: Sequence[Mapping[str, Any]] | None = None,
    kwargs: Mapping[str, Any] | None = None,
    **extra: Any,
) -> EEGEncoder:
    """Build the encoder registered as ``name``.

    ``emb_dim=None`` takes the encoder's default (128 for most, 768 for the
    NICE family, the CLIP ViT-L/14 image-feature size).  ``chs_info`` (MNE's
    ``info["chs"]``) is accepted for braindecode compatibility but only the
    channel names are kept.  ``kwargs`` is the dict stored by
    :meth:`EEGEncoder.encoder_config`, so ``create_encoder(**config)`` works;
    its entries may be given directly as keywords instead.  Architecture
    options (``extra``) go to the encoder; unknown ones raise
    :class:`ConfigError`.
    """
    spec = ENCODERS.get(name)
    given = {"n_chans": n_chans, "n_times": n_times, "sfreq": sfreq, "emb_dim": emb_dim, "ch_names": ch_names}
    given = {k: v for k, v in given.items() if v is not None}
    given.update(extra)
    merged = dict(kwargs or {})
    clash = sorted(k for k in given if k in merged and merged[k] != given[k])
    if clash:
        raise ConfigError(f"{name}: {clash} given both directly and in kwargs with different values")
    merged.update(given)
    if chs_info is not None:
        info_names = [str(ch["ch_name"]) for ch in chs_info]
        if merged.get("ch_names") is not None and list(merged["ch_names"]) != info_names:
            raise ConfigError(f"{name}: ch_names and chs_info name different channels")
        merged["ch_names"] = info_names
    if merged.get("ch_names") is not None:
        merged["ch_names"] = [str(n) for n in merged["ch_names"]]
        merged.setdefault("n_chans", len(merged["ch_names"]))
    missing = [k for k in ("n_chans", "n_times", "sfreq") if merged.get(k) is None]
    if missing:
        raise ConfigError(f"{name}: missing required arguments {missing}")
    merged.setdefault("emb_dim", spec.default_emb_dim)
    accepted = _accepted_kwargs(spec.factory)
    if accepted is not None:
        unknown = sorted(set(merged) - accepted)
        if unknown:
            raise ConfigError(f"{name}: unknown options {unknown}; accepted: {sorted(accepted)}")
    try:
        encoder = spec.factory(**merged)
    except (ValueError, RuntimeError) as err:  # e.g. braindecode: "Output size is too small"
        raise ConfigError(
            f"{name} cannot be built for {merged['n_chans']} channels x {merged['n_times']} samples at "
            f"{merged['sfreq']:g} Hz: {err}"
        ) from None
    encoder._config = {"name": name, "kwargs": copy.deepcopy(merged)}
    return encoder
