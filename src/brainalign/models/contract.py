"""Input contracts: what a trained encoder expects of the signals fed to it.

An encoder is only meaningful on input that looks like its training input: the
same channels in the same order, the same sampling rate, window length and
units, and the same preprocessing.  :class:`InputContract` records these facts
next to the weights, :meth:`InputContract.check` refuses mismatching input with
a message that names every difference, and :meth:`InputContract.adapt` fixes
the two differences that can be fixed mechanically (channel order, sampling
rate) when the caller asks for it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import mne
import numpy as np

from brainalign.errors import ContractError, DataError

_UNIT_ALIASES = {
    "uv": "uV",
    "µv": "uV",
    "μv": "uV",
    "microvolt": "uV",
    "microvolts": "uV",
    "mv": "mV",
    "millivolt": "mV",
    "millivolts": "mV",
    "v": "V",
    "volt": "V",
    "volts": "V",
}


def normalize_units(units: str) -> str:
    """Canonical spelling of a unit string, so that ``"µV"``, ``"uv"`` and ``"microvolts"`` compare equal."""
    return _UNIT_ALIASES.get(units.strip().lower(), units.strip())


@dataclass(kw_only=True)
class InputContract:
    """What an encoder expects of its input.

    ``ch_names`` may be ``None`` when the encoder was built without channel
    names; the contract then only fixes the channel count ``n_chans``.
    ``preprocessing`` is the preprocessing pipeline (a JSON-like dict) that
    produced the training input; it is recorded, not enforced.
    """

    sfreq: float
    n_times: int
    ch_names: tuple[str, ...] | None = None
    n_chans: int | None = None
    units: str = "uV"
    preprocessing: dict[str, Any] = field(default_factory=dict)
    modality: str = "eeg"
    #: the subject normalisation the encoder's input went through in training (recipe
    #: ``data.normalization``): ``{"normalizer": a normaliser spec with its fitted global
    #: statistics, "calibration": which windows form a subject's calibration block,
    #: "transductive": bool}``; applied to new input by ``TrainedModel.encode_eeg``
    normalization: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.ch_names is not None:
            self.ch_names = tuple(str(name) for name in self.ch_names)
            if len(set(self.ch_names)) != len(self.ch_names):
                raise ContractError(f"duplicate channel names in contract: {list(self.ch_names)}")
            if self.n_chans is None:
                self.n_chans = len(self.ch_names)
            elif self.n_chans != len(self.ch_names):
                raise ContractError(f"n_chans={self.n_chans} but {len(self.ch_names)} channel names were given")
        if self.n_chans is None or self.n_chans < 1:
            raise ContractError("a contract needs ch_names or a positive n_chans")
        if not (math.isfinite(self.sfreq) and self.sfreq > 0):
            raise ContractError(f"sampling rate must be positive, got {self.sfreq}")
        if int(self.n_times) != self.n_times or self.n_times < 1:
            raise ContractError(f"n_times must be a positive integer, got {self.n_times}")
        self.sfreq = float(self.sfreq)
        self.n_times = int(self.n_times)
        self.units = normalize_units(self.units)
        self.preprocessing = dict(self.preprocessing)
        if self.normalization is not None:
            self.normalization = dict(self.normalization)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (channel names as a list)."""
        out = asdict(self)
        out["ch_names"] = None if self.ch_names is None else list(self.ch_names)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> InputContract:
        """Inverse of :meth:`to_dict`; unknown keys are a :class:`ContractError`."""
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise ContractError(f"unknown contract fields {unknown}; known fields are {sorted(known)}")
        return cls(**dict(data))

    def check(
        self,
        x_ch_names: Sequence[str] | None,
        sfreq: float,
        units: str,
        n_times: int | None = None,
    ) -> None:
        """Raise :class:`ContractError` naming every way the described input differs.

        ``x_ch_names`` may be ``None`` when the input carries no names; then
        only its count is compared (pass a list of the right length) -- it is
        an error if the contract itself names channels.  ``n_times=None``
        skips the window-length check (e.g. for continuous data).
        """
        problems: list[str] = []
        if x_ch_names is None:
            if self.ch_names is not None:
                problems.append(f"input has no channel names; expected {list(self.ch_names)}")
        else:
            problems.extend(self._channel_problems(list(x_ch_names)))
        if not math.isclose(float(sfreq), self.sfreq, rel_tol=1e-6):
            problems.append(f"sampling rate is {float(sfreq):g} Hz, expected {self.sfreq:g} Hz")
        if normalize_units(units) != self.units:
            problems.append(f"units are {units!r}, expected {self.units!r}")
        if n_times is not None and int(n_times) != self.n_times:
            problems.append(f"window length is {int(n_times)} samples, expected {self.n_times}")
        if problems:
            raise ContractError("input does not match the model contract: " + "; ".join(problems))

    def _channel_problems(self, names: list[str]) -> list[str]:
        if self.ch_names is None:
            if len(names) != self.n_chans:
                return [f"input has {len(names)} channels, expected {self.n_chans}"]
            return []
        expected = list(self.ch_names)
        if names == expected:
            return []
        missing = [n for n in expected if n not in names]
        extra = [n for n in names if n not in expected]
        problems = []
        if missing:
            problems.append(f"missing channels {missing}")
        if extra:
            problems.append(f"unexpected channels {extra}")
        if not missing and not extra:
            problems.append(f"channel order differs: got {names}, expected {expected}")
        return problems

    def adapt(self, data: np.ndarray, ch_names: Sequence[str], sfreq: float) -> np.ndarray:
        """Reorder channels and resample ``data`` to this contract.

        ``data`` has channels on axis -2 and time on axis -1 (``(n_chans,
        n_times)`` or ``(n_epochs, n_chans, n_times)``).  Channels named in
        the contract are picked in contract order (extra ones are dropped;
        names match case-insensitively when there is no exact match), then
        the signal is resampled from ``sfreq`` to the contract rate with
        :func:`mne.filter.resample` (FFT method, which low-passes at the new
        Nyquist).  Units and window length are left to the caller.
        """
        arr = np.asarray(data, dtype=np.float64)
        if arr.ndim < 2:
            raise DataError(None, f"data must have a channel and a time axis, got shape {arr.shape}")
        if not np.all(np.isfinite(arr)):
            raise DataError(None, "data contain NaN or Inf samples")
        names = [str(n) for n in ch_names]
        if len(names) != arr.shape[-2]:
            raise ContractError(f"{len(names)} channel names given for {arr.shape[-2]} channels in data")
        arr = arr[..., self._channel_order(names), :]
        if not math.isclose(float(sfreq), self.sfreq, rel_tol=1e-9):
            arr = mne.filter.resample(arr, up=self.sfreq / float(sfreq), down=1.0, axis=-1, verbose="error")
        return arr

    def _channel_order(self, names: list[str]) -> list[int]:
        if self.ch_names is None:
            if len(names) != self.n_chans:
                raise ContractError(f"input has {len(names)} channels, expected {self.n_chans}")
            return list(range(len(names)))
        exact = {n: i for i, n in enumerate(names)}
        folded: dict[str, list[int]] = {}
        for i, n in enumerate(names):
            folded.setdefault(n.lower(), []).append(i)
        order: list[int] = []
        missing: list[str] = []
        for want in self.ch_names:
            if want in exact:
                order.append(exact[want])
            elif len(folded.get(want.lower(), [])) == 1:
                order.append(folded[want.lower()][0])
            else:
                missing.append(want)
        if missing:
            raise ContractError(f"cannot adapt input: missing channels {missing} (input has {names})")
        return order
