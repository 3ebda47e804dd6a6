"""The shared multi-task EEG encoder (``data.pairs``) trained by the one trainer: each
modality's CLIP term is averaged over the windows that have the modality, weighted by the
recipe; an absent modality contributes nothing; a run saves and loads every modality.

The loss tests build tiny models from specs with precomputed-feature towers (no network,
no real data); the end-to-end test trains two epochs on real N170 windows (200 of them)
with precomputed image and text features standing in for the frozen towers.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from brainalign.errors import ConfigError
from brainalign.models.aligned import build_model
from brainalign.models.registry import create_encoder
from brainalign.objectives.loss import ClipLoss
from brainalign.training.recipe import recipe_from_dict
from brainalign.training.trainer import TrainModule, train

N_IMAGES, N_TEXTS, BATCH = 6, 3, 8


def _towers(tmp_path: Path) -> dict[str, dict[str, Any]]:
    rng = np.random.default_rng(1)
    out = {}
    for m, n, dim in (("image", N_IMAGES, 12), ("text", N_TEXTS, 10)):
        path = tmp_path / f"{m}.npy"
        np.save(path, rng.standard_normal((n, dim)).astype(np.float32))
        out[m] = {
            "name": "precomputed",
            "trainable": False,
            "lr_factor": 0.0,
            "kwargs": {"path": str(path), "names": [str(i) for i in range(n)]},
        }
    return out


def _shared_module(tmp_path: Path, weights: dict[str, float]) -> TrainModule:
    """A shared encoder (image primary, text branch) with a small EEGNet, and its losses."""
    torch.manual_seed(0)
    enc = create_encoder("eegnet", n_chans=4, n_times=64, sfreq=128.0, emb_dim=8, F1=4, D=1, F2=4, kernel_length=16)
    towers = _towers(tmp_path)
    spec = {
        "encoder": enc.encoder_config(),
        "head": {"depth": 1, "dim": 8, "hidden": None},
        "tower": towers["image"],
        "n_classes": None,
        "modalities": {"primary": "image", "order": ["image", "text"], "towers": {"text": towers["text"]}},
    }
    model = build_model(spec)
    model.set_pair_values([str(i) for i in range(N_IMAGES)])
    model.set_pair_values([str(i) for i in range(N_TEXTS)], modality="text")
    objectives = [
        {"name": "clip", "modality": m, "weight": w, "kwargs": {}} for m, w in weights.items() if m != "consistency"
    ]
    if "consistency" in weights:
        objectives.append({"name": "consistency", "modality": "", "weight": weights["consistency"], "kwargs": {}})
    return TrainModule(model, objectives, gather=False).eval()


def _batch() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(2)
    x = torch.randn(BATCH, 4, 64, generator=g)
    image = torch.tensor([0, 1, 2, 3, 4, 5, 0, 1])
    text = torch.tensor([0, 1, 2, 0, 1, 2, 0, 1])
    return x, torch.stack([image, text], dim=1)


def _single_clip(tm: TrainModule, x: torch.Tensor, idx: torch.Tensor, modality: str, rows: torch.Tensor) -> float:
    """The single-modality CLIP loss of ``rows`` alone (the sub-batch), with the term's own temperature."""
    model = tm.model
    z = model.encode_eeg(x[rows], modality)
    p = model.encode_pairs(idx[rows], modality=modality)
    loss = tm.losses[f"clip_{modality}"]
    assert isinstance(loss, ClipLoss)
    return float(loss(z, p, pair_ids=idx[rows]))


@torch.no_grad()
def test_an_absent_modality_contributes_nothing_and_the_rest_is_the_single_modality_loss(tmp_path: Path) -> None:
    tm = _shared_module(tmp_path, {"image": 1.0, "text": 0.5})
    x, pidx = _batch()
    only_image = pidx.clone()
    only_image[:, 1] = -1  # no window of this batch has a text
    total, parts, z = tm(x, only_image, torch.full((BATCH,), -1))
    assert set(parts) == {"clip_image"}
    every = torch.ones(BATCH, dtype=torch.bool)
    assert float(total) == pytest.approx(_single_clip(tm, x, pidx[:, 0], "image", every), rel=1e-5)
    assert torch.allclose(z, tm.model.encode_eeg(x))  # the primary modality's embeddings
    # and the other way round: text only, weighted 0.5
    only_text = pidx.clone()
    only_text[:, 0] = -1
    total, parts, _ = tm(x, only_text, torch.full((BATCH,), -1))
    assert set(parts) == {"clip_text"}
    assert float(total) == pytest.approx(0.5 * _single_clip(tm, x, pidx[:, 1], "text", every), rel=1e-5)


@torch.no_grad()
def test_a_mixed_batch_averages_each_term_over_its_own_windows(tmp_path: Path) -> None:
    """Half the windows come with an image, the other half with a text (two datasets in
    one batch): each term is the CLIP loss of its sub-batch alone, negatives included."""
    tm = _shared_module(tmp_path, {"image": 1.0, "text": 2.0})
    x, pidx = _batch()
    has_image = torch.tensor([True, True, True, True, False, False, False, False])
    mixed = pidx.clone()
    mixed[~has_image, 0] = -1
    mixed[has_image, 1] = -1
    total, parts, _ = tm(x, mixed, torch.full((BATCH,), -1))
    image = _single_clip(tm, x, pidx[:, 0], "image", has_image)
    text = _single_clip(tm, x, pidx[:, 1], "text", ~has_image)
    assert parts["clip_image"] == pytest.approx(image, rel=1e-5)
    assert parts["clip_text"] == pytest.approx(text, rel=1e-5)
    assert float(total) == pytest.approx(image + 2.0 * text, rel=1e-5)
    # the full-batch loss of a modality differs: the masks are what changed the numbers
    assert float(tm(x, pidx, torch.full((BATCH,), -1))[1]["clip_image"]) != pytest.approx(image, rel=1e-3)


@torch.no_grad()
def test_a_modality_with_one_window_in_the_batch_contributes_nothing(tmp_path: Path) -> None:
    tm = _shared_module(tmp_path, {"image": 1.0, "text": 1.0})
    x, pidx = _batch()
    one_text = pidx.clone()
    one_text[1:, 1] = -1
    total, parts, _ = tm(x, one_text, torch.full((BATCH,), -1))
    assert set(parts) == {"clip_image"}
    # no modality at all: a zero loss that still backpropagates (no step is lost to an error)
    tm.train()
    with torch.enable_grad():
        total, parts, _ = tm(x, torch.full_like(pidx, -1), torch.full((BATCH,), -1))
        total.backward()
    assert parts == {} and float(total) == 0.0


@torch.no_grad()
def test_the_weights_scale_their_terms_and_the_consistency_term_adds_one_minus_cosine(tmp_path: Path) -> None:
    x, pidx = _batch()
    labels = torch.full((BATCH,), -1)
    even = _shared_module(tmp_path, {"image": 1.0, "text": 1.0})
    total_even, parts, _ = even(x, pidx, labels)
    half = _shared_module(tmp_path, {"image": 1.0, "text": 0.25})
    total_half, parts_half, _ = half(x, pidx, labels)
    assert parts_half == pytest.approx(parts)  # same seed: same weights, same terms
    assert float(total_even) - float(total_half) == pytest.approx(0.75 * parts["clip_text"], rel=1e-5)
    tied = _shared_module(tmp_path, {"image": 1.0, "text": 1.0, "consistency": 2.0})
    total_tied, parts_tied, _ = tied(x, pidx, labels)
    z_image, z_text = tied.model.encode_eeg(x, "image"), tied.model.encode_eeg(x, "text")
    expected = float((1 - torch.nn.functional.cosine_similarity(z_image, z_text)).mean())
    assert parts_tied["consistency"] == pytest.approx(expected, rel=1e-5)
    assert float(total_tied) == pytest.approx(float(total_even) + 2.0 * expected, rel=1e-5)


def test_clip_per_sample_losses_average_to_the_mean_loss() -> None:
    g = torch.Generator().manual_seed(3)
    x, y = torch.randn(7, 5, generator=g), torch.randn(7, 5, generator=g)
    valid = torch.tensor([True, True, False, True, True, False, True])
    ids = torch.tensor([0, 1, 2, 0, 3, 4, 5])
    loss = ClipLoss()
    rows = loss(x, y, valid=valid, pair_ids=ids, reduction="none").detach()
    assert rows.shape == (7,) and float(rows[~valid].abs().sum()) == 0.0
    assert float(rows[valid].mean()) == pytest.approx(float(loss(x, y, valid=valid, pair_ids=ids)), rel=1e-6)


SHARED: dict[str, Any] = {
    "name": "tiny_shared",
    "seed": 0,
    "data": {
        "dataset": "n170",
        "preset": "n170_epochs",
        "pair": "image",
        "pairs": ["image", "text"],
        "max_windows": 300,
        "split": {"kind": "subject", "val": 1, "test": 1, "seed": 0},
    },
    "model": {
        "eeg": {"name": "eegnet", "emb_dim": 8, "kwargs": {"F1": 4, "D": 1, "F2": 4, "kernel_length": 16}},
        "pairs": {"image": {"name": "efficientnet_lite0"}, "text": {"name": "minilm"}},
        "head": {"depth": 1, "dim": 8},
    },
    "objectives": [
        {"name": "clip", "modality": "image", "weight": 1.0},
        {"name": "clip", "modality": "text", "weight": 0.5},
        {"name": "consistency", "weight": 0.1},
    ],
    "train": {"epochs": 2, "batch_size": 32, "lr": 0.003, "device": "cpu", "amp": False},
}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t["objectives"][1].update(modality="audio"), "objectives\\[1\\].modality"),
        (lambda t: t["model"]["pairs"].pop("text"), "model.pairs: one tower per modality"),
        (lambda t: t["data"].update(pair="text", pairs=["image"]), "data.pair"),
        (lambda t: t["data"].update(pairs=["image", "ecg"]), "data.pairs"),
        (lambda t: t["objectives"].append({"name": "triplet"}), "not 'triplet'"),
        (lambda t: t["model"].update(pair={"name": "minilm"}), "model.pair: with data.pairs"),
        (lambda t: t["data"].pop("pairs"), "model.pairs: per-modality towers need data.pairs"),
    ],
)
def test_shared_recipe_rules_name_the_key(change: Any, message: str) -> None:
    tree = copy.deepcopy(SHARED)
    change(tree)
    with pytest.raises(ConfigError, match=message):
        recipe_from_dict(tree)


def test_single_pair_recipe_takes_no_modality() -> None:
    tree = copy.deepcopy(SHARED)
    tree["data"].pop("pairs")
    tree["model"] = {"pair": {"name": "minilm"}}
    tree["data"]["pair"] = "text"
    tree["objectives"] = [{"name": "clip", "modality": "text"}]
    with pytest.raises(ConfigError, match="need data.pairs"):
        recipe_from_dict(tree)


def _stimulus_features(tmp_path: Path, data_root: Path) -> list[str]:
    """Precomputed stand-ins for the frozen towers: a random row per N170 stimulus image
    (by file stem) and per trial text."""
    rng = np.random.default_rng(0)
    stems = sorted(p.stem for p in (data_root / "eegnb_n170" / "stimuli").rglob("*.jpg"))
    (tmp_path / "images.txt").write_text("\n".join(stems) + "\n")
    np.save(tmp_path / "images.npy", rng.standard_normal((len(stems), 16)).astype(np.float32))
    texts = ["a photograph of a face", "a photograph of a house"]
    (tmp_path / "texts.txt").write_text("\n".join(texts) + "\n")
    np.save(tmp_path / "texts.npy", rng.standard_normal((2, 12)).astype(np.float32))
    return [
        f"model.pairs.image={{name: precomputed, kwargs: {{path: {tmp_path / 'images.npy'}, names: {tmp_path / 'images.txt'}}}}}",
        f"model.pairs.text={{name: precomputed, kwargs: {{path: {tmp_path / 'texts.npy'}, names: {tmp_path / 'texts.txt'}}}}}",
    ]


def test_shared_encoder_trains_saves_and_loads_every_modality(data_root: Path, tmp_path: Path) -> None:
    import brainalign

    recipe = recipe_from_dict(SHARED, _stimulus_features(tmp_path, data_root))
    out = tmp_path / "run"
    metrics = train(recipe, out, data_dir=data_root, progress=False)
    assert {"test_top1", "test_top1_text"} <= set(metrics)
    assert metrics["test_top1_text_chance"] == 0.5  # two texts
    config = json.loads((out / "config.json").read_text())
    assert config["spec"]["modalities"]["order"] == ["image", "text"]
    assert config["modalities"]["text"] == ["a photograph of a face", "a photograph of a house"]
    weights = load_file(str(out / "model.safetensors"))
    assert "branches.text.eeg_head.net.0.weight" in weights and "eeg_head.net.0.weight" in weights
    assert "objective.losses.clip_text.logit_scale" not in weights  # the model only: no loss terms

    run = brainalign.load(out)
    assert run.modalities == ["image", "text"]
    test = np.load(out / "test_embeddings.npy")
    from brainalign.training.data import build_paired_data

    data = build_paired_data(recipe.data, data_root, progress=False)
    x = np.asarray(data.windows.data[data.part("test")])
    image_space = run.encode_eeg(x)
    np.testing.assert_allclose(image_space, test, atol=1e-5)
    text_space = run.encode_eeg(x, modality="text")
    assert text_space.shape == image_space.shape and not np.allclose(text_space, image_space)
    texts = run.encode_pairs(modality="text")
    np.testing.assert_allclose(texts, np.load(out / "pair_embeddings_text.npy"), atol=1e-5)
    np.testing.assert_allclose(run.encode_pairs(), np.load(out / "pair_embeddings.npy"), atol=1e-5)
    # the text prompts as prototypes: the run's zero-shot top-1 on the test part
    codes = data.pair_indices[data.part("test"), 1]  # type: ignore[index]
    top1 = float(np.mean((text_space @ texts.T).argmax(1) == codes))
    assert top1 == pytest.approx(metrics["test_top1_text"], abs=1e-6)
    with pytest.raises(brainalign.errors.DataError, match="no modality 'audio'"):
        run.encode_eeg(x, modality="audio")


def test_single_pair_runs_keep_their_spec_and_weight_names(tmp_path: Path) -> None:
    """A single-pair recipe builds exactly the model it built before shared encoders:
    no ``modalities`` in its spec, no branch weights, the same objective key."""
    tree = copy.deepcopy(SHARED)
    tree["data"].pop("pairs")
    tree["model"] = {"eeg": tree["model"]["eeg"], "pair": _towers(tmp_path)["text"], "head": {"depth": 1, "dim": 8}}
    tree["data"]["pair"] = "text"
    tree["objectives"] = [{"name": "clip"}]
    recipe = recipe_from_dict(tree)
    assert recipe.data.pairs == [] and recipe.model.pairs == {}
    enc = create_encoder("eegnet", n_chans=4, n_times=64, sfreq=128.0, emb_dim=8, F1=4, D=1, F2=4, kernel_length=16)
    spec = {
        "encoder": enc.encoder_config(),
        "head": {"depth": 1, "dim": 8, "hidden": None},
        "tower": tree["model"]["pair"],
        "n_classes": None,
    }
    model = build_model(spec)
    assert model.modalities == [] and model.branches is None
    assert not any(k.startswith("branches") for k in model.state_dict())
    tm = TrainModule(model, [dataclasses.asdict(o) for o in recipe.objectives], gather=False)
    assert list(tm.losses) == ["clip"] and tm.terms == {}
