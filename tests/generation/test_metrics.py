"""Image and text metrics on inputs with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from brainalign.errors import DataError
from brainalign.generation.metrics import (
    ClassProbe,
    attribute_accuracy,
    bleu,
    distinct_n,
    diversity,
    frechet_distance,
    kernel_inception_distance,
    memorisation,
    n_distinct,
    parse_attribute,
    real_floor,
    rouge,
)

RNG = np.random.default_rng(0)


def test_fd_of_identical_sets_is_zero_and_grows_with_a_shift():
    a = RNG.normal(size=(40, 64))
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-8)
    shifted = frechet_distance(a, a + 3.0)
    assert shifted == pytest.approx(64 * 9.0, rel=1e-6)  # only the mean term changes


def test_fd_matches_the_closed_form_for_diagonal_gaussians():
    a = RNG.normal(size=(4000, 3))
    b = RNG.normal(size=(4000, 3)) * 2.0
    # tr(C1) + tr(C2) - 2 tr(sqrt(C1 C2)) = 3 + 12 - 2 * 6 = 3
    assert frechet_distance(a, b) == pytest.approx(3.0, abs=0.15)


def test_kid_near_zero_for_one_distribution_and_positive_for_two():
    a, b = RNG.normal(size=(200, 16)), RNG.normal(size=(200, 16))
    same, _ = kernel_inception_distance(a, b, subset_size=100, n_subsets=20)
    diff, _ = kernel_inception_distance(a, b + 2.0, subset_size=100, n_subsets=20)
    assert abs(same) < 0.05 and diff > 10 * abs(same)


def test_real_floor_diversity_and_memorisation():
    real = RNG.normal(size=(20, 8))
    floor = real_floor(real, n_splits=3)
    assert floor["fd_floor"] > 0 and floor["n_half"] == 10
    assert diversity(np.ones((5, 8))) == 0.0
    assert diversity(np.array([[0.0, 0.0], [3.0, 4.0]])) == pytest.approx(5.0)
    copies = memorisation(real[:10] + 1e-6, real)
    assert copies["ratio"] < 1e-3 and copies["copy_fraction"] == 1.0
    novel = memorisation(RNG.normal(size=(10, 8)) + 10.0, real)
    assert novel["ratio"] > 1.0 and novel["copy_fraction"] == 0.0
    with pytest.raises(DataError):
        frechet_distance(real[:1], real)


def test_class_probe_ceiling_and_predictions():
    x = np.concatenate([RNG.normal(size=(20, 5)) - 3, RNG.normal(size=(20, 5)) + 3])
    y = np.array(["a"] * 20 + ["b"] * 20)
    probe = ClassProbe().fit(x, y)
    assert probe.ceiling == 1.0
    assert list(probe.predict(np.array([[-3.0] * 5, [3.0] * 5]))) == ["a", "b"]


def test_nearest_stimulus_probe():
    x = np.array([[0.0, 0.0], [0.0, 1.0], [10.0, 0.0], [10.0, 1.0]])
    y = np.array(["a", "a", "b", "b"])
    probe = ClassProbe(kind="nearest").fit(x, y)
    assert probe.ceiling == 1.0  # leave-one-out: each image's nearest other image is of its class
    assert list(probe.predict(np.array([[1.0, 0.5], [9.0, 0.2]]))) == ["a", "b"]
    with pytest.raises(DataError, match="kind"):
        ClassProbe(kind="svm")


VOCAB = {"rest": ["rest"], "arithmetic": ["arithmetic", "subtraction"]}


def test_attribute_parser():
    assert parse_attribute("EEG of a 21-year-old female at rest, doing nothing", VOCAB) == "rest"
    assert parse_attribute("performing serial subtraction ( mental arithmetic )", VOCAB) == "arithmetic"
    assert parse_attribute("restless", VOCAB) is None  # whole words only
    assert parse_attribute("rest and arithmetic", VOCAB) is None  # ambiguous
    assert parse_attribute("", VOCAB) is None
    acc = attribute_accuracy(["at rest", "mental arithmetic", "nothing"], ["rest", "rest", "arithmetic"], VOCAB)
    assert acc == pytest.approx(1 / 3)


def test_distinct_n_and_counts():
    constant = ["the cat sat"] * 4
    assert distinct_n(constant, 1) == pytest.approx(3 / 12)
    assert distinct_n(constant, 2) == pytest.approx(2 / 8)
    assert n_distinct(constant) == 1
    assert n_distinct(["A b", "a  B", "c"]) == 2
    assert distinct_n(["a b c d"], 2) == 1.0
    assert distinct_n(["a"], 2) == 0.0


def test_bleu_and_rouge():
    refs = ["eeg of a person at rest doing nothing in particular"]
    assert bleu(refs, refs) == pytest.approx(1.0)
    assert bleu(["completely different words here now"], refs) == pytest.approx(0.0)
    r = rouge(refs, refs)
    assert set(r) == {"rouge1", "rouge2", "rougeL"} and all(v == pytest.approx(1.0) for v in r.values())
