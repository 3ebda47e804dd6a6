"""Image helpers for generation: stimulus files as small training tensors, and the
frozen EfficientNet-Lite0 feature extractor used by the image metrics.

Generator images live in [-1, 1] at the GAN's resolution. For EfficientNet-Lite0 they
are resized (bilinear, antialiased) to 224 px and rescaled to the network's input
scaling ``(x_uint8 - 127) / 128``. Real stimuli are first brought to the generator's
resolution too (:func:`load_images`), so real and generated images reach the feature
extractor through the same down- and up-sampling and differ only in content.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from brainalign.errors import DataError

__all__ = ["EffNetFeatures", "load_images", "to_uint8"]


def load_images(paths: Sequence[str | os.PathLike], size: int) -> torch.Tensor:
    """Images ``(n, 3, size, size)`` in [-1, 1]: each file converted to RGB, its centre
    square cropped and resized (Lanczos) to ``size``. A missing or undecodable file
    raises :class:`DataError` naming it."""
    from PIL import Image

    out = []
    for path in paths:
        path = Path(path)
        try:
            with Image.open(path) as img:
                rgb = img.convert("RGB")
        except FileNotFoundError:
            raise DataError(path, "image file not found") from None
        except (OSError, ValueError, SyntaxError) as err:
            raise DataError(path, f"cannot decode the image: {err}") from None
        w, h = rgb.size
        side = min(w, h)
        if side == 0:
            raise DataError(path, "empty image")
        left, top = (w - side) // 2, (h - side) // 2
        rgb = rgb.crop((left, top, left + side, top + side)).resize((size, size), Image.Resampling.LANCZOS)
        pixels = np.asarray(rgb, dtype=np.float32) / 127.5 - 1.0
        out.append(torch.from_numpy(pixels.transpose(2, 0, 1).copy()))
    if not out:
        return torch.zeros(0, 3, size, size)
    return torch.stack(out)


def to_uint8(images: torch.Tensor | np.ndarray) -> np.ndarray:
    """(n, 3, h, w) images in [-1, 1] as (n, h, w, 3) uint8 for plotting or saving."""
    x = torch.as_tensor(images).detach().float().clamp(-1, 1)
    return ((x + 1.0) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()


class EffNetFeatures:
    """Frozen EfficientNet-Lite0 (ImageNet) pooled features, 1280-d, of images in [-1, 1].

    ``tower`` is an :class:`brainalign.models.towers.ImageTower` (built on first use
    when not given: it loads the packaged weights, offline). ``size`` is the input side
    images are resized to: 224 as in ImageNet evaluation; a smaller side (e.g. 128 for
    32 px generator images, which carry no more detail) costs a third of the compute.
    Report the size with the scores: features, and so distances, change with it.
    """

    dim = 1280

    def __init__(self, tower: torch.nn.Module | None = None, batch_size: int = 32, size: int = 224):
        self._tower = tower
        self.batch_size = batch_size
        self.size = int(size)

    @property
    def tower(self) -> torch.nn.Module:
        if self._tower is None:
            from brainalign.models.towers import ImageTower

            self._tower = ImageTower(frozen=True)
        return self._tower

    @torch.no_grad()
    def __call__(self, images: torch.Tensor | np.ndarray) -> np.ndarray:
        x = torch.as_tensor(images, dtype=torch.float32)
        if x.ndim != 4 or x.shape[1] != 3:
            raise DataError(None, f"images must be (n, 3, h, w), got {tuple(x.shape)}")
        if len(x) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = []
        for i in range(0, len(x), self.batch_size):
            batch = x[i : i + self.batch_size].clamp(-1, 1)
            if batch.shape[-1] != self.size or batch.shape[-2] != self.size:
                batch = F.interpolate(
                    batch, size=(self.size, self.size), mode="bilinear", align_corners=False, antialias=True
                )
            batch = ((batch + 1.0) * 127.5 - 127.0) / 128.0
            out.append(self.tower(batch).float().cpu().numpy())
        return np.concatenate(out).astype(np.float32)
