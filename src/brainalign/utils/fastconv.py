"""Faster CPU kernels for the same convolutions: a rewrite of a model in place.

braindecode's convolutional decoders (Deep4Net, ShallowFBCSPNet) keep their
feature maps as ``(batch, filters, time, 1)`` and convolve with ``(k, 1)``
kernels; their final layer is a convolution whose kernel spans the whole
remaining time axis; and for short windows Deep4Net shrinks its max-pools to
``(1, 1)``. On CPU (oneDNN, torch 2.13, AVX2) these shapes take slow paths,
measured on one Deep4 training step (batch 64, 19 x 200), forward + backward:

* a ``(k, 1)`` conv2d on a width-1 map is 2.5-4x slower than the same conv1d;
* the whole-length final conv2d is ~9x slower than the same matrix product;
* a ``(1, 1)`` max-pool (an identity) costs a copy and its backward.

:func:`use_fast_kernels` swaps the class of each such module for a subclass
whose ``forward`` computes the same function through the fast kernel (conv1d,
``linear``, or nothing for the identity pool), and falls back to the original
``forward`` for any input it does not cover. Parameters, buffers, their names
(``state_dict``), hooks and optimiser references are untouched, so checkpoints
and safetensors files are interchangeable with the unmodified model. Results
agree to float32 rounding (different summation order), not bit for bit.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _width_one(conv: nn.Conv2d, x: torch.Tensor) -> bool:
    """A (k, 1) kernel on a width-1 map without width padding: a conv1d over time."""
    return (
        x.dim() == 4
        and x.shape[-1] == 1
        and conv.kernel_size[1] == 1
        and isinstance(conv.padding, tuple)
        and conv.padding[1] == 0
        and conv.padding_mode == "zeros"
    )


class FastConv2d(nn.Conv2d):
    """``nn.Conv2d`` computed as conv1d (or a matrix product when the kernel spans
    the whole time axis) on ``(batch, channels, time, 1)`` inputs."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not _width_one(self, x):
            return super().forward(x)
        if self.groups == 1 and self.padding[0] == 0 and self.dilation[0] == 1 and self.kernel_size[0] == x.shape[-2]:
            # the kernel covers the whole time axis: one output sample, a dense layer
            out = F.linear(x.flatten(1), self.weight.flatten(1), self.bias)
            return out[:, :, None, None]
        out = F.conv1d(
            x.squeeze(-1),
            self.weight.squeeze(-1),
            self.bias,
            self.stride[0],
            self.padding[0],
            self.dilation[0],
            self.groups,
        )
        return out.unsqueeze(-1)


class IdentityMaxPool2d(nn.MaxPool2d):
    """A ``(1, 1)`` max-pool with stride 1: returns its input (no copy, no backward)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def _is_identity_pool(pool: nn.MaxPool2d) -> bool:
    pair = nn.modules.utils._pair
    return (
        pair(pool.kernel_size) == (1, 1)
        and pair(pool.stride or pool.kernel_size) == (1, 1)
        and pair(pool.padding) == (0, 0)
        and pair(pool.dilation) == (1, 1)
        and not pool.return_indices
    )


def use_fast_kernels(model: nn.Module) -> int:
    """Rewrite ``model`` in place (see the module doc); returns how many modules changed.

    Only modules of exactly ``nn.Conv2d`` / ``nn.MaxPool2d`` are touched:
    subclasses (max-norm constrained convs, parametrised weights) keep their own
    ``forward``. Idempotent.
    """
    changed = 0
    for module in model.modules():
        if type(module) is nn.Conv2d and not nn.utils.parametrize.is_parametrized(module):
            module.__class__ = FastConv2d
            changed += 1
        elif type(module) is nn.MaxPool2d and _is_identity_pool(module):
            module.__class__ = IdentityMaxPool2d
            changed += 1
    return changed
