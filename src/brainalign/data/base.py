"""Reader interface and registry.

A reader knows one published layout. It is given a root folder and works on any
folder in that layout (other subjects, other subsets). Listing (``refs``) is cheap
and reads no signal; ``load`` reads one recording into a :class:`Recording`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from brainalign.data.recording import Recording
from brainalign.errors import ConfigError, DataError
from brainalign.registry import Registry

#: every reader, by name; the built-in ones register themselves on import
READERS: Registry[type[Reader]] = Registry("reader", builtins=("brainalign.data.readers",))


@dataclass(frozen=True)
class RecordingRef:
    """Where one recording lives, without reading it."""

    key: str
    subject: str
    paths: tuple[Path, ...]
    session: str | None = None
    run: str | None = None
    extra: tuple[tuple[str, Any], ...] = field(default=())

    def get(self, name: str, default: Any = None) -> Any:
        return dict(self.extra).get(name, default)


class Reader:
    """Base class of all dataset readers."""

    name: ClassVar[str] = ""
    #: modalities the layout provides (for listings)
    modalities: ClassVar[tuple[str, ...]] = ("eeg",)
    #: bumped whenever the reader's output changes (signals, labels, texts), so that
    #: windows cached from an older version are not reused
    version: ClassVar[int] = 1
    #: a catch-all layout (any folder of MNE-readable files): tried after every other reader
    catch_all: ClassVar[bool] = False

    def __init__(self, root: str | os.PathLike, **params: Any):
        self.root = Path(root).expanduser()
        if not self.root.exists():
            raise DataError(self.root, "folder does not exist")
        self.params = params

    # -- to implement -------------------------------------------------------
    @classmethod
    def detect(cls, root: Path) -> bool:  # pragma: no cover - abstract
        """True when ``root`` is laid out as this reader expects."""
        raise NotImplementedError

    def refs(self) -> list[RecordingRef]:  # pragma: no cover - abstract
        raise NotImplementedError

    def load(self, ref: RecordingRef) -> Recording:  # pragma: no cover - abstract
        raise NotImplementedError

    # -- shared -------------------------------------------------------------
    def __iter__(self) -> Iterator[Recording]:
        for ref in self.refs():
            yield self.load(ref)

    def __len__(self) -> int:
        return len(self.refs())

    def images(self) -> list[Path]:
        """Paired stimulus images of the whole set (empty if none)."""
        return []

    def check(self, ref: RecordingRef) -> None:
        """Cheap validation of one recording for listings (no signal is read):
        DataError naming the file when it cannot be loaded. The default checks
        that each file exists, is not empty and, for EDF/BDF, that the header
        agrees with the file size; readers extend it where a cheap check exists."""
        from brainalign.data.edf import check_file

        for path in ref.paths:
            check_file(path)

    def summary_images(self, refs: list[RecordingRef]) -> list[Path]:
        """The paired images that :meth:`summary` counts for the listed ``refs``;
        by default the whole set's (:meth:`images`)."""
        return self.images()

    def summary(self, count_trials: bool = True) -> dict[str, Any]:
        """Counts for ``brainalign datasets``: subjects, recordings, trials, images,
        modalities. Readers override ``n_trials`` when trials can be counted
        cheaply.

        One unreadable recording does not spoil the listing: each recording is
        checked (:meth:`check`, and its trials counted) on its own; one that fails
        is left out of the counts and listed under ``skipped`` as
        ``{"path", "problem"}``. Errors that concern the whole set (a missing
        stimulus folder...) still raise."""
        refs = self.refs()
        good: list[RecordingRef] = []
        counts: list[int] = []
        skipped: list[dict[str, str]] = []
        for ref in refs:
            try:
                self.check(ref)
                n = self.n_trials([ref]) if count_trials else None
            except (DataError, OSError) as err:  # OSError: a file that cannot be opened (permissions...)
                skipped.append(_skip_entry(err, ref.paths[0] if ref.paths else self.root))
                continue
            good.append(ref)
            if n is not None:
                counts.append(n)
        out: dict[str, Any] = {
            "name": self.root.name,
            "reader": self.name,
            "path": str(self.root),
            "subjects": len({r.subject for r in good}),
            "recordings": len(good),
        }
        if count_trials and not refs:
            n = self.n_trials([])
            counts += [] if n is None else [n]
        if counts:
            out["trials"] = sum(counts)
        imgs = self.summary_images(good) if good or not refs else []
        if imgs:
            out["images"] = len(imgs)
        out["modalities"] = list(self.modalities)
        out["skipped"] = skipped
        return out

    def n_trials(self, refs: list[RecordingRef]) -> int | None:
        """Total trials over ``refs``, or None where the layout has no trials."""
        return None


def _skip_entry(err: DataError | OSError, default: Path) -> dict[str, str]:
    """``{"path", "problem"}`` of a recording a listing skipped."""
    if isinstance(err, DataError):
        path, problem = err.path, err.problem
    else:
        path, problem = err.filename, err.strerror or str(err)
    return {"path": str(default if path is None else path), "problem": problem}


def register_reader(cls: type[Reader]) -> type[Reader]:
    """Class decorator: add a reader to :data:`READERS` under its ``name``."""
    if not cls.name:
        raise ValueError(f"{cls.__name__} has no name")
    READERS.register(cls.name, cls, replace=True)
    return cls


def available_readers() -> dict[str, type[Reader]]:
    return dict(READERS.items())


def get_reader(name: str) -> type[Reader]:
    try:
        return READERS.get(name)
    except ConfigError as err:
        raise DataError(None, str(err)) from None


def detect_reader(root: str | os.PathLike) -> type[Reader] | None:
    """The reader whose layout ``root`` has, or None."""
    root = Path(root)
    # specific layouts first (in registration order), catch-all readers last
    for cls in sorted(READERS.in_order(), key=lambda c: c.catch_all):
        try:
            if cls.detect(root):
                return cls
        except OSError:
            continue
    return None


def open_dataset(root: str | os.PathLike, reader: str | None = None, **params: Any) -> Reader:
    """Open the dataset at ``root`` with the named reader, or the detected one."""
    root = Path(root).expanduser()
    if not root.exists():
        raise DataError(root, "folder does not exist")
    cls = get_reader(reader) if reader else detect_reader(root)
    if cls is None:
        raise DataError(root, "no reader recognises this folder's layout")
    return cls(root, **params)
