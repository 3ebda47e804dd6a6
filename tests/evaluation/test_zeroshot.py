"""Zero-shot prototypes and the seeded N-way top-k protocol."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from brainalign.errors import DataError
from brainalign.evaluation.zeroshot import (
    build_text_classifier,
    class_prototypes,
    distractor_sets,
    nway_hits,
    nway_topk,
    prior_matched_threshold,
    zero_shot_predict,
    zero_shot_scores,
)

N_CLASSES = 12
LABELS = np.arange(N_CLASSES)


def _fake_encoder(vectors: dict[str, list[float]]):
    calls: list[list[str]] = []

    def encode(texts: list[str]) -> torch.Tensor:
        calls.append(list(texts))
        return torch.tensor([vectors[t] for t in texts])

    return encode, calls


def test_text_classifier_normalises_each_prompt_then_the_mean():
    vectors = {"a cat": [3.0, 0.0], "the cat": [0.0, 10.0], "a dog": [0.0, -2.0]}
    encode, calls = _fake_encoder(vectors)
    names, protos = build_text_classifier({"cat": ["a cat", "the cat"], "dog": ["a dog"]}, encode)
    assert names == ["cat", "dog"]
    assert calls == [["a cat", "the cat", "a dog"]]  # one batched call
    # unit vectors (1,0) and (0,1) average to (.5,.5), renormalised to (1,1)/sqrt(2):
    # the long "the cat" vector does not dominate as it would in a raw mean
    np.testing.assert_allclose(protos, [[2**-0.5, 2**-0.5], [0.0, -1.0]])


def test_text_classifier_rejects_bad_prompts_and_encoders():
    encode, _ = _fake_encoder({"a cat": [1.0, 0.0]})
    with pytest.raises(DataError, match="prompt"):
        build_text_classifier({"cat": []}, encode)
    with pytest.raises(DataError, match="embeddings for"):
        build_text_classifier({"cat": ["a cat", "a cat"]}, lambda texts: np.ones((1, 2)))


def test_class_prototypes_are_normalised_centres():
    emb = np.array([[2.0, 0.0], [0.0, 1.0], [0.0, 5.0]])
    classes, protos = class_prototypes(emb, ["b", "a", "b"])
    assert classes.tolist() == ["a", "b"]
    np.testing.assert_allclose(protos, [[0.0, 1.0], [2**-0.5, 2**-0.5]])


def test_zero_shot_scores_and_predict():
    protos = np.array([[1.0, 0.0], [0.0, 1.0]])
    queries = np.array([[2.0, 1.0], [-1.0, 3.0]])
    np.testing.assert_allclose(
        zero_shot_scores(queries, protos), [[2 / 5**0.5, 1 / 5**0.5], [-1 / 10**0.5, 3 / 10**0.5]]
    )
    assert zero_shot_predict(queries, protos, ["x", "y"]).tolist() == ["x", "y"]


def test_distractor_sets_properties():
    queries = np.repeat(LABELS, 3)  # 36 queries
    sets = distractor_sets(queries, LABELS, n_way=5, n_trials=4, seed=7)
    assert sets.shape == (36, 4, 5)
    assert (sets[:, :, 0] == queries[:, None]).all()  # true class always first
    assert (sets[:, :, 1:] != queries[:, None, None]).all()  # never a distractor
    assert all(len(set(row)) == 5 for row in sets.reshape(-1, 5))  # no duplicate classes
    np.testing.assert_array_equal(sets, distractor_sets(queries, LABELS, n_way=5, n_trials=4, seed=7))
    assert not np.array_equal(sets, distractor_sets(queries, LABELS, n_way=5, n_trials=4, seed=8))
    assert not np.array_equal(sets[:, 0], sets[:, 1])  # trials draw afresh


def test_distractor_sets_do_not_depend_on_query_order_or_subset():
    queries = np.repeat(LABELS, 2)
    full = distractor_sets(queries, LABELS, n_way=4, n_trials=3, seed=1)
    perm = np.random.default_rng(0).permutation(len(queries))
    shuffled = distractor_sets(queries[perm], LABELS, n_way=4, n_trials=3, seed=1, query_ids=perm)
    np.testing.assert_array_equal(shuffled, full[perm])
    subset = distractor_sets(queries[5:9], LABELS, n_way=4, n_trials=3, seed=1, query_ids=np.arange(5, 9))
    np.testing.assert_array_equal(subset, full[5:9])


def test_prototype_labels_need_not_be_sorted():
    protos = np.array([30, 10, 20])
    sets = distractor_sets([10, 20], protos, n_way=2, n_trials=2)
    assert sets[:, :, 0].tolist() == [[1, 1], [2, 2]]  # column of the true label


def test_nway_hits_by_hand():
    # 4 classes with one-hot prototypes; query similarity to (c0, c1, c2, c3) = (.1, .9, .5, .3)
    protos = np.eye(4)
    query = np.array([[0.1, 0.9, 0.5, 0.3]])
    # label 2 with all 4 classes as candidates: only c1 is more similar -> rank 2
    out = nway_topk(query, [2], protos, LABELS[:4], n_way=4, ks=(1, 2, 4), n_trials=1)
    assert out["top1"] == 0.0 and out["top2"] == 1.0 and out["top4"] == 1.0
    assert out["chance"] == {"top1": 1 / 4, "top2": 2 / 4, "top4": 1.0}
    # 2-way: top1 is right exactly when the single distractor is c0 or c3 (less similar than c2)
    sets = distractor_sets([2], LABELS[:4], n_way=2, n_trials=50, seed=3)
    expected = np.isin(sets[0, :, 1], [0, 3]).mean()
    hits = nway_hits(query, [2], protos, LABELS[:4], n_way=2, ks=(1, 2), n_trials=50, seed=3)
    assert hits[0, 0] == pytest.approx(expected)
    assert 0 < expected < 1
    assert hits[0, 1] == 1.0  # k >= n_way


def test_nway_ties_are_pessimistic():
    protos = np.eye(3)
    query = np.array([[1.0, 1.0, 1.0]])  # equally similar to every class
    assert nway_topk(query, [0], protos, LABELS[:3], n_way=3, ks=(1, 3), n_trials=1)["top1"] == 0.0


def test_nway_perfect_and_random_embeddings():
    rng = np.random.default_rng(0)
    protos = rng.normal(size=(N_CLASSES, 16))
    queries = np.repeat(LABELS, 5)
    perfect = nway_topk(
        protos[queries] + 0.01 * rng.normal(size=(60, 16)), queries, protos, LABELS, n_way=N_CLASSES, ks=(1, 5)
    )
    assert perfect["top1"] == 1.0
    noise = nway_topk(rng.normal(size=(60, 16)), queries, protos, LABELS, n_way=2, ks=(1,), n_trials=20)
    assert abs(noise["top1"] - 0.5) < 0.15  # about chance


@pytest.mark.parametrize(
    "kwargs, problem",
    [
        ({"n_way": 1}, "n_way"),
        ({"n_way": N_CLASSES + 1}, "n_way"),
        ({"n_way": 2, "query_ids": [0, 0]}, "unique"),
        ({"n_way": 2, "seed": -1}, "seed"),
    ],
)
def test_distractor_set_argument_errors(kwargs, problem):
    with pytest.raises(DataError, match=problem):
        distractor_sets([0, 1], LABELS, **kwargs)


def test_unknown_query_label_and_duplicate_prototypes():
    with pytest.raises(DataError, match="without prototype"):
        distractor_sets([0, 99], LABELS, n_way=2)
    with pytest.raises(DataError, match="unique"):
        distractor_sets([0], [0, 0, 1], n_way=2)


def test_prior_matched_threshold_recovers_an_offset_score():
    """A similarity difference that ranks perfectly but sits 0.45 above zero for every window
    calls every window positive at 0; the threshold from unlabelled training scores at the
    design's prior restores the ranking's accuracy on new windows."""
    rng = np.random.default_rng(0)
    y_train, y_test = rng.integers(0, 2, 400), rng.integers(0, 2, 200)
    train = y_train - 0.5 + 0.45 + rng.normal(0, 0.2, 400)
    test = y_test - 0.5 + 0.45 + rng.normal(0, 0.2, 200)
    at_zero = np.mean((test > 0) == y_test)
    thr = prior_matched_threshold(train, y_train.mean())
    assert 0.25 < thr < 0.65
    assert np.mean((test > thr) == y_test) > at_zero + 0.1
    assert np.mean(train > thr) == pytest.approx(y_train.mean(), abs=0.01)


@pytest.mark.parametrize("rate, scores", [(0.0, [0.1, 0.2]), (1.0, [0.1]), (0.5, []), (0.5, [np.nan, 1.0])])
def test_prior_matched_threshold_rejects_bad_input(rate, scores):
    with pytest.raises(DataError):
        prior_matched_threshold(np.asarray(scores, dtype=float), rate)
