"""On-disk cache of preprocessed windows.

``cached_windows(inputs, pipeline)`` returns the same :class:`Windows` as
``pipeline.transform(inputs)`` but computes them only once. An entry is a folder
``<cache_dir>/windows/<key>/`` holding

* ``data.npy``: the float32 window array, opened with ``np.load(mmap_mode="r")``
  so a hit costs no copy and no more memory than the windows actually read;
* ``windows.csv``: the window table (plain CSV, no pickle, no parquet);
* ``pipeline.yaml``: the pipeline spec that made it;
* ``meta.json``: the key, what went into it, shape, channels, rate, unit, the
  table's column dtypes and the sha256 of ``data.npy`` and ``windows.csv``.

The folder is written under a temporary name and renamed into place, so an
entry either exists whole or not
at all; temporary folders left by a killed run are never looked at. An entry
that fails validation (truncated array, missing file, unreadable table, a file
whose sha256 differs from the one recorded: a *checksum mismatch*) is reported
(a warning naming the entry and the problem), deleted and rebuilt. Checking the
digests reads each entry once per hit (about 1 GB/s); ``verify=False`` skips it.

Several processes computing the same entry at once (DDP ranks, parallel jobs)
each write their own temporary folder; the first rename into place wins, and the
others, whose rename fails because the entry now exists, discard theirs and read
it. An existing entry is therefore never replaced, so no process ever reads a
folder another one is swapping.

The key is a digest of (1) the inputs, (2) ``pipeline.hash()``, (3)
:data:`~brainalign.preprocessing.pipeline.PREPROCESSING_VERSION` and the MNE
version (filters and resampling change between MNE releases).

Input identity, per file: resolved path, size, ``mtime_ns`` and a sha256 of the
first and last MiB. A full sha256 would read every byte on every call: on a
THINGS-EEG2 or TUH-sized corpus (tens to hundreds of GB) that turns a
millisecond cache hit into minutes, defeating the cache. Size and ``mtime_ns``
change on practically every rewrite (re-download, edit, re-export); the
head/tail digest additionally catches a same-size replacement whose timestamp
was preserved (``cp -p``, ``rsync -t`` of different content): EDF/FIF/BrainVision
headers, which hold dates, channel lists and record counts, sit in the first MiB,
and truncation or appends change the tail. The one change this misses is an
in-place edit of the middle of a file that keeps size and forges the mtime;
delete the entry (or the cache) after doing that on purpose.
Recordings given in memory without source files are keyed by a sha256 of
their samples and annotations instead.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import mne
import numpy as np
import pandas as pd

from brainalign.config import cache_dir as default_cache_dir
from brainalign.data.base import Reader
from brainalign.data.recording import Recording
from brainalign.errors import DataError
from brainalign.preprocessing.pipeline import (
    PREPROCESSING_VERSION,
    Inputs,
    Pipeline,
    Windows,
    canonical_form,
    normalise_table,
)

log = logging.getLogger(__name__)

#: layout version of a cache entry (files and meta fields); 2: file digests in meta.json
CACHE_FORMAT = 2
#: files of an entry whose sha256 meta.json records
DIGESTED = ("data.npy", "windows.csv")

#: bytes hashed at each end of every input file
EDGE_BYTES = 1 << 20


def file_identity(path: str | os.PathLike) -> dict[str, Any]:
    """Path, size, mtime_ns and head/tail sha256 of one input file (see module doc)."""
    path = Path(path)
    try:
        resolved = path.resolve()
        st = resolved.stat()
        h = hashlib.sha256()
        with open(resolved, "rb") as fh:
            h.update(fh.read(EDGE_BYTES))
            if st.st_size > EDGE_BYTES:
                fh.seek(max(EDGE_BYTES, st.st_size - EDGE_BYTES))
                h.update(fh.read(EDGE_BYTES))
    except OSError as err:
        raise DataError(path, f"cannot read input file: {err.strerror or err}") from None
    return {"path": str(resolved), "size": st.st_size, "mtime_ns": st.st_mtime_ns, "edges_sha256": h.hexdigest()}


def _recording_identity(rec: Recording) -> dict[str, Any]:
    """Identity of an in-memory recording: its files when it has some, otherwise a
    digest of its samples; plus what a caller may have changed after loading
    (ids, channels, rates, trials, metadata, text)."""
    ident: dict[str, Any] = {
        "id": rec.id,
        "dataset": rec.dataset,
        "units": rec.units,
        "text": rec.text,
        "metadata": json.loads(json.dumps(rec.metadata, sort_keys=True, default=str)),
        "signals": {
            m: {
                "ch_names": list(s.ch_names),
                "sfreq": float(s.info["sfreq"]),
                "n_times": len(s.times),
                "n_epochs": len(s) if isinstance(s, mne.BaseEpochs) else None,
            }
            for m, s in rec.signals.items()
        },
        "trials": None if rec.trials is None else hashlib.sha256(rec.trials.to_csv(index=False).encode()).hexdigest(),
    }
    if rec.source:
        ident["files"] = [file_identity(p) for p in rec.source]
    else:
        h = hashlib.sha256()
        for mod in sorted(rec.signals):
            h.update(np.ascontiguousarray(rec.signals[mod].get_data()).tobytes())
        ident["samples_sha256"] = h.hexdigest()
    return ident


def input_identity(inputs: Inputs) -> dict[str, Any]:
    """What the cache key says about the inputs. A Reader is identified without
    loading any signal: reader name, root, parameters and each reference's files."""
    if isinstance(inputs, Reader):
        return {
            "reader": inputs.name,
            "reader_version": inputs.version,
            "root": str(inputs.root.resolve()),
            "params": json.loads(json.dumps(inputs.params, sort_keys=True, default=str)),
            "recordings": [{"key": ref.key, "files": [file_identity(p) for p in ref.paths]} for ref in inputs.refs()],
        }
    recs = [inputs] if isinstance(inputs, Recording) else list(inputs)
    return {"recordings": [_recording_identity(r) for r in recs]}


def cache_key(inputs: Inputs, pipeline: Pipeline) -> tuple[str, dict[str, Any]]:
    """(hex key, the parts it digests)."""
    parts = {
        "inputs": input_identity(inputs),
        "pipeline": pipeline.hash(),
        "preprocessing_version": PREPROCESSING_VERSION,
        "mne_version": mne.__version__,
        "cache_format": CACHE_FORMAT,
    }
    text = json.dumps(canonical_form(parts), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32], parts


class _CorruptEntry(Exception):
    """A cache entry exists but cannot be trusted."""


def _sha256(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _write_entry(entry: Path, windows: Windows, pipeline: Pipeline, key: str, parts: dict[str, Any]) -> bool:
    """Write the entry under a temporary name and rename it into place; False when
    another process's rename came first (ours is then discarded)."""
    entry.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{entry.name}.", suffix=".tmp", dir=entry.parent))
    try:
        np.save(tmp / "data.npy", np.ascontiguousarray(windows.data, dtype=np.float32), allow_pickle=False)
        windows.table.to_csv(tmp / "windows.csv", index=False)
        pipeline.save(tmp / "pipeline.yaml")
        meta = {
            "format": CACHE_FORMAT,
            "key": key,
            "parts": parts,
            "shape": list(windows.data.shape),
            "ch_names": windows.ch_names,
            "sfreq": windows.sfreq,
            "unit": windows.unit,
            "pipeline": windows.pipeline,
            "dtypes": {c: str(t) for c, t in windows.table.dtypes.items()},
            "sha256": {name: _sha256(tmp / name) for name in DIGESTED},
        }
        (tmp / "meta.json").write_text(json.dumps(canonical_form(meta), indent=1), encoding="utf-8")
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes 0700: as a plain mkdir would
        try:
            os.rename(tmp, entry)  # fails when the entry exists (a non-empty folder): never replaced
        except OSError as err:
            if err.errno not in (errno.ENOTEMPTY, errno.EEXIST) or not entry.is_dir():
                raise
            return False
        return True
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _read_entry(entry: Path, key: str, verify: bool = True) -> Windows:
    """Open a complete entry; _CorruptEntry when anything does not add up
    (with ``verify``, also when a file's sha256 is not the recorded one)."""
    try:
        meta = json.loads((entry / "meta.json").read_text(encoding="utf-8"))
        if meta.get("format") != CACHE_FORMAT or meta.get("key") != key:
            raise _CorruptEntry("format or key mismatch")
        if verify:
            for name, digest in meta["sha256"].items():
                found = _sha256(entry / name)
                if found != digest:
                    raise _CorruptEntry(
                        f"checksum mismatch of {name} (recorded sha256 {digest[:12]}..., found {found[:12]}...)"
                    )
        data = np.load(entry / "data.npy", mmap_mode="r", allow_pickle=False)
        if data.dtype != np.float32 or list(data.shape) != meta["shape"]:
            raise _CorruptEntry(f"array {data.dtype} {data.shape} does not match {meta['shape']}")
        dtypes: dict[str, str] = meta["dtypes"]
        table = pd.read_csv(
            entry / "windows.csv",
            dtype={c: t for c, t in dtypes.items() if t == "object"},
            keep_default_na=False,
            na_values=[""],
            float_precision="round_trip",
        )
        if list(table.columns) != list(dtypes):
            raise _CorruptEntry("window table columns do not match")
        table = normalise_table(table).astype({c: t for c, t in dtypes.items() if t != "object"})
        return Windows(data, list(meta["ch_names"]), float(meta["sfreq"]), table, meta["unit"], meta["pipeline"])
    except _CorruptEntry:
        raise
    except Exception as err:  # any unreadable piece means: rebuild  # noqa: BLE001
        raise _CorruptEntry(f"{type(err).__name__}: {err}") from None


def cached_windows(
    inputs: Inputs,
    pipeline: Pipeline,
    cache_dir: str | os.PathLike | None = None,
    *,
    progress: bool | None = None,
    verify: bool = True,
    n_jobs: int = 1,
) -> Windows:
    """Windows of ``inputs`` (a Recording, several, or a Reader) through ``pipeline``,
    from the cache when an entry with the same key exists, else computed (in
    ``n_jobs`` processes, see :meth:`Pipeline.transform`: the same bytes as a serial
    run, so ``n_jobs`` is not part of the key), stored and returned memory-mapped
    from the new entry. ``cache_dir`` defaults to :func:`brainalign.config.cache_dir`
    (``$BRAINALIGN_CACHE``); ``verify`` checks the entry's file digests on a hit
    (see the module documentation)."""
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    if not isinstance(inputs, (Recording, Reader)):
        inputs = list(inputs)  # a generator is read twice: for the key, then to compute
    key, parts = cache_key(inputs, pipeline)
    entry = root / "windows" / key
    if entry.is_dir():
        try:
            return _read_entry(entry, key, verify)
        except _CorruptEntry as err:
            log.warning("cache entry %s is damaged (%s); rebuilding it", entry, err)
            _remove_entry(entry)
    windows = pipeline.transform(inputs, progress=progress, n_jobs=n_jobs)
    _write_entry(entry, windows, pipeline, key, parts)
    try:
        return _read_entry(entry, key, verify=False)  # ours, just digested, or a concurrent twin's
    except _CorruptEntry as err:  # pragma: no cover - just written
        raise DataError(entry, f"cache entry unreadable right after writing: {err}") from None


def _remove_entry(entry: Path) -> None:
    """Rename a damaged entry aside, then delete it: a reader never sees it half deleted."""
    aside = Path(tempfile.mkdtemp(prefix=f".{entry.name}.", suffix=".old", dir=entry.parent))
    try:
        os.replace(entry, aside / entry.name)
    except OSError:  # another process removed it first
        pass
    shutil.rmtree(aside, ignore_errors=True)
