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


class ModalityBranch(nn.Module):
    """A further modality of a shared multi-task encoder: the EEG's own projection head
    into that modality's space, the modality's tower and the tower's projection head.
    (The primary modality keeps ``eeg_head`` / ``pair_tower`` / ``pair_head`` of
    :class:`AlignedModel`, so a single-pair model's weight names are unchanged.)"""

    def __init__(self, eeg_head: nn.Module, tower: nn.Module, pair_head: nn.Module):
        super().__init__()
        self.eeg_head = eeg_head
        self.tower: Any = tower
        self.pair_head = pair_head
        #: frozen-tower features of ``values`` (not saved: re-computable)
        self.features: torch.Tensor | None = None
        self.values: list[str] = []


def _frozen_features(tower: Any, values: list[str]) -> torch.Tensor | None:
    """A frozen tower's features of ``values`` (cached on disk by the tower); None otherwise."""
    if tower is None or not getattr(tower, "frozen", True):
        return None
    from brainalign.models.embedding_cache import EmbeddingCache

    with torch.no_grad():
        return EmbeddingCache(tower).encode(values).float()


def _tower_features(tower: Any, features: torch.Tensor | None, values: list[str], index: torch.Tensor) -> torch.Tensor:
    """Tower features of ``values[index]``: looked up when frozen, else the tower runs
    once per distinct value in ``index``."""
    if features is not None:
        return features.to(index.device)[index]
    uniq, inverse = torch.unique(index, return_inverse=True)
    return tower.encode([values[i] for i in uniq.tolist()])[inverse]


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
        #: a shared multi-task encoder: the modalities (recipe order), the primary one (the
        #: fields above), and a branch per further modality; empty for a single-pair model
        self.modalities: list[str] = []
        self.primary = ""
        self.branches: Any = None

    def set_branches(self, primary: str, modalities: Sequence[str], branches: dict[str, ModalityBranch]) -> None:
        """Make this a shared multi-task encoder: ``primary`` uses the single-pair fields,
        each other modality of ``modalities`` its branch."""
        if primary not in modalities or set(branches) != set(modalities) - {primary}:
            raise ValueError(f"branches {sorted(branches)} do not complete {list(modalities)} beside {primary!r}")
        self.primary, self.modalities = primary, list(modalities)
        self.branches = nn.ModuleDict(branches)

    def _branch(self, modality: str | None) -> ModalityBranch | None:
        """The branch of ``modality``; None for the primary one (or None)."""
        if modality is None or modality == self.primary:
            return None
        if self.branches is None or modality not in self.branches:
            known = self.modalities or ["(a single-pair model)"]
            raise ValueError(f"no modality {modality!r} in this model (has {', '.join(known)})")
        branch: ModalityBranch = self.branches[modality]
        return branch

    def eeg_head_for(self, modality: str | None = None) -> nn.Module:
        """The EEG projection head into ``modality``'s space (default: the primary one)."""
        branch = self._branch(modality)
        return self.eeg_head if branch is None else branch.eeg_head

    def set_pair_signals(self, windows: Any) -> None:
        """The paired signal windows (n, channels, times) that pair indices refer to."""
        self.pair_signals = torch.as_tensor(windows, dtype=torch.float32)

    def encode_eeg(self, x: torch.Tensor, modality: str | None = None) -> torch.Tensor:
        """L2-normalised EEG embeddings in the shared space (of ``modality``, for a shared
        multi-task encoder; default: its primary modality)."""
        return self.eeg_head_for(modality)(self.eeg_encoder(x))

    def set_pair_values(self, values: Sequence[str], modality: str | None = None) -> None:
        """The distinct texts / image paths that pair indices (of ``modality``) refer to.
        A frozen tower embeds them once here (cached on disk by the tower)."""
        branch = self._branch(modality)
        if branch is not None:
            branch.values = list(values)
            branch.features = _frozen_features(branch.tower, branch.values)
            return
        self.pair_values = list(values)
        self.pair_features = _frozen_features(self.pair_tower, self.pair_values)

    def encode_pairs(self, index: torch.Tensor, modality: str | None = None) -> torch.Tensor:
        """Embeddings of pair values (of ``modality``) by index (frozen: looked up;
        trainable: the tower runs once per distinct value in the batch)."""
        branch = self._branch(modality)
        if branch is not None:
            return branch.pair_head(_tower_features(branch.tower, branch.features, branch.values, index))
        if self.pair_head is None:
            raise RuntimeError("this model has no paired tower")
        if self.pair_signals is not None:
            feats = self.pair_tower(self.pair_signals[index.cpu()].to(index.device))
        else:
            feats = _tower_features(self.pair_tower, self.pair_features, self.pair_values, index)
        return self.pair_head(feats)

    def pair_towers(self) -> list[nn.Module]:
        """Every paired tower (the primary one and each branch's)."""
        towers = [] if self.pair_tower is None else [self.pair_tower]
        return towers + ([b.tower for b in self.branches.values()] if self.branches is not None else [])

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

    def encode_all_pairs(self, modality: str | None = None) -> torch.Tensor:
        branch = self._branch(modality)
        n = len(self.pair_values if branch is None else branch.values)
        return self.encode_pairs(torch.arange(n), modality)


def build_model(spec: dict[str, Any], load_pretrained_tower: bool = True) -> AlignedModel:
    """Build the module described by ``spec`` (see :func:`model_spec`)."""
    enc = create_encoder(**spec["encoder"])
    head = spec["head"]
    eeg_head = ProjectionHead(enc.emb_dim, head["dim"], depth=head["depth"], hidden_dim=head.get("hidden"))
    tower: Any = None
    pair_head = None
    classifier: nn.Module | None = None
    if spec.get("tower"):
        tower, pair_head = _tower_and_head(spec["tower"], head)
    fusion = spec.get("fusion", "eeg")
    if spec.get("n_classes") and (spec.get("classifier", "linear") == "mlp" or fusion == "cross_attention"):
        classifier = FusionClassifier(enc, tower, int(spec["n_classes"]), mode=fusion, hidden=head["dim"])
    elif spec.get("n_classes"):
        width = head["dim"] * (2 if fusion == "concat" else 1)
        classifier = nn.Linear(width, int(spec["n_classes"]))
    model = AlignedModel(enc, eeg_head, tower, pair_head, classifier)
    model.fusion = fusion
    shared = spec.get("modalities")
    if shared:  # a shared multi-task encoder: one branch per further modality
        branches = {}
        for m, t in shared["towers"].items():
            b_tower, b_head = _tower_and_head(t, head)
            b_eeg = ProjectionHead(enc.emb_dim, head["dim"], depth=head["depth"], hidden_dim=head.get("hidden"))
            branches[m] = ModalityBranch(b_eeg, b_tower, b_head)
        model.set_branches(shared["primary"], shared["order"], branches)
    return model


def _tower_and_head(t: dict[str, Any], head: dict[str, Any]) -> tuple[Any, nn.Module]:
    """A paired tower from its spec and its projection head into the shared space."""
    dim: int
    tower: Any
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
    return tower, ProjectionHead(dim, head["dim"], depth=head["depth"], hidden_dim=head.get("hidden"))


def model_spec(
    encoder_config: dict[str, Any],
    head: dict[str, Any],
    tower: dict[str, Any] | None,
    n_classes: int | None,
) -> dict[str, Any]:
    return {"encoder": encoder_config, "head": head, "tower": tower, "n_classes": n_classes}
