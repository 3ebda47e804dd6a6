"""Projection heads that map an encoder's embedding into the shared alignment space."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from brainalign.errors import ConfigError


class ProjectionHead(nn.Module):
    """MLP of ``depth`` linear layers with ReLU between them; output L2-normalised.

    The defaults (3 layers, 64-d output) follow EEG-CLIP's projection heads.
    ``depth=1`` is a single linear map.  Hidden layers are ``hidden_dim`` wide
    (``in_dim`` by default).  Normalising the output puts every modality on the
    unit sphere, where contrastive losses compare cosine similarities.
    """

    def __init__(
        self,
        in_dim: int,
        out_dim: int = 64,
        depth: int = 3,
        hidden_dim: int | None = None,
        dropout: float = 0.0,
        normalize: bool = True,
    ) -> None:
        super().__init__()
        if depth < 1:
            raise ConfigError(f"ProjectionHead: depth must be >= 1, got {depth}")
        hidden = in_dim if hidden_dim is None else hidden_dim
        dims = [in_dim] + [hidden] * (depth - 1) + [out_dim]
        layers: list[nn.Module] = []
        for i in range(depth):
            if i:
                layers += [nn.ReLU(), nn.Dropout(dropout)]
            layers.append(nn.Linear(dims[i], dims[i + 1]))
        self.net = nn.Sequential(*layers)
        self.normalize = normalize
        self._config = {
            "in_dim": in_dim,
            "out_dim": out_dim,
            "depth": depth,
            "hidden_dim": hidden_dim,
            "dropout": dropout,
            "normalize": normalize,
        }

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.net(x)
        return F.normalize(out, dim=-1) if self.normalize else out

    def config(self) -> dict[str, Any]:
        """Constructor arguments: ``ProjectionHead(**head.config())`` rebuilds the architecture."""
        return dict(self._config)
