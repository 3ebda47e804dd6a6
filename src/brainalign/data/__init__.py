"""Data layer: readers for every supported layout, one in-memory form (Recording),
splits and dataset construction."""

from brainalign.data.base import (
    Reader,
    RecordingRef,
    available_readers,
    detect_reader,
    get_reader,
    open_dataset,
    register_reader,
)
from brainalign.data.recording import Recording

__all__ = [
    "Reader",
    "Recording",
    "RecordingRef",
    "available_readers",
    "detect_reader",
    "get_reader",
    "open_dataset",
    "register_reader",
]
