"""Declarative preprocessing steps.

A step is a small dataclass holding its parameters and one method,
``apply(rec) -> Recording``, that runs the matching MNE operation on a *copy* of
the signals it concerns (the caller's :class:`~brainalign.data.Recording` is never
modified). Steps serialise to plain dictionaries (``{"step": "Resample",
"sfreq": 100}``) so that a pipeline can be written to YAML/JSON, hashed, and
rebuilt exactly; :data:`STEPS` maps each step name to its class.

Conventions shared by every step:

* ``modality`` names the signal(s) a step acts on: one name (``"eeg"``, the
  default), a list of names, or ``"all"`` for every signal of the recording.
  Windowing steps act on ``"all"`` by default so that every modality is cut at
  the same times and stays aligned with the one trial table.
* Signals stay in volts inside MNE; thresholds given in µV are converted with
  the recording's declared unit. Conversion to µV happens once, when the
  pipeline extracts :class:`~brainalign.preprocessing.pipeline.Windows`.
* ``rec.trials`` always has one row per trial; once a recording is windowed it
  has exactly one row per epoch, in epoch order (the pipeline relies on this).
  Trial ``onset`` is in seconds from the start of the *current* data and is
  shifted when the data are cropped.
* Bad input raises :class:`~brainalign.errors.DataError` naming the recording's
  source file and the problem.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import mne
import numpy as np
import pandas as pd

from brainalign.data.recording import UNIT_SCALE, Recording
from brainalign.errors import ConfigError, DataError

Signal = mne.io.BaseRaw | mne.BaseEpochs

#: step name -> class; filled by :func:`register_step`
STEPS: dict[str, type[Step]] = {}


class NoWindows(DataError):
    """A recording yields no window (e.g. it holds none of the selected events).
    Fatal for a single recording; a dataset skips that recording with a warning."""


def register_step(cls: type[Step]) -> type[Step]:
    """Class decorator: make ``cls`` buildable from ``{"step": cls.__name__, ...}``."""
    STEPS[cls.__name__] = cls
    return cls


def where(rec: Recording) -> str:
    """What a DataError about ``rec`` names: its first source file, else its id."""
    return str(rec.source[0]) if rec.source else rec.id


def _data_picks(inst: Signal) -> np.ndarray:
    """Indices of every channel except stimulus/trigger channels."""
    types = inst.get_channel_types()
    return np.array([i for i, t in enumerate(types) if t != "stim"], dtype=int)


def _loaded_copy(inst: Signal) -> Signal:
    """A preloaded copy, so that MNE's in-place methods leave the caller's object alone."""
    out = inst.copy()
    if not out.preload:
        out.load_data()
    return out


def _map_data(inst: Signal, fun: Callable[[np.ndarray], np.ndarray]) -> Signal:
    """Apply ``fun`` to the whole data array of the non-stim channels of a loaded copy:
    ``(channels, times)`` for Raw, ``(epochs, channels, times)`` for Epochs."""
    out = _loaded_copy(inst)
    out.apply_function(fun, picks=_data_picks(out), channel_wise=False)
    return out


def _uv_to_stored(rec: Recording, modality: str, value_uv: float, what: str) -> float:
    """Convert a threshold in µV to the unit the signal is stored in."""
    unit = rec.units.get(modality, "V")
    if unit not in UNIT_SCALE:
        raise DataError(where(rec), f"{what} is given in µV but the {modality!r} signal is in {unit!r}")
    return value_uv * UNIT_SCALE[unit] / UNIT_SCALE["uV"]


def _crop_trials(trials: pd.DataFrame | None, tmin: float, tmax: float | None) -> pd.DataFrame | None:
    """Keep trials whose onset lies in ``[tmin, tmax)`` and shift them by ``-tmin``.
    Trials without an onset (NaN) are kept unchanged."""
    if trials is None or "onset" not in trials:
        return trials
    onset = trials["onset"].astype(float)
    keep = onset.isna() | ((onset >= tmin) & ((onset < tmax) if tmax is not None else True))
    out = trials.loc[keep].copy()
    out["onset"] = out["onset"].astype(float) - tmin
    return out.reset_index(drop=True)


@dataclass(kw_only=True)
class Step:
    """Base class of all steps. Subclasses implement :meth:`transform` (one signal)
    or override :meth:`apply` (steps that also change the trial table)."""

    modality: str | list[str] = "eeg"

    #: "any", "raw" (continuous only) or "epochs" (epoched only)
    accepts: ClassVar[str] = "any"

    # ---------------------------------------------------------------- running
    def modalities(self, rec: Recording) -> list[str]:
        """The signal modalities of ``rec`` this step acts on; DataError if one is absent."""
        if self.modality == "all":
            return list(rec.signals)
        names = [self.modality] if isinstance(self.modality, str) else list(self.modality)
        missing = [m for m in names if m not in rec.signals]
        if missing:
            raise DataError(
                where(rec),
                f"{type(self).__name__}: no {', '.join(map(repr, missing))} signal "
                f"(has {', '.join(sorted(rec.signals))})",
            )
        return names

    def targets(self, rec: Recording) -> list[str]:
        """:meth:`modalities`, after checking each is continuous or epoched as
        :attr:`accepts` requires (DataError otherwise)."""
        mods = self.modalities(rec)
        for mod in mods:
            is_epochs = isinstance(rec.signals[mod], mne.BaseEpochs)
            if self.accepts == "raw" and is_epochs:
                raise DataError(
                    where(rec), f"{type(self).__name__} needs continuous data; the {mod!r} signal is already epoched"
                )
            if self.accepts == "epochs" and not is_epochs:
                raise DataError(
                    where(rec),
                    f"{type(self).__name__} needs epoched data; the {mod!r} "
                    "signal is continuous (add a Window or EventWindow step first)",
                )
        return mods

    def apply(self, rec: Recording) -> Recording:
        """Return a new Recording with :meth:`transform` applied to each concerned signal."""
        signals = dict(rec.signals)
        for mod in self.targets(rec):
            signals[mod] = self.transform(rec, mod, rec.signals[mod])
        return dataclasses.replace(rec, signals=signals)

    def transform(self, rec: Recording, modality: str, inst: Signal) -> Signal:  # pragma: no cover
        """Process one signal; return a new MNE object."""
        raise NotImplementedError

    # ---------------------------------------------------------- serialisation
    def to_dict(self) -> dict[str, Any]:
        """``{"step": name, **parameters}``; lists stay lists, so YAML/JSON round-trips."""
        out: dict[str, Any] = {"step": type(self).__name__}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            out[f.name] = list(value) if isinstance(value, tuple) else value
        return out

    @staticmethod
    def from_dict(spec: dict[str, Any]) -> Step:
        """Build a step from :meth:`to_dict` output; ConfigError on an unknown step or
        parameter (a misspelt key must not be silently ignored)."""
        spec = dict(spec)
        name = spec.pop("step", None)
        if name not in STEPS:
            raise ConfigError(f"unknown preprocessing step {name!r}; known: {', '.join(sorted(STEPS))}")
        cls = STEPS[name]
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(spec) - known)
        if unknown:
            raise ConfigError(f"{name}: unknown parameter(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        try:
            return cls(**spec)
        except TypeError as err:
            raise ConfigError(f"{name}: {err}") from None


# =================================================================== channels
@register_step
@dataclass
class PickChannels(Step):
    """Keep ``channels`` in the given order, renamed to their standard names.

    Both the recording's names and the requested ones go through
    :func:`brainalign.data.channels.canonical_channel_name` (``"EEG Fp1-LE"`` ->
    ``"Fp1"``, ``"T3"`` -> ``"T7"``), so one list serves every montage naming.
    ``on_missing="raise"`` raises DataError listing the missing channels;
    ``"ignore"`` keeps those present.
    """

    channels: list[str]
    on_missing: Literal["raise", "ignore"] = "raise"

    def __post_init__(self) -> None:
        if self.on_missing not in ("raise", "ignore"):
            raise ConfigError(f"PickChannels: on_missing must be 'raise' or 'ignore', not {self.on_missing!r}")
        if not self.channels:
            raise ConfigError("PickChannels: no channels given")

    def transform(self, rec: Recording, modality: str, inst: Signal) -> Signal:
        from brainalign.data.channels import canonical_channel_name

        wanted = [canonical_channel_name(c) for c in self.channels]
        sources: dict[str, list[str]] = {}
        for name in inst.ch_names:
            sources.setdefault(canonical_channel_name(name), []).append(name)
        ambiguous = {w: sources[w] for w in wanted if len(sources.get(w, [])) > 1}
        if ambiguous:
            detail = "; ".join(f"{w} <- {', '.join(s)}" for w, s in ambiguous.items())
            raise DataError(where(rec), f"several channels map to the same standard name: {detail}")
        missing = [w for w in wanted if w not in sources]
        if missing and self.on_missing == "raise":
            raise DataError(
                where(rec),
                f"missing required channels {', '.join(missing)} (has {', '.join(inst.ch_names)})",
            )
        keep = [sources[w][0] for w in wanted if w in sources]
        if not keep:
            raise DataError(where(rec), f"none of the channels {', '.join(wanted)} is present")
        out = inst.copy().reorder_channels(keep)
        out.rename_channels({src: canonical_channel_name(src) for src in keep})
        return out


@register_step
@dataclass
class Rereference(Step):
    """Re-reference EEG to the channel average (``"average"``) or to the mean of
    the listed channels (MNE ``set_eeg_reference``, applied, not as a projector)."""

    ref: str | list[str] = "average"

    def transform(self, rec: Recording, modality: str, inst: Signal) -> Signal:
        out = _loaded_copy(inst)
        out.set_eeg_reference(ref_channels=self.ref, projection=False)
        return out


# ======================================================================= time
@register_step
@dataclass
class DropStart(Step):
    """Drop the first ``seconds`` of continuous data (settling, calibration)."""

    seconds: float
    accepts: ClassVar[str] = "raw"

    def apply(self, rec: Recording) -> Recording:
        rec = super().apply(rec)
        return dataclasses.replace(rec, trials=_crop_trials(rec.trials, self.seconds, None))

    def transform(self, rec: Recording, modality: str, inst: Signal) -> Signal:
        duration = inst.n_times / inst.info["sfreq"]
        if self.seconds >= duration:
            raise DataError(where(rec), f"recording lasts {duration:g} s, not more than the {self.seconds:g} s to drop")
        return inst.copy().crop(tmin=self.seconds)


@register_step
@dataclass
class Crop(Step):
    """Keep ``[tmin, tmax)`` seconds (``tmax`` or ``tmin + duration``; neither: to the end).

    Continuous data shorter than ``tmax`` are kept to their end. On epochs the
    window is relative to each epoch's time zero and the end is inclusive when it
    falls on a sample, as MNE's ``Epochs.crop`` does.
    """

    tmin: float = 0.0
    tmax: float | None = None
    duration: float | None = None

    def __post_init__(self) -> None:
        if self.tmax is not None and self.duration is not None:
            raise ConfigError("Crop: give tmax or duration, not both")

    @property
    def end(self) -> float | None:
        return self.tmin + self.duration if self.duration is not None else self.tmax

    def apply(self, rec: Recording) -> Recording:
        out = super().apply(rec)
        if rec.is_epoched:
            return out
        return dataclasses.replace(out, trials=_crop_trials(out.trials, self.tmin, self.end))

    def transform(self, rec: Recording, modality: str, inst: Signal) -> Signal:
        end = self.end
        if isinstance(inst, mne.BaseEpochs):
            return _loaded_copy(inst).crop(tmin=self.tmin, tmax=end)
        duration = inst.n_times / inst.info["sfreq"]
        if self.tmin >= duration:
            raise DataError(where(rec), f"recording lasts {duration:g} s; nothing left after {self.tmin:g} s")
        if end is None or end >= duration:  # to the end, last sample included
            return inst.copy().crop(tmin=self.tmin)
        return inst.copy().crop(tmin=self.tmin, tmax=end, include_tmax=False)


@register_step
@dataclass
class Resample(Step):
    """Resample to ``sfreq`` Hz with MNE's polyphase method (anti-alias FIR).

    Not MNE's default FFT method: with its automatic padding (MNE 1.13) it shifted a
    5 Hz sine resampled 250 -> 100 Hz by about half an output sample, where the
    polyphase result matches the sine to 0.2 % away from the edges.
    """

    sfreq: float

    def transform(self, rec: Recording, modality: str, inst: Signal) -> Signal:
        if math.isclose(inst.info["sfreq"], self.sfreq):
            return inst.copy()
        return _loaded_copy(inst).resample(self.sfreq, method="polyphase")


# ================================================================== filtering
@register_step
@dataclass
class Filter(Step):
    """Band-, high- or low-pass FIR filter (MNE defaults: zero-phase, hamming window)."""

    l_freq: float | None = None
    h_freq: float | None = None

    def __post_init__(self) -> None:
        if self.l_freq is None and self.h_freq is None:
            raise ConfigError("Filter: give l_freq, h_freq or both")

    def transform(self, rec: Recording, modality: str, inst: Signal) -> Signal:
        out = _loaded_copy(inst)
        out.filter(self.l_freq, self.h_freq, picks=_data_picks(out))
        return out


@register_step
@dataclass
class Notch(Step):
    """Notch out line noise at ``freqs`` Hz (and any harmonics listed)."""

    freqs: list[float]

    def transform(self, rec: Recording, modality: str, inst: Signal) -> Signal:
        freqs = np.asarray(self.freqs, dtype=float)
        freqs = freqs[freqs < inst.info["sfreq"] / 2]  # harmonics above Nyquist do not exist
        if freqs.size == 0:
            return inst.copy()
        if isinstance(inst, mne.io.BaseRaw):
            out = _loaded_copy(inst)
            out.notch_filter(freqs, picks=_data_picks(out))
            return out
        sfreq = inst.info["sfreq"]
        return _map_data(inst, lambda x: mne.filter.notch_filter(x, sfreq, freqs, verbose=False))


# ================================================================ amplitudes
@register_step
@dataclass
class Clip(Step):
    """Clip samples to ``±abs_uv`` µV (large artefacts would dominate training)."""

    abs_uv: float = 800.0

    def transform(self, rec: Recording, modality: str, inst: Signal) -> Signal:
        bound = _uv_to_stored(rec, modality, self.abs_uv, "Clip threshold")
        return _map_data(inst, lambda x: np.clip(x, -bound, bound))


@register_step
@dataclass
class Standardize(Step):
    """Standardise each channel.

    ``method="recording"``: z-score with the channel's mean and standard deviation
    over the whole recording (all epochs and times for epoched data).
    ``method="exponential"``: exponential moving standardisation (Schirrmeister et
    al. 2017), via braindecode's ``exponential_moving_standardize``; on epochs it
    runs on each epoch separately. Statistics and ``eps`` are in µV (in the
    signal's own unit when it has no physical one). The unit becomes ``"a.u."``.
    """

    method: Literal["recording", "exponential"] = "recording"
    factor_new: float = 1e-3
    init_block_size: int | None = 1000
    eps: float = 1e-4

    def __post_init__(self) -> None:
        if self.method not in ("recording", "exponential"):
            raise ConfigError(f"Standardize: method must be 'recording' or 'exponential', not {self.method!r}")

    def apply(self, rec: Recording) -> Recording:
        out = super().apply(rec)
        return dataclasses.replace(out, units={**rec.units, **{m: "a.u." for m in self.modalities(rec)}})

    def transform(self, rec: Recording, modality: str, inst: Signal) -> Signal:
        # work in µV so that ``eps`` means the same for every recording (EEG in volts
        # has a std of ~1e-5, below any sensible eps)
        unit = rec.units.get(modality, "V")
        to_uv = UNIT_SCALE["uV"] / UNIT_SCALE[unit] if unit in UNIT_SCALE else 1.0
        if self.method == "recording":
            eps = self.eps

            def zscore(x: np.ndarray) -> np.ndarray:
                x = x * to_uv
                axes = tuple(i for i in range(x.ndim) if i != x.ndim - 2)  # all but channels
                mean = x.mean(axis=axes, keepdims=True)
                std = x.std(axis=axes, keepdims=True)
                return (x - mean) / np.maximum(std, eps)

            return _map_data(inst, zscore)

        from braindecode.preprocessing import exponential_moving_standardize

        kwargs = dict(factor_new=self.factor_new, init_block_size=self.init_block_size, eps=self.eps)

        def ems(x: np.ndarray) -> np.ndarray:
            x = x * to_uv
            if x.ndim == 2:
                return exponential_moving_standardize(x, **kwargs)
            return np.stack([exponential_moving_standardize(e, **kwargs) for e in x])

        return _map_data(inst, ems)


# ===================================================================== checks
@register_step
@dataclass
class CheckRate(Step):
    """Raise DataError unless the sampling rate is ``sfreq`` Hz (within ``tol`` Hz)."""

    sfreq: float
    tol: float = 1e-6

    def transform(self, rec: Recording, modality: str, inst: Signal) -> Signal:
        actual = float(inst.info["sfreq"])
        if abs(actual - self.sfreq) > self.tol:
            raise DataError(where(rec), f"{modality} sampled at {actual:g} Hz, expected {self.sfreq:g} Hz")
        return inst


@register_step
@dataclass
class CheckFinite(Step):
    """Raise DataError naming the channels that hold NaN or infinite samples."""

    def transform(self, rec: Recording, modality: str, inst: Signal) -> Signal:
        data = inst.get_data()
        finite = np.isfinite(data).all(axis=tuple(i for i in range(data.ndim) if i != data.ndim - 2))
        if not finite.all():
            bad = [inst.ch_names[i] for i in np.flatnonzero(~finite)]
            raise DataError(where(rec), f"non-finite samples (NaN/Inf) in channel(s) {', '.join(bad)}")
        return inst


# ================================================================== windowing
def _epochs_at(inst: mne.io.BaseRaw, events: np.ndarray, offset: int, n_samples: int) -> mne.BaseEpochs:
    """Epochs of ``n_samples`` samples starting ``offset`` samples from each event,
    events given as sample indices from the data start. Callers pass only epochs
    that fit, so rows stay aligned with ``events``.

    The samples are sliced from the raw array in one indexing operation and wrapped
    in an ``EpochsArray``: the same values, times and events as ``mne.Epochs(...,
    baseline=None, proj=False, preload=True)``, whose per-epoch reading loop took a
    third of the time of preprocessing eegmat (profiled: bench_preprocess)."""
    sfreq = inst.info["sfreq"]
    events = np.asarray(events, dtype=int)
    if len(events) and (events.min() + offset < 0 or events.max() + offset + n_samples > inst.n_times):
        raise RuntimeError("windows outside the recording")  # pragma: no cover - guarded by the callers' bounds
    mne_events = np.column_stack(
        [events + inst.first_samp, np.zeros(len(events), int), np.ones(len(events), int)]
    ).astype(int)
    data = inst.get_data()
    samples = data[:, events[:, None] + offset + np.arange(n_samples)]  # (channels, epochs, times)
    return mne.EpochsArray(
        np.ascontiguousarray(samples.transpose(1, 0, 2)),
        inst.info,
        events=mne_events,
        tmin=offset / sfreq,
        event_id={"window": 1},
        baseline=None,
        proj=False,
        verbose="error",
    )


def _window_table(rows: pd.DataFrame | None, n: int, starts_s: np.ndarray) -> pd.DataFrame:
    """Trial table of ``n`` windows: ``rows`` (one per window) or recording-level fields,
    with ``start`` = first sample's time in seconds from the source recording's start."""
    table = pd.DataFrame(index=range(n)) if rows is None else rows.reset_index(drop=True).copy()
    table = table.drop(columns=["onset"], errors="ignore")
    table["start"] = starts_s
    return table


@register_step
@dataclass
class Window(Step):
    """Cut continuous data into fixed windows of ``length_s`` every ``stride_s`` seconds.

    The last partial window is dropped. Each window's ``label`` is the recording's
    ``metadata[label_key]`` (e.g. rest/task for a block recording) and its text the
    recording's text, so that labels need no separate bookkeeping.

    ``within_trials``: cut windows inside each labelled trial ``[onset, onset +
    duration)`` instead (e.g. the film clips of an emotion set), each window taking
    its trial's columns (label, scores). ``last_s`` keeps only the windows inside the
    last seconds of each trial, or of the recording when not ``within_trials`` (e.g. the
    last 60 s of a rest recording, next to a 60 s task).
    """

    length_s: float
    stride_s: float | None = None
    label_key: str = "label"
    within_trials: bool = False
    last_s: float | None = None
    modality: str | list[str] = field(default="all", kw_only=True)
    accepts: ClassVar[str] = "raw"

    def _trial_starts(self, rec: Recording) -> tuple[np.ndarray, pd.DataFrame]:
        """Window starts (s) inside each labelled trial, and the trial row of each."""
        t = rec.trials
        if t is None or not {"onset", "duration", "label"} <= set(t.columns):
            raise DataError(where(rec), "Window(within_trials=True) needs trials with onset, duration and label")
        t = t[t["onset"].notna() & t["duration"].notna() & t["label"].notna()]
        stride = self.stride_s or self.length_s
        starts, rows = [], []
        for i, (onset, duration) in enumerate(zip(t["onset"].to_numpy(float), t["duration"].to_numpy(float))):
            begin = onset if self.last_s is None else max(onset, onset + duration - self.last_s)
            s = np.arange(begin, onset + duration - self.length_s + 1e-9, stride)
            starts.append(s)
            rows.extend([i] * len(s))
        starts_s = np.concatenate(starts) if starts else np.zeros(0)
        return starts_s, t.iloc[rows].reset_index(drop=True)

    def apply(self, rec: Recording) -> Recording:
        mods = self.targets(rec)
        if self.within_trials:
            return self._apply_within_trials(rec, mods)
        # one time grid for all modalities: the shortest signal decides how many fit
        starts_s: np.ndarray | None = None
        duration = np.inf
        for mod in mods:
            inst = rec.signals[mod]
            sfreq = inst.info["sfreq"]
            duration = min(duration, inst.n_times / sfreq)
            n_win, n_stride = round(self.length_s * sfreq), round((self.stride_s or self.length_s) * sfreq)
            if n_win < 1 or n_stride < 1:
                raise ConfigError(f"Window: length {self.length_s} s / stride {self.stride_s} s is under one sample")
            s = np.arange(0, inst.n_times - n_win + 1, n_stride) / sfreq
            starts_s = s if starts_s is None or len(s) < len(starts_s) else starts_s
        assert starts_s is not None
        if self.last_s is not None:
            starts_s = starts_s[starts_s >= duration - self.last_s - 1e-9]
        if len(starts_s) == 0:
            raise DataError(where(rec), f"recording is shorter than one {self.length_s:g} s window")
        signals = dict(rec.signals)
        for mod in mods:
            inst = rec.signals[mod]
            sfreq = inst.info["sfreq"]
            starts = np.round(starts_s * sfreq).astype(int)
            signals[mod] = _epochs_at(inst, starts, 0, round(self.length_s * sfreq))
        first = rec.signals[mods[0]]
        table = _window_table(None, len(starts_s), starts_s + first.first_time)
        table["label"] = rec.metadata.get(self.label_key)
        table["text"] = rec.text
        return dataclasses.replace(rec, signals=signals, trials=table)

    def _apply_within_trials(self, rec: Recording, mods: list[str]) -> Recording:
        starts_s, rows = self._trial_starts(rec)
        fits = np.ones(len(starts_s), dtype=bool)
        for mod in mods:
            inst = rec.signals[mod]
            sfreq = inst.info["sfreq"]
            fits &= np.round(starts_s * sfreq) + round(self.length_s * sfreq) <= inst.n_times
        starts_s, rows = starts_s[fits], rows[fits].reset_index(drop=True)
        if len(starts_s) == 0:
            raise NoWindows(where(rec), f"no labelled trial holds a whole {self.length_s:g} s window")
        signals = dict(rec.signals)
        for mod in mods:
            inst = rec.signals[mod]
            sfreq = inst.info["sfreq"]
            signals[mod] = _epochs_at(inst, np.round(starts_s * sfreq).astype(int), 0, round(self.length_s * sfreq))
        table = _window_table(rows, len(starts_s), starts_s + rec.signals[mods[0]].first_time)
        return dataclasses.replace(rec, signals=signals, trials=table)


@register_step
@dataclass
class EventWindow(Step):
    """Epoch continuous data over ``[tmin, tmax)`` seconds around each trial onset
    (half-open, so -0.1..0.6 s at 100 Hz is exactly 70 samples).

    ``labels``: keep only trials whose ``label`` is listed (all trials with an
    onset otherwise). Trials whose window would run past either end of the
    recording are dropped. ``baseline``: ``[start, end]`` seconds for MNE's
    baseline correction, or None.
    """

    tmin: float
    tmax: float
    labels: list[Any] | None = None
    baseline: list[float | None] | None = None
    modality: str | list[str] = field(default="all", kw_only=True)
    accepts: ClassVar[str] = "raw"

    def __post_init__(self) -> None:
        if self.tmax <= self.tmin:
            raise ConfigError(f"EventWindow: tmax ({self.tmax}) must be after tmin ({self.tmin})")

    def apply(self, rec: Recording) -> Recording:
        mods = self.targets(rec)
        if rec.trials is None or "onset" not in rec.trials or rec.trials["onset"].isna().all():
            raise DataError(where(rec), "EventWindow needs trials with onsets; this recording has none")
        trials = rec.trials[rec.trials["onset"].notna()]
        if self.labels is not None:
            trials = trials[trials["label"].isin(self.labels)]
        onset = trials["onset"].to_numpy(float)
        keep = np.ones(len(trials), dtype=bool)
        for mod in mods:
            s0, n, events = self._samples(rec.signals[mod], onset)
            keep &= (events + s0 >= 0) & (events + s0 + n <= rec.signals[mod].n_times)
        trials, onset = trials[keep], onset[keep]
        if len(trials) == 0:
            raise NoWindows(
                where(rec),
                f"no trial{' with label in ' + str(self.labels) if self.labels else ''} "
                f"has a full {self.tmin:g}..{self.tmax:g} s window inside the recording",
            )
        signals = dict(rec.signals)
        for mod in mods:
            s0, n, events = self._samples(rec.signals[mod], onset)
            epochs = _epochs_at(rec.signals[mod], events, s0, n)
            if self.baseline is not None:
                epochs.apply_baseline(tuple(self.baseline))
            signals[mod] = epochs
        first = rec.signals[mods[0]]
        s0, _, events = self._samples(first, onset)
        starts_s = (events + s0) / first.info["sfreq"] + first.first_time
        table = _window_table(trials, len(trials), starts_s)
        return dataclasses.replace(rec, signals=signals, trials=table)

    def _samples(self, inst: mne.io.BaseRaw, onset: np.ndarray) -> tuple[int, int, np.ndarray]:
        """(offset of the first sample from the event, samples per epoch, event samples)
        on ``inst``'s sample grid."""
        sfreq = inst.info["sfreq"]
        s0 = round(self.tmin * sfreq)
        return s0, round(self.tmax * sfreq) - s0, np.round(onset * sfreq).astype(int)


@register_step
@dataclass
class AverageRepetitions(Step):
    """Average the epochs that share a value of the trial column ``by`` (e.g. the
    repetitions of one image), one output epoch per value in order of first
    appearance, with an ``n_repetitions`` column. Trials with no value are dropped."""

    by: str = "image"
    modality: str | list[str] = field(default="all", kw_only=True)
    accepts: ClassVar[str] = "epochs"

    def apply(self, rec: Recording) -> Recording:
        mods = self.targets(rec)
        if rec.trials is None or self.by not in rec.trials:
            raise DataError(where(rec), f"AverageRepetitions: trials have no {self.by!r} column")
        trials = rec.trials.reset_index(drop=True)
        keys = trials[self.by]
        valid = keys.notna().to_numpy()
        codes, uniques = pd.factorize(keys[valid], sort=False)
        rows = np.flatnonzero(valid)
        signals = dict(rec.signals)
        for mod in mods:
            inst = rec.signals[mod]
            if len(inst) != len(trials):
                raise DataError(where(rec), f"{len(inst)} {mod} epochs but {len(trials)} trials")
            data = inst.get_data()[rows]
            sums = np.zeros((len(uniques),) + data.shape[1:])
            np.add.at(sums, codes, data)
            means = sums / np.bincount(codes, minlength=len(uniques))[:, None, None]
            signals[mod] = mne.EpochsArray(means, inst.info, tmin=inst.tmin, baseline=None, verbose="error")
        first_rows = rows[np.unique(codes, return_index=True)[1]]
        table = trials.iloc[first_rows].reset_index(drop=True)
        table["n_repetitions"] = np.bincount(codes, minlength=len(uniques))
        return dataclasses.replace(rec, signals=signals, trials=table)
