"""Differentiable augmentation and the ADA-style probability controller."""

from __future__ import annotations

import pytest
import torch

from brainalign.errors import ConfigError
from brainalign.generation.augment import AdaController, DiffAugment


def test_controller_raises_p_when_the_discriminator_overfits():
    ada = AdaController(target=0.6, interval=2, step=0.1)
    for _ in range(10):
        ada.accumulate(torch.tensor([3.0, 2.0, 1.0, 0.5]))  # r_t = 1 > 0.6
        ada.maybe_update()
    assert ada.p == pytest.approx(0.5)
    assert ada.last_r == 1.0


def test_controller_lowers_p_otherwise_and_stays_in_range():
    ada = AdaController(target=0.6, interval=1, step=0.3, p=0.5)
    for _ in range(5):
        ada.accumulate(torch.tensor([1.0, -1.0, -2.0, 1.0]))  # r_t = 0 < 0.6
        ada.maybe_update()
    assert ada.p == 0.0
    for _ in range(10):
        ada.accumulate(torch.ones(4))
        ada.maybe_update()
    assert ada.p == 1.0  # clipped


def test_controller_updates_only_every_interval():
    ada = AdaController(interval=4, step=0.1)
    for _ in range(3):
        ada.accumulate(torch.ones(2))
        assert not ada.maybe_update()
    ada.accumulate(torch.ones(2))
    assert ada.maybe_update() and ada.p == pytest.approx(0.1)


def test_controller_checks_its_settings():
    with pytest.raises(ConfigError):
        AdaController(p=1.5)
    with pytest.raises(ConfigError):
        AdaController(interval=0)


def test_diffaugment_identity_at_p0_and_differentiable():
    x = (torch.rand(4, 3, 8, 8) * 2 - 1).requires_grad_(True)
    aug = DiffAugment(p=0.0)
    assert aug(x) is x
    aug.p = 1.0
    torch.manual_seed(0)
    y = aug(x)
    assert y.shape == x.shape and not torch.equal(y, x)
    y.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    torch.manual_seed(0)
    assert torch.equal(aug(x), y)  # seeded: repeats
