"""Subject normalisation: a recorded, serialisable transform of features or signals.

Between subjects, EEG amplitude and spectra differ more than most within-subject effects
(rest vs task, target vs non-target), so cross-subject decoding usually needs each
subject's data put on a common scale. *Where the statistics come from* decides whether a
score is honest:

==================================  =========================================  ============
normaliser                          statistics from                            transductive
==================================  =========================================  ============
``Standardizer("train")``           the training rows only (one global scale)  no
``Standardizer("calibration")``     each subject's calibration block (e.g. the no
                                    first 60 s of rest), never an evaluated row
``Standardizer("own")``             each subject's own rows, the evaluated     **yes**
                                    (unlabelled) windows included
``EuclideanAlignment(...)``         the same two per-subject choices, applied  own: yes
                                    to raw signals: ``x -> R^-1/2 x`` with R   calibration:
                                    the subject's mean covariance (He & Wu     no
                                    2019)
==================================  =========================================  ============

Every normaliser says so in :meth:`Normalizer.record` (``transductive``), round-trips
through :meth:`Normalizer.to_dict` / :func:`normalizer_from_dict` (what a run stores in
its input contract), and re-applies to a new subject given that subject's calibration
data (:meth:`Normalizer.transform` with ``calibration=``).

Label level. Per-subject normalisation removes whatever is constant within a subject, so
for a *subject-level* label (clinical group, sex, age: one value per subject) it removes
the label by construction (on SMNI it turns alcoholic-vs-control into exactly 0.500). A
per-subject normaliser's :meth:`~Normalizer.fit` therefore refuses labels that are
constant within every group (:class:`SubjectLevelLabelError`) unless ``allow_subject_level``
is passed explicitly (to demonstrate the effect, as a test does).

Arrays: rows on axis 0. ``(n, features)`` arrays are normalised per feature; ``(n, channels,
times)`` signals per channel (over rows and times); Euclidean alignment needs signals.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd

from brainalign.errors import ConfigError, DataError

__all__ = [
    "EuclideanAlignment",
    "Normalizer",
    "Standardizer",
    "SubjectLevelLabelError",
    "calibration_mask",
    "check_disjoint",
    "check_label_level",
    "label_level",
    "make_normalizer",
    "normalizer_from_dict",
]

Source = Literal["train", "calibration", "own"]
SOURCES: tuple[str, ...] = ("train", "calibration", "own")


class SubjectLevelLabelError(ConfigError):
    """A per-subject normalisation was asked for a label that is constant within every
    subject: it would remove the label by construction."""


# ------------------------------------------------------------------------ label level
def label_level(labels: Any, groups: Any) -> Literal["subject", "within"]:
    """``"subject"`` when every group holds a single label value (and the label varies
    between groups): a subject-level label such as a clinical group or sex. Otherwise
    ``"within"`` (the label varies inside at least one group: task, stimulus...)."""
    y = pd.Series(np.asarray(labels, dtype=object))
    g = np.asarray(groups, dtype=object)
    if len(y) != len(g):
        raise DataError(None, f"{len(y)} labels for {len(g)} group values")
    known = y.notna().to_numpy()
    y, g = y[known].astype(str), g[known]
    if y.nunique() < 2:
        return "within"
    per_group = y.groupby(g).nunique()
    return "subject" if int(per_group.max()) == 1 else "within"


def check_label_level(normalizer: Normalizer, labels: Any, groups: Any, allow_subject_level: bool = False) -> None:
    """Raise :class:`SubjectLevelLabelError` when ``normalizer`` normalises per group and
    ``labels`` are constant within every group of ``groups``."""
    if not normalizer.per_group or allow_subject_level:
        return
    if label_level(labels, groups) == "subject":
        raise SubjectLevelLabelError(
            f"{normalizer.describe()} normalises each {normalizer.by} with its own statistics, but the label is "
            f"constant within every {normalizer.by} (a {normalizer.by}-level label such as a clinical group or "
            "sex): per-subject normalisation removes it by construction. Use training statistics "
            "(Standardizer('train')) or no normalisation for this label."
        )


# ---------------------------------------------------------------------- calibration
def calibration_mask(
    table: pd.DataFrame,
    *,
    by: str = "subject",
    where: dict[str, Any] | None = None,
    first_s: float | None = None,
    first_n: int | None = None,
    time_col: str = "start",
    order_cols: Sequence[str] = ("recording",),
) -> np.ndarray:
    """Rows of ``table`` that form each group's calibration block.

    ``where`` keeps rows whose columns equal the given values (e.g. ``{"label": "rest"}``:
    the rest recording). Then per group, in time order (``order_cols``, then ``time_col``),
    the rows starting within the first ``first_s`` seconds of the group's earliest kept
    row, or its first ``first_n`` rows. E.g. eegmat's first 60 s of rest::

        calibration_mask(table, where={"label": "rest"}, first_s=60)

    Calibration rows must not be evaluated; :func:`check_disjoint` verifies it.
    """
    if (first_s is None) == (first_n is None):
        raise ConfigError("calibration_mask: give exactly one of first_s or first_n")
    for col in [by, *(where or {})] + ([time_col] if first_s is not None else []):
        if col not in table.columns:
            raise DataError(None, f"calibration_mask: the table has no column {col!r}")
    keep = np.ones(len(table), dtype=bool)
    for col, value in (where or {}).items():
        keep &= (table[col].astype(str) == str(value)).to_numpy()
    out = np.zeros(len(table), dtype=bool)
    sub = table.loc[keep]
    for _, rows in sub.groupby(by, sort=False):
        cols = [c for c in order_cols if c in rows.columns] + ([time_col] if time_col in rows.columns else [])
        rows = rows.sort_values(cols, kind="stable") if cols else rows
        if first_n is not None:
            chosen = rows.index[: int(first_n)]
        else:
            first_rec = rows.iloc[0][order_cols[0]] if order_cols and order_cols[0] in rows.columns else None
            same = rows if first_rec is None else rows[rows[order_cols[0]] == first_rec]
            t = same[time_col].astype(float)
            chosen = same.index[(t - t.min()) < float(first_s) - 1e-9]
        out[table.index.get_indexer(chosen)] = True
    return out


def check_disjoint(calibration: np.ndarray, evaluated: np.ndarray) -> None:
    """DataError when a calibration row is also an evaluated row."""
    both = np.asarray(calibration, bool) & np.asarray(evaluated, bool)
    if both.any():
        raise DataError(
            None,
            f"{int(both.sum())} calibration row(s) are also evaluated; a calibration block "
            "must never hold a test window",
        )


# ----------------------------------------------------------------------- normalisers
def _reduce_axes(x: np.ndarray) -> tuple[int, ...]:
    """All axes but the feature/channel axis (axis 1)."""
    if x.ndim < 2:
        raise DataError(None, f"normalisation needs (rows, features) or (rows, channels, times), got shape {x.shape}")
    return tuple(i for i in range(x.ndim) if i != 1)


def _as_groups(groups: Any, n: int, what: str) -> np.ndarray:
    if groups is None:
        raise DataError(None, f"{what} normalises per group and needs one group value per row")
    g = np.asarray(groups, dtype=object)
    if g.shape != (n,):
        raise DataError(None, f"{what}: {len(g)} group values for {n} rows")
    return g


class Normalizer:
    """Base class. Subclasses set :attr:`method` and implement the statistics."""

    method: ClassVar[str] = ""

    def __init__(self, source: Source = "train", by: str = "subject", eps: float = 1e-6):
        if source not in SOURCES:
            raise ConfigError(f"{type(self).__name__}: source must be one of {SOURCES}, not {source!r}")
        self.source, self.by, self.eps = source, by, float(eps)
        self.group_stats: dict[Any, dict[str, np.ndarray]] = {}

    # ------------------------------------------------------------------ properties
    @property
    def per_group(self) -> bool:
        """True when each group (subject) is normalised with its own statistics."""
        return self.source in ("own", "calibration")

    @property
    def transductive(self) -> bool:
        """True when an evaluated row's own (unlabelled) data enter its statistics."""
        return self.source == "own"

    def describe(self) -> str:
        return f"{type(self).__name__}(source={self.source!r})"

    def record(self) -> dict[str, Any]:
        """What goes into a run's records: :meth:`to_dict` without fitted arrays, plus
        ``transductive`` and ``per_group``."""
        spec = {k: v for k, v in self.to_dict().items() if k != "state"}
        return {**spec, "transductive": self.transductive, "per_group": self.per_group}

    # --------------------------------------------------------------- serialisation
    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "source": self.source, "by": self.by, "eps": self.eps, "state": self._state()}

    def _state(self) -> dict[str, Any]:
        return {}

    def _load_state(self, state: dict[str, Any]) -> None:
        return None

    # --------------------------------------------------------------------- fitting
    def fit(self, x: Any, groups: Any = None, labels: Any = None, *, allow_subject_level: bool = False) -> Normalizer:
        """Fit on training rows. ``labels`` (with ``groups``) enable the label-level guard."""
        x = np.asarray(x, dtype=np.float64)
        if labels is not None and self.per_group:
            check_label_level(self, labels, _as_groups(groups, len(x), self.describe()), allow_subject_level)
        self._fit(x)
        return self

    def _fit(self, x: np.ndarray) -> None:
        return None

    def calibrate(self, x_cal: Any, groups_cal: Any) -> Normalizer:
        """Per-group statistics from calibration rows (source ``"calibration"``), kept for
        later :meth:`transform` calls of those groups."""
        x_cal = np.asarray(x_cal, dtype=np.float64)
        g = _as_groups(groups_cal, len(x_cal), self.describe())
        for group in pd.unique(g):
            self.group_stats[group] = self._statistics(x_cal[g == group])
        return self

    def transform(self, x: Any, groups: Any = None, *, calibration: tuple[Any, Any] | None = None) -> np.ndarray:
        """Normalise ``x`` (rows of ``groups``).

        ``source="train"``: the fitted global statistics. ``"own"``: each group's
        statistics from its rows in ``x`` itself (transductive). ``"calibration"``: each
        group's statistics from ``calibration=(x_cal, groups_cal)`` or from an earlier
        :meth:`calibrate`; a group without calibration data is a DataError.
        """
        x = np.asarray(x, dtype=np.float64)
        if self.source == "train":
            return self._apply(x, self._global_stats())
        g = _as_groups(groups, len(x), self.describe())
        if self.source == "calibration" and calibration is not None:
            self.calibrate(*calibration)
        out = np.empty_like(x)
        for group in pd.unique(g):
            rows = g == group
            if self.source == "own":
                stats = self._statistics(x[rows])
            else:
                if group not in self.group_stats:
                    raise DataError(None, f"{self.describe()}: no calibration data for {self.by} {group!r}")
                stats = self.group_stats[group]
            out[rows] = self._apply(x[rows], stats)
        return out

    def fit_transform(
        self,
        x: Any,
        groups: Any = None,
        labels: Any = None,
        *,
        calibration: tuple[Any, Any] | None = None,
        allow_subject_level: bool = False,
    ) -> np.ndarray:
        return self.fit(x, groups, labels, allow_subject_level=allow_subject_level).transform(
            x, groups, calibration=calibration
        )

    # ---------------------------------------------------------------- to implement
    def _statistics(self, x: np.ndarray) -> dict[str, np.ndarray]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _apply(self, x: np.ndarray, stats: dict[str, np.ndarray]) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def _global_stats(self) -> dict[str, np.ndarray]:  # pragma: no cover - abstract
        raise NotImplementedError


class Standardizer(Normalizer):
    """z-score per feature (``(n, d)``) or per channel (``(n, c, t)``); see the module doc
    for ``source``. ``scale=False`` only removes the mean."""

    method = "standardize"

    def __init__(self, source: Source = "train", by: str = "subject", eps: float = 1e-6, scale: bool = True):
        super().__init__(source, by, eps)
        self.scale = bool(scale)
        self.mean_: np.ndarray | None = None
        self.std_: np.ndarray | None = None

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "scale": self.scale}

    def _statistics(self, x: np.ndarray) -> dict[str, np.ndarray]:
        axes = _reduce_axes(x)
        mean = x.mean(axis=axes, keepdims=True)
        std = x.std(axis=axes, keepdims=True) if self.scale and len(x) > 1 else np.ones_like(mean)
        return {"mean": mean, "std": np.maximum(std, self.eps)}

    def _apply(self, x: np.ndarray, stats: dict[str, np.ndarray]) -> np.ndarray:
        if stats["mean"].shape[1:] != (x.shape[1],) + (1,) * (x.ndim - 2):
            raise DataError(
                None, f"{self.describe()}: statistics of {stats['mean'].shape[1]} features, input has {x.shape[1]}"
            )
        return (x - stats["mean"]) / stats["std"]

    def _fit(self, x: np.ndarray) -> None:
        if self.source == "train":
            stats = self._statistics(x)
            self.mean_, self.std_ = stats["mean"], stats["std"]

    def _global_stats(self) -> dict[str, np.ndarray]:
        if self.mean_ is None or self.std_ is None:
            raise DataError(None, f"{self.describe()} is not fitted")
        return {"mean": self.mean_, "std": self.std_}

    def _state(self) -> dict[str, Any]:
        if self.mean_ is None or self.std_ is None:
            return {}
        return {"shape": list(self.mean_.shape), "mean": self.mean_.ravel().tolist(), "std": self.std_.ravel().tolist()}

    def _load_state(self, state: dict[str, Any]) -> None:
        if state:
            shape = tuple(state["shape"])
            self.mean_ = np.asarray(state["mean"], dtype=np.float64).reshape(shape)
            self.std_ = np.asarray(state["std"], dtype=np.float64).reshape(shape)


class EuclideanAlignment(Normalizer):
    """Euclidean alignment (He & Wu 2019, IEEE TBME 67(2)): each subject's trials
    ``x -> R^{-1/2} x`` with ``R`` the arithmetic mean of that subject's trial covariances,
    so every subject's mean covariance becomes the identity. Signals ``(n, channels, times)``
    only. ``source`` ``"own"`` (the paper's set-up; transductive for test subjects) or
    ``"calibration"`` (R from calibration trials). ``shrinkage`` adds
    ``shrinkage * trace(R)/channels`` to the diagonal (rank-deficient data, e.g. after
    average reference). ``source="train"`` whitens every subject with the training
    subjects' mean covariance (one global transform)."""

    method = "euclidean_alignment"

    def __init__(self, source: Source = "own", by: str = "subject", eps: float = 1e-10, shrinkage: float = 1e-3):
        super().__init__(source, by, eps)
        self.shrinkage = float(shrinkage)
        self.whitener_: np.ndarray | None = None

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "shrinkage": self.shrinkage}

    def _statistics(self, x: np.ndarray) -> dict[str, np.ndarray]:
        if x.ndim != 3:
            raise DataError(None, f"Euclidean alignment needs signals (trials, channels, times), got shape {x.shape}")
        centred = x - x.mean(axis=-1, keepdims=True)
        cov = np.einsum("nct,ndt->cd", centred, centred) / (x.shape[0] * x.shape[-1])
        cov += self.shrinkage * np.trace(cov) / len(cov) * np.eye(len(cov))
        vals, vecs = np.linalg.eigh(cov)
        vals = np.maximum(vals, self.eps)
        return {"whitener": (vecs / np.sqrt(vals)) @ vecs.T}

    def _apply(self, x: np.ndarray, stats: dict[str, np.ndarray]) -> np.ndarray:
        w = stats["whitener"]
        if x.ndim != 3 or x.shape[1] != len(w):
            raise DataError(None, f"{self.describe()}: whitener for {len(w)} channels, input shape {x.shape}")
        return np.einsum("cd,ndt->nct", w, x)

    def _fit(self, x: np.ndarray) -> None:
        if self.source == "train":
            self.whitener_ = self._statistics(x)["whitener"]

    def _global_stats(self) -> dict[str, np.ndarray]:
        if self.whitener_ is None:
            raise DataError(None, f"{self.describe()} is not fitted")
        return {"whitener": self.whitener_}

    def _state(self) -> dict[str, Any]:
        return {} if self.whitener_ is None else {"whitener": self.whitener_.tolist()}

    def _load_state(self, state: dict[str, Any]) -> None:
        if state:
            self.whitener_ = np.asarray(state["whitener"], dtype=np.float64)


class Identity(Normalizer):
    """No normalisation (recorded like the others)."""

    method = "none"

    def __init__(self, source: Source = "train", by: str = "subject", eps: float = 0.0):
        super().__init__("train", by, eps)

    def transform(self, x: Any, groups: Any = None, *, calibration: tuple[Any, Any] | None = None) -> np.ndarray:
        return np.asarray(x, dtype=np.float64)


_METHODS: dict[str, type[Normalizer]] = {cls.method: cls for cls in (Standardizer, EuclideanAlignment, Identity)}


def normalizer_from_dict(spec: dict[str, Any]) -> Normalizer:
    """Inverse of :meth:`Normalizer.to_dict` (fitted global statistics included)."""
    if not isinstance(spec, dict) or spec.get("method") not in _METHODS:
        known = ", ".join(sorted(_METHODS))
        raise ConfigError(f"a normaliser spec needs 'method' in {{{known}}}, got {spec!r}")
    spec = dict(spec)
    cls = _METHODS[spec.pop("method")]
    state = spec.pop("state", {}) or {}
    try:
        out = cls(**spec)
    except TypeError as err:
        raise ConfigError(f"normaliser {cls.method}: {err}") from None
    out._load_state(state)
    return out


#: short names accepted by :func:`make_normalizer`
SHORT_NAMES: dict[str, dict[str, Any]] = {
    "none": {"method": "none"},
    "train": {"method": "standardize", "source": "train"},
    "calibration": {"method": "standardize", "source": "calibration"},
    "own": {"method": "standardize", "source": "own"},
    "euclidean": {"method": "euclidean_alignment", "source": "own"},
    "euclidean_calibration": {"method": "euclidean_alignment", "source": "calibration"},
}


def make_normalizer(spec: str | dict[str, Any] | Normalizer) -> Normalizer:
    """A normaliser from a short name (:data:`SHORT_NAMES`), a spec dict or itself."""
    if isinstance(spec, Normalizer):
        return spec
    if isinstance(spec, str):
        if spec not in SHORT_NAMES:
            raise ConfigError(f"unknown normaliser {spec!r}; known: {', '.join(SHORT_NAMES)}")
        return normalizer_from_dict(SHORT_NAMES[spec])
    return normalizer_from_dict(spec)
