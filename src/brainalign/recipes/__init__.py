"""The recipes shipped with brainalign, as package data.

A recipe is named by its path inside this package without ``.yaml``
(``eegmat_text``, ``published/nice_things_eeg2``); :func:`recipe_path` finds it
through :mod:`importlib.resources`, so an installed wheel runs them without a
checkout. ``brainalign train NAME`` accepts such a name or any YAML file path.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from brainalign.errors import DataError

__all__ = ["list_recipes", "recipe_path", "recipes_root", "resolve_recipe"]


def recipes_root() -> Path:
    """The folder of the shipped recipes (inside the installed package)."""
    return Path(str(resources.files(__name__)))


def list_recipes() -> list[str]:
    """Every shipped recipe's name, sorted (``published/...`` included)."""
    root = recipes_root()
    return sorted(p.relative_to(root).with_suffix("").as_posix() for p in root.rglob("*.yaml"))


def recipe_path(name: str) -> Path:
    """The YAML file of the shipped recipe ``name`` (``.yaml`` optional)."""
    rel = name[: -len(".yaml")] if name.endswith(".yaml") else name
    path = recipes_root() / f"{rel}.yaml"
    if not path.is_file():
        known = ", ".join(list_recipes())
        raise DataError(None, f"no shipped recipe named {name!r} (shipped: {known})")
    return path


def resolve_recipe(name_or_path: str | Path) -> Path:
    """A recipe file from a path, else from a shipped recipe's name."""
    path = Path(name_or_path).expanduser()
    if path.is_file():
        return path
    name = path.as_posix().removeprefix("recipes/")
    try:
        return recipe_path(name)
    except DataError:
        raise DataError(
            path, f"no such recipe file, nor a shipped recipe (shipped: {', '.join(list_recipes())})"
        ) from None
