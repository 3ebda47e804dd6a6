"""What a data directory holds, and opening any single file.

``scan_data_dir`` backs ``brainalign datasets``: every sub-folder whose layout a
reader recognises is listed with its counts (by layout, not by folder name, so a
folder in one dataset's layout holding other subjects is listed the same way).
``inspect_path`` backs ``brainalign inspect``: it finds the reader whose layout
contains the file, so a file is read with its dataset's conventions (channel
aliases, marker maps, paired text and images).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from brainalign.config import data_dir as resolve_data_dir
from brainalign.data.base import Reader, detect_reader, open_dataset
from brainalign.data.recording import Recording
from brainalign.errors import DataError

#: how many folder levels above a file ``inspect_path`` looks for a dataset layout
_MAX_LEVELS = 4


def dataset_folders(data_dir: str | os.PathLike | None = None) -> list[Path]:
    """The dataset folders in ``data_dir``: the folder itself if it is one
    dataset, else its non-hidden sub-folders that some reader recognises."""
    root = resolve_data_dir(data_dir)
    if not root.is_dir():
        raise DataError(root, "data directory does not exist (set BRAINALIGN_DATA or --data-dir)")
    if detect_reader(root) is not None and not any(detect_reader(sub) for sub in root.iterdir() if sub.is_dir()):
        return [root]
    return [
        sub
        for sub in sorted(root.iterdir())
        if sub.is_dir() and not sub.name.startswith(".") and detect_reader(sub) is not None
    ]


def scan_data_dir(data_dir: str | os.PathLike | None = None, progress: bool = False) -> list[dict[str, Any]]:
    """One summary dict per dataset found: name, reader, path, subjects,
    recordings, trials (where trials exist), images (where paired), modalities.

    A dataset that cannot be summarised does not stop the listing: its entry
    carries ``error`` (the file and the problem) instead of counts. Within a
    dataset, each unreadable recording is left out of the counts and listed under
    ``skipped`` (``[{"path", "problem"}]``, see :meth:`Reader.summary`)."""
    folders = dataset_folders(data_dir)
    out = []
    for folder in tqdm(folders, desc="scanning datasets", disable=not progress, leave=False):
        try:
            reader = open_dataset(folder)
            out.append(reader.summary())
        except (DataError, OSError) as err:  # OSError: a folder or file that cannot be opened
            cls = detect_reader(folder)
            out.append({"name": folder.name, "reader": cls.name if cls else "", "path": str(folder), "error": str(err)})
    return out


def skipped_files(entries: list[dict[str, Any]]) -> list[str]:
    """``"<path>: <problem>"`` for every dataset (``error``) and every recording
    (``skipped``) that :func:`scan_data_dir` left out."""
    out = []
    for entry in entries:
        if "error" in entry:
            out.append(str(entry["error"]))
        out.extend(f"{s['path']}: {s['problem']}" for s in entry.get("skipped", ()))
    return out


def find_dataset(name_or_path: str, data_dir: str | os.PathLike | None = None) -> Path:
    """A dataset folder from a path, or from a folder name (or part of one) in
    the data directory. An exact folder name is found without scanning the
    data directory."""
    p = Path(name_or_path).expanduser()
    if p.is_dir():
        return p
    direct = resolve_data_dir(data_dir) / name_or_path
    if name_or_path and direct.is_dir() and detect_reader(direct) is not None:
        return direct
    folders = dataset_folders(data_dir)
    exact = [f for f in folders if f.name == name_or_path]
    partial = [f for f in folders if name_or_path in f.name]
    if exact or len(partial) == 1:
        return (exact or partial)[0]
    raise DataError(
        resolve_data_dir(data_dir),
        f"no dataset folder named {name_or_path!r} (found: {', '.join(f.name for f in folders) or 'none'})",
    )


def open_named(
    name_or_path: str, data_dir: str | os.PathLike | None = None, reader: str | None = None, **params: Any
) -> Reader:
    """The dataset ``name_or_path`` (see :func:`find_dataset`) opened with its
    reader (or the one named), and ``params``."""
    return open_dataset(find_dataset(name_or_path, data_dir), reader=reader, **params)


def inspect_path(path: str | os.PathLike) -> Recording:
    """Read one file with the reader of the dataset layout it belongs to, or,
    for a file in no known layout, with MNE's generic readers.

    The layout is looked for above the path as given, not above a symbolic
    link's target: a file linked into a dataset folder belongs to that folder."""
    path = Path(os.path.abspath(Path(path).expanduser()))
    if not path.exists():
        raise DataError(path, "no such file")
    if path.is_dir():
        reader = open_dataset(path)
        refs = reader.refs()
        if not refs:
            raise DataError(path, "folder holds no recording")
        return reader.load(refs[0])
    folder = path.parent
    for _ in range(_MAX_LEVELS):
        cls = detect_reader(folder)
        if cls is not None:
            reader = cls(folder)
            for ref in reader.refs():
                if any(Path(os.path.abspath(p)) == path for p in ref.paths):
                    return reader.load(ref)
        if folder.parent == folder:
            break
        folder = folder.parent
    from brainalign.data.readers.generic import read_single_file

    return read_single_file(path)
