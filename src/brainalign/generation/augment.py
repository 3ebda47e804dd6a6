"""Differentiable augmentation for GANs on small image sets, and its ADA-style controller.

* :class:`DiffAugment` applies the same kind of random, differentiable transforms to
  real and fake images before the discriminator (DiffAugment, Zhao et al. 2020):
  colour (brightness, contrast, saturation), translation (up to 1/8 of the side) and
  cutout (a square of a quarter of the area), each applied to an image with
  probability ``p``. The transforms are kornia's, so gradients flow to the generator.
* :class:`AdaController` steers ``p`` as adaptive discriminator augmentation does
  (Karras et al. 2020): the overfitting signal ``r_t = E[sign(D(real))]`` is collected
  over ``interval`` steps; above ``target`` (D is too sure about the reals) ``p`` goes
  up by ``step``, below it ``p`` goes down, and it stays in ``[0, p_max]``.

Images are in [-1, 1]; the colour transforms work in [0, 1] internally.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from brainalign.errors import ConfigError

__all__ = ["AUGMENTATIONS", "AdaController", "DiffAugment"]

AUGMENTATIONS = ("color", "translation", "cutout")


def _build(kind: str) -> nn.Module:
    import kornia.augmentation as K

    if kind == "color":
        return K.ColorJiggle(brightness=0.3, contrast=0.4, saturation=0.8, p=0.0)
    if kind == "translation":
        return K.RandomTranslate(
            translate_x=(-0.125, 0.125), translate_y=(-0.125, 0.125), padding_mode="reflection", p=0.0
        )
    if kind == "cutout":
        return K.RandomErasing(scale=(0.25, 0.25), ratio=(1.0, 1.0), value=0.5, p=0.0)
    raise ConfigError(f"unknown augmentation {kind!r}; known: {', '.join(AUGMENTATIONS)}")


class DiffAugment(nn.Module):
    """Random differentiable transforms ``kinds`` (a subset of :data:`AUGMENTATIONS`,
    applied in that order), each to each image with probability :attr:`p`.

    ``p`` may be changed between calls (the ADA controller does). With ``p == 0`` the
    input is returned as it is. Randomness comes from torch's global generator, so a
    seeded run repeats.
    """

    def __init__(self, kinds: Sequence[str] = AUGMENTATIONS, p: float = 0.0):
        super().__init__()
        self.kinds = tuple(kinds)
        self.ops = nn.ModuleList([_build(k) for k in self.kinds])
        self.p = float(p)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if self.p <= 0.0 or not self.kinds:
            return images
        x = (images + 1.0) * 0.5
        for op in self.ops:
            op.p = self.p
            x = op(x)
        return x * 2.0 - 1.0


class AdaController:
    """Adaptive augmentation probability from the discriminator's overfitting signal.

    Call :meth:`accumulate` with the discriminator's logits on (augmented) real images
    every step and :meth:`maybe_update` after it: every ``interval`` calls ``p`` moves
    by ``step`` toward more augmentation when ``r_t = mean(sign(D(real))) > target``,
    toward less when it is below, and is clipped to ``[0, p_max]``.
    """

    def __init__(self, target: float = 0.6, interval: int = 4, step: float = 0.01, p: float = 0.0, p_max: float = 1.0):
        if not 0.0 <= p_max <= 1.0 or not 0.0 <= p <= p_max:
            raise ConfigError(f"AdaController needs 0 <= p <= p_max <= 1, got p={p}, p_max={p_max}")
        if interval < 1 or step < 0:
            raise ConfigError(f"AdaController needs interval >= 1 and step >= 0, got {interval}, {step}")
        self.target = float(target)
        self.interval = int(interval)
        self.step = float(step)
        self.p = float(p)
        self.p_max = float(p_max)
        self.last_r = float("nan")
        self._sum = 0.0
        self._count = 0
        self._calls = 0

    def accumulate(self, d_real: torch.Tensor) -> None:
        """Add the signs of the discriminator's outputs on real images."""
        signs = torch.sign(d_real.detach().float()).flatten()
        self._sum += float(signs.sum())
        self._count += int(signs.numel())

    def maybe_update(self) -> bool:
        """Every ``interval``-th call: update ``p`` from the collected ``r_t``; returns
        whether it did."""
        self._calls += 1
        if self._calls % self.interval or self._count == 0:
            return False
        self.last_r = self._sum / self._count
        self._sum, self._count = 0.0, 0
        if self.last_r > self.target:
            self.p = min(self.p_max, self.p + self.step)
        elif self.last_r < self.target:
            self.p = max(0.0, self.p - self.step)
        return True
