"""Image -> EEG-space map, n-way identification and the class code."""

from __future__ import annotations

import numpy as np
import pytest

from brainalign.generation.image_map import ClassCode, ImageToEEGMap, map_class_consistency, n_way_identification

RNG = np.random.default_rng(0)


def _pairs(n=60, d_img=20, d_eeg=3):
    x = RNG.normal(size=(n, d_img))
    w = RNG.normal(size=(d_img, d_eeg))
    return x, x @ w + 0.1 * RNG.normal(size=(n, d_eeg))


@pytest.mark.parametrize("kind", ["ridge", "mlp"])
def test_map_learns_a_linear_relation_and_the_shuffled_map_does_not(kind):
    x, z = _pairs()
    real = ImageToEEGMap(kind, seed=0).fit(x[:40], z[:40])
    shuf = ImageToEEGMap(kind, seed=0).fit(x[:40], z[:40], shuffle=True)
    assert real.predict(x[40:]).shape == (20, 3)
    good = n_way_identification(real.predict(x[40:]), z[40:], n_way=2)
    bad = n_way_identification(shuf.predict(x[40:]), z[40:], n_way=2)
    assert good > 0.85 and bad < good


def test_identification_is_perfect_for_exact_predictions_and_counts_ties_half():
    z = RNG.normal(size=(10, 4))
    assert n_way_identification(z, z, n_way=3) == 1.0
    assert n_way_identification(np.ones((6, 1)), np.ones((6, 1)), n_way=2) == 0.5


def test_class_code_hard_soft_and_true_class():
    z = np.concatenate([RNG.normal(size=(30, 1)) - 2, RNG.normal(size=(30, 1)) + 2])
    y = np.array(["a"] * 30 + ["b"] * 30)
    mapped = np.array([[-1.0], [-1.2], [1.0], [1.2]])
    my = np.array(["a", "a", "b", "b"])
    hard = ClassCode("hard").fit(z, y, mapped, my)
    assert np.allclose(hard.transform(np.array([[-5.0], [5.0]])), [[-1.1], [1.1]])
    soft = ClassCode("soft").fit(z, y, mapped, my).transform(np.array([[0.0]]))
    assert -1.1 < float(soft[0, 0]) < 1.1
    assert np.allclose(hard.of_class(["b", "a"]), [[1.1], [-1.1]])
    score = map_class_consistency(mapped, my, z, y)
    assert score["balanced_accuracy"] == 1.0
