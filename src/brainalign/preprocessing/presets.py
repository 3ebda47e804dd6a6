"""Named preprocessing pipelines, kept as data (YAML package data in
``brainalign/presets/``).

Each preset is a pipeline spec (the dictionary :meth:`Pipeline.from_dict` reads)
plus a description, its source, the reader (dataset layout) it is meant for, and
named parameters with defaults. A parameter is referenced in the spec as the
string ``"$name"`` and replaced by its value: ``get_preset("eegclip",
crop_s=180)``. Being plain data, a preset can be printed, diffed, and saved next
to every output like any other pipeline. A user's own preset is registered with
:func:`register_preset` (or declared inline in a recipe).
"""

from __future__ import annotations

import copy
import os
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from brainalign.data.channels import (
    EEGCLIP_CHANNELS,
    TEN_TWENTY_19,
    THINGS_EEG2_CHANNELS,
)
from brainalign.errors import ConfigError
from brainalign.preprocessing.pipeline import Pipeline
from brainalign.registry import Registry

__all__ = [
    "EEGCLIP_CHANNELS",
    "PRESETS",
    "TEN_TWENTY_19",
    "THINGS_EEG2_CHANNELS",
    "available_presets",
    "get_preset",
    "preset_reader",
    "preset_spec",
    "register_preset",
    "run_preset",
]

_FIELDS = ("description", "reader", "source", "params", "pipeline")


def _load_shipped() -> None:
    for path in sorted(Path(str(resources.files("brainalign.presets"))).glob("*.yaml")):
        register_preset(path.stem, yaml.safe_load(path.read_text(encoding="utf-8")))


#: every preset, by name: ``{description, reader, source, params, pipeline}``
PRESETS: Registry[dict[str, Any]] = Registry("preset", loader=_load_shipped)


def register_preset(name: str, preset: dict[str, Any], replace: bool = False) -> None:
    """Add a preset (the fields of the shipped YAML files; ``source`` and
    ``params`` optional)."""
    preset = {"source": "", "params": {}, **preset}
    missing = [k for k in ("description", "reader", "pipeline") if not preset.get(k)]
    extra = sorted(set(preset) - set(_FIELDS))
    if missing or extra:
        raise ConfigError(f"preset {name!r}: missing {missing}, unknown {extra}; fields: {list(_FIELDS)}")
    PRESETS.register(name, preset, replace=replace)


def preset_reader(name: str) -> str:
    """The reader (dataset layout) the preset is meant for."""
    return str(PRESETS.get(name)["reader"])


def _substitute(obj: Any, params: dict[str, Any]) -> Any:
    """Replace every ``"$name"`` string in ``obj`` by ``params[name]``."""
    if isinstance(obj, dict):
        return {k: _substitute(v, params) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_substitute(v, params) for v in obj]
    if isinstance(obj, str) and obj.startswith("$"):
        return params[obj[1:]]
    return obj


def available_presets() -> dict[str, str]:
    """Preset name -> one-line description."""
    return {name: preset["description"] for name, preset in PRESETS.items()}


def preset_spec(name: str) -> dict[str, Any]:
    """A copy of the preset's record (description, reader, source, params, pipeline)."""
    return copy.deepcopy(PRESETS.get(name))


def get_preset(name: str, **params: Any) -> Pipeline:
    """The named preset as a :class:`Pipeline`, with ``params`` overriding its defaults.
    ConfigError on an unknown preset or parameter."""
    preset = PRESETS.get(name)
    unknown = sorted(set(params) - set(preset["params"]))
    if unknown:
        raise ConfigError(
            f"preset {name!r}: unknown parameter(s) {', '.join(unknown)}; known: {', '.join(sorted(preset['params']))}"
        )
    values = {**preset["params"], **params}
    return Pipeline.from_dict(_substitute(copy.deepcopy(preset["pipeline"]), values))


def run_preset(
    preset: str,
    data_dir: str | os.PathLike | None = None,
    dataset: str | None = None,
    progress: bool = True,
) -> tuple[Any, Path]:
    """Run a named preset on a dataset through the window cache (the dataset
    given, else the first in the data directory in the preset's layout);
    returns ``(windows, cache entry path)``."""
    from brainalign.config import cache_dir
    from brainalign.config import data_dir as resolve_data_dir
    from brainalign.data.base import detect_reader
    from brainalign.data.catalog import dataset_folders, open_named
    from brainalign.errors import DataError
    from brainalign.preprocessing.cache import cache_key, cached_windows

    pipeline = get_preset(preset)
    if dataset is None:
        wanted = preset_reader(preset)
        matches = [f for f in dataset_folders(data_dir) if getattr(detect_reader(f), "name", None) == wanted]
        if not matches:
            raise DataError(
                resolve_data_dir(data_dir),
                f"no {wanted} dataset for preset {preset!r}; pass --dataset NAME_OR_PATH",
            )
        dataset = str(matches[0])
    reader = open_named(dataset, data_dir)
    windows = cached_windows(reader, pipeline, progress=progress)
    key, _ = cache_key(reader, pipeline)
    return windows, cache_dir() / "windows" / key
