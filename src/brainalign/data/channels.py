"""Channel names and types shared by the readers.

Recordings label the same electrode in many ways: ``"EEG Fp1"`` (EDF type prefix),
``"EEG FP1-REF"`` (TUH, reference suffix), ``"Fc5."`` (EEGMMIDB, dot padding),
``"T3"`` (old 10-20 name of ``T7``). :func:`canonical_channel_name` maps all of them
to one spelling, the 10-05 convention of MNE's standard montages (upper-case
position letters, lower-case ``z``, ``p`` in ``Fp`` and ``h``), so that models and
channel selections written once work on every dataset.
"""

from __future__ import annotations

import os
import re

import mne

from brainalign.errors import DataError

#: The 21 electrodes that EEG-CLIP / TUAB pipelines keep (10-20 system, new names).
STANDARD_1020_21: tuple[str, ...] = (
    "Fp1",
    "Fp2",
    "F7",
    "F3",
    "Fz",
    "F4",
    "F8",
    "T7",
    "C3",
    "Cz",
    "C4",
    "T8",
    "P7",
    "P3",
    "Pz",
    "P4",
    "P8",
    "O1",
    "O2",
    "A1",
    "A2",
)

#: Old 10-20 names (Jasper 1958) and their 10-10 replacements.
OLD_TO_NEW_1020: dict[str, str] = {"T3": "T7", "T4": "T8", "T5": "P7", "T6": "P8"}

# Ear and mastoid electrodes: used as references, so "A2-A1" is a derivation in its
# own right and keeps its "-A1".
_REFERENCE_ELECTRODES = frozenset({"A1", "A2", "M1", "M2"})
_EEG_PREFIX = re.compile(r"^EEG[\s:_-]+(?=\S)", re.IGNORECASE)
_REF_SUFFIX = re.compile(r"-(REF|LE|AR|AVG|AV|CAR)$", re.IGNORECASE)
_EAR_SUFFIX = re.compile(r"-(A1|A2|M1|M2)$", re.IGNORECASE)
# 10-05 position letters (longest first so that the split is unambiguous) followed by a
# number, optionally with the "h" of half positions, or by "z" on the midline.
_ELECTRODE = re.compile(
    r"^(AFF|AFP|FFC|FFT|FCC|FTT|CCP|CPP|TTP|TPP|PPO|POO|Fp|AF|FC|FT|CP|TP|PO|OI|"
    r"F|C|T|P|O|I|N|A|M)(\d+h?|z)$",
    re.IGNORECASE,
)
_TYPE_BY_NAME = (
    (re.compile(r"ECG|EKG", re.IGNORECASE), "ecg"),
    (re.compile(r"EOG", re.IGNORECASE), "eog"),
    (re.compile(r"EMG", re.IGNORECASE), "emg"),
    # trigger channels: the whole name, so that "Status" or "STI 014" match but a
    # "Trigeminal EMG" or a "Stim artefact" channel do not
    (re.compile(r"^\s*(STI\s?\d*|STIM(ULUS)?|TRIG(GER)?\s?\d*|STATUS|EVENTS?|MARKERS?)\s*$", re.IGNORECASE), "stim"),
)
#: units (as MNE's readers keep them in ``raw._orig_units``) of a voltage channel
_VOLTAGE_UNITS = frozenset({"V", "mV", "µV", "uV", "μV", "nV"})


def canonical_channel_name(name: str) -> str:
    """The standard spelling of a channel name.

    Strips dot padding and white space, the ``"EEG "`` type prefix and reference
    suffixes (``-REF``, ``-LE``, ``-AR``, ``-AVG``, and ``-A1``/``-A2``/``-M1``/``-M2``
    except on an ear or mastoid electrode, so ``"EEG A2-A1"`` stays ``"A2-A1"``);
    normalises the case of 10-05 electrode names (``"FP1"`` -> ``"Fp1"``,
    ``"Fcz"`` -> ``"FCz"``) and renames old 10-20 names (``T3`` -> ``T7``, ``T4`` ->
    ``T8``, ``T5`` -> ``P7``, ``T6`` -> ``P8``). A name that repeats its type
    (``"ECG ECG"``) collapses to one word. Other names come back stripped only.
    """
    out = name.strip().rstrip(".").strip()
    out = _EEG_PREFIX.sub("", out)
    words = out.split()
    if len(words) == 2 and words[0].upper() == words[1].upper():
        out = words[0]
    out = _REF_SUFFIX.sub("", out)
    ear = _EAR_SUFFIX.search(out)
    if ear and out[: ear.start()].upper() not in _REFERENCE_ELECTRODES:
        out = out[: ear.start()]
    match = _ELECTRODE.match(out)
    if match is None:
        return out
    letters, position = match.groups()
    letters = "Fp" if letters.upper() == "FP" else letters.upper()
    position = position.lower()
    out = letters + position
    return OLD_TO_NEW_1020.get(out, out)


def infer_channel_type(name: str) -> str | None:
    """``"ecg"``, ``"eog"`` or ``"emg"`` when the name says so (``"ECG ECG"``,
    ``"EKG1-REF"``, ``"EOG left"``, ``"HEOG"``), ``"stim"`` for a trigger channel
    (``"STI 014"``, ``"Trigger"``, ``"Status"``, ``"STIM"``), else None."""
    for pattern, ch_type in _TYPE_BY_NAME:
        if pattern.search(name):
            return ch_type
    return None


def retype_channels(raw: mne.io.BaseRaw) -> mne.io.BaseRaw:
    """Give the channels whose name says what they are (ECG, EOG, EMG, trigger) that
    type, when the format stored them as ``eeg`` (EDF, BDF, BrainVision) or as
    ``misc`` (BrainVision, for channels without electrode position). A ``misc``
    channel becomes ECG/EOG/EMG only when its unit is a voltage (its samples are then
    in volts); a trigger channel becomes ``stim`` whatever its unit. Changes ``raw``
    in place and returns it."""
    types = raw.get_channel_types()
    units = getattr(raw, "_orig_units", None) or {}
    mapping = {}
    for ch, current in zip(raw.ch_names, types):
        inferred = infer_channel_type(ch)
        if inferred is None or current not in ("eeg", "misc"):
            continue
        if current == "misc" and inferred != "stim" and units.get(ch) not in _VOLTAGE_UNITS:
            continue
        mapping[ch] = inferred
    if mapping:
        raw.set_channel_types(mapping, on_unit_change="ignore")
    return raw


def canonicalize_channels(raw: mne.io.BaseRaw, path: str | os.PathLike | None = None) -> mne.io.BaseRaw:
    """Rename the channels of ``raw`` (read from ``path``) with
    :func:`canonical_channel_name`, in place.

    Raises DataError naming ``path`` when two channels would get the same name.
    """
    mapping = {ch: canonical_channel_name(ch) for ch in raw.ch_names}
    new = list(mapping.values())
    if len(set(new)) != len(new):
        dupes = sorted({n for n in new if new.count(n) > 1})
        raise DataError(path, f"channels would share the names {dupes} after renaming to standard names")
    raw.rename_channels({old: n for old, n in mapping.items() if old != n})
    return raw


#: The 19 scalp electrodes of the international 10-20 system (eegmat's montage).
TEN_TWENTY_19 = list(STANDARD_1020_21[:19])  # the 21 less the ear references A1, A2
#: The 21 electrodes of the TUH EEG Corpus used by EEG-CLIP (10-20 names; the
#: recordings' "EEG FP1-REF", "EEG T3-LE"... map onto them through the aliases).
EEGCLIP_CHANNELS = [*TEN_TWENTY_19, "A1", "A2"]
#: The 17 occipital and parietal channels of the THINGS-EEG2 preprocessed release
#: (Gifford et al. 2022), in the release's order.
THINGS_EEG2_CHANNELS = [
    "Pz",
    "P3",
    "P7",
    "O1",
    "Oz",
    "O2",
    "P4",
    "P8",
    "P1",
    "P5",
    "PO7",
    "PO3",
    "POz",
    "PO4",
    "PO8",
    "P6",
    "P2",
]
