"""Masked multi-modality loss against hand-computed values."""

from __future__ import annotations

import pytest
import torch

from brainalign.errors import ConfigError
from brainalign.generation.multitask import consistency_loss, masked_mean, masked_multitask_loss


def test_each_modality_is_averaged_over_its_own_samples():
    losses = {"image": torch.tensor([1.0, 2.0, 100.0, 3.0]), "text": torch.tensor([50.0, 4.0, 6.0, float("nan")])}
    masks = {"image": torch.tensor([True, True, False, True]), "text": torch.tensor([False, True, True, False])}
    total, parts = masked_multitask_loss(losses, masks, {"image": 2.0, "text": 0.5})
    # image: (1 + 2 + 3) / 3 = 2; text: (4 + 6) / 2 = 5; total = 2 * 2 + 0.5 * 5 = 6.5
    assert parts == {"image": pytest.approx(2.0), "text": pytest.approx(5.0)}
    assert float(total) == pytest.approx(6.5)


def test_absent_modality_contributes_nothing_and_gradients_flow():
    x = torch.tensor([1.0, 3.0], requires_grad=True)
    losses = {"image": x * 2, "text": x * 10}
    masks = {"image": torch.tensor([True, True]), "text": torch.tensor([False, False])}
    total, parts = masked_multitask_loss(losses, masks, {"image": 1.0, "text": 1.0})
    assert total.item() == pytest.approx(4.0) and set(parts) == {"image"}
    total.backward()
    assert torch.allclose(x.grad, torch.tensor([1.0, 1.0]))


def test_missing_weight_or_mask_is_an_error():
    with pytest.raises(ConfigError):
        masked_multitask_loss({"a": torch.ones(2)}, {"a": torch.ones(2, dtype=torch.bool)}, {})
    with pytest.raises(ConfigError):
        masked_multitask_loss({"a": torch.ones(2)}, {}, {"a": 1.0})
    assert masked_mean(torch.ones(3), torch.zeros(3, dtype=torch.bool)) is None


def test_consistency_loss():
    a = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    b = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    assert float(consistency_loss(a, b)) == pytest.approx(0.5)  # (0 + 1) / 2
    assert float(consistency_loss(a, b, torch.tensor([False, True]))) == pytest.approx(1.0)
