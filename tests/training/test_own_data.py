"""A user's own data through a recipe, without Python: ``data.reader``,
``data.reader_params`` and an inline ``data.pipeline`` in place of a preset,
validated key by key like the rest of the recipe."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from brainalign.errors import ConfigError
from brainalign.preprocessing.presets import get_preset
from brainalign.recipes import recipe_path
from brainalign.training.data import build_paired_data, data_pipeline, load_windows
from brainalign.training.recipe import load_recipe, recipe_from_dict

from .conftest import TINY_RECIPE

#: the N400 preset written out as an inline pipeline, as a user would
N400_INLINE: dict[str, Any] = {
    "modality": "eeg",
    "units": "uV",
    "steps": [{"step": "CheckFinite"}, {"step": "CheckRate", "sfreq": 50}],
}
P300_STEPS: list[dict[str, Any]] = [
    {"step": "PickChannels", "channels": ["TP9", "AF7", "AF8", "TP10"]},
    {"step": "Filter", "l_freq": 1.0, "h_freq": 20.0},
    {"step": "EventWindow", "tmin": -0.1, "tmax": 0.8, "labels": ["nontarget", "target"], "baseline": [None, 0]},
]


def _inline(pipeline: dict[str, Any] | None = None, **data: Any) -> dict[str, Any]:
    tree = copy.deepcopy(TINY_RECIPE)
    del tree["data"]["preset"]
    tree["data"]["pipeline"] = copy.deepcopy(N400_INLINE) if pipeline is None else pipeline
    tree["data"].update(data)
    return tree


def _with_steps(steps: list[dict[str, Any]]) -> dict[str, Any]:
    return _inline({"modality": "eeg", "units": "uV", "steps": steps})


def test_inline_pipeline_is_validated_and_coerced() -> None:
    r = recipe_from_dict(
        _with_steps(P300_STEPS), ["data.reader=eegnb", "data.reader_params={marker_map: {1: nontarget, 2: target}}"]
    )
    assert r.data.preset == "" and r.data.reader == "eegnb"
    steps = r.data.pipeline["steps"]
    assert steps[2] == {
        "step": "EventWindow",
        "tmin": -0.1,
        "tmax": 0.8,
        "labels": ["nontarget", "target"],
        "baseline": [None, 0.0],
    }
    assert isinstance(steps[2]["baseline"][1], float)  # coerced like every float of the recipe
    pipeline = data_pipeline(r.data)
    assert [type(s).__name__ for s in pipeline.steps] == ["PickChannels", "Filter", "EventWindow"]
    assert pipeline.steps[2].labels == ["nontarget", "target"]


def test_the_shipped_example_has_an_inline_pipeline() -> None:
    r = load_recipe(recipe_path("examples/own_muse_p300"))
    assert r.data.preset == "" and r.data.reader == "eegnb"
    assert r.data.reader_params["marker_map"] == {1: "nontarget", 2: "target"}
    assert [s["step"] for s in r.data.pipeline["steps"]] == [
        "PickChannels",
        "CheckFinite",
        "Filter",
        "Resample",
        "EventWindow",
        "Clip",
    ]


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        # a misspelt option, named with its position and the closest valid one
        (
            [*P300_STEPS[:2], {**P300_STEPS[2], "tmaxx": 0.8}],
            r"unknown EventWindow option 'data\.pipeline\.steps\[2\]\.tmaxx' \(did you mean 'tmax'\?\)",
        ),
        (
            [{"step": "Filter", "lfreq": 1.0}],
            r"unknown Filter option 'data\.pipeline\.steps\[0\]\.lfreq' \(did you mean 'l_freq'\?\)",
        ),
        (
            [{"step": "Filtre", "l_freq": 1.0}],
            r"data\.pipeline\.steps\[0\]\.step: unknown preprocessing step 'Filtre' \(did you mean 'Filter'\?",
        ),
        ([{"l_freq": 1.0}], r"data\.pipeline\.steps\[0\]\.step: unknown preprocessing step None"),
        ([{"step": "Resample", "sfreq": "fast"}], r"data\.pipeline\.steps\[0\]\.sfreq: expected float, got 'fast'"),
        (
            [{"step": "EventWindow", "tmin": 0.0, "tmax": 1.0, "labels": "target"}],
            r"data\.pipeline\.steps\[0\]\.labels: expected a list, got 'target'",
        ),
        (
            [{"step": "PickChannels", "channels": ["Cz"], "on_missing": "skip"}],
            r"data\.pipeline\.steps\[0\]\.on_missing: expected one of 'raise', 'ignore', got 'skip'",
        ),
        ([{"step": "EventWindow", "tmax": 0.8}], r"steps\[0\] \(EventWindow\): missing required option\(s\) tmin"),
        (
            [{"step": "EventWindow", "tmin": 0.5, "tmax": 0.1}],
            r"steps\[0\] \(EventWindow\): EventWindow: tmax \(0\.1\) must be after tmin \(0\.5\)",
        ),
        (["Filter"], r"data\.pipeline\.steps\[0\]: expected a mapping"),
        ([], r"data\.pipeline\.steps: expected a list of steps"),
    ],
)
def test_bad_inline_step_is_named(steps: list, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        recipe_from_dict(_with_steps(steps))


@pytest.mark.parametrize(
    ("pipeline", "message"),
    [
        ({"modality": "eeg", "stepz": []}, r"unknown recipe key 'data\.pipeline\.stepz' \(did you mean 'steps'\?\)"),
        ({"units": "microvolt", "steps": [{"step": "CheckFinite"}]}, r"data\.pipeline\.units: expected one of"),
        ({"modality": 3, "steps": [{"step": "CheckFinite"}]}, r"data\.pipeline\.modality: expected str, got 3"),
        ("n170_epochs", r"data\.pipeline: expected a mapping"),
    ],
)
def test_bad_pipeline_keys_are_named(pipeline: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        recipe_from_dict(_inline(pipeline))


def test_exactly_one_of_preset_and_pipeline() -> None:
    both = _inline(preset="n400_epochs")
    with pytest.raises(ConfigError, match=r"give data\.preset or data\.pipeline, not both"):
        recipe_from_dict(both)
    neither = copy.deepcopy(TINY_RECIPE)
    del neither["data"]["preset"]
    with pytest.raises(ConfigError, match=r"give data\.preset \(a named preset.*or data\.pipeline"):
        recipe_from_dict(neither)
    with pytest.raises(ConfigError, match=r"data\.preset_params: only with data\.preset"):
        recipe_from_dict(_inline(preset_params={"sfreq": 50}))
    with pytest.raises(ConfigError, match=r"data\.pair_preset or data\.pair_pipeline, not both"):
        recipe_from_dict(
            TINY_RECIPE, ["data.pair_preset=eegmat_ecg_windows", "data.pair_pipeline={steps: [{step: CheckFinite}]}"]
        )


def test_reader_and_its_parameters_are_checked() -> None:
    with pytest.raises(ConfigError, match=r"data\.reader: unknown reader 'eegnbb' \(did you mean 'eegnb'\?"):
        recipe_from_dict(TINY_RECIPE, ["data.reader=eegnbb"])
    with pytest.raises(
        ConfigError,
        match=r"unknown eegnb reader parameter 'data\.reader_params\.marker_mpa' "
        r"\(did you mean 'marker_map'\?\)",
    ):
        recipe_from_dict(TINY_RECIPE, ["data.reader=eegnb", "data.reader_params={marker_mpa: {1: a}}"])
    r = recipe_from_dict(TINY_RECIPE, ["data.reader=fif", "data.reader_params={label_column: FAS}"])
    assert r.data.reader_params == {"label_column": "FAS"}


def test_cli_names_the_file_and_the_misspelt_option(cli, write_recipe) -> None:
    path = write_recipe(_with_steps([{"step": "Resample", "sfrq": 100}]), "mine.yaml")
    proc = cli("train", path, "--out", path.parent / "run")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert line == (
        f"brainalign train: error: {path}: unknown Resample option "
        "'data.pipeline.steps[0].sfrq' (did you mean 'sfreq'?)"
    )
    assert not (path.parent / "run").exists()


@pytest.mark.realdata
def test_inline_pipeline_gives_the_presets_windows(real_env) -> None:
    """The N400 preset written inline cuts the same windows (the same cache entry, even)."""
    inline = recipe_from_dict(_inline())
    preset = recipe_from_dict(TINY_RECIPE)
    a, b = load_windows(inline.data, progress=False), load_windows(preset.data, progress=False)
    assert a.pipeline == b.pipeline == get_preset("n400_epochs").to_dict()
    assert np.array_equal(np.asarray(a.data), np.asarray(b.data))
    assert a.table.equals(b.table)


@pytest.mark.realdata
def test_reader_params_of_a_detected_reader_are_checked_when_read(real_env) -> None:
    r = recipe_from_dict(TINY_RECIPE, ["data.reader_params={label_colum: FAS}"])  # reader detected: fif
    with pytest.raises(
        ConfigError,
        match=r"unknown fif reader parameter 'data\.reader_params\.label_colum' "
        r"\(did you mean 'label_column'\?\)",
    ):
        build_paired_data(r.data, progress=False)


@pytest.mark.realdata
def test_run_records_reader_and_resolved_pipeline(trained_run: Path) -> None:
    config = json.loads((trained_run / "config.json").read_text())
    assert config["reader"] == {"name": "fif", "params": {}}  # detected from the layout
    assert config["pipeline"] == json.loads(json.dumps(get_preset("n400_epochs").to_dict()))
    assert config["pair_pipeline"] is None


def test_a_run_recorded_before_these_keys_resumes(tmp_path: Path) -> None:
    """A config.json written before data.reader / pipeline / pair_pipeline existed holds
    the same recipe: --resume continues it, a real change is still refused."""
    from brainalign.errors import DataError
    from brainalign.training.recipe import recorded_recipe
    from brainalign.training.trainer import _check_same_recipe

    now = recipe_from_dict(TINY_RECIPE).to_dict()
    old = json.loads(json.dumps(now))
    for key in ("reader", "pipeline", "pair_pipeline"):
        del old["data"][key]
    assert recorded_recipe(old) == json.loads(json.dumps(now))
    (tmp_path / "config.json").write_text(json.dumps({"recipe": old}))
    _check_same_recipe(tmp_path, now)
    with pytest.raises(DataError, match=r"changed: train\.epochs"):
        _check_same_recipe(tmp_path, recipe_from_dict(TINY_RECIPE, ["train.epochs=9"]).to_dict())
