"""A shared multi-task encoder trained on several datasets (``data.sources``): the N170
windows paired with their stimulus images (the main block, the first source) and the
visual P300 windows paired with their trial texts, in one set, one split, one trainer.

Real eeg-notebooks windows (both Muse TP9/AF7/AF8/TP10, 128 Hz after the presets; the
P300 epochs cut to the N170's -0.1..0.6 s), at most 200 of each source; precomputed
features stand in for the frozen image and text towers.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from brainalign.errors import ConfigError
from brainalign.training.data import PairedData, build_paired_data
from brainalign.training.recipe import recipe_from_dict, shared_modalities
from brainalign.training.trainer import train

P300_TEXTS = ["a photograph of a nontarget", "a photograph of a target"]

MIXED: dict[str, Any] = {
    "name": "tiny_mixed",
    "seed": 0,
    "data": {
        "dataset": "eegnb_n170",
        "preset": "n170_epochs",
        "pair": "image",
        "pairs": ["image"],
        "max_windows": 200,
        "sources": [
            {
                "dataset": "eegnb_p300",
                "preset": "p300_epochs",
                "preset_params": {"tmax": 0.6},
                "pairs": ["text"],
                "max_windows": 200,
            }
        ],
        "split": {"kind": "subject", "val_groups": ["eegnb_n170/2"], "test_groups": ["eegnb_n170/3", "eegnb_p300/3"]},
    },
    "model": {
        "eeg": {"name": "eegnet", "emb_dim": 8, "kwargs": {"F1": 4, "D": 1, "F2": 4, "kernel_length": 16}},
        "pairs": {"image": {"name": "efficientnet_lite0"}, "text": {"name": "minilm"}},
        "head": {"depth": 1, "dim": 8},
    },
    "objectives": [
        {"name": "clip", "modality": "image", "weight": 1.0},
        {"name": "clip", "modality": "text", "weight": 1.0},
    ],
    "train": {"epochs": 2, "batch_size": 64, "lr": 0.003, "device": "cpu", "amp": False},
}


@pytest.fixture(scope="module")
def mixed(data_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PairedData]:
    with pytest.MonkeyPatch.context() as mp:  # a cache of this module's own, never ~/.cache
        mp.setenv("BRAINALIGN_CACHE", str(tmp_path_factory.mktemp("sources_cache")))
        yield build_paired_data(recipe_from_dict(MIXED).data, data_root, progress=False)


def test_the_encoders_modalities_are_the_main_blocks_then_the_sources() -> None:
    recipe = recipe_from_dict(MIXED)
    assert shared_modalities(recipe.data) == ["image", "text"]
    assert recipe.data.sources[0].pairs == ["text"] and recipe.data.sources[0].preset_params == {"tmax": 0.6}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t["model"]["pairs"].pop("text"), r"model.pairs: one tower per modality .*\['image', 'text'\]"),
        (lambda t: t["data"]["sources"][0].pop("pairs"), r"data.sources\[0\] \(eegnb_p300\).pairs"),
        (lambda t: t["data"]["sources"][0].update(pairs=["ecg"]), r"data.sources\[0\] \(eegnb_p300\).pairs"),
        (lambda t: t["data"]["sources"][0].pop("preset"), r"data.sources\[0\] \(eegnb_p300\): every source"),
        (lambda t: t["data"]["sources"][0].update(window=1), r"'data.sources\[0\].window'"),
        (lambda t: t["data"].update(normalization="train"), "data.sources: subject normalisation"),
    ],
)
def test_source_rules_name_the_key(change: Any, message: str) -> None:
    tree = copy.deepcopy(MIXED)
    change(tree)
    with pytest.raises(ConfigError, match=message):
        recipe_from_dict(tree)


def test_sources_need_a_shared_encoder() -> None:
    tree = copy.deepcopy(MIXED)
    tree["data"].pop("pairs")
    tree["model"] = {"eeg": tree["model"]["eeg"], "pair": {"name": "efficientnet_lite0"}}
    tree["objectives"] = [{"name": "clip"}]
    with pytest.raises(ConfigError, match="data.sources: further datasets need a shared encoder"):
        recipe_from_dict(tree)


def test_each_source_keeps_only_its_own_modalities(mixed: PairedData) -> None:
    table = mixed.windows.table
    assert mixed.modalities == ["image", "text"]
    assert mixed.modality_values["text"] == P300_TEXTS  # the P300 reader's trial texts; N170's are dropped
    assert all("eegnb_n170/stimuli/" in v for v in mixed.modality_values["image"])  # the N170 stimulus images
    assert table["source"].value_counts().to_dict() == {"eegnb_n170": 200, "eegnb_p300": 200}
    n170 = (table["source"] == "eegnb_n170").to_numpy()
    idx = mixed.pair_indices
    assert idx is not None and idx.shape == (400, 2)
    assert (idx[n170, 0] >= 0).all() and (idx[n170, 1] == -1).all()
    assert (idx[~n170, 0] == -1).all() and (idx[~n170, 1] >= 0).all()
    np.testing.assert_array_equal(mixed.pair_index, idx[:, 0])  # the primary modality: image
    assert set(table.loc[~n170, "text"]) == set(P300_TEXTS) and table.loc[n170, "text"].isna().all()
    assert table.loc[~n170, "image"].isna().all()
    assert mixed.classes == ["face", "house", "nontarget", "target"]


def test_a_mixed_batch_has_image_rows_only_from_the_image_source(mixed: PairedData) -> None:
    ds = mixed.dataset("train")
    x, pidx, labels, w = ds.batch(np.arange(len(ds)))
    assert x.shape[1:] == (4, 90) and pidx.shape == (len(ds), 2)
    source = mixed.windows.table["source"].to_numpy()[w.numpy()]
    assert set(source) == {"eegnb_n170", "eegnb_p300"}  # the training part mixes both datasets
    assert set(source[(pidx[:, 0] >= 0).numpy()]) == {"eegnb_n170"}
    assert set(source[(pidx[:, 1] >= 0).numpy()]) == {"eegnb_p300"}
    assert bool(((pidx >= 0).sum(dim=1) == 1).all())  # every window has exactly one of the two
    classes = np.array(mixed.classes)[labels.numpy()]
    assert set(classes[source == "eegnb_p300"]) <= {"target", "nontarget"}


def test_subject_ids_are_prefixed_by_source_and_splits_never_share_one(mixed: PairedData) -> None:
    table = mixed.windows.table
    for name, subjects in table.groupby("source")["subject"]:
        assert all(s.startswith(f"{name}/") for s in subjects)
    # subject 1 and 3 exist in both datasets: two subjects each, never one
    assert {"eegnb_n170/1", "eegnb_p300/1", "eegnb_n170/3", "eegnb_p300/3"} <= set(table["subject"])
    parts = {p: set(table["subject"].iloc[mixed.part(p)]) for p in ("train", "val", "test")}
    assert parts["test"] == {"eegnb_n170/3", "eegnb_p300/3"} and parts["val"] == {"eegnb_n170/2"}
    assert not parts["train"] & parts["test"] and not parts["train"] & parts["val"]
    assert {"eegnb_p300/1", "eegnb_n170/1"} <= parts["train"]
    assert all(r.startswith(("eegnb_n170/", "eegnb_p300/")) for r in table["recording"])


@pytest.mark.parametrize(
    ("params", "mismatch"),
    [
        ({}, "window length 115 samples (the main windows: 90 samples)"),  # P300 epochs run to 0.8 s
        ({"tmax": 0.6, "sfreq": 64.0}, "sampling rate 64 Hz (the main windows: 128 Hz)"),
    ],
)
def test_a_source_of_another_length_or_rate_is_refused(data_root: Path, params: dict, mismatch: str) -> None:
    tree = copy.deepcopy(MIXED)
    tree["data"]["sources"][0]["preset_params"] = params
    with pytest.raises(ConfigError, match=r"data.sources\[0\] \(eegnb_p300\): .*" + re.escape(mismatch)):
        build_paired_data(recipe_from_dict(tree).data, data_root, progress=False)


def _towers(tmp_path: Path, data_root: Path) -> list[str]:
    """Precomputed stand-ins for the frozen towers: a random row per N170 stimulus image
    (by file stem) and per P300 trial text."""
    rng = np.random.default_rng(0)
    stems = sorted(p.stem for p in (data_root / "eegnb_n170" / "stimuli").rglob("*.jpg"))
    (tmp_path / "images.txt").write_text("\n".join(stems) + "\n")
    np.save(tmp_path / "images.npy", rng.standard_normal((len(stems), 16)).astype(np.float32))
    (tmp_path / "texts.txt").write_text("\n".join(P300_TEXTS) + "\n")
    np.save(tmp_path / "texts.npy", rng.standard_normal((2, 12)).astype(np.float32))
    return [
        f"model.pairs.{m}={{name: precomputed, kwargs: {{path: {tmp_path / f'{f}.npy'}, names: {tmp_path / f'{f}.txt'}}}}}"
        for m, f in (("image", "images"), ("text", "texts"))
    ]


def test_a_mixed_run_trains_scores_both_sources_saves_and_loads(data_root: Path, tmp_path: Path) -> None:
    import brainalign

    recipe = recipe_from_dict(MIXED, _towers(tmp_path, data_root))
    out = tmp_path / "run"
    metrics = train(recipe, out, data_dir=data_root, progress=False)
    # the image top-1 on the test part's N170 windows, the text top-1 on its P300 windows
    assert {"test_top1", "test_top1_text"} <= set(metrics)
    assert metrics["test_top1_text_chance"] == 0.5
    config = json.loads((out / "config.json").read_text())
    assert config["spec"]["modalities"]["order"] == ["image", "text"]
    assert config["modalities"]["text"] == P300_TEXTS
    run = brainalign.load(out)
    assert run.modalities == ["image", "text"]
    data = build_paired_data(recipe.data, data_root, progress=False)
    test = data.part("test")
    x = np.asarray(data.windows.data[test])
    np.testing.assert_allclose(run.encode_eeg(x), np.load(out / "test_embeddings.npy"), atol=1e-5)
    text_space, texts = run.encode_eeg(x, modality="text"), run.encode_pairs(modality="text")
    codes = data.pair_indices[test, 1]  # type: ignore[index]
    have = codes >= 0
    top1 = float(np.mean((text_space[have] @ texts.T).argmax(1) == codes[have]))
    assert top1 == pytest.approx(metrics["test_top1_text"], abs=1e-6)
    assert torch.isfinite(torch.as_tensor(metrics["test_loss"]))
