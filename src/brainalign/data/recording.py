"""The one in-memory form that every reader returns.

A :class:`Recording` holds, for one recording (or one block of trials):

* ``signals``: one MNE object per signal modality (``"eeg"``, ``"ecg"``...), either
  continuous (:class:`mne.io.BaseRaw`) or epoched (:class:`mne.BaseEpochs`).
  Data inside MNE objects are in volts, as MNE expects; ``units`` says so per
  modality (a dataset distributed already standardised says ``"a.u."``).
* ``trials``: a :class:`pandas.DataFrame`, one row per event or trial, with at least
  ``onset`` (seconds from the start, ``NaN`` for epoched data) and ``label``;
  optional columns ``image`` (path of the paired stimulus image), ``text``
  (paired text), ``duration``, ``description``.
* ``metadata``: subject, session, run, age, sex, task and anything else the source has.
* ``text``: a recording-level text (a clinical report, a description generated from
  metadata...).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mne
import numpy as np
import pandas as pd

SIGNAL_MODALITIES = ("eeg", "ecg", "eog", "emg", "misc")
#: factor from volts to each unit (data are held in volts)
UNIT_SCALE = {"V": 1.0, "mV": 1e3, "uV": 1e6, "µV": 1e6}


@dataclass
class Recording:
    signals: dict[str, mne.io.BaseRaw | mne.BaseEpochs]
    subject: str
    dataset: str
    source: tuple[Path, ...] = ()
    session: str | None = None
    run: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    text: str | None = None
    trials: pd.DataFrame | None = None
    units: dict[str, str] = field(default_factory=dict)

    # ------------------------------------------------------------------ access
    @property
    def id(self) -> str:
        parts = [self.dataset, f"sub-{self.subject}"]
        if self.session is not None:
            parts.append(f"ses-{self.session}")
        if self.run is not None:
            parts.append(f"run-{self.run}")
        return "_".join(parts)

    @property
    def eeg(self) -> mne.io.BaseRaw | mne.BaseEpochs:
        return self.signals["eeg"]

    def signal(self, modality: str = "eeg") -> mne.io.BaseRaw | mne.BaseEpochs:
        try:
            return self.signals[modality]
        except KeyError:
            raise KeyError(f"{self.id} has no {modality!r} signal (has {sorted(self.signals)})") from None

    @property
    def sfreq(self) -> float:
        return float(self.signal(self.primary).info["sfreq"])

    @property
    def primary(self) -> str:
        return "eeg" if "eeg" in self.signals else next(iter(self.signals))

    @property
    def ch_names(self) -> list[str]:
        return list(self.signal(self.primary).ch_names)

    @property
    def ch_types(self) -> list[str]:
        return list(self.signal(self.primary).get_channel_types())

    @property
    def is_epoched(self) -> bool:
        return isinstance(self.signal(self.primary), mne.BaseEpochs)

    @property
    def duration(self) -> float:
        sig = self.signal(self.primary)
        if isinstance(sig, mne.BaseEpochs):
            return float(len(sig) * (sig.tmax - sig.tmin + 1 / sig.info["sfreq"]))
        return float(sig.n_times / sig.info["sfreq"])

    def get_data(self, modality: str | None = None, units: str = "uV") -> np.ndarray:
        """Signals as float32: ``(channels, times)`` for continuous data,
        ``(trials, channels, times)`` for epochs, in ``units`` ("V", "mV", "uV")
        when the stored unit is volts."""
        modality = modality or self.primary
        sig = self.signal(modality)
        data = sig.get_data()
        if self.units.get(modality, "V") == "V":
            data = data * UNIT_SCALE[units]
        return data.astype(np.float32, copy=False)

    @property
    def n_trials(self) -> int:
        return 0 if self.trials is None else int(len(self.trials))

    @property
    def images(self) -> list[Path]:
        if self.trials is None or "image" not in self.trials:
            return []
        vals = self.trials["image"].dropna().unique().tolist()
        return [Path(v) for v in vals]

    @property
    def modalities(self) -> list[str]:
        mods = [m for m in SIGNAL_MODALITIES if m in self.signals]
        if self.images:
            mods.append("image")
        has_trial_text = self.trials is not None and "text" in self.trials and self.trials["text"].notna().any()
        if self.text or has_trial_text:
            mods.append("text")
        return mods

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "subject": self.subject,
            "session": self.session,
            "run": self.run,
            "sfreq": self.sfreq,
            "n_channels": len(self.ch_names),
            "duration_s": round(self.duration, 3),
            "n_trials": self.n_trials,
            "modalities": self.modalities,
            "source": [str(p) for p in self.source],
        }

    def __repr__(self) -> str:
        return (
            f"<Recording {self.id} | {len(self.ch_names)} ch @ {self.sfreq:g} Hz, "
            f"{self.duration:.1f} s, {self.n_trials} trials, modalities={self.modalities}>"
        )


def split_modalities(inst: mne.io.BaseRaw | mne.BaseEpochs) -> dict[str, mne.io.BaseRaw | mne.BaseEpochs]:
    """One MNE object per signal modality (``SIGNAL_MODALITIES``) among ``inst``'s
    channel types, so that readers fill :attr:`Recording.signals` alike.

    Channels of other types (stim, resp, ...) are left out. When every channel has
    one modality, ``inst`` itself is returned (no copy).
    """
    types = inst.get_channel_types()
    present = [m for m in SIGNAL_MODALITIES if m in types]
    if len(present) == 1 and set(types) == {present[0]}:
        return {present[0]: inst}
    return {m: inst.copy().pick(m) for m in present}
