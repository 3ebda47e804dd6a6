"""Every recipe in recipes/published trains for one short epoch on a tiny folder in
the layout of its published dataset (written by tests/data/layouts.py), through the
same ``load_recipe`` + ``train`` path as ``brainalign train``.

Only sizes are overridden (epochs, batch, split counts, preset crop lengths, the
CNN's filter widths, the MAE's depth); everything else - reader, preset, encoder,
tower, objective - is the recipe's own, and a separate test builds each encoder at
its published size. Each run must leave a loadable model, finite metrics, and test
embeddings of the recipe's shared-space size for exactly the test windows.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.numpy import load_file

from brainalign.models.registry import create_encoder
from brainalign.recipes import recipes_root
from brainalign.training.data import build_paired_data
from brainalign.training.recipe import load_recipe
from brainalign.training.trainer import train
from tests.data.emotion_layouts import write_dreamer
from tests.data.layouts import (
    THOUGHTVIZ_CLASSES,
    write_eegcvpr40,
    write_kaneshiro,
    write_things_eeg2,
    write_thoughtviz,
    write_tuab,
)

RECIPES = recipes_root() / "published"

#: A TUH montage holding every electrode of the EEG-CLIP (21) and CBraMod (19) channel
#: lists, in TUH's own labels (T3/T4/T5/T6 are the old names of T7/T8/P7/P8), plus ECG.
TUH_FULL_LABELS = [
    f"EEG {name}-REF"
    for name in (
        "FP1",
        "FP2",
        "F7",
        "F3",
        "FZ",
        "F4",
        "F8",
        "T3",
        "C3",
        "CZ",
        "C4",
        "T4",
        "T5",
        "P3",
        "PZ",
        "P4",
        "T6",
        "O1",
        "O2",
        "A1",
        "A2",
    )
] + ["EEG EKG1-REF"]
#: EEG-CLIP's preset drops the first 60 s; 24 s are left to window (crop_s=24 below).
TUH_SECONDS = 84

#: Sizes shared by every run: one epoch on the CPU, no AMP.
COMMON = ["train.epochs=1", "train.device=cpu", "train.amp=false"]


@dataclass(frozen=True)
class Case:
    recipe: str
    #: writes the dataset folder into the data directory given
    write: Callable[[Path], object]
    overrides: tuple[str, ...]
    #: (channels, samples, Hz) the published method sees (samples after any override)
    shape: tuple[int, int, float]


def _tuab(data: Path) -> object:
    return write_tuab(data / "tuab", seconds=TUH_SECONDS, labels=TUH_FULL_LABELS)


def _eegcvpr40(data: Path) -> object:
    return write_eegcvpr40(data / "eegcvpr40", n_subjects=2, n_classes=5, imgs_per_class=2)


def _things(data: Path) -> object:
    return write_things_eeg2(data / "things_eeg2", n_subjects=2, n_train_concepts=6, imgs_per_concept=2)


def _thoughtviz(data: Path) -> object:
    return write_thoughtviz(data / "thoughtviz", subsets=("image", "char"), n_train=24, n_test=6)


def _kaneshiro(data: Path) -> object:
    return write_kaneshiro(data / "kaneshiro", n_subjects=2, n_trials=15)


#: class splits on 5 fixture classes: 1 test, 2 validation, 2 training classes
CLASS_SPLIT = ("data.split.val=2", "data.split.test=1")
#: the CNN's published widths (128..1024 filters) cost seconds per trial on a CPU
SMALL_CNN = ("model.eeg.kwargs.filters=[8, 16, 16, 32]",)

CASES = [
    # EEG-CLIP: 21 electrodes, 12 s windows at 100 Hz
    Case(
        "eegclip_tuab.yaml",
        _tuab,
        ("data.preset_params.crop_s=24", "data.split.val=1", "data.split.test=1", "train.batch_size=8"),
        (21, 1200, 100.0),
    ),
    # NICE on the public THINGS-EEG2 release: 17 channels, 0..0.79 s at 100 Hz
    Case(
        "nice_things_eeg2.yaml",
        _things,
        ("data.split.val=1", "data.split.test=1", "train.batch_size=8"),
        (17, 80, 100.0),
    ),
    # EEGCVPR40: 128 channels, samples 20:460 at 1 kHz
    Case("triplet_lstm_eegcvpr40.yaml", _eegcvpr40, (*CLASS_SPLIT, "train.batch_size=8"), (128, 440, 1000.0)),
    Case(
        "triplet_cnn_eegcvpr40.yaml", _eegcvpr40, (*CLASS_SPLIT, *SMALL_CNN, "train.batch_size=8"), (128, 440, 1000.0)
    ),
    Case("eegclip_image_eegcvpr40.yaml", _eegcvpr40, (*CLASS_SPLIT, "train.batch_size=8"), (128, 440, 1000.0)),
    # ThoughtViz: 14 Emotiv channels x 32 samples at 128 Hz
    Case("triplet_lstm_thoughtviz.yaml", _thoughtviz, ("train.batch_size=8",), (14, 32, 128.0)),
    # Kaneshiro: 124 channels x 32 samples at 62.5 Hz
    Case("triplet_lstm_objects.yaml", _kaneshiro, ("train.batch_size=8",), (124, 32, 62.5)),
    # CBraMod data: 19 electrodes at 200 Hz (4 s windows here instead of 30 s)
    Case(
        "masked_pretrain_cbramod.yaml",
        _tuab,
        (
            "data.preset_params.window_s=4",
            "data.split.val=1",
            "data.split.test=1",
            "data.max_windows=24",
            "model.eeg.kwargs.depth=2",
            "train.batch_size=8",
        ),
        (19, 800, 200.0),
    ),
    # DREAMER: 14 EEG channels at 128 Hz, 2 s windows; masked pretraining (dual masking)
    Case(
        "emotion_dreamer.yaml",
        lambda d: write_dreamer(d / "dreamer", n_subjects=4, stimulus_s=(8.0, 8.0)),
        ("data.split.val=1", "data.split.test=1", "train.batch_size=8"),
        (14, 256, 128.0),
    ),
]


def _run(case: Case, tmp_path: Path) -> tuple[Path, dict, dict]:
    data = tmp_path / "data"
    case.write(data)
    recipe = load_recipe(RECIPES / case.recipe, overrides=[*COMMON, *case.overrides])
    out = tmp_path / "run"
    metrics = train(recipe, out, data_dir=data, progress=False)
    config = json.loads((out / "config.json").read_text())
    return out, metrics, config


def test_every_published_recipe_is_tested():
    assert sorted(p.name for p in RECIPES.glob("*.yaml")) == sorted(c.recipe for c in CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.recipe.removesuffix(".yaml") for c in CASES])
def test_published_recipe_trains_one_epoch_on_its_layout(case: Case, tmp_path: Path):
    out, metrics, config = _run(case, tmp_path)
    recipe = load_recipe(RECIPES / case.recipe)

    assert (out / "model.safetensors").is_file()
    on_disk = json.loads((out / "metrics.json").read_text())
    assert on_disk == metrics
    assert metrics["epochs_run"] == 1 and metrics["best_epoch"] == 0
    assert all(math.isfinite(v) for v in metrics.values() if isinstance(v, float))

    # the model saw the published input, through the recipe's own preset, encoder and objective
    contract = config["contract"]
    n_chans, n_times, sfreq = case.shape
    assert (len(contract["ch_names"]), contract["n_times"]) == (n_chans, n_times)
    assert contract["sfreq"] == pytest.approx(sfreq)  # THINGS-EEG2's rate comes from its times axis
    assert config["recipe"]["data"]["preset"] == recipe.data.preset
    assert config["spec"]["encoder"]["name"] == recipe.model.eeg.name
    assert [o["name"] for o in config["spec"]["objectives"]] == [o.name for o in recipe.objectives]

    # the weights hold the encoder, and the test embeddings are one unit vector in the
    # recipe's shared space per test window
    weights = load_file(str(out / "model.safetensors"))
    assert any(k.startswith("eeg_encoder.") for k in weights)
    emb = np.load(out / "test_embeddings.npy", allow_pickle=False)
    assert emb.shape == (len(config["split"]["test"]), recipe.model.head.dim)
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, rtol=1e-4)
    # model selection and test never share a window
    assert not set(config["split"]["test"]) & set(config["split"]["val"])


#: the full-size input where a fixture run shortens it (CBraMod's 30 s windows)
FULL_SHAPE = {"masked_pretrain_cbramod.yaml": (19, 6000, 200.0)}


@pytest.mark.parametrize("case", CASES, ids=[c.recipe.removesuffix(".yaml") for c in CASES])
def test_published_encoder_takes_the_published_input(case: Case):
    """The recipe's encoder, at its published sizes (not the fixture runs' smaller
    overrides), builds for the published input and embeds it."""
    recipe = load_recipe(RECIPES / case.recipe)
    n_chans, n_times, sfreq = FULL_SHAPE.get(case.recipe, case.shape)
    enc = recipe.model.eeg
    encoder = create_encoder(enc.name, n_chans, n_times, sfreq, enc.emb_dim, **enc.kwargs).eval()
    x = torch.randn(2, n_chans, n_times)
    with torch.no_grad():
        assert encoder(x).shape == (2, enc.emb_dim)
        if any(o.name == "masked" for o in recipe.objectives):
            pred, target, mask = encoder.forward_mae(x)
            # MAE hides half the patches; dual masking also whole leads: 0.5 + 0.5 * 0.2 expected
            expected = 0.5 + 0.5 * float(enc.kwargs.get("lead_mask_ratio", 0.0))
            tolerance = 0.15 if "lead_mask_ratio" in enc.kwargs else 1e-6
            assert pred.shape == target.shape and mask.float().mean() == pytest.approx(expected, abs=tolerance)


def test_thoughtviz_recipe_keeps_only_the_image_subset(tmp_path: Path):
    """The reader returns every subset; the recipe's label filter keeps the trials of
    the "image" subset (10 object classes), as the published method trains on."""
    written = write_thoughtviz(
        tmp_path / "thoughtviz", subsets=("image", "char"), n_train=24, n_test=6, with_images=False
    )
    recipe = load_recipe(RECIPES / "triplet_lstm_thoughtviz.yaml")
    data = build_paired_data(recipe.data, tmp_path, progress=False)
    image = written.arrays["image"]
    expected = [THOUGHTVIZ_CLASSES["image"][c] for part in ("train", "test") for c in image[f"y_{part}"].argmax(1)]
    assert data.windows.table["label"].tolist() == expected
    assert sum(len(data.part(p)) for p in ("train", "val", "test")) == len(expected)


def test_nice_recipe_with_precomputed_clip_features(tmp_path: Path):
    """NICE's released CLIP features (.npy, one row per training image) replace the
    image tower through two --set overrides, as the recipe's comment says."""
    data = tmp_path / "data"
    written = _things(data)
    rng = np.random.default_rng(0)
    features = rng.standard_normal((len(written.images), 1, 768)).astype(np.float32)  # NICE's (n, 1, 768)
    np.save(tmp_path / "clip_feature_maps_training.npy", features)
    names = tmp_path / "names.txt"
    names.write_text("\n".join(p.stem for p in written.images) + "\n")
    case = next(c for c in CASES if c.recipe == "nice_things_eeg2.yaml")
    recipe = load_recipe(
        RECIPES / case.recipe,
        overrides=[
            *COMMON,
            *case.overrides,
            "model.pair.name=precomputed",
            f"model.pair.kwargs={{path: {tmp_path / 'clip_feature_maps_training.npy'}, names: {names}}}",
        ],
    )
    metrics = train(recipe, tmp_path / "run", data_dir=data, progress=False)
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["spec"]["tower"]["name"] == "precomputed"
    assert math.isfinite(metrics["test_loss"])
    # the pair head maps the 768-d features (not EfficientNet's 1280) to the shared space
    weights = load_file(str(tmp_path / "run" / "model.safetensors"))
    assert weights["pair_head.net.0.weight"].shape == (768, 768)
