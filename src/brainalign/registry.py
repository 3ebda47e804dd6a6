"""One registry style for every kind of named choice: readers, presets, encoders,
towers and objectives.

A :class:`Registry` maps a name to an entry (a class, a factory or data) plus
optional metadata. Entries are added with :meth:`Registry.register`, as a call
(``ENCODERS.register("deep4", factory)``) or as a class decorator
(``@READERS.register("eegmat")``); built-in entries are loaded lazily, on the
first lookup, by importing the modules that register them. An unknown name is a
:class:`~brainalign.errors.ConfigError` that lists the known ones.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Generic, TypeVar

from brainalign.errors import ConfigError

T = TypeVar("T")

__all__ = ["Registry"]


class Registry(Generic[T]):
    """Named entries of one kind (``kind`` names it in error messages)."""

    def __init__(self, kind: str, builtins: Sequence[str] = (), loader: Callable[[], None] | None = None):
        self.kind = kind
        self._builtins = tuple(builtins)
        self._loader = loader
        self._loaded = False
        self._entries: dict[str, T] = {}
        self._meta: dict[str, dict[str, Any]] = {}

    # ------------------------------------------------------------------ adding
    def register(self, name: str, entry: T | None = None, *, replace: bool = False, **meta: Any) -> Any:
        """Add ``entry`` under ``name`` (with ``meta``), or, without ``entry``, return a
        decorator that adds what it decorates. Registering another entry under a
        taken name is an error unless ``replace``."""
        if entry is None:

            def decorator(obj: T) -> T:
                self.register(name, obj, replace=replace, **meta)
                return obj

            return decorator
        if not name:
            raise ConfigError(f"a {self.kind} needs a name")
        old = self._entries.get(name)
        if old is not None and old is not entry and not replace:
            raise ConfigError(f"a {self.kind} named {name!r} is already registered")
        self._entries[name] = entry
        self._meta[name] = dict(meta)
        return entry

    def peek(self, name: str) -> T | None:
        """The entry registered so far under ``name``, without loading the built-ins."""
        return self._entries.get(name)

    # ------------------------------------------------------------------ lookup
    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        for module in self._builtins:
            importlib.import_module(module)
        if self._loader is not None:
            self._loader()

    def get(self, name: str) -> T:
        self._load()
        try:
            return self._entries[name]
        except KeyError:
            raise ConfigError(f"unknown {self.kind} {name!r}; known: {', '.join(sorted(self._entries))}") from None

    def meta(self, name: str) -> dict[str, Any]:
        self.get(name)
        return dict(self._meta[name])

    def names(self) -> list[str]:
        self._load()
        return sorted(self._entries)

    def in_order(self) -> list[T]:
        """The entries in the order they were registered."""
        self._load()
        return list(self._entries.values())

    def items(self) -> list[tuple[str, T]]:
        self._load()
        return sorted(self._entries.items())

    def __getitem__(self, name: str) -> T:
        return self.get(name)

    def __contains__(self, name: object) -> bool:
        self._load()
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        self._load()
        return len(self._entries)
