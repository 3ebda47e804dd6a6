"""Writers of small files in lab formats, for tests: BrainVision (written here
byte by byte, following the BrainVision Core Data Format 1.0) and XDF (chunks
written here, following the XDF 1.0 specification). EDF/BDF come from
``mne.export.export_raw`` (edfio)."""

from __future__ import annotations

import struct
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


# --------------------------------------------------------------- BrainVision
def write_brainvision(
    vhdr: Path,
    data: np.ndarray,
    names: Sequence[str],
    units: Sequence[str],
    sfreq: float,
    markers: Sequence[tuple[str, int]] = (),
    coordinates: dict[str, tuple[float, float, float]] | None = None,
) -> Path:
    """``vhdr`` (+ ``.vmrk`` and ``.eeg`` beside it): ``data`` (channels x samples,
    in ``units``) as multiplexed float32, ``markers`` as ``(description, sample)``
    stimulus markers (1-based sample as BrainVision counts), and a ``[Coordinates]``
    section (radius, theta, phi per channel) when ``coordinates`` is given."""
    stem = vhdr.with_suffix("")
    eeg, vmrk = stem.with_suffix(".eeg"), stem.with_suffix(".vmrk")
    np.asarray(data, dtype="<f4").T.tofile(eeg)
    lines = [
        "Brain Vision Data Exchange Header File Version 1.0",
        "",
        "[Common Infos]",
        "Codepage=UTF-8",
        f"DataFile={eeg.name}",
        f"MarkerFile={vmrk.name}",
        "DataFormat=BINARY",
        "DataOrientation=MULTIPLEXED",
        f"NumberOfChannels={len(names)}",
        f"SamplingInterval={1e6 / sfreq:g}",
        "",
        "[Binary Infos]",
        "BinaryFormat=IEEE_FLOAT_32",
        "",
        "[Channel Infos]",
    ]
    lines += [f"Ch{i}={name},,1,{unit}" for i, (name, unit) in enumerate(zip(names, units), start=1)]
    if coordinates is not None:
        lines += ["", "[Coordinates]"]
        lines += [f"Ch{i}={','.join(f'{v:g}' for v in coordinates[name])}" for i, name in enumerate(names, start=1)]
    vhdr.write_text("\n".join(lines) + "\n", encoding="utf-8")
    marks = [
        "Brain Vision Data Exchange Marker File, Version 1.0",
        "",
        "[Common Infos]",
        "Codepage=UTF-8",
        f"DataFile={eeg.name}",
        "",
        "[Marker Infos]",
        "Mk1=New Segment,,1,1,0,20240101120000000000",
    ]
    marks += [f"Mk{i}=Stimulus,{desc},{sample},1,0" for i, (desc, sample) in enumerate(markers, start=2)]
    vmrk.write_text("\n".join(marks) + "\n", encoding="utf-8")
    return vhdr


# ----------------------------------------------------------------------- XDF
# Chunk tags of the XDF 1.0 specification.
FILE_HEADER, STREAM_HEADER, SAMPLES, CLOCK_OFFSET, BOUNDARY, STREAM_FOOTER = 1, 2, 3, 4, 5, 6
#: the fixed content of a Boundary chunk (a UUID given by the specification)
BOUNDARY_UUID = bytes([0x43, 0xA5, 0x46, 0xDC, 0xCB, 0xF5, 0x41, 0x0F, 0xB3, 0x0E, 0xD5, 0x46, 0x73, 0x83, 0xCB, 0xE4])
_FORMATS = {"float32": "<f4", "double64": "<f8", "int16": "<i2", "int32": "<i4"}


@dataclass
class XdfStream:
    """One stream to write: numeric (``channel_format`` float32/double64/int16/int32,
    ``samples`` as times x channels) or ``"string"`` (``samples`` a list of
    one-element lists). ``timestamps`` are the sender's clock; ``clock_offsets``
    are ``(collection time, offset)`` pairs, as LabRecorder measures them
    (receiver clock = sender clock + offset)."""

    stream_id: int
    name: str
    type: str
    channel_format: str
    nominal_srate: float
    samples: object
    timestamps: np.ndarray
    channel_labels: Sequence[str] = ()
    channel_types: Sequence[str] = ()
    channel_units: Sequence[str] = ()
    clock_offsets: Sequence[tuple[float, float]] = ()
    extra_header: dict[str, str] = field(default_factory=dict)

    @property
    def channel_count(self) -> int:
        if self.channel_format == "string":
            return 1
        return int(np.asarray(self.samples).shape[1])


def _varlen(n: int) -> bytes:
    """XDF's variable-length integer: a 1-byte width (1, 4 or 8), then the value."""
    if n < 256:
        return b"\x01" + struct.pack("<B", n)
    if n < 2**32:
        return b"\x04" + struct.pack("<I", n)
    return b"\x08" + struct.pack("<Q", n)


def _chunk(tag: int, content: bytes) -> bytes:
    return _varlen(len(content) + 2) + struct.pack("<H", tag) + content


def _header_xml(stream: XdfStream) -> bytes:
    info = ET.Element("info")
    for key, value in (
        ("name", stream.name),
        ("type", stream.type),
        ("channel_count", str(stream.channel_count)),
        ("nominal_srate", f"{stream.nominal_srate:g}"),
        ("channel_format", stream.channel_format),
        ("source_id", f"test-{stream.stream_id}"),
        ("created_at", "100.0"),
        *stream.extra_header.items(),
    ):
        ET.SubElement(info, key).text = value
    if stream.channel_labels:
        channels = ET.SubElement(ET.SubElement(info, "desc"), "channels")
        for i, label in enumerate(stream.channel_labels):
            ch = ET.SubElement(channels, "channel")
            ET.SubElement(ch, "label").text = label
            if stream.channel_types:
                ET.SubElement(ch, "type").text = stream.channel_types[i]
            if stream.channel_units:
                ET.SubElement(ch, "unit").text = stream.channel_units[i]
    return b'<?xml version="1.0"?>' + ET.tostring(info)


def _samples_chunk(stream: XdfStream, start: int, stop: int) -> bytes:
    out = bytearray(struct.pack("<I", stream.stream_id))
    out += _varlen(stop - start)
    for i in range(start, stop):
        out += b"\x08" + struct.pack("<d", float(stream.timestamps[i]))
        if stream.channel_format == "string":
            for value in stream.samples[i]:
                raw = str(value).encode("utf-8")
                out += _varlen(len(raw)) + raw
        else:
            out += np.asarray(stream.samples[i], dtype=_FORMATS[stream.channel_format]).tobytes()
    return bytes(out)


def write_xdf(path: Path, streams: Sequence[XdfStream], chunk_samples: int = 64) -> Path:
    """An XDF 1.0 file: magic, FileHeader, one StreamHeader per stream, Samples in
    chunks of ``chunk_samples`` (streams interleaved), ClockOffset chunks, a
    Boundary chunk, and one StreamFooter per stream."""
    out = bytearray(b"XDF:")
    out += _chunk(FILE_HEADER, b'<?xml version="1.0"?><info><version>1.0</version></info>')
    for stream in streams:
        out += _chunk(STREAM_HEADER, struct.pack("<I", stream.stream_id) + _header_xml(stream))
    longest = max(len(s.timestamps) for s in streams)
    for start in range(0, longest, chunk_samples):
        for stream in streams:
            stop = min(start + chunk_samples, len(stream.timestamps))
            if start < stop:
                out += _chunk(SAMPLES, _samples_chunk(stream, start, stop))
    for stream in streams:
        for collected, offset in stream.clock_offsets:
            out += _chunk(CLOCK_OFFSET, struct.pack("<I", stream.stream_id) + struct.pack("<dd", collected, offset))
    out += _chunk(BOUNDARY, BOUNDARY_UUID)
    for stream in streams:
        ts = np.asarray(stream.timestamps, float)
        footer = (
            f'<?xml version="1.0"?><info><first_timestamp>{ts[0] if len(ts) else 0}</first_timestamp>'
            f"<last_timestamp>{ts[-1] if len(ts) else 0}</last_timestamp>"
            f"<sample_count>{len(ts)}</sample_count></info>"
        )
        out += _chunk(STREAM_FOOTER, struct.pack("<I", stream.stream_id) + footer.encode())
    path.write_bytes(bytes(out))
    return path
