"""Reader: xdf, a folder of Lab Streaming Layer recordings (``.xdf``, ``.xdfz``), one
Recording per file, read by :func:`brainalign.data.xdf.read_xdf` (see there for the
streams, markers and checks)."""

from __future__ import annotations

from pathlib import Path

from brainalign.data.base import RecordingRef, register_reader
from brainalign.data.readers.generic import GenericReader, raw_files
from brainalign.data.recording import Recording
from brainalign.data.xdf import is_xdf, read_xdf


# ------------------------------------------------------------------- reader
@register_reader
class XdfReader(GenericReader):
    """A folder of XDF recordings (up to four folder levels down), one Recording
    per file. Parameters as :class:`~brainalign.data.readers.generic.GenericReader`
    (``subject_regex``); a folder mixing XDF and other formats is the generic
    reader's, which reads XDF files through :func:`read_xdf` too."""

    name = "xdf"
    modalities = ("eeg",)
    version = 1
    catch_all = False  # a specific layout (only XDF files), unlike the generic reader it extends

    @classmethod
    def detect(cls, root: Path) -> bool:
        """True when ``root`` holds XDF files and no other raw format."""
        root = Path(root)
        if not root.is_dir():
            return False
        kinds = {is_xdf(p) for p in raw_files(root)}
        return kinds == {True}

    def refs(self) -> list[RecordingRef]:
        return [ref for ref in super().refs() if is_xdf(ref.paths[0])]

    def load(self, ref: RecordingRef) -> Recording:
        return read_xdf(ref.paths[0], subject=ref.subject)

    def n_trials(self, refs: list[RecordingRef]) -> int:
        """Markers within the EEG span (each file is read)."""
        return sum(len(self.load(ref).trials) for ref in refs)
