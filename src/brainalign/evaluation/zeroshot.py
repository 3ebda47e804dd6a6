"""Zero-shot classification and N-way top-k identification of aligned embeddings.

* :func:`build_text_classifier` turns several prompt templates per class into one
  text prototype per class, the CLIP/open_clip recipe: embed every prompt, scale each
  to unit length, average over a class's prompts, scale the average to unit length.
* :func:`class_prototypes` does the same for image (or any) embeddings grouped by
  label: one image per class gives that image, several give their normalised centre.
* :func:`zero_shot_scores` / :func:`zero_shot_predict` compare queries (EEG
  embeddings) with the prototypes by cosine similarity.
* :func:`prior_matched_threshold` sets a binary zero-shot decision threshold from unlabelled
  reference scores (the training windows') and a class prior, so that the fraction of
  reference windows called positive equals the prior: CLIP similarity differences rank well
  but need not be centred on 0.
* :func:`nway_topk` is the N-way top-k identification reported by NICE (Song et al.,
  2024) on THINGS-EEG: each query sees its own class plus ``n_way - 1`` distractor
  classes, and is correct when its class is among the k most similar candidates.

The distractor classes of a query are drawn by a numpy ``Generator`` seeded with
``(seed, query_id)``, so they repeat exactly across runs, do not depend on which other
queries are evaluated or in which order, and can be inspected with
:func:`distractor_sets`. Ties are pessimistic, as in :mod:`brainalign.evaluation.metrics`:
a distractor exactly as similar as the true class ranks above it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from brainalign.errors import DataError
from brainalign.evaluation.metrics import cosine_similarity, l2_normalize
from brainalign.evaluation.stats import as_array, chance_level

__all__ = [
    "build_text_classifier",
    "class_prototypes",
    "zero_shot_scores",
    "zero_shot_predict",
    "prior_matched_threshold",
    "distractor_sets",
    "nway_hits",
    "nway_topk",
]


def build_text_classifier(
    class_prompts: Mapping[str, Sequence[str]], encode_fn: Callable[[list[str]], Any]
) -> tuple[list[str], np.ndarray]:
    """Class names and unit-norm text prototypes ``(n_classes, dim)`` from prompt templates.

    ``class_prompts`` maps each class name to its filled-in prompts (e.g. ``"a photo
    of a dog"``, ``"a drawing of a dog"``). ``encode_fn`` maps a list of strings to
    an ``(n, dim)`` array or tensor; it is called once with every prompt.
    """
    names = list(class_prompts)
    if not names:
        raise DataError(None, "class_prompts is empty")
    prompts: list[str] = []
    for name in names:
        texts = list(class_prompts[name])
        if not texts or not all(isinstance(t, str) and t.strip() for t in texts):
            raise DataError(None, f"class {name!r} needs at least one non-empty prompt string")
        prompts.extend(texts)
    embedded = l2_normalize(encode_fn(prompts), "text embeddings")
    if len(embedded) != len(prompts):
        raise DataError(None, f"encode_fn returned {len(embedded)} embeddings for {len(prompts)} prompts")
    counts = [len(class_prompts[name]) for name in names]
    means = np.stack([chunk.mean(axis=0) for chunk in np.split(embedded, np.cumsum(counts)[:-1])])
    return names, l2_normalize(means, "class prototypes")


def class_prototypes(embeddings: Any, labels: Any) -> tuple[np.ndarray, np.ndarray]:
    """Sorted unique labels and one unit-norm prototype per label ``(n_classes, dim)``.

    Each embedding is normalised before averaging so that no sample dominates by its
    norm; the mean is normalised again (the normalised class centre).
    """
    emb = l2_normalize(embeddings)
    y = as_array(labels, "labels", ndim=1)
    if len(y) != len(emb):
        raise DataError(None, f"{len(y)} labels for {len(emb)} embeddings")
    classes, inverse = np.unique(y, return_inverse=True)
    sums = np.zeros((len(classes), emb.shape[1]))
    np.add.at(sums, inverse, emb)
    return classes, l2_normalize(sums, "class prototypes")


def zero_shot_scores(query_emb: Any, prototypes: Any) -> np.ndarray:
    """Cosine similarity of every query with every class prototype, ``(n_query, n_classes)``."""
    return cosine_similarity(query_emb, prototypes)


def zero_shot_predict(query_emb: Any, prototypes: Any, class_names: Sequence[Any]) -> np.ndarray:
    """The class name of the most similar prototype for each query (first class on ties)."""
    names = np.asarray(class_names)
    scores = zero_shot_scores(query_emb, prototypes)
    if len(names) != scores.shape[1]:
        raise DataError(None, f"{len(names)} class names for {scores.shape[1]} prototypes")
    return names[scores.argmax(axis=1)]


def prior_matched_threshold(reference_scores: Any, positive_rate: float) -> float:
    """The decision threshold on a binary zero-shot score (``sim(positive) - sim(negative)``)
    at which a share ``positive_rate`` of ``reference_scores`` is called positive.

    The reference scores are unlabelled (e.g. the training windows' scores); only the class
    prior is needed, which a balanced design fixes in advance (0.5). No test window is used, so
    the threshold is not transductive. Label-free prior correction of a contrastive model's
    bias, in the spirit of "calibrate before use" (Zhao et al., 2021).
    """
    ref = as_array(reference_scores, "reference scores", ndim=1)
    if not 0.0 < positive_rate < 1.0:
        raise DataError(None, f"positive_rate must be in (0, 1), got {positive_rate}")
    if not np.all(np.isfinite(ref)) or len(ref) == 0:
        raise DataError(None, "reference scores must be a non-empty finite array")
    return float(np.quantile(ref, 1.0 - positive_rate))


def _true_columns(query_labels: Any, proto_labels: Any) -> np.ndarray:
    """Index into ``proto_labels`` of each query's label (labels must be unique and present)."""
    q = as_array(query_labels, "query_labels", ndim=1)
    p = as_array(proto_labels, "proto_labels", ndim=1)
    order = np.argsort(p, kind="stable")
    sorted_p = p[order]
    if (sorted_p[1:] == sorted_p[:-1]).any():
        raise DataError(None, "proto_labels must be unique (one prototype per class)")
    pos = np.clip(np.searchsorted(sorted_p, q), 0, len(p) - 1)
    missing = sorted_p[pos] != q
    if missing.any():
        raise DataError(None, f"{int(missing.sum())} queries have a label without prototype, e.g. {q[missing][0]!r}")
    return order[pos]


def distractor_sets(
    query_labels: Any,
    proto_labels: Any,
    n_way: int,
    n_trials: int = 10,
    seed: int = 0,
    query_ids: Any | None = None,
) -> np.ndarray:
    """Candidate prototypes of every query and trial, ``(n_query, n_trials, n_way)`` indices.

    Column 0 is the query's true class; columns 1.. are ``n_way - 1`` distinct other
    classes drawn without replacement. Query ``i`` draws from
    ``np.random.default_rng((seed, query_ids[i]))``; ``query_ids`` defaults to
    ``0..n_query-1`` and must be non-negative unique integers. Pass stable ids (e.g.
    trial numbers) to keep a query's sets when queries are reordered or subset.
    """
    true_col = _true_columns(query_labels, proto_labels)
    n_classes = len(as_array(proto_labels, "proto_labels"))
    if not (isinstance(n_way, (int, np.integer)) and 2 <= n_way <= n_classes):
        raise DataError(None, f"n_way must be an integer in [2, {n_classes}] (the number of classes), got {n_way!r}")
    if not (isinstance(n_trials, (int, np.integer)) and n_trials >= 1):
        raise DataError(None, f"n_trials must be a positive integer, got {n_trials!r}")
    ids = np.arange(len(true_col)) if query_ids is None else as_array(query_ids, "query_ids", ndim=1)
    if len(ids) != len(true_col):
        raise DataError(None, f"{len(ids)} query_ids for {len(true_col)} queries")
    if not np.issubdtype(ids.dtype, np.integer) or (ids < 0).any() or len(np.unique(ids)) != len(ids):
        raise DataError(None, "query_ids must be unique non-negative integers")
    if not (isinstance(seed, (int, np.integer)) and seed >= 0):
        raise DataError(None, f"seed must be a non-negative integer, got {seed!r}")
    sets = np.empty((len(true_col), n_trials, n_way), dtype=np.int64)
    for i, (qid, true) in enumerate(zip(ids, true_col)):
        rng = np.random.default_rng((int(seed), int(qid)))
        others = np.tile(np.delete(np.arange(n_classes), true), (n_trials, 1))
        sets[i, :, 0] = true
        sets[i, :, 1:] = rng.permuted(others, axis=1)[:, : n_way - 1]
    return sets


def nway_hits(
    query_emb: Any,
    query_labels: Any,
    proto_emb: Any,
    proto_labels: Any,
    n_way: int,
    ks: Sequence[int] = (1, 3, 5),
    n_trials: int = 10,
    seed: int = 0,
    query_ids: Any | None = None,
) -> np.ndarray:
    """Per query, the fraction of trials whose true class is in the top k, ``(n_query, len(ks))``.

    This is the per-trial outcome to bootstrap over; :func:`nway_topk` averages it.
    """
    ks = tuple(ks)
    if not ks or not all(isinstance(k, (int, np.integer)) and k >= 1 for k in ks):
        raise DataError(None, f"ks must be positive integers, got {ks!r}")
    scores = cosine_similarity(query_emb, proto_emb)
    sets = distractor_sets(query_labels, proto_labels, n_way, n_trials=n_trials, seed=seed, query_ids=query_ids)
    if len(sets) != len(scores):
        raise DataError(None, f"{len(sets)} query labels for {len(scores)} query embeddings")
    candidate = np.take_along_axis(scores[:, None, :], sets, axis=2)  # (n_query, n_trials, n_way)
    beaten_by = (candidate[..., 1:] >= candidate[..., :1]).sum(axis=2)  # distractors ranked above the truth
    return np.stack([(beaten_by < k).mean(axis=1) for k in ks], axis=1)


def nway_topk(
    query_emb: Any,
    query_labels: Any,
    proto_emb: Any,
    proto_labels: Any,
    n_way: int,
    ks: Sequence[int] = (1, 3, 5),
    n_trials: int = 10,
    seed: int = 0,
    query_ids: Any | None = None,
) -> dict[str, Any]:
    """N-way top-k accuracy, ``{"top1": ..., "top3": ..., "chance": {"top1": ..., ...}}``.

    ``proto_emb`` holds one prototype per class (``proto_labels``, unique), e.g. the
    image or text embedding of each test concept. Accuracy is averaged over queries and
    ``n_trials`` distractor draws; ``k >= n_way`` always scores 1. Chance is
    ``min(k, n_way) / n_way``.
    """
    hits = nway_hits(
        query_emb,
        query_labels,
        proto_emb,
        proto_labels,
        n_way,
        ks=ks,
        n_trials=n_trials,
        seed=seed,
        query_ids=query_ids,
    )
    result: dict[str, Any] = {f"top{k}": float(hits[:, j].mean()) for j, k in enumerate(ks)}
    result["chance"] = {f"top{k}": chance_level(query_labels, "top_k", k=int(k), n_way=n_way) for k in ks}
    return result
