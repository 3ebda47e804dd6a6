"""Global settings: where data and caches live."""

from __future__ import annotations

import os
from pathlib import Path

DATA_ENV = "BRAINALIGN_DATA"
CACHE_ENV = "BRAINALIGN_CACHE"


def data_dir(override: str | os.PathLike | None = None) -> Path:
    """The data directory: ``override`` (``--data-dir``), else ``$BRAINALIGN_DATA``,
    else ``~/brainalign_data``."""
    if override:
        return Path(override).expanduser().resolve()
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env).expanduser().resolve()
    return (Path.home() / "brainalign_data").resolve()


def cache_dir(override: str | os.PathLike | None = None) -> Path:
    """Where processed windows and embeddings are cached: ``override``, else
    ``$BRAINALIGN_CACHE``, else ``~/.cache/brainalign``."""
    if override:
        return Path(override).expanduser().resolve()
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser().resolve()
    return (Path.home() / ".cache" / "brainalign").resolve()
