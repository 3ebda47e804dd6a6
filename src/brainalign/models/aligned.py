"""The trained model: an EEG encoder with its projection head, and, for aligned
methods, the paired tower with its own head, all in one ``nn.Module`` so that
one safetensors file holds every trained weight.

The architecture is described by a JSON-able ``spec`` (encoder config, head
sizes, tower name and settings, class names); :func:`build_model` builds the
same module from the spec alone, which is what ``brainalign.load`` does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from brainalign.models.fusion import FusionClassifier
from brainalign.models.heads import ProjectionHead
from brainalign.models.registry import create_encoder


class AlignedModel(nn.Module):
    def __init__(
        self,
        eeg_encoder: nn.Module,
        eeg_head: nn.Module,
        pair_tower: nn.Module | None = None,
        pair_head: nn.Module | None = None,
        classifier: nn.Module | None = None,
    ):
        super().__init__()
        self.eeg_encoder = eeg_encoder
        self.eeg_head = eeg_head
        # Any: built from registries (encoders or towers), each with its own extras
        self.pair_tower: Any = pair_tower
        self.pair_head: Any = pair_head
        self.classifier: Any = classifier
        #: what the classifier sees: "eeg", "pair", "concat" or "cross_attention" (set by build_model)
        self.fusion = "eeg"
        #: frozen-tower features of the distinct pair values (not saved: re-computable)
        self.pair_features: torch.Tensor | None = None
        self.pair_values: list[str] = []
        #: paired signal windows (ECG) that pair indices refer to (not saved: data)
        self.pair_signals: torch.Tensor | None = None

    def set_pair_signals(self, windows: Any) -> None:
        """The paired signal windows (n, channels, times) that pair indices refer to."""
        self.pair_signals = torch.as_tensor(windows, dtype=torch.float32)

    def encode_eeg(self, x: torch.Tensor) -> torch.Tensor:
        """L2-normalised EEG embeddings in the shared space."""
        return self.eeg_head(self.eeg_encoder(x))

    def set_pair_values(self, values: Sequence[str]) -> None:
        """The distinct texts / image paths that pair indices refer to. A frozen
        tower embeds them once here (cached on disk by the tower)."""
        self.pair_values = list(values)
        self.pair_features = None
        if self.pair_tower is not None and getattr(self.pair_tower, "frozen", True):
            from brainalign.models.embedding_cache import EmbeddingCache

            with torch.no_grad():
                self.pair_features = EmbeddingCache(self.pair_tower).encode(self.pair_values).float()

    def encode_pairs(self, index: torch.Tensor) -> torch.Tensor:
        """Embeddings of pair values by index (frozen: looked up; trainable:
        the tower runs once per distinct value in the batch)."""
        if self.pair_head is None:
            raise RuntimeError("this model has no paired tower")
        if self.pair_signals is not None:
            feats = self.pair_tower(self.pair_signals[index.cpu()].to(index.device))
        elif self.pair_features is not None:
            feats = self.pair_features.to(index.device)[index]
        else:
            uniq, inverse = torch.unique(index, return_inverse=True)
            feats = self.pair_tower.encode([self.pair_values[i] for i in uniq.tolist()])[inverse]
        return self.pair_head(feats)

    def classifier_input(self, z: torch.Tensor, pair_index: torch.Tensor) -> torch.Tensor:
        """The features the classifier sees: EEG embedding, paired embedding or both."""
        if self.fusion == "eeg":
            return z
        p = self.encode_pairs(pair_index.clamp_min(0))
        return p if self.fusion == "pair" else torch.cat([z, p], dim=1)

    def pair_inputs(self, pair_index: torch.Tensor) -> torch.Tensor:
        """The paired signal windows (ECG) of ``pair_index``, on its device."""
        if self.pair_signals is None:
            raise RuntimeError("this model has no paired signal windows")
        return self.pair_signals[pair_index.clamp_min(0).cpu()].to(pair_index.device)

    def classify(self, x: torch.Tensor, z: torch.Tensor, pair_index: torch.Tensor) -> torch.Tensor:
        """Class logits of EEG windows ``x`` (``z``: their embeddings) and their pairs.

        A linear classifier reads :meth:`classifier_input`; a
        :class:`~brainalign.models.fusion.FusionClassifier` reads the signals through the
        encoders it shares with this model (their own embeddings, or patch tokens)."""
        if isinstance(self.classifier, FusionClassifier):
            return self.classifier(
                x if self.fusion != "pair" else None, self.pair_inputs(pair_index) if self.fusion != "eeg" else None
            )
        return self.classifier(self.classifier_input(z, pair_index))

    def encode_all_pairs(self) -> torch.Tensor:
        return self.encode_pairs(torch.arange(len(self.pair_values)))


def build_model(spec: dict[str, Any], load_pretrained_tower: bool = True) -> AlignedModel:
    """Build the module described by ``spec`` (see :func:`model_spec`)."""
    enc = create_encoder(**spec["encoder"])
    head = spec["head"]
    eeg_head = ProjectionHead(enc.emb_dim, head["dim"], depth=head["depth"], hidden_dim=head.get("hidden"))
    tower: Any = None
    pair_head = None
    classifier: nn.Module | None = None
    dim: int
    if spec.get("tower"):
        t = spec["tower"]
        if t["name"] == "signal":  # a second signal (ECG) through an encoder of the registry
            tower = create_encoder(**t["encoder"])
            dim = tower.emb_dim
            if not t.get("trainable", True):
                tower.requires_grad_(False)
        else:
            from brainalign.models.towers import create_tower

            tower = create_tower(t["name"], **t.get("kwargs", {}))
            dim = tower.dim
            if not t.get("trainable"):
                tower.freeze()
        tower.lr_factor = float(t.get("lr_factor", 1e-3))
        pair_head = ProjectionHead(dim, head["dim"], depth=head["depth"], hidden_dim=head.get("hidden"))
    fusion = spec.get("fusion", "eeg")
    if spec.get("n_classes") and (spec.get("classifier", "linear") == "mlp" or fusion == "cross_attention"):
        classifier = FusionClassifier(enc, tower, int(spec["n_classes"]), mode=fusion, hidden=head["dim"])
    elif spec.get("n_classes"):
        width = head["dim"] * (2 if fusion == "concat" else 1)
        classifier = nn.Linear(width, int(spec["n_classes"]))
    model = AlignedModel(enc, eeg_head, tower, pair_head, classifier)
    model.fusion = fusion
    return model


def model_spec(
    encoder_config: dict[str, Any],
    head: dict[str, Any],
    tower: dict[str, Any] | None,
    n_classes: int | None,
) -> dict[str, Any]:
    return {"encoder": encoder_config, "head": head, "tower": tower, "n_classes": n_classes}
