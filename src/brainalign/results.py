"""Typed results: one score, one task's result, one benchmark run.

The benchmark's tasks build these, ``results.json`` is their ``to_dict()``, and
the report reads them back with ``from_dict``; no result dict is built by hand.
This module sits low in the house (it imports nothing of brainalign) so that
evaluation, the experiments and the report can all use it.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["SCORE_FIELDS", "BenchmarkResult", "Score", "TaskResult"]

#: the fields of a score, in ``results.json`` order
SCORE_FIELDS = ("value", "ci_low", "ci_high", "p_value", "chance")


@dataclass(frozen=True)
class Score:
    """A score with its uncertainty: value, bootstrap interval, permutation p-value, chance."""

    value: float
    ci_low: float
    ci_high: float
    p_value: float
    chance: float

    def to_dict(self) -> dict[str, float]:
        """Plain ``{name: float}`` mapping, ready for JSON."""
        return {key: float(getattr(self, key)) for key in SCORE_FIELDS}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Score:
        def num(key: str) -> float:
            v = d.get(key)
            return float("nan") if v is None else float(v)

        return cls(*(num(k) for k in SCORE_FIELDS))

    @property
    def significant(self) -> bool:
        return not math.isnan(self.p_value) and self.p_value < 0.05


def _scores(d: Mapping[str, Any]) -> dict[str, Score]:
    return {k: v if isinstance(v, Score) else Score.from_dict(v) for k, v in d.items()}


@dataclass
class TaskResult:
    """One benchmark task: what was done, its scores, and what they stand beside.

    ``metrics``: the model's scores; ``baselines``: name -> {metric: value}
    measured in the same run on the same splits; ``controls``: shuffled pairings
    (scores) and audits (any JSON); ``references``: non-EEG references;
    ``figures``: caption -> PNG path; ``generation``: what a generation task
    produced, for the report to show (``image_grids``: caption -> PNG of trials'
    generated images beside real stimuli of their class; ``sentences``: rows of
    ``{label, generated, reference, ...}``; ``measures``: name -> number, e.g.
    ``fd_effnet`` beside its real-vs-real floor); ``primary_metric`` is the
    headline's, compared with the baselines' ``baseline_metric``."""

    description: str
    protocol: str
    metrics: dict[str, Score]
    baselines: dict[str, dict[str, float]] = field(default_factory=dict)
    controls: dict[str, Any] = field(default_factory=dict)
    references: dict[str, dict[str, float]] = field(default_factory=dict)
    figures: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    generation: dict[str, Any] = field(default_factory=dict)
    primary_metric: str | None = None
    baseline_metric: str = "balanced_accuracy"

    def headline(self, metric: str, baseline_metric: str = "balanced_accuracy") -> TaskResult:
        """Name the metric the headline shows, and the baselines' metric it is compared with."""
        self.primary_metric, self.baseline_metric = metric, baseline_metric
        return self

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "description": self.description,
            "protocol": self.protocol,
            "metrics": {k: s.to_dict() for k, s in self.metrics.items()},
            "baselines": {k: dict(v) for k, v in self.baselines.items()},
            "controls": {k: _plain(v) for k, v in self.controls.items()},
            "figures": {k: str(v) for k, v in self.figures.items()},
            "notes": list(self.notes),
        }
        if self.references:
            out["references"] = {k: dict(v) for k, v in self.references.items()}
        if self.generation:
            out["generation"] = _plain(self.generation)
        if self.primary_metric is not None:
            out["primary_metric"] = self.primary_metric
            out["baseline_metric"] = self.baseline_metric
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TaskResult:
        return cls(
            description=str(d.get("description", "")),
            protocol=str(d.get("protocol", "")),
            metrics=_scores(d.get("metrics", {})),
            baselines={k: dict(v) for k, v in d.get("baselines", {}).items()},
            controls=dict(d.get("controls", {})),
            references={k: dict(v) for k, v in d.get("references", {}).items()},
            figures={k: str(v) for k, v in d.get("figures", {}).items()},
            notes=list(d.get("notes", [])),
            generation=dict(d.get("generation", {})),
            primary_metric=d.get("primary_metric"),
            baseline_metric=str(d.get("baseline_metric", "balanced_accuracy")),
        )


@dataclass
class BenchmarkResult:
    """A benchmark run: ``meta`` (version, seed, data, timing) and its tasks, in run order."""

    meta: dict[str, Any]
    tasks: dict[str, TaskResult] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"meta": dict(self.meta), "tasks": {k: t.to_dict() for k, t in self.tasks.items()}}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> BenchmarkResult:
        return cls(dict(d.get("meta", {})), {k: TaskResult.from_dict(v) for k, v in d.get("tasks", {}).items()})


def _plain(value: Any) -> Any:
    """Scores and dataclasses inside controls, as plain JSON values."""
    if isinstance(value, Score):
        return value.to_dict()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
