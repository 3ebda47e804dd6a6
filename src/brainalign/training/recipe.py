"""Recipes: one YAML file names one choice per stage of the pipeline.

A recipe is validated against the dataclasses below: a misspelt key is an error
that names the key (and suggests the closest valid one), a value of the wrong
type is an error that names the key and the type. ``--set a.b=value`` overrides
any key; values are parsed as YAML scalars (``--set train.epochs=3``).
"""
from __future__ import annotations

import copy
import dataclasses
import difflib
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from brainalign.errors import ConfigError


@dataclass
class SplitConfig:
    """How windows are split. ``kind``: subject | recording | class | within_subject |
    kfold. ``val``/``test``: a fraction of the groups (float) or a number of groups
    (int). ``kfold``: fold ``fold`` of ``n_splits`` group-disjoint folds of the
    column ``by`` (``subject``; ``window`` for trial-disjoint folds of one recording)."""

    kind: str = "subject"
    val: int | float = 0.2
    test: int | float = 0.2
    seed: int = 0
    test_groups: list[str] | None = None
    val_groups: list[str] | None = None
    #: take validation as the last ``val`` fraction (in time) of every training
    #: recording instead of whole groups: for sets with too few subjects or runs
    #: (EEGMMIDB has one subject); the test part stays group-disjoint
    val_from_train_end: bool = False
    allow_overlap: list[str] = field(default_factory=list)
    by: str = "subject"
    n_splits: int = 5
    fold: int = 0


@dataclass
class ExtraDataConfig:
    """An unlabelled corpus that joins the training part only (masked pretraining on
    several datasets): its own reader and preset, any montage of the same window length."""

    dataset: str = ""
    reader_params: dict[str, Any] = field(default_factory=dict)
    preset: str = ""
    preset_params: dict[str, Any] = field(default_factory=dict)
    #: epochs shorter than the window: keep this many samples of each epoch and join
    #: consecutive epochs in pairs (0+1, 2+3...) into one window (e.g. the 1.2 s N400 epochs)
    join_epochs: int | None = None
    #: at most this many windows of the corpus (a random subset drawn with the recipe's seed)
    max_windows: int | None = None


@dataclass
class DataConfig:
    dataset: str = ""
    reader_params: dict[str, Any] = field(default_factory=dict)
    preset: str = ""
    preset_params: dict[str, Any] = field(default_factory=dict)
    #: what the EEG is aligned with: text | image | ecg | label | none
    pair: str = "text"
    #: for ``pair: ecg``: the preset that cuts the paired signal's windows (aligned
    #: row by row with the EEG windows on recording and start time)
    pair_preset: str = ""
    pair_preset_params: dict[str, Any] = field(default_factory=dict)
    #: column of the window table holding the class label (for triplet / CE / evaluation)
    label: str = "label"
    #: keep only windows whose label is in this list (empty: all)
    labels: list[str] = field(default_factory=list)
    split: SplitConfig = field(default_factory=SplitConfig)
    max_windows: int | None = None
    #: control: permute the pairing (texts/images) among the training windows, so
    #: that any score above chance after training would reveal a confound
    shuffle_pairs: bool = False
    #: robust per-channel standardisation of the EEG windows (median, 1.4826 x MAD, clipped
    #: at +-10 SD): ``none``, ``train`` (the training part's statistics) or ``recording``
    #: (each recording's own statistics, over all of its windows)
    standardize: str = "none"
    #: the same for the paired signal (``pair: ecg``)
    pair_standardize: str = "none"
    #: keep only the windows in the last N seconds of each recording with that label
    #: (e.g. ``{rest: 60}``: the last minute of rest next to a one-minute task)
    last_s: dict[str, float] = field(default_factory=dict)
    #: unlabelled corpora that join the training part (masked objective only); each is
    #: standardised with its own statistics when ``standardize`` is not ``none``
    extra: list[ExtraDataConfig] = field(default_factory=list)


@dataclass
class EncoderConfig:
    name: str = "deep4"
    emb_dim: int = 128
    kwargs: dict[str, Any] = field(default_factory=dict)
    #: a run folder whose encoder weights initialise this one (e.g. masked pretraining)
    init_from: str = ""


@dataclass
class TowerConfig:
    name: str = ""
    trainable: bool = False
    lr_factor: float = 1e-3
    kwargs: dict[str, Any] = field(default_factory=dict)
    #: for a signal tower (``data.pair: ecg``): a run folder whose encoder initialises it
    init_from: str = ""


@dataclass
class HeadConfig:
    depth: int = 3
    dim: int = 64
    hidden: int | None = None


@dataclass
class ModelConfig:
    eeg: EncoderConfig = field(default_factory=EncoderConfig)
    #: the paired tower (text / image / ecg encoder); empty name for label-only methods
    pair: TowerConfig = field(default_factory=TowerConfig)
    head: HeadConfig = field(default_factory=HeadConfig)
    #: what the ``ce`` classifier sees: ``eeg`` (the EEG embedding), ``pair`` (the
    #: paired signal's, e.g. ECG only), ``concat`` (both, concatenated: fusion) or
    #: ``cross_attention`` (both encoders' patch tokens attending to each other)
    fusion: str = "eeg"
    #: the ``ce`` classifier: ``linear`` (a linear map of the projected embeddings) or
    #: ``mlp`` (:class:`~brainalign.models.fusion.FusionClassifier`: an MLP head with dropout
    #: on the encoders' own embeddings). ``fusion: cross_attention`` always uses the latter,
    #: attending over both encoders' patch tokens.
    classifier: str = "linear"


@dataclass
class ObjectiveConfig:
    name: str = "clip"
    weight: float = 1.0
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass
class TrainConfig:
    epochs: int = 20
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-2
    warmup_epochs: float = 1.0
    grad_clip: float = 1.0
    amp: bool = True
    patience: int = 10
    num_workers: int = 0
    device: str = "auto"


@dataclass
class Recipe:
    name: str = "run"
    seed: int = 0
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    objectives: list[ObjectiveConfig] = field(default_factory=lambda: [ObjectiveConfig()])
    train: TrainConfig = field(default_factory=TrainConfig)
    description: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# ---------------------------------------------------------------------------- parsing
def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp)).replace("typing.", "")


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Check ``value`` against annotation ``tp``, building nested dataclasses."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _coerce(value, a, key)
            except ConfigError as err:
                errors.append(str(err))
        raise ConfigError(errors[0] if errors else f"{key}: invalid value {value!r}")
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {value!r}")
        return _build(tp, value, key)
    if origin is list:
        if isinstance(value, tuple):
            value = list(value)
        if not isinstance(value, list):
            if dataclasses.is_dataclass(args[0]) and isinstance(value, dict):
                value = [value]
            else:
                raise ConfigError(f"{key}: expected a list, got {value!r}")
        return [_coerce(v, args[0], f"{key}[{i}]") for i, v in enumerate(value)]
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {value!r}")
        return dict(value)
    if tp is Any:
        return value
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp is float and isinstance(value, str):
        try:
            return float(value)  # YAML reads 1e-3 as a string
        except ValueError:
            pass
    if isinstance(tp, type) and not isinstance(value, tp) or (tp is int and isinstance(value, bool)):
        raise ConfigError(f"{key}: expected {_type_name(tp)}, got {value!r}")
    return value


def _build(cls: type, values: dict[str, Any], prefix: str = "") -> Any:
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs = {}
    for k, v in values.items():
        key = f"{prefix}.{k}" if prefix else str(k)
        if k not in names:
            close = difflib.get_close_matches(str(k), names, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else f" (valid: {', '.join(names)})"
            raise ConfigError(f"unknown recipe key {key!r}{hint}")
        kwargs[k] = _coerce(v, hints[k], key)
    return cls(**kwargs)


def _set_path(tree: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node = tree
    for p in parts[:-1]:
        nxt = node.get(p)
        if nxt is None:
            nxt = node[p] = {}
        if isinstance(nxt, list) and len(nxt) == 1:  # objectives.kwargs.x on a single objective
            nxt = nxt[0]
        if not isinstance(nxt, dict):
            raise ConfigError(f"--set {dotted}: {p!r} is not a mapping")
        node = nxt
    node[parts[-1]] = value


def parse_overrides(items: Sequence[str]) -> list[tuple[str, Any]]:
    out = []
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: expected key=value")
        key, raw = item.split("=", 1)
        out.append((key.strip(), yaml.safe_load(raw) if raw != "" else ""))
    return out


def recipe_from_dict(tree: dict[str, Any], overrides: Sequence[str] = ()) -> Recipe:
    """Validate ``tree`` with ``overrides`` applied; ``tree`` itself is left unchanged."""
    tree = copy.deepcopy(tree)
    for key, value in parse_overrides(overrides):
        _set_path(tree, key, value)
    return _build(Recipe, tree)


def load_recipe(path: str | Path, overrides: Sequence[str] = ()) -> Recipe:
    path = Path(path)
    try:
        tree = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise ConfigError(f"{path}: recipe not found") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML ({err})") from None
    if not isinstance(tree, dict):
        raise ConfigError(f"{path}: a recipe is a mapping of keys")
    try:
        return recipe_from_dict(tree, overrides)
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from None
