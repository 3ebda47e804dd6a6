"""Cross-modal retrieval and classification metrics on embeddings or scores.

Retrieval (:func:`retrieval_metrics`, :func:`retrieval_both_ways`,
:func:`retrieval_from_scores`) ranks a gallery for every query by cosine similarity and
scores the ranking with torchmetrics' ``RetrievalRecall``, ``RetrievalHitRate``,
``RetrievalMRR`` and ``RetrievalMAP``. Relevance is a boolean query x gallery matrix,
or comes from labels (a gallery item is relevant when it has the query's label).

Two properties of torchmetrics (1.9) make raw similarities unsafe to pass to it:

* a relevant item whose score is ``<= 0`` is treated as not relevant
  (``torch.where(preds > 0, target, 0)``), and cosine similarities are often negative;
* equal scores are ordered by ``torch.argsort`` (recall, hit rate) or ``torch.topk``
  (MRR, mAP), neither of which defines the order of ties, so on the same tied scores
  recall@1 and MRR can disagree (we observed recall@1 = 0 with MRR = 1).

So this module ranks the gallery itself and hands torchmetrics the strictly positive,
distinct score ``G - position``. Ties are broken *pessimistically* by default: among
gallery items with exactly equal similarity, the irrelevant ones rank first. A collapsed
encoder that gives every item the same similarity therefore scores as badly as possible
instead of perfectly; ``ties="optimistic"`` gives the other bound.

Definitions (per query, then averaged over queries):

* ``recall@k``: relevant items in the top k / all relevant items (IR recall). With ``k``
  at least the gallery size it is 1 for every query that has a relevant item.
* ``hit@k``: 1 if any relevant item is in the top k (what cross-modal retrieval papers
  call R@k); equal to ``recall@k`` when each query has exactly one relevant item.
* ``mrr``: 1 / rank of the first relevant item.
* ``map``: mean over relevant items of (relevant items up to it / its rank).

Classification helpers :func:`balanced_accuracy` and :func:`auc` wrap scikit-learn.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from sklearn.metrics import roc_auc_score

from brainalign.errors import DataError
from brainalign.evaluation.stats import as_array

__all__ = [
    "l2_normalize",
    "cosine_similarity",
    "relevance_from_labels",
    "retrieval_from_scores",
    "retrieval_metrics",
    "retrieval_both_ways",
    "balanced_accuracy",
    "auc",
]

Ties = Literal["pessimistic", "optimistic"]
EmptyAction = Literal["error", "skip", "neg", "pos"]


def l2_normalize(x: Any, name: str = "embeddings") -> np.ndarray:
    """Rows of the 2-D array ``x`` scaled to unit Euclidean norm (float64).

    A row of zeros has no direction, so it raises :class:`DataError` rather than
    producing NaN similarities.
    """
    arr = as_array(x, name, ndim=2, finite=True).astype(np.float64)
    norms = np.linalg.norm(arr, axis=1, keepdims=True)
    if (norms == 0).any():
        raise DataError(None, f"{name} has {int((norms == 0).sum())} all-zero rows; cosine similarity is undefined")
    return arr / norms


def cosine_similarity(a: Any, b: Any) -> np.ndarray:
    """Cosine similarity matrix (len(a) x len(b)) between the rows of ``a`` and ``b``."""
    an, bn = l2_normalize(a, "query embeddings"), l2_normalize(b, "gallery embeddings")
    if an.shape[1] != bn.shape[1]:
        raise DataError(None, f"embedding sizes differ: {an.shape[1]} vs {bn.shape[1]}")
    return an @ bn.T


def relevance_from_labels(query_labels: Any, gallery_labels: Any) -> np.ndarray:
    """Boolean matrix: ``[i, j]`` is True when gallery item ``j`` has query ``i``'s label."""
    q = as_array(query_labels, "query_labels", ndim=1)
    g = as_array(gallery_labels, "gallery_labels", ndim=1)
    return q[:, None] == g[None, :]


def _rank_scores(scores: np.ndarray, relevance: np.ndarray, ties: Ties) -> np.ndarray:
    """Per row, ``G - position`` of each item in the tie-broken descending order of ``scores``."""
    if ties not in ("pessimistic", "optimistic"):
        raise DataError(None, f"ties must be 'pessimistic' or 'optimistic', got {ties!r}")
    n_gallery = scores.shape[1]
    # lexsort sorts by the last key first: descending score, then relevance as tie-breaker
    # (irrelevant first when pessimistic, relevant first when optimistic).
    tie_key = relevance if ties == "pessimistic" else ~relevance
    order = np.lexsort((tie_key, -scores), axis=1)
    ranked = np.empty_like(scores)
    np.put_along_axis(ranked, order, np.arange(n_gallery, 0, -1, dtype=scores.dtype)[None, :], axis=1)
    return ranked


def retrieval_from_scores(
    scores: Any,
    relevance: Any,
    ks: Sequence[int] = (1, 5, 10),
    ties: Ties = "pessimistic",
    empty_target_action: EmptyAction = "error",
) -> dict[str, float]:
    """Retrieval metrics from a query x gallery score matrix (higher = more similar).

    Returns ``{"recall@k", "hit@k" for each k, "mrr", "map"}`` averaged over queries.
    A query without any relevant gallery item raises :class:`DataError` by default;
    ``empty_target_action`` may instead be torchmetrics' ``"skip"`` (leave it out),
    ``"neg"`` (score 0) or ``"pos"`` (score 1). torchmetrics scores queries one by one
    in Python: about 1.5 ms per query for the default eight metrics on one CPU core.
    """
    # imported here: torchmetrics is an optional dependency (the "models" extra) and slow to import
    import torch
    from torchmetrics.retrieval import (
        RetrievalHitRate,
        RetrievalMAP,
        RetrievalMRR,
        RetrievalRecall,
    )

    s = as_array(scores, "scores", ndim=2, finite=True).astype(np.float64)
    rel = as_array(relevance, "relevance", ndim=2)
    if rel.shape != s.shape:
        raise DataError(None, f"relevance has shape {rel.shape} but scores have shape {s.shape}")
    if rel.dtype != np.bool_:
        raise DataError(None, f"relevance must be a boolean matrix, got dtype {rel.dtype}")
    ks = tuple(ks)
    if not ks or not all(isinstance(k, (int, np.integer)) and k >= 1 for k in ks):
        raise DataError(None, f"ks must be positive integers, got {ks!r}")
    if empty_target_action not in ("error", "skip", "neg", "pos"):
        raise DataError(None, f"empty_target_action must be error, skip, neg or pos, got {empty_target_action!r}")
    empty = int((~rel.any(axis=1)).sum())
    if empty_target_action == "error" and empty:
        raise DataError(None, f"{empty} of {len(rel)} queries have no relevant gallery item")
    if empty == len(rel) and empty_target_action == "skip":
        raise DataError(None, "no query has a relevant gallery item")

    preds = torch.from_numpy(_rank_scores(s, rel, ties)).reshape(-1)
    target = torch.from_numpy(rel).reshape(-1)
    indexes = torch.arange(len(rel)).repeat_interleave(rel.shape[1])
    metrics: dict[str, Any] = {}
    for k in ks:
        metrics[f"recall@{k}"] = RetrievalRecall(top_k=int(k), empty_target_action=empty_target_action)
        metrics[f"hit@{k}"] = RetrievalHitRate(top_k=int(k), empty_target_action=empty_target_action)
    metrics["mrr"] = RetrievalMRR(empty_target_action=empty_target_action)
    metrics["map"] = RetrievalMAP(empty_target_action=empty_target_action)
    return {name: float(metric(preds, target, indexes=indexes)) for name, metric in metrics.items()}


def _relevance(
    n_query: int, n_gallery: int, relevance: Any | None, query_labels: Any | None, gallery_labels: Any | None
) -> np.ndarray:
    """Relevance matrix from exactly one of ``relevance`` or both label arrays."""
    if (relevance is None) == (query_labels is None or gallery_labels is None):
        raise DataError(None, "give either relevance or both query_labels and gallery_labels")
    rel = relevance_from_labels(query_labels, gallery_labels) if relevance is None else as_array(relevance, "relevance")
    if rel.shape != (n_query, n_gallery):
        raise DataError(None, f"relevance/labels give shape {rel.shape}, embeddings give {(n_query, n_gallery)}")
    return rel


def retrieval_metrics(
    query_emb: Any,
    gallery_emb: Any,
    relevance: Any | None = None,
    query_labels: Any | None = None,
    gallery_labels: Any | None = None,
    ks: Sequence[int] = (1, 5, 10),
    ties: Ties = "pessimistic",
    empty_target_action: EmptyAction = "error",
) -> dict[str, float]:
    """Retrieve gallery items for each query by cosine similarity; see :func:`retrieval_from_scores`.

    Relevance is either a boolean ``(n_query, n_gallery)`` matrix or derived from
    ``query_labels`` and ``gallery_labels``.
    """
    scores = cosine_similarity(query_emb, gallery_emb)
    n_query, n_gallery = scores.shape
    rel = _relevance(n_query, n_gallery, relevance, query_labels, gallery_labels)
    return retrieval_from_scores(scores, rel, ks=ks, ties=ties, empty_target_action=empty_target_action)


def retrieval_both_ways(
    a_emb: Any,
    b_emb: Any,
    relevance: Any | None = None,
    a_labels: Any | None = None,
    b_labels: Any | None = None,
    ks: Sequence[int] = (1, 5, 10),
    ties: Ties = "pessimistic",
    empty_target_action: EmptyAction = "error",
) -> dict[str, dict[str, float]]:
    """Retrieval from modality A to B and from B to A (e.g. EEG -> image and image -> EEG).

    ``relevance`` is ``(len(a), len(b))``; the B -> A direction uses its transpose.
    Returns ``{"a_to_b": {...}, "b_to_a": {...}}``.
    """
    scores = cosine_similarity(a_emb, b_emb)
    n_a, n_b = scores.shape
    rel = _relevance(n_a, n_b, relevance, a_labels, b_labels)
    opts: dict[str, Any] = {"ks": ks, "ties": ties, "empty_target_action": empty_target_action}
    return {
        "a_to_b": retrieval_from_scores(scores, rel, **opts),
        "b_to_a": retrieval_from_scores(scores.T, rel.T, **opts),
    }


def balanced_accuracy(y_true: Any, y_pred: Any) -> float:
    """Mean per-class recall over the classes present in ``y_true`` (scikit-learn's
    ``balanced_accuracy_score``, computed with numpy: bootstrap and permutation
    tests call it thousands of times, and scikit-learn's version costs ~100x more
    per call on 2,000 trials)."""
    yt, yp = as_array(y_true, "y_true", ndim=1), as_array(y_pred, "y_pred", ndim=1)
    if len(yt) != len(yp):
        raise DataError(None, f"y_true has {len(yt)} trials but y_pred has {len(yp)}")
    _, idx = np.unique(yt, return_inverse=True)
    recall = np.bincount(idx, weights=(yt == yp)) / np.bincount(idx)
    return float(recall.mean())


def auc(y_true: Any, y_score: Any, labels: Sequence[Any] | None = None) -> float:
    """Area under the ROC curve (scikit-learn).

    Binary: ``y_score`` is the score of the larger label (1-D), or a two-column score
    matrix whose second column is used. Multi-class: ``y_score`` is an
    ``(n, n_classes)`` probability matrix in the order of ``labels`` (sorted unique
    labels by default), scored one-vs-rest and macro-averaged. When AUC is undefined
    (a single class in ``y_true``, score columns not matching the classes) scikit-learn's
    reason is raised as :class:`DataError`, which
    :func:`~brainalign.evaluation.stats.bootstrap_ci` treats as an undefined draw.
    """
    yt = as_array(y_true, "y_true", ndim=1)
    ys = as_array(y_score, "y_score", finite=True)
    if len(yt) != len(ys):
        raise DataError(None, f"y_true has {len(yt)} trials but y_score has {len(ys)}")
    if len(np.unique(yt)) < 2:
        raise DataError(None, "AUC is undefined: y_true holds a single class")
    classes = np.unique(yt) if labels is None else np.asarray(labels)
    if len(classes) == 2 and ys.ndim == 2 and ys.shape[1] == 2:
        ys = ys[:, 1]
    try:
        if ys.ndim == 1:
            return float(roc_auc_score(yt, ys))
        return float(roc_auc_score(yt, ys, multi_class="ovr", average="macro", labels=classes))
    except ValueError as err:
        raise DataError(None, f"AUC is undefined: {err}") from None
