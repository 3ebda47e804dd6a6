"""Shared fixtures. Real-data tests read ``$BRAINALIGN_DATA`` (``../shared/data``
beside the checkout by default) and are skipped when it is absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _data_root() -> Path:
    env = os.environ.get("BRAINALIGN_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def data_root() -> Path:
    root = _data_root().resolve()  # absolute, so symlinks made by tests resolve from anywhere
    if not (root / "README.md").exists() and not any(root.glob("*")):
        pytest.skip(f"real data not found at {root}")
    return root


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Every test writes its caches into a temporary folder, never into ~/.cache."""
    monkeypatch.setenv("BRAINALIGN_CACHE", str(tmp_path_factory.mktemp("cache")))
