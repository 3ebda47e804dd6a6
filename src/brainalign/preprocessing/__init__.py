"""Preprocessing: declarative steps wrapping MNE, pipelines that turn Recordings into
:class:`Windows`, named presets, and an on-disk window cache."""

from brainalign.preprocessing.cache import cache_key, cached_windows, file_identity
from brainalign.preprocessing.pipeline import (
    PREPROCESSING_VERSION,
    Pipeline,
    Windows,
    align_windows,
)
from brainalign.preprocessing.presets import PRESETS, available_presets, get_preset
from brainalign.preprocessing.steps import (
    STEPS,
    AverageRepetitions,
    CheckFinite,
    CheckRate,
    Clip,
    Crop,
    DropStart,
    EventWindow,
    Filter,
    Notch,
    PickChannels,
    Rereference,
    Resample,
    Standardize,
    Step,
    Window,
    register_step,
)

__all__ = [
    "align_windows",
    "PREPROCESSING_VERSION",
    "PRESETS",
    "STEPS",
    "AverageRepetitions",
    "CheckFinite",
    "CheckRate",
    "Clip",
    "Crop",
    "DropStart",
    "EventWindow",
    "Filter",
    "Notch",
    "PickChannels",
    "Pipeline",
    "Rereference",
    "Resample",
    "Standardize",
    "Step",
    "Window",
    "Windows",
    "available_presets",
    "cache_key",
    "cached_windows",
    "file_identity",
    "get_preset",
    "register_step",
]
