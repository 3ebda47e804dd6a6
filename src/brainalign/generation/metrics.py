"""Scores of generated images and sentences, each with the reference it needs.

Images (on features, e.g. frozen EfficientNet-Lite0's 1280-d, see
:class:`brainalign.generation.images.EffNetFeatures`; no Inception network installs
offline, so the distances are named ``fd_effnet`` / ``kid_effnet``, never FID/KID):

* :func:`frechet_distance` ``||mu1 - mu2||^2 + tr C1 + tr C2 - 2 tr (C1 C2)^(1/2)``;
  the trace term is computed exactly from the singular values of the cross product of
  the centred feature matrices, so it is stable when there are fewer images than
  feature dimensions (identical sets give 0 up to rounding);
* :func:`kernel_inception_distance` (KID): unbiased MMD^2 with the cubic polynomial
  kernel, averaged over random subsets;
* :func:`real_floor`: the same distance between two random halves of the real set,
  the value a perfect generator could reach with that many images;
* :func:`diversity`: mean pairwise feature distance;
* :func:`memorisation`: each generated image's distance to its nearest training image,
  beside the real images' leave-one-out nearest-neighbour distances;
* :class:`ClassProbe`: a logistic probe fitted on features of real stimuli, its
  cross-validated accuracy on real images (the ceiling) and its class predictions on
  generated images (class consistency).

Text: :func:`parse_attribute` (the class word read back out of a sentence),
:func:`attribute_accuracy`, :func:`distinct_n`, :func:`n_distinct`, and BLEU / ROUGE
through torchmetrics (:func:`bleu`, :func:`rouge`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import StratifiedKFold

from brainalign.errors import DataError
from brainalign.evaluation.stats import as_array

__all__ = [
    "ClassProbe",
    "attribute_accuracy",
    "bleu",
    "distinct_n",
    "diversity",
    "frechet_distance",
    "kernel_inception_distance",
    "memorisation",
    "n_distinct",
    "parse_attribute",
    "real_floor",
    "rouge",
]


def _feats(x: Any, name: str) -> np.ndarray:
    arr = as_array(x, name, ndim=2, finite=True).astype(np.float64)
    if len(arr) < 2:
        raise DataError(None, f"{name} needs at least 2 rows, got {len(arr)}")
    return arr


# ------------------------------------------------------------------------- images
def frechet_distance(feats_a: Any, feats_b: Any) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (rows = images)."""
    a, b = _feats(feats_a, "feats_a"), _feats(feats_b, "feats_b")
    if a.shape[1] != b.shape[1]:
        raise DataError(None, f"feature sizes differ: {a.shape[1]} vs {b.shape[1]}")
    mu_a, mu_b = a.mean(0), b.mean(0)
    ca = (a - mu_a) / np.sqrt(len(a) - 1)
    cb = (b - mu_b) / np.sqrt(len(b) - 1)
    # C_a = ca^T ca, C_b = cb^T cb; tr sqrt(C_a C_b) is the nuclear norm of cb ca^T (n_b x n_a),
    # or, when the feature dimension is the smaller one, sum sqrt(eig(S C_b S)) with S = C_a^(1/2)
    if min(len(a), len(b)) <= a.shape[1]:
        cross = np.linalg.svd(cb @ ca.T, compute_uv=False).sum()
    else:
        evals, evecs = np.linalg.eigh(ca.T @ ca)
        root = (evecs * np.sqrt(np.clip(evals, 0.0, None))) @ evecs.T
        cross = np.sqrt(np.clip(np.linalg.eigvalsh(root @ (cb.T @ cb) @ root), 0.0, None)).sum()
    value = float(((mu_a - mu_b) ** 2).sum() + (ca**2).sum() + (cb**2).sum() - 2.0 * cross)
    return max(value, 0.0)


def _mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    d = x.shape[1]
    kxx = (x @ x.T / d + 1.0) ** 3
    kyy = (y @ y.T / d + 1.0) ** 3
    kxy = (x @ y.T / d + 1.0) ** 3
    m, n = len(x), len(y)
    sxx = (kxx.sum() - np.trace(kxx)) / (m * (m - 1))
    syy = (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
    return float(sxx + syy - 2.0 * kxy.mean())


def kernel_inception_distance(
    feats_a: Any, feats_b: Any, subset_size: int = 50, n_subsets: int = 50, seed: int = 0
) -> tuple[float, float]:
    """KID on the given features: mean and standard deviation over ``n_subsets`` of the
    unbiased MMD^2 (kernel ``(x.y / d + 1)^3``) between random subsets of
    ``min(subset_size, len(a), len(b))`` rows of each set."""
    a, b = _feats(feats_a, "feats_a"), _feats(feats_b, "feats_b")
    if a.shape[1] != b.shape[1]:
        raise DataError(None, f"feature sizes differ: {a.shape[1]} vs {b.shape[1]}")
    size = min(subset_size, len(a), len(b))
    rng = np.random.default_rng(seed)
    values = [
        _mmd2_unbiased(a[rng.choice(len(a), size, replace=False)], b[rng.choice(len(b), size, replace=False)])
        for _ in range(n_subsets)
    ]
    return float(np.mean(values)), float(np.std(values))


def real_floor(real_feats: Any, n_splits: int = 10, seed: int = 0, kid_subset: int = 50) -> dict[str, float]:
    """``fd`` and ``kid`` between two random halves of the real set (averaged over
    ``n_splits`` draws): what a generator indistinguishable from the real images would
    score against a set of that size. Compare a generated set of the same size with
    the full real set against the ``*_floor`` values: they are the noise level."""
    real = _feats(real_feats, "real_feats")
    if len(real) < 4:
        raise DataError(None, "the real-vs-real floor needs at least 4 real images")
    rng = np.random.default_rng(seed)
    fds, kids = [], []
    for _ in range(n_splits):
        order = rng.permutation(len(real))
        half = len(real) // 2
        a, b = real[order[:half]], real[order[half : 2 * half]]
        fds.append(frechet_distance(a, b))
        kids.append(
            kernel_inception_distance(a, b, subset_size=kid_subset, n_subsets=10, seed=int(rng.integers(1 << 31)))[0]
        )
    return {"fd_floor": float(np.mean(fds)), "kid_floor": float(np.mean(kids)), "n_half": int(len(real) // 2)}


def _pairwise(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    sq = (a**2).sum(1)[:, None] + (b**2).sum(1)[None, :] - 2.0 * a @ b.T
    return np.sqrt(np.maximum(sq, 0.0))


def diversity(feats: Any) -> float:
    """Mean Euclidean distance between all pairs of rows (0 for a collapsed set)."""
    x = _feats(feats, "feats")
    dist = _pairwise(x, x)
    n = len(x)
    return float(dist.sum() / (n * (n - 1)))


def memorisation(gen_feats: Any, train_feats: Any, copy_quantile: float = 0.05) -> dict[str, float]:
    """Nearest-training-image distances of generated images, against the real images'
    own leave-one-out nearest-neighbour distances.

    ``ratio`` = median generated NN distance / median real NN distance (well below 1:
    the generator reproduces training images); ``copy_fraction``: share of generated
    images closer to a training image than the ``copy_quantile`` quantile of the real
    NN distances (near copies)."""
    g, t = _feats(gen_feats, "gen_feats"), _feats(train_feats, "train_feats")
    nn_gen = _pairwise(g, t).min(axis=1)
    rr = _pairwise(t, t)
    np.fill_diagonal(rr, np.inf)
    nn_real = rr.min(axis=1)
    threshold = float(np.quantile(nn_real, copy_quantile))
    return {
        "gen_nn_median": float(np.median(nn_gen)),
        "real_nn_median": float(np.median(nn_real)),
        "ratio": float(np.median(nn_gen) / max(np.median(nn_real), 1e-12)),
        "copy_fraction": float(np.mean(nn_gen < threshold)),
        "copy_threshold": threshold,
    }


class ClassProbe:
    """Class of generated images from features of the real stimuli.

    ``kind="logistic"`` (default): StandardScaler + L2 logistic regression, balanced
    class weights. ``kind="nearest"``: the class of the nearest real stimulus
    (Euclidean, 1-NN), for stimulus sets too small to fit a classifier that transfers
    to generated images (P300: 4 images a class, where the logistic probe called
    most generated images of either condition "target").

    :meth:`fit` also measures the ceiling: the balanced accuracy of the same probe on
    held-out real images (logistic: stratified k-fold, or leave-one-out per class when
    a class has fewer images than folds; nearest: leave-one-out)."""

    def __init__(self, C: float = 1.0, n_folds: int = 5, seed: int = 0, kind: str = "logistic"):
        if kind not in ("logistic", "nearest"):
            raise DataError(None, f"ClassProbe kind must be 'logistic' or 'nearest', got {kind!r}")
        self.C = C
        self.n_folds = n_folds
        self.seed = seed
        self.kind = kind
        self.model: Any = None
        self.ceiling: float = float("nan")
        self.classes: np.ndarray | None = None
        self._x: np.ndarray | None = None
        self._y: np.ndarray | None = None

    def _new(self) -> Any:
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        return make_pipeline(StandardScaler(), LogisticRegression(C=self.C, max_iter=5000, class_weight="balanced"))

    def fit(self, real_feats: Any, labels: Any) -> ClassProbe:
        x = _feats(real_feats, "real_feats")
        y = as_array(labels, "labels", ndim=1)
        if len(y) != len(x):
            raise DataError(None, f"{len(x)} feature rows but {len(y)} labels")
        classes, counts = np.unique(y, return_counts=True)
        if len(classes) < 2:
            raise DataError(None, "the probe needs real images of at least two classes")
        self.classes = classes
        if self.kind == "nearest":
            self._x, self._y = x, y
            d = _pairwise(x, x)
            np.fill_diagonal(d, np.inf)
            self.ceiling = float(balanced_accuracy_score(y, y[d.argmin(1)]))
            return self
        folds = int(min(self.n_folds, counts.min()))
        if folds >= 2:
            pred = np.empty_like(y)
            cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=self.seed)
            for tr, te in cv.split(x, y):
                pred[te] = self._new().fit(x[tr], y[tr]).predict(x[te])
            self.ceiling = float(balanced_accuracy_score(y, pred))
        self.model = self._new().fit(x, y)
        return self

    def predict(self, feats: Any) -> np.ndarray:
        if self.kind == "nearest":
            if self._x is None or self._y is None:
                raise DataError(None, "ClassProbe.predict before fit")
            return self._y[_pairwise(as_array(feats, "feats", ndim=2, finite=True), self._x).argmin(1)]
        if self.model is None:
            raise DataError(None, "ClassProbe.predict before fit")
        return self.model.predict(as_array(feats, "feats", ndim=2, finite=True))


# --------------------------------------------------------------------------- text
_WORD = re.compile(r"[a-z0-9]+")


def parse_attribute(sentence: str, vocabulary: Mapping[str, Sequence[str]]) -> str | None:
    """The class whose words (``vocabulary``: class -> words) occur in ``sentence``, as
    whole words, case-insensitively; None when no class's words occur, or when words
    of more than one class do (an ambiguous sentence names no class)."""
    words = set(_WORD.findall(sentence.lower()))
    found = [label for label, keys in vocabulary.items() if any(k.lower() in words for k in keys)]
    return found[0] if len(found) == 1 else None


def attribute_accuracy(
    sentences: Sequence[str], labels: Sequence[str], vocabulary: Mapping[str, Sequence[str]]
) -> float:
    """Share of sentences whose parsed class (:func:`parse_attribute`) is the true one;
    a sentence naming no class or several counts as wrong."""
    if len(sentences) != len(labels):
        raise DataError(None, f"{len(sentences)} sentences but {len(labels)} labels")
    if not len(sentences):
        raise DataError(None, "no sentences")
    hits = [parse_attribute(s, vocabulary) == str(y) for s, y in zip(sentences, labels)]
    return float(np.mean(hits))


def _tokens(sentence: str) -> list[str]:
    return _WORD.findall(sentence.lower())


def distinct_n(sentences: Sequence[str], n: int) -> float:
    """Distinct-n: distinct n-grams over all n-grams in the sentences (0 when there are
    none). A constant output scores low; a varied one close to 1."""
    grams: list[tuple[str, ...]] = []
    for s in sentences:
        toks = _tokens(s)
        grams.extend(tuple(toks[i : i + n]) for i in range(len(toks) - n + 1))
    return float(len(set(grams)) / len(grams)) if grams else 0.0


def n_distinct(sentences: Sequence[str]) -> int:
    """Number of different sentences (after lower-casing and whitespace folding)."""
    return len({" ".join(_tokens(s)) for s in sentences})


def bleu(predictions: Sequence[str], references: Sequence[str] | Sequence[Sequence[str]], n_gram: int = 4) -> float:
    """Corpus BLEU (torchmetrics) of ``predictions`` against one or more references each."""
    from torchmetrics.functional.text import bleu_score

    refs = [[r] if isinstance(r, str) else list(r) for r in references]
    return float(
        bleu_score(
            [" ".join(_tokens(p)) for p in predictions],
            [[" ".join(_tokens(r)) for r in rr] for rr in refs],
            n_gram=n_gram,
        )
    )


def rouge(predictions: Sequence[str], references: Sequence[str]) -> dict[str, float]:
    """ROUGE-1/2/L F-measures (torchmetrics, without nltk), averaged over sentences."""
    from torchmetrics.functional.text import rouge_score

    scores = rouge_score(
        [" ".join(_tokens(p)) for p in predictions],
        [" ".join(_tokens(r)) for r in references],
        rouge_keys=("rouge1", "rouge2", "rougeL"),
    )
    return {k.replace("_fmeasure", ""): float(v) for k, v in scores.items() if k.endswith("_fmeasure")}
