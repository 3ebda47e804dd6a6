"""Retrieval and classification metrics against values worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from brainalign.errors import DataError
from brainalign.evaluation.metrics import (
    auc,
    balanced_accuracy,
    cosine_similarity,
    relevance_from_labels,
    retrieval_both_ways,
    retrieval_from_scores,
    retrieval_metrics,
)

# Three queries over a gallery of four; one relevant item each, at ranks 1, 2 and 4.
SCORES = np.array(
    [
        [0.9, 0.5, 0.1, 0.3],  # relevant item 0 has the top score      -> rank 1
        [0.2, 0.8, 0.7, 0.1],  # relevant item 2 is second (0.8 > 0.7)  -> rank 2
        [0.1, 0.2, 0.3, 0.4],  # relevant item 0 is last                -> rank 4
    ]
)
RELEVANT = np.array(
    [
        [True, False, False, False],
        [False, False, True, False],
        [True, False, False, False],
    ]
)


def test_mrr_recall_map_single_relevant():
    m = retrieval_from_scores(SCORES, RELEVANT, ks=(1, 2, 4))
    assert m["mrr"] == pytest.approx((1 + 1 / 2 + 1 / 4) / 3)
    assert m["recall@1"] == pytest.approx(1 / 3)  # only query 0
    assert m["recall@2"] == pytest.approx(2 / 3)  # queries 0 and 1
    assert m["recall@4"] == pytest.approx(1.0)
    # one relevant item per query: AP = 1 / rank, so mAP equals MRR, and hit@k equals recall@k
    assert m["map"] == pytest.approx(m["mrr"])
    assert m["hit@2"] == pytest.approx(m["recall@2"])


def test_map_two_relevant_at_ranks_1_and_3():
    scores = np.array([[0.9, 0.8, 0.7, 0.6]])
    rel = np.array([[True, False, True, False]])
    m = retrieval_from_scores(scores, rel, ks=(1, 2))
    assert m["map"] == pytest.approx((1 / 1 + 2 / 3) / 2)
    assert m["mrr"] == pytest.approx(1.0)
    assert m["recall@1"] == pytest.approx(1 / 2)  # IR recall: 1 of 2 relevant retrieved
    assert m["hit@1"] == pytest.approx(1.0)  # hit rate: some relevant item retrieved
    assert m["recall@2"] == pytest.approx(1 / 2)


def test_k_larger_than_gallery_gives_full_recall():
    m = retrieval_from_scores(SCORES, RELEVANT, ks=(10, 1000))
    assert m["recall@10"] == m["recall@1000"] == m["hit@10"] == pytest.approx(1.0)


def test_negative_scores_are_ranked_not_dropped():
    """torchmetrics drops relevant items with score <= 0; ours must not (cosines are often negative)."""
    m = retrieval_from_scores(SCORES - 5.0, RELEVANT, ks=(1, 2))
    assert m == pytest.approx(retrieval_from_scores(SCORES, RELEVANT, ks=(1, 2)))
    assert m["mrr"] == pytest.approx((1 + 1 / 2 + 1 / 4) / 3)


def test_ties_are_pessimistic_by_default_and_optimistic_on_request():
    # the relevant item (index 2) ties with two others at the top, one item is below
    scores = np.array([[0.5, 0.5, 0.5, 0.1]])
    rel = np.array([[False, False, True, False]])
    pess = retrieval_from_scores(scores, rel, ks=(1, 3))
    assert pess["recall@1"] == 0.0  # both irrelevant ties rank first -> rank 3
    assert pess["recall@3"] == pytest.approx(1.0)
    assert pess["mrr"] == pytest.approx(1 / 3)
    opt = retrieval_from_scores(scores, rel, ks=(1, 3), ties="optimistic")
    assert opt["recall@1"] == pytest.approx(1.0)
    assert opt["mrr"] == pytest.approx(1.0)


def test_collapsed_embeddings_score_worst_not_best():
    emb = np.ones((4, 3))
    m = retrieval_metrics(emb, emb, relevance=np.eye(4, dtype=bool), ks=(1,))
    assert m["recall@1"] == 0.0
    assert m["mrr"] == pytest.approx(1 / 4)  # every relevant item ranks last of 4


def test_retrieval_metrics_from_embeddings_and_labels_torch_input():
    # queries point along the x or y axis; gallery has two of each class
    q = torch.tensor([[1.0, 0.1], [0.1, 1.0]])
    g = torch.tensor([[1.0, 0.0], [0.9, 0.2], [0.0, 1.0], [0.3, 0.9]])
    m = retrieval_metrics(q, g, query_labels=["x", "y"], gallery_labels=["x", "x", "y", "y"], ks=(1, 2))
    assert m["recall@1"] == pytest.approx(1 / 2)  # 1 of 2 relevant in top 1
    assert m["recall@2"] == pytest.approx(1.0)
    assert m["map"] == pytest.approx(1.0)
    assert m["mrr"] == pytest.approx(1.0)


def test_both_ways_uses_the_transpose():
    a = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    b = np.array([[1.0, 0.0], [0.0, 1.0]])
    rel = np.array([[True, False], [False, True], [False, True]])
    both = retrieval_both_ways(a, b, relevance=rel, ks=(1,))
    # a -> b: a2 = (1,1) ties b0 and b1 (cos 0.707 each); pessimistic -> b1 relevant ranks 2nd
    assert both["a_to_b"]["recall@1"] == pytest.approx(2 / 3)
    # b -> a: b0 finds a0 (rank 1). b1: a1 cos 1 (rank 1) and a2 cos .707 (rank 2): recall@1 = 1/2
    assert both["b_to_a"]["recall@1"] == pytest.approx((1 + 1 / 2) / 2)
    assert both["b_to_a"]["map"] == pytest.approx(1.0)


def test_relevance_from_labels():
    np.testing.assert_array_equal(relevance_from_labels([1, 2], [2, 1, 1]), [[False, True, True], [True, False, False]])


def test_cosine_similarity_values():
    np.testing.assert_allclose(cosine_similarity([[3.0, 4.0]], [[4.0, 3.0], [0.0, -2.0]]), [[24 / 25, -4 / 5]])


@pytest.mark.parametrize(
    "bad, problem",
    [
        (np.array([[np.nan, 1.0], [1.0, 0.0]]), "NaN"),
        (np.zeros((2, 2)), "all-zero"),
        (np.ones((2, 2, 2)), "dimension"),
        (np.ones((0, 2)), "empty"),
    ],
)
def test_bad_embeddings_raise_data_error(bad, problem):
    with pytest.raises(DataError, match=problem):
        retrieval_metrics(bad, np.eye(2), relevance=np.eye(2, dtype=bool))


def test_query_without_relevant_item():
    rel = np.array([[True, False], [False, False]])
    with pytest.raises(DataError, match="1 of 2 queries"):
        retrieval_from_scores(np.eye(2), rel)
    assert retrieval_from_scores(np.eye(2), rel, ks=(1,), empty_target_action="skip")["mrr"] == pytest.approx(1.0)
    assert retrieval_from_scores(np.eye(2), rel, ks=(1,), empty_target_action="neg")["mrr"] == pytest.approx(0.5)


def test_relevance_input_errors():
    with pytest.raises(DataError, match="boolean"):
        retrieval_from_scores(np.eye(2), np.eye(2))
    with pytest.raises(DataError, match="either relevance"):
        retrieval_metrics(np.eye(2), np.eye(2))
    with pytest.raises(DataError, match="shape"):
        retrieval_metrics(np.eye(2), np.eye(2), relevance=np.ones((2, 3), bool))


def test_balanced_accuracy_by_hand():
    # class 0: 3 of 4 right, class 1: 1 of 2 right -> (3/4 + 1/2) / 2
    assert balanced_accuracy([0, 0, 0, 0, 1, 1], [0, 0, 0, 1, 1, 0]) == pytest.approx((3 / 4 + 1 / 2) / 2)


def test_auc_binary_and_multiclass_by_hand():
    # positives score 0.8, 0.4; negatives 0.6, 0.2: pairs (pos > neg) = 3 of 4
    assert auc([1, 1, 0, 0], [0.8, 0.4, 0.6, 0.2]) == pytest.approx(3 / 4)
    assert auc([1, 1, 0, 0], np.array([[0.2, 0.8], [0.6, 0.4], [0.4, 0.6], [0.8, 0.2]])) == pytest.approx(3 / 4)
    # three classes, each perfectly separated one-vs-rest -> 1.0
    probs = np.eye(3)[[0, 1, 2, 0]] * 0.8 + 0.2 / 3
    assert auc([0, 1, 2, 0], probs) == pytest.approx(1.0)


def test_auc_single_class_is_a_data_error():
    with pytest.raises(DataError, match="undefined"):
        auc([1, 1, 1], [0.1, 0.2, 0.3])


def test_balanced_accuracy_matches_scikit_learn():
    """The numpy implementation equals scikit-learn's on random multi-class labels,
    including predictions of classes absent from y_true."""
    import warnings

    from sklearn.metrics import balanced_accuracy_score

    from brainalign.evaluation.metrics import balanced_accuracy

    rng = np.random.default_rng(0)
    for _ in range(20):
        y = rng.integers(0, 4, size=57)
        p = rng.integers(0, 5, size=57)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert balanced_accuracy(y, p) == pytest.approx(balanced_accuracy_score(y, p))
    assert balanced_accuracy(np.array(["a", "a", "b"]), np.array(["a", "b", "b"])) == pytest.approx(0.75)
