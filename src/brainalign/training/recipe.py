"""Recipes: one YAML file names one choice per stage of the pipeline.

A recipe is validated against the dataclasses below: a misspelt key is an error
that names the key (and suggests the closest valid one), a value of the wrong
type is an error that names the key and the type. ``--set a.b=value`` overrides
any key; values are parsed as YAML scalars (``--set train.epochs=3``).

A user's own data needs no Python: ``data.reader`` names the reader (default:
detected from the folder's layout), ``data.reader_params`` its parameters (checked
against the reader's own), and ``data.pipeline`` an inline preprocessing pipeline
(the mapping a preset's ``pipeline:`` holds) in place of ``data.preset``. Every
step of an inline pipeline is validated like the rest of the recipe: an unknown
step or option is named with its position (``data.pipeline.steps[2].tmaxx``).
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import json
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
class SourceConfig:
    """A further dataset of a shared multi-task encoder (``data.sources``): its windows,
    read with its own reader and preset, join the main block's (which stays the first
    source) before the split. They must have the main windows' channels, rate and length.
    Each window gets only the modalities its source lists in ``pairs`` (the others are
    absent: their losses skip it), a ``source`` column, and subject and recording ids
    prefixed by the source, so no split puts one subject of two datasets together."""

    dataset: str = ""
    reader: str = ""
    reader_params: dict[str, Any] = field(default_factory=dict)
    preset: str = ""
    preset_params: dict[str, Any] = field(default_factory=dict)
    #: the modalities this source's windows are paired with (table columns, ``text`` / ``image``)
    pairs: list[str] = field(default_factory=list)
    #: its label column (copied into the main ``data.label`` column) and the labels kept
    label: str = "label"
    labels: list[str] = field(default_factory=list)
    #: at most this many of its windows (a random subset drawn with the recipe's seed)
    max_windows: int | None = None


@dataclass
class DataConfig:
    #: a dataset folder: a path, or a folder name in the data directory
    dataset: str = ""
    #: the reader (``brainalign.data.available_readers()``); empty: detected from the layout
    reader: str = ""
    #: the reader's parameters (e.g. eegnb ``marker_map``, ``stimulus_dirs``)
    reader_params: dict[str, Any] = field(default_factory=dict)
    #: a named preprocessing preset (``brainalign.preprocessing.available_presets()``) ...
    preset: str = ""
    preset_params: dict[str, Any] = field(default_factory=dict)
    #: ... or an inline pipeline spec in its place: ``{modality, units, steps: [{step: Filter,
    #: l_freq: 1.0, ...}, ...]}`` (exactly one of ``preset`` and ``pipeline``)
    pipeline: dict[str, Any] | None = None
    #: what the EEG is aligned with: text | image | ecg | label | none
    pair: str = "text"
    #: a shared multi-task encoder: every modality the windows are paired with (table
    #: columns, ``text`` / ``image``), each with its tower in ``model.pairs`` and its own
    #: projection heads; ``pair`` names the primary one (the run's ``encode_eeg`` default,
    #: validation top-1, ``pair_embeddings.npy``). A window may lack some modalities (a
    #: mixed batch): each loss is averaged over the windows that have its modality.
    #: Empty: a single-pair run (``pair`` alone). With ``sources``: the main block's own
    #: modalities; the encoder's are these and then those the sources add
    pairs: list[str] = field(default_factory=list)
    #: a shared encoder trained on several datasets (:class:`SourceConfig`): their windows
    #: join the main block's before the split, each with only its own modalities
    sources: list[SourceConfig] = field(default_factory=list)
    #: for ``pair: ecg``: the preset that cuts the paired signal's windows (aligned
    #: row by row with the EEG windows on recording and start time), or an inline
    #: ``pair_pipeline`` in its place
    pair_preset: str = ""
    pair_preset_params: dict[str, Any] = field(default_factory=dict)
    pair_pipeline: dict[str, Any] | None = None
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
    #: subject normalisation of the EEG windows (:mod:`brainalign.preprocessing.normalize`):
    #: a short name (``train``, ``calibration``, ``own``, ``euclidean``,
    #: ``euclidean_calibration``) or a normaliser spec; empty: none. Fitted on the training
    #: part, recorded in the model's input contract and re-applied to new subjects by
    #: ``brainalign.load(run).encode_eeg(x, calibration=...)`` and ``evaluate --dataset``
    normalization: str | dict[str, Any] = ""
    #: for a normalisation from a calibration block: which windows form each subject's block
    #: (:func:`~brainalign.preprocessing.normalize.calibration_mask` keywords: ``where``
    #: and ``first_s`` or ``first_n``, e.g. ``{where: {label: rest}, first_s: 60}``). Those
    #: windows only give statistics: they are never trained on, validated or scored
    calibration: dict[str, Any] = field(default_factory=dict)


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
    #: with ``data.pairs``: the tower of each modality (``{image: {...}, text: {...}}``)
    #: in place of ``pair``
    pairs: dict[str, TowerConfig] = field(default_factory=dict)
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
    #: with ``data.pairs``: the modality a paired objective aligns the EEG with (one
    #: term per modality, each with its weight); ``consistency`` (1 - cosine of the
    #: EEG's embeddings in two modalities' heads) takes none
    modality: str = ""


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
    if origin is typing.Literal:
        if value not in args:
            raise ConfigError(f"{key}: expected one of {', '.join(map(repr, args))}, got {value!r}")
        return value
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
        if len(args) == 2 and dataclasses.is_dataclass(args[1]):
            return {str(k): _coerce(v, args[1], f"{key}.{k}") for k, v in value.items()}
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


def _unknown_key(key: str, name: str, valid: Sequence[str], what: str = "recipe key") -> ConfigError:
    close = difflib.get_close_matches(str(name), list(valid), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else f" (valid: {', '.join(valid)})"
    return ConfigError(f"unknown {what} {key!r}{hint}")


def _build(cls: type, values: dict[str, Any], prefix: str = "") -> Any:
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs = {}
    for k, v in values.items():
        key = f"{prefix}.{k}" if prefix else str(k)
        if k not in names:
            raise _unknown_key(key, k, names)
        kwargs[k] = _coerce(v, hints[k], key)
    return cls(**kwargs)


# ---------------------------------------------------------------------------- data section
_PIPELINE_KEYS = ("modality", "units", "steps")


def check_pipeline_spec(spec: Any, key: str = "data.pipeline") -> dict[str, Any]:
    """An inline pipeline spec validated key by key (the mapping a preset's
    ``pipeline:`` holds): ``modality``, ``units`` and ``steps``, each step a known
    one with known options of the right type. Returns the spec with values coerced
    (``tmax: 1`` -> ``1.0``); ConfigError naming the key otherwise."""
    from brainalign.data.recording import UNIT_SCALE
    from brainalign.preprocessing.steps import STEPS, Step

    if not isinstance(spec, dict):
        raise ConfigError(f"{key}: expected a mapping with {', '.join(_PIPELINE_KEYS)}, got {spec!r}")
    for k in spec:
        if k not in _PIPELINE_KEYS:
            raise _unknown_key(f"{key}.{k}", k, _PIPELINE_KEYS)
    out: dict[str, Any] = {
        "modality": _coerce(spec.get("modality", "eeg"), str, f"{key}.modality"),
        "units": _coerce(spec.get("units", "uV"), str, f"{key}.units"),
    }
    if out["units"] not in UNIT_SCALE:
        raise ConfigError(f"{key}.units: expected one of {', '.join(map(repr, UNIT_SCALE))}, got {out['units']!r}")
    steps = spec.get("steps")
    if not isinstance(steps, list) or not steps:
        raise ConfigError(f"{key}.steps: expected a list of steps ({{step: NAME, option: value...}}), got {steps!r}")
    out["steps"] = []
    for i, raw in enumerate(steps):
        where = f"{key}.steps[{i}]"
        if not isinstance(raw, dict):
            raise ConfigError(f"{where}: expected a mapping {{step: NAME, ...}}, got {raw!r}")
        name = raw.get("step")
        if name not in STEPS:
            close = difflib.get_close_matches(str(name), list(STEPS), n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ConfigError(
                f"{where}.step: unknown preprocessing step {name!r} ({hint}known: {', '.join(sorted(STEPS))})"
            )
        cls = STEPS[name]
        hints = typing.get_type_hints(cls)
        fields = list(dataclasses.fields(cls))
        names = [f.name for f in fields]
        where = f"{where} ({name})"
        step: dict[str, Any] = {"step": name}
        for k, v in raw.items():
            if k == "step":
                continue
            if k not in names:
                raise _unknown_key(f"{key}.steps[{i}].{k}", k, names, what=f"{name} option")
            step[k] = _coerce(v, hints[k], f"{key}.steps[{i}].{k}")
        missing = [
            f.name
            for f in fields
            if f.name not in step and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        ]
        if missing:
            raise ConfigError(f"{where}: missing required option(s) {', '.join(missing)}")
        try:
            Step.from_dict(step)  # the step's own checks (tmax after tmin, on_missing...)
        except ConfigError as err:
            raise ConfigError(f"{where}: {err}") from None
        out["steps"].append(step)
    return out


def reader_class(name: str, key: str = "data.reader") -> Any:
    """The reader class registered as ``name``; ConfigError naming ``key`` otherwise."""
    from brainalign.data.base import READERS

    if name not in READERS:
        close = difflib.get_close_matches(name, READERS.names(), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ConfigError(f"{key}: unknown reader {name!r} ({hint}known: {', '.join(READERS.names())})")
    return READERS.get(name)


def check_reader_params(cls: Any, params: dict[str, Any], key: str = "data.reader_params") -> None:
    """ConfigError when ``params`` names a parameter the reader ``cls`` does not take
    (a misspelt ``marker_map`` must not be silently ignored)."""
    import inspect

    sig = inspect.signature(cls.__init__)
    valid = [
        p.name
        for p in list(sig.parameters.values())[2:]  # after self, root
        if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    ]
    for k in params:
        if k not in valid:
            raise _unknown_key(f"{key}.{k}", k, valid, what=f"{cls.name} reader parameter")


def check_data(cfg: DataConfig) -> DataConfig:
    """The cross-key rules of the ``data`` section: one of ``preset`` and
    ``pipeline`` (and of ``pair_preset`` and ``pair_pipeline``), a known reader
    with parameters it takes, inline pipelines valid step by step."""
    if cfg.preset and cfg.pipeline is not None:
        raise ConfigError("data: give data.preset or data.pipeline, not both")
    if not cfg.preset and cfg.pipeline is None:
        raise ConfigError(
            "data: give data.preset (a named preset, see brainalign.preprocessing.available_presets) "
            "or data.pipeline (an inline pipeline: modality, units, steps)"
        )
    if cfg.preset_params and cfg.pipeline is not None:
        raise ConfigError("data.preset_params: only with data.preset (an inline data.pipeline holds its values)")
    if cfg.pair_preset and cfg.pair_pipeline is not None:
        raise ConfigError("data: give data.pair_preset or data.pair_pipeline, not both")
    if cfg.pipeline is not None:
        cfg.pipeline = check_pipeline_spec(cfg.pipeline, "data.pipeline")
    if cfg.pair_pipeline is not None:
        cfg.pair_pipeline = check_pipeline_spec(cfg.pair_pipeline, "data.pair_pipeline")
    if cfg.reader:
        check_reader_params(reader_class(cfg.reader), cfg.reader_params)
    check_normalization(cfg)
    return cfg


def check_normalization(cfg: DataConfig) -> Any:
    """The recipe's subject normaliser (unfitted), or None; ConfigError for an unknown one,
    for a calibration source without ``data.calibration`` (or the reverse), or beside
    ``data.standardize``."""
    from brainalign.preprocessing.normalize import make_normalizer

    if not cfg.normalization or cfg.normalization == "none":
        if cfg.calibration:
            raise ConfigError("data.calibration: only with a data.normalization from a calibration block")
        return None
    try:
        norm = make_normalizer(cfg.normalization)
    except ConfigError as err:
        raise ConfigError(f"data.normalization: {err}") from None
    if cfg.standardize != "none":
        raise ConfigError("data: give data.normalization or data.standardize, not both")
    if norm.source == "calibration":
        if not cfg.calibration:
            raise ConfigError(
                "data.calibration: a normalisation from a calibration block needs it, e.g. "
                "{where: {label: rest}, first_s: 60} (each subject's first 60 s of rest)"
            )
        unknown = sorted(set(cfg.calibration) - {"where", "first_s", "first_n"})
        if unknown:
            raise ConfigError(f"data.calibration: unknown key(s) {unknown}; known: where, first_s, first_n")
        if ("first_s" in cfg.calibration) == ("first_n" in cfg.calibration):
            raise ConfigError("data.calibration: give exactly one of first_s and first_n")
    elif cfg.calibration:
        raise ConfigError(f"data.calibration: the normalisation's statistics come from {norm.source!r}, not a block")
    return norm


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
    recipe = _build(Recipe, tree)
    check_data(recipe.data)
    check_pairs(recipe)
    return recipe


#: the modalities a shared multi-task encoder can be paired with (``data.pairs``)
SHARED_MODALITIES = ("text", "image")


def shared_modalities(data: DataConfig) -> list[str]:
    """A shared encoder's modalities, in order: ``data.pairs``, then those that
    ``data.sources`` add."""
    out = list(data.pairs)
    for source in data.sources:
        out += [m for m in source.pairs if m not in out]
    return out


def check_sources(data: DataConfig) -> None:
    """``data.sources``: a shared encoder's further datasets, each with a dataset, a
    preset and its known modalities; no subject normalisation across them."""
    if not data.sources:
        return
    if not data.pairs:
        raise ConfigError("data.sources: further datasets need a shared encoder (data.pairs, e.g. [image])")
    if data.normalization:
        raise ConfigError("data.sources: subject normalisation (data.normalization) is not supported across sources")
    for k, source in enumerate(data.sources):
        where = f"data.sources[{k}] ({source.dataset or '?'})"
        if not source.dataset or not source.preset:
            raise ConfigError(f"{where}: every source needs a dataset and a preset")
        if not source.pairs:
            raise ConfigError(f"{where}.pairs: the modalities its windows are paired with, e.g. [text]")
        unknown = [m for m in source.pairs if m not in SHARED_MODALITIES]
        if unknown or len(set(source.pairs)) != len(source.pairs):
            raise ConfigError(f"{where}.pairs: distinct modalities among {SHARED_MODALITIES}, got {source.pairs}")


#: the objective of a shared encoder that ties two modalities' EEG embeddings together
CONSISTENCY = "consistency"


def check_pairs(recipe: Recipe) -> None:
    """The rules of a shared multi-task encoder (``data.pairs``): known, distinct
    modalities, the primary ``data.pair`` among them, one tower each in ``model.pairs``
    (and none in ``model.pair``), every objective a per-modality ``clip`` term or the
    ``consistency`` term, no classifier. Without ``data.pairs``: no ``model.pairs`` and
    no objective ``modality``."""
    data, model = recipe.data, recipe.model
    check_sources(data)
    if not data.pairs:
        if model.pairs:
            raise ConfigError("model.pairs: per-modality towers need data.pairs (the modalities, e.g. [image, text])")
        for i, obj in enumerate(recipe.objectives):
            if obj.modality or obj.name == CONSISTENCY:
                raise ConfigError(f"objectives[{i}]: modality / consistency terms need data.pairs")
        return
    unknown = [m for m in data.pairs if m not in SHARED_MODALITIES]
    if unknown or len(set(data.pairs)) != len(data.pairs):
        raise ConfigError(f"data.pairs: distinct modalities among {SHARED_MODALITIES}, got {data.pairs}")
    if data.pair not in data.pairs:
        raise ConfigError(f"data.pair ({data.pair!r}) must be one of data.pairs {data.pairs}: the primary modality")
    modalities = shared_modalities(data)
    if set(model.pairs) != set(modalities):
        raise ConfigError(
            f"model.pairs: one tower per modality of data.pairs (and data.sources) {modalities}, got {sorted(model.pairs)}"
        )
    if model.pair.name:
        raise ConfigError("model.pair: with data.pairs the towers are given per modality in model.pairs")
    if model.fusion != "eeg":
        raise ConfigError("model.fusion: a shared multi-task encoder has no fusion classifier")
    for i, obj in enumerate(recipe.objectives):
        if obj.name == CONSISTENCY:
            if len(modalities) < 2:
                raise ConfigError(f"objectives[{i}]: consistency needs two modalities in data.pairs")
            if obj.modality:
                raise ConfigError(f"objectives[{i}].modality: consistency ties two modalities; give none")
            continue
        if obj.name != "clip":
            raise ConfigError(
                f"objectives[{i}]: a shared encoder trains per-modality clip terms (and consistency), not {obj.name!r}"
            )
        if obj.modality not in modalities:
            raise ConfigError(f"objectives[{i}].modality: one of data.pairs {modalities}, got {obj.modality!r}")
    keys = [(o.name, o.modality) for o in recipe.objectives]
    if len(set(keys)) != len(keys):
        raise ConfigError("objectives: one term per objective and modality")


def recorded_recipe(tree: Any) -> Any:
    """A recipe as a run folder records it (``config.json``), with the keys that
    recipes have gained since filled in by their defaults, in JSON form: what a
    recipe of today compares equal to when nothing that matters changed. Returned
    unchanged when it no longer validates."""
    try:
        return json.loads(json.dumps(recipe_from_dict(tree).to_dict(), default=str))
    except (ConfigError, TypeError, AttributeError):
        return tree


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
