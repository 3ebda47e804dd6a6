"""Protocols on embeddings alone: a stub model with no paired tower."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd

from brainalign.evaluation.protocols import EvalSet, label_predictions, score_predictions
from brainalign.results import Score


def _eval_set(n: int = 200, seed: int = 0) -> EvalSet:
    rng = np.random.default_rng(seed)
    y = np.array(["a", "b"] * (n // 2))
    z = rng.normal(size=(n, 8)) + (y == "b")[:, None] * 1.5
    table = pd.DataFrame(
        {"label": y, "subject": [f"s{i % 10}" for i in range(n)], "recording": [f"r{i % 20}" for i in range(n)]}
    )
    model = SimpleNamespace(config={"pair_kind": "label"})
    return EvalSet(
        z[: n // 2],
        table.iloc[: n // 2].reset_index(drop=True),
        z[n // 2 :],
        table.iloc[n // 2 :].reset_index(drop=True),
        "generic",
        model,
    )


def test_few_shot_probes_record_how_many_labels_they_saw():
    """The few-shot figure's n= labels come from here (they used to read 0)."""
    preds = label_predictions(_eval_set(), "label", few_shot=True, seed=0)
    assert preds.n_train["fewshot_100pct_bacc"] == 100
    assert preds.n_train["fewshot_10pct_bacc"] == 10  # 5 of each class
    assert preds.n_train["fewshot_1pct_bacc"] == 2  # at least one per class


def test_scores_are_typed_and_separable_classes_score_high():
    scores = score_predictions([label_predictions(_eval_set(), "label", seed=0)], n_boot=50, n_perm=50)
    assert all(isinstance(s, Score) for s in scores.values())
    assert scores["logreg_bacc"].value > 0.7 and scores["logreg_bacc"].chance == 0.5
