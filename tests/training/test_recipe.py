"""Recipes: validation key by key, ``--set`` overrides, and every shipped recipe."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from brainalign.errors import ConfigError
from brainalign.recipes import recipes_root
from brainalign.training.recipe import (
    Recipe,
    load_recipe,
    parse_overrides,
    recipe_from_dict,
    shared_modalities,
)

from .conftest import TINY_RECIPE

RECIPES = recipes_root()
SHIPPED = sorted(RECIPES.rglob("*.yaml")) + sorted(RECIPES.rglob("*.yml"))


def test_tiny_recipe_builds_the_dataclasses() -> None:
    r = recipe_from_dict(TINY_RECIPE)
    assert isinstance(r, Recipe)
    assert r.data.split.kind == "within_subject" and r.data.split.val == 1
    assert r.model.eeg.emb_dim == 16 and r.model.head.depth == 1
    assert [o.name for o in r.objectives] == ["triplet"]
    assert r.train.lr == pytest.approx(0.003)
    assert r.to_dict()["train"]["epochs"] == 3


@pytest.mark.parametrize(
    ("path", "typo", "suggestion"),
    [
        ((), "trian", "train"),
        (("train",), "epoch", "epochs"),
        (("data", "split"), "knd", "kind"),
        (("model", "eeg"), "emb_dims", "emb_dim"),
    ],
)
def test_misspelt_key_is_named_with_a_suggestion(path: tuple[str, ...], typo: str, suggestion: str) -> None:
    tree = copy.deepcopy(TINY_RECIPE)
    node = tree
    for p in path:
        node = node[p]
    node[typo] = node.pop(suggestion, 1)
    with pytest.raises(ConfigError) as err:
        recipe_from_dict(tree)
    dotted = ".".join((*path, typo))
    assert repr(dotted) in str(err.value)
    assert f"did you mean {suggestion!r}" in str(err.value)


def test_misspelt_key_without_close_match_lists_the_valid_keys() -> None:
    tree = {**copy.deepcopy(TINY_RECIPE), "zzzzzz": 1}
    with pytest.raises(ConfigError, match=r"'zzzzzz'.*valid: name, seed, data"):
        recipe_from_dict(tree)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("train.epochs=three", r"train\.epochs: expected int, got 'three'"),
        ("train.epochs=2.5", r"train\.epochs: expected int, got 2\.5"),
        ("train.epochs=true", r"train\.epochs: expected int, got True"),
        ("train.amp=maybe", r"train\.amp: expected bool, got 'maybe'"),
        ("train.lr=fast", r"train\.lr: expected float, got 'fast'"),
        ("name=7", r"name: expected str, got 7"),
        ("data.split=3", r"data\.split: expected a mapping, got 3"),
        ("data.labels=related", r"data\.labels: expected a list, got 'related'"),
    ],
)
def test_wrong_type_is_named(override: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        recipe_from_dict(TINY_RECIPE, [override])


def test_overrides_parse_yaml_scalars() -> None:
    r = recipe_from_dict(
        TINY_RECIPE,
        [
            "train.epochs=7",
            "train.lr=1e-4",
            "train.amp=true",
            "data.split.val=0.25",
            "name=other run",
            "data.max_windows=null",
            "data.labels=[related, unrelated]",
            "model.eeg.kwargs={drop_prob: 0.5}",
        ],
    )
    assert r.train.epochs == 7 and isinstance(r.train.epochs, int)
    assert r.train.lr == 1e-4 and isinstance(r.train.lr, float)  # YAML 1.1 reads "1e-4" as a string
    assert r.train.amp is True
    assert r.data.split.val == 0.25 and isinstance(r.data.split.val, float)
    assert r.name == "other run"
    assert r.data.max_windows is None
    assert r.data.labels == ["related", "unrelated"]
    assert r.model.eeg.kwargs == {"drop_prob": 0.5}
    assert parse_overrides(["a.b=c=d", "x="]) == [("a.b", "c=d"), ("x", "")]


def test_override_creates_missing_sections_and_leaves_the_input_unchanged() -> None:
    before = copy.deepcopy(TINY_RECIPE)
    r = recipe_from_dict(TINY_RECIPE, ["model.pair.name=minilm", "data.split.seed=5", "train.epochs=9"])
    assert r.model.pair.name == "minilm" and r.data.split.seed == 5 and r.train.epochs == 9
    assert TINY_RECIPE == before


def test_bad_overrides() -> None:
    with pytest.raises(ConfigError, match="expected key=value"):
        recipe_from_dict(TINY_RECIPE, ["train.epochs"])
    with pytest.raises(ConfigError, match=r"'epochs' is not a mapping"):
        recipe_from_dict(TINY_RECIPE, ["train.epochs.x=1"])
    with pytest.raises(ConfigError, match=r"unknown recipe key 'train\.epoch' \(did you mean 'epochs'\?\)"):
        recipe_from_dict(TINY_RECIPE, ["train.epoch=1"])


def test_nested_objectives() -> None:
    tree = copy.deepcopy(TINY_RECIPE)
    tree["objectives"] = [
        {"name": "triplet", "weight": 0.5, "kwargs": {"margin": 0.3}},
        {"name": "ce", "weight": 2},
    ]
    r = recipe_from_dict(tree)
    assert [(o.name, o.weight, o.kwargs) for o in r.objectives] == [("triplet", 0.5, {"margin": 0.3}), ("ce", 2.0, {})]
    assert isinstance(r.objectives[1].weight, float)
    # one objective given as a mapping is a list of one; --set reaches into it
    tree["objectives"] = {"name": "clip"}
    r = recipe_from_dict(tree, ["objectives.kwargs.temperature=0.1"])
    assert [(o.name, o.kwargs) for o in r.objectives] == [("clip", {"temperature": 0.1})]
    # a typo inside an objective is named with its position
    tree["objectives"] = [{"name": "clip"}, {"name": "ce", "wieght": 1}]
    with pytest.raises(ConfigError, match=r"'objectives\[1\]\.wieght' \(did you mean 'weight'\?\)"):
        recipe_from_dict(tree)
    tree["objectives"] = [{"name": "clip", "weight": "heavy"}]
    with pytest.raises(ConfigError, match=r"objectives\[0\]\.weight: expected float, got 'heavy'"):
        recipe_from_dict(tree)


def test_load_recipe_names_the_file(tmp_path: Path, write_recipe) -> None:
    with pytest.raises(ConfigError, match="recipe not found"):
        load_recipe(tmp_path / "absent.yaml")
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("train: {epochs: [1,\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml: not valid YAML"):
        load_recipe(bad_yaml)
    listing = tmp_path / "list.yaml"
    listing.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="a recipe is a mapping"):
        load_recipe(listing)
    typo = write_recipe({**TINY_RECIPE, "sead": 1}, "typo.yaml")
    with pytest.raises(ConfigError, match=r"typo\.yaml: unknown recipe key 'sead' \(did you mean 'seed'\?\)"):
        load_recipe(typo)
    good = write_recipe(TINY_RECIPE, "good.yaml")
    assert load_recipe(good, ["train.epochs=5"]).train.epochs == 5


def test_recipes_folder_is_not_empty() -> None:
    assert SHIPPED, f"no recipe found under {RECIPES}"


@pytest.mark.parametrize("path", SHIPPED, ids=[str(p.relative_to(RECIPES)) for p in SHIPPED])
def test_shipped_recipe_loads_and_names_known_components(path: Path) -> None:
    """Every recipe under recipes/ (recipes added later included) validates, and
    the names it uses exist: preset, encoder, tower, objectives, pair kind."""
    from brainalign.models.registry import list_encoders
    from brainalign.models.towers import TOWERS
    from brainalign.objectives import OBJECTIVES, objective_inputs
    from brainalign.preprocessing.presets import available_presets
    from brainalign.training.data import PAIR_KINDS

    r = load_recipe(path)
    assert r.data.dataset, "data.dataset is required"
    assert (r.data.preset in available_presets()) != (r.data.pipeline is not None), "a preset or an inline pipeline"
    assert r.data.pair in PAIR_KINDS
    assert r.model.eeg.name in list_encoders()
    assert r.objectives and all(o.name in OBJECTIVES for o in r.objectives)
    if r.data.pairs:  # a shared encoder: a tower per modality, a term per modality or tying two
        modalities = shared_modalities(r.data)  # data.pairs and those data.sources add
        assert set(r.model.pairs) == set(modalities) and all(t.name in TOWERS for t in r.model.pairs.values())
        assert all(o.modality in modalities or objective_inputs(o.name) == "modalities" for o in r.objectives)
        assert all(s.preset in available_presets() for s in r.data.sources)
    elif r.data.pair in ("text", "image"):
        assert r.model.pair.name in TOWERS, "text/image pairs need a paired tower"
    if r.data.pair == "ecg":
        assert r.model.pair.name in list_encoders(), "an ECG pair needs an encoder of the registry"
        assert (r.data.pair_preset in available_presets()) != (r.data.pair_pipeline is not None)
    if any(objective_inputs(o.name) == "pairs" for o in r.objectives):
        assert r.data.pair in ("text", "image", "ecg"), "contrastive objectives need paired data"
    from brainalign.models.fusion import MODES
    from brainalign.training.data import STANDARDIZE

    assert r.model.fusion in MODES and r.data.standardize in STANDARDIZE and r.data.pair_standardize in STANDARDIZE
    assert all(e.dataset and e.preset in available_presets() for e in r.data.extra)
    if r.data.extra:
        assert {objective_inputs(o.name) for o in r.objectives} == {"masked"}, "extra corpora train masked only"
