"""Unsupervised structure of embeddings: k-means against the true labels.

Cluster ids are arbitrary, so accuracy first matches clusters to classes one-to-one so
as to maximise the number of agreeing samples (the Hungarian algorithm,
``scipy.optimize.linear_sum_assignment``, on the contingency table); samples in a
cluster left without a class count as errors. NMI and ARI (scikit-learn) need no
matching and are reported beside it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score
from sklearn.metrics.cluster import contingency_matrix

from brainalign.errors import DataError
from brainalign.evaluation.metrics import l2_normalize
from brainalign.evaluation.stats import as_array

__all__ = ["cluster_accuracy", "kmeans_scores"]


def cluster_accuracy(y_true: Any, y_pred: Any) -> float:
    """Fraction of samples whose cluster maps to their class under the best one-to-one matching.

    The numbers of clusters and classes may differ; the extra ones stay unmatched.
    """
    yt, yp = as_array(y_true, "y_true", ndim=1), as_array(y_pred, "y_pred", ndim=1)
    if len(yt) != len(yp):
        raise DataError(None, f"y_true has {len(yt)} samples but y_pred has {len(yp)}")
    table = contingency_matrix(yt, yp)
    rows, cols = linear_sum_assignment(table, maximize=True)
    return float(table[rows, cols].sum() / len(yt))


def kmeans_scores(
    X: Any, y: Any, n_clusters: int | None = None, seed: int = 0, n_init: int = 10, normalize: bool = True
) -> dict[str, float]:
    """Cluster ``X`` with k-means and compare with ``y``: ``{"accuracy", "nmi", "ari"}``.

    ``n_clusters`` defaults to the number of classes. With ``normalize`` (default) the
    rows are scaled to unit length first, so k-means works in the cosine geometry the
    aligned embeddings were trained in.
    """
    x = l2_normalize(X, "X") if normalize else as_array(X, "X", ndim=2, finite=True)
    labels = as_array(y, "y", ndim=1)
    if len(labels) != len(x):
        raise DataError(None, f"X has {len(x)} rows but y has {len(labels)} labels")
    k = len(np.unique(labels)) if n_clusters is None else n_clusters
    if not (isinstance(k, (int, np.integer)) and 1 <= k <= len(x)):
        raise DataError(None, f"n_clusters must be an integer in [1, {len(x)}], got {k!r}")
    pred = KMeans(n_clusters=int(k), n_init=n_init, random_state=seed).fit_predict(x)
    return {
        "accuracy": cluster_accuracy(labels, pred),
        "nmi": float(normalized_mutual_info_score(labels, pred)),
        "ari": float(adjusted_rand_score(labels, pred)),
    }
