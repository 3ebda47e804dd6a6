"""Image -> EEG space: a map from frozen image features into an EEG embedding space.

EEGStyleGAN-ADA reconstructs unseen images by replacing the EEG condition of its
generator with an image network's prediction of the EEG feature. Here the map is
small and fitted in closed form or nearly so:

* :class:`ImageToEEGMap`: ``kind="ridge"`` (standardised features, ridge regression
  with the penalty chosen by efficient leave-one-out CV) or ``kind="mlp"`` (a small
  scikit-learn MLP with early stopping), from image features (e.g. EfficientNet-Lite0,
  1280-d) to EEG embeddings.
* :func:`n_way_identification`: for each item, is its predicted embedding closer
  (cosine) to its measured embedding than ``n_way - 1`` distractor items'
  predictions? Chance is ``1 / n_way``.
* :func:`map_class_consistency`: the class of each mapped image, read by a
  classifier fitted on EEG embeddings of training trials.
* :class:`ClassCode`: an EEG embedding turned into a class-conditional code, the
  posterior-weighted (``soft``) or most probable (``hard``) class centre of the mapped
  images. Where the exact image per trial is not recorded (eeg-notebooks N170, P300:
  only its class is), an EEG embedding carries at most class information about the
  image, and image -> EEG space -> image reduces to class-conditional generation; the
  code makes that explicit instead of feeding the generator conditions it never saw.

Fit every map against one fitted on shuffled pairs (``shuffle=True`` in
:meth:`ImageToEEGMap.fit`) to show what the pairing adds.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from sklearn.linear_model import LogisticRegression, RidgeCV
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from brainalign.errors import ConfigError, DataError
from brainalign.evaluation.stats import as_array

__all__ = ["ClassCode", "ImageToEEGMap", "map_class_consistency", "n_way_identification"]


class ImageToEEGMap:
    """Image features -> EEG embedding (ridge or small MLP)."""

    def __init__(
        self,
        kind: Literal["ridge", "mlp"] = "ridge",
        alphas: tuple[float, ...] = tuple(np.logspace(-2, 5, 15)),
        hidden: int = 128,
        seed: int = 0,
    ):
        if kind not in ("ridge", "mlp"):
            raise ConfigError(f"ImageToEEGMap kind must be 'ridge' or 'mlp', got {kind!r}")
        self.kind = kind
        self.alphas = tuple(float(a) for a in alphas)
        self.hidden = hidden
        self.seed = seed
        self.model: Any = None
        self.shuffled = False

    def fit(self, image_feats: Any, eeg_emb: Any, shuffle: bool = False) -> ImageToEEGMap:
        """Fit on pairs (row i of ``image_feats`` with row i of ``eeg_emb``); with
        ``shuffle`` the pairs are permuted first (the control map)."""
        x = as_array(image_feats, "image_feats", ndim=2, finite=True).astype(np.float64)
        y = as_array(eeg_emb, "eeg_emb", ndim=2, finite=True).astype(np.float64)
        if len(x) != len(y):
            raise DataError(None, f"{len(x)} image rows but {len(y)} EEG rows")
        if shuffle:
            y = y[np.random.default_rng(self.seed).permutation(len(y))]
        self.shuffled = shuffle
        if self.kind == "ridge":
            self.model = make_pipeline(StandardScaler(), RidgeCV(alphas=self.alphas))
        else:
            self.model = make_pipeline(
                StandardScaler(),
                MLPRegressor(
                    hidden_layer_sizes=(self.hidden,),
                    alpha=1e-2,
                    max_iter=500,
                    early_stopping=len(x) >= 20,
                    random_state=self.seed,
                ),
            )
        self.model.fit(x, y)
        return self

    def predict(self, image_feats: Any) -> np.ndarray:
        if self.model is None:
            raise DataError(None, "ImageToEEGMap.predict before fit")
        out = self.model.predict(as_array(image_feats, "image_feats", ndim=2, finite=True).astype(np.float64))
        return np.asarray(out, dtype=np.float32).reshape(len(out), -1)


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def n_way_identification(
    predicted: Any, measured: Any, n_way: int = 2, items: Any | None = None, n_draws: int = 20, seed: int = 0
) -> float:
    """Share of (row, draw) cases where row i's measured embedding is more similar
    (cosine; Pearson-like for 1-d embeddings reduces to sign agreement) to its own
    predicted embedding than to the predictions of ``n_way - 1`` distractor rows drawn
    at random (from rows of another ``items`` id when given). Ties count as half."""
    p = as_array(predicted, "predicted", ndim=2, finite=True).astype(np.float64)
    m = as_array(measured, "measured", ndim=2, finite=True).astype(np.float64)
    if p.shape != m.shape:
        raise DataError(None, f"predicted {p.shape} and measured {m.shape} differ")
    if n_way < 2:
        raise ConfigError(f"n_way must be >= 2, got {n_way}")
    ids = np.arange(len(p)) if items is None else as_array(items, "items", ndim=1)
    rng = np.random.default_rng(seed)
    if p.shape[1] == 1:  # 1-d: similarity is minus the distance
        sim_self = -np.abs(p[:, 0] - m[:, 0])
        sim = lambda i, j: -np.abs(p[j, 0] - m[i, 0])
    else:
        pu, mu = _unit(p), _unit(m)
        sim_self = (pu * mu).sum(1)
        sim = lambda i, j: pu[j] @ mu[i]
    scores = []
    for i in range(len(p)):
        candidates = np.flatnonzero(ids != ids[i])
        if len(candidates) < n_way - 1:
            raise DataError(None, f"too few distinct items for {n_way}-way identification")
        for _ in range(n_draws):
            distract = rng.choice(candidates, n_way - 1, replace=False)
            others = np.array([sim(i, j) for j in distract])
            best = others.max()
            scores.append(1.0 if sim_self[i] > best else 0.5 if sim_self[i] == best else 0.0)
    return float(np.mean(scores))


def map_class_consistency(mapped: Any, labels: Any, eeg_train: Any, y_train: Any) -> dict[str, Any]:
    """Balanced accuracy of a logistic classifier, fitted on EEG embeddings of training
    trials (``eeg_train``, ``y_train``), on mapped image embeddings against the images'
    classes. Returns the score and the predictions."""
    from sklearn.metrics import balanced_accuracy_score

    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, class_weight="balanced"))
    clf.fit(as_array(eeg_train, "eeg_train", ndim=2, finite=True), as_array(y_train, "y_train", ndim=1))
    pred = clf.predict(as_array(mapped, "mapped", ndim=2, finite=True))
    y = as_array(labels, "labels", ndim=1)
    return {"balanced_accuracy": float(balanced_accuracy_score(y, pred)), "pred": pred}


class ClassCode:
    """EEG embedding -> class-conditional code in the mapped-image space.

    :meth:`fit` takes EEG embeddings of training trials with their classes (a
    balanced logistic regression reads the class posterior from an embedding) and the
    mapped image embeddings with their classes (their class means are the centres).
    :meth:`transform` returns ``sum_k p(k | eeg) * centre_k`` (``mode="soft"``) or the
    centre of the most probable class (``"hard"``).
    """

    def __init__(self, mode: Literal["soft", "hard"] = "hard"):
        if mode not in ("soft", "hard"):
            raise ConfigError(f"ClassCode mode must be 'soft' or 'hard', got {mode!r}")
        self.mode = mode
        self.clf: Any = None
        self.classes: np.ndarray | None = None
        self.centres: np.ndarray | None = None

    def fit(self, eeg_emb: Any, eeg_labels: Any, mapped: Any, mapped_labels: Any) -> ClassCode:
        z = as_array(eeg_emb, "eeg_emb", ndim=2, finite=True)
        y = as_array(eeg_labels, "eeg_labels", ndim=1)
        self.clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, class_weight="balanced")).fit(z, y)
        self.classes = self.clf.classes_
        m = as_array(mapped, "mapped", ndim=2, finite=True)
        my = as_array(mapped_labels, "mapped_labels", ndim=1)
        missing = [c for c in self.classes if not np.any(my == c)]
        if missing:
            raise DataError(None, f"no mapped image of class(es) {missing}")
        self.centres = np.stack([m[my == c].mean(0) for c in self.classes]).astype(np.float32)
        return self

    def posterior(self, eeg_emb: Any) -> np.ndarray:
        if self.clf is None:
            raise DataError(None, "ClassCode used before fit")
        return self.clf.predict_proba(as_array(eeg_emb, "eeg_emb", ndim=2, finite=True))

    def predict(self, eeg_emb: Any) -> np.ndarray:
        return self.classes[self.posterior(eeg_emb).argmax(1)]

    def transform(self, eeg_emb: Any) -> np.ndarray:
        post = self.posterior(eeg_emb)
        if self.mode == "hard":
            return self.centres[post.argmax(1)]
        return (post @ self.centres).astype(np.float32)

    def of_class(self, labels: Any) -> np.ndarray:
        """The centres of the given classes (the true-class conditioning ceiling)."""
        pos = {c: i for i, c in enumerate(self.classes)}
        return self.centres[[pos[c] for c in as_array(labels, "labels", ndim=1)]]
