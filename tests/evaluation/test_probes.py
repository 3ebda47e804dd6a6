"""Probes, few-shot curves and clustering on small synthetic embeddings."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from brainalign.errors import DataError
from brainalign.evaluation.clustering import cluster_accuracy, kmeans_scores
from brainalign.evaluation.probes import (
    PROBES,
    few_shot_curve,
    fit_probe,
    probe_scores,
    stratified_subset,
)


def _blobs(
    n_per_class: int, n_classes: int, spread: float, seed: int, noise_seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian blobs in 8 dimensions around random centres (fixed by ``seed``); the
    noise comes from ``noise_seed`` so train and test sets share centres, not samples."""
    centres = np.random.default_rng(seed).normal(size=(n_classes, 8)) * 5
    y = np.repeat(np.arange(n_classes), n_per_class)
    return centres[y] + spread * np.random.default_rng((seed, noise_seed)).normal(size=(len(y), 8)), y


@pytest.mark.parametrize("kind", PROBES)
def test_probes_separate_easy_blobs(kind):
    X, y = _blobs(20, 2, 0.5, seed=0)
    Xte, yte = _blobs(10, 2, 0.5, seed=0, noise_seed=1)
    scores = probe_scores(kind, X, y, Xte, yte)
    assert scores == {"balanced_accuracy": 1.0, "accuracy": 1.0, "auc": 1.0}


def test_probe_on_noise_is_near_chance_and_multiclass_has_no_auc():
    rng = np.random.default_rng(1)
    X, Xte = rng.normal(size=(120, 8)), rng.normal(size=(300, 8))
    y, yte = rng.integers(0, 3, 120), rng.integers(0, 3, 300)
    scores = probe_scores("logreg", X, y, Xte, yte)
    assert set(scores) == {"balanced_accuracy", "accuracy"}
    assert abs(scores["balanced_accuracy"] - 1 / 3) < 0.1


def test_scaler_is_fitted_on_train_only():
    X, y = _blobs(10, 2, 0.5, seed=2)
    model = fit_probe("logreg", X, y)
    np.testing.assert_allclose(model[0].mean_, X.mean(axis=0))


def test_knn_with_fewer_samples_than_neighbours():
    X, y = np.array([[0.0], [1.0], [10.0]]), np.array([0, 0, 1])
    assert fit_probe("knn", X, y)[-1].n_neighbors == 3


@pytest.mark.parametrize(
    "kind, X, y, problem",
    [
        ("tree", np.eye(2), [0, 1], "unknown probe"),
        ("logreg", np.ones((3, 2)), [0, 0, 0], "single class"),
        ("logreg", np.ones((3, 2)), [0, 1], "rows"),
        ("logreg", np.array([[np.inf, 0], [0, 1]]), [0, 1], "NaN or Inf"),
    ],
)
def test_probe_input_errors(kind, X, y, problem):
    with pytest.raises(DataError, match=problem):
        fit_probe(kind, X, y)


def test_probe_rejects_unseen_test_labels():
    with pytest.raises(DataError, match="absent"):
        probe_scores("logreg", np.eye(2), [0, 1], np.eye(2), [0, 2])


def test_stratified_subset_keeps_every_class():
    y = np.array([0] * 100 + [1] * 10 + [2] * 2)
    idx = stratified_subset(y, 0.1, np.random.default_rng(0))
    # round(.1*100)=10, round(.1*10)=1, round(.1*2)=0 -> at least 1
    assert np.bincount(y[idx]).tolist() == [10, 1, 1]
    assert len(np.unique(idx)) == len(idx)


def test_few_shot_curve_shape_seeding_and_scratch_pairing():
    X, y = _blobs(20, 3, 3.0, seed=3)
    Xte, yte = _blobs(10, 3, 3.0, seed=3, noise_seed=1)
    seen: list[tuple[float, int]] = []

    def scratch(fraction: float, idx: np.ndarray) -> float:
        seen.append((fraction, len(idx)))
        return fraction

    curve = few_shot_curve(X, y, Xte, yte, fractions=(0.05, 0.5, 1.0), n_repeats=2, scratch_fn=scratch)
    assert curve["fractions"] == [0.05, 0.5, 1.0]
    assert curve["n_train"] == [3, 30, 60]  # 1 per class; 10 per class; all
    assert [len(s) for s in curve["probe"]["scores"]] == [2, 2, 1]  # the full set is scored once
    assert curve["scratch"]["mean"] == [0.05, 0.5, 1.0]
    assert curve["scratch"]["std"] == [0.0, 0.0, 0.0]
    assert seen == [(0.05, 3), (0.05, 3), (0.5, 30), (0.5, 30), (1.0, 60)]
    assert curve["probe"]["mean"][2] >= curve["probe"]["mean"][0]
    again = few_shot_curve(X, y, Xte, yte, fractions=(0.05, 0.5, 1.0), n_repeats=2)
    assert again["probe"] == curve["probe"] and "scratch" not in again


def test_cluster_accuracy_is_invariant_to_cluster_ids():
    y = np.array([0, 0, 1, 1, 2, 2])
    assert cluster_accuracy(y, np.array([2, 2, 0, 0, 1, 1])) == 1.0
    # one sample of class 2 lands in class 0's cluster: best matching gets 5 of 6
    assert cluster_accuracy(y, np.array([7, 7, 5, 5, 9, 7])) == pytest.approx(5 / 6)
    # more clusters than classes: the unmatched cluster's samples count as errors
    assert cluster_accuracy([0, 0, 1, 1], [0, 1, 2, 2]) == pytest.approx(3 / 4)


def test_kmeans_scores_on_blobs():
    X, y = _blobs(15, 3, 0.3, seed=4)
    perfect = kmeans_scores(X, y, seed=0, n_init=3)
    assert perfect == {"accuracy": 1.0, "nmi": pytest.approx(1.0), "ari": pytest.approx(1.0)}
    rng = np.random.default_rng(5)
    noise = kmeans_scores(rng.normal(size=(90, 8)), rng.integers(0, 3, 90), n_init=3)
    assert noise["ari"] < 0.1 and noise["nmi"] < 0.1


def test_kmeans_nmi_ari_match_sklearn_on_the_same_partition():
    X, y = _blobs(10, 2, 3.0, seed=6)
    scores = kmeans_scores(X, y, n_clusters=3, n_init=2, seed=1)
    from sklearn.cluster import KMeans
    from sklearn.preprocessing import normalize

    pred = KMeans(n_clusters=3, n_init=2, random_state=1).fit_predict(normalize(X))
    assert scores["nmi"] == pytest.approx(normalized_mutual_info_score(y, pred))
    assert scores["ari"] == pytest.approx(adjusted_rand_score(y, pred))
    assert scores["accuracy"] == pytest.approx(cluster_accuracy(y, pred))


def test_kmeans_rejects_too_many_clusters():
    with pytest.raises(DataError, match="n_clusters"):
        kmeans_scores(np.eye(3), [0, 1, 2], n_clusters=4)
