"""Class-balanced baseline fits: with 5:1 classes and a weak signal an unweighted fit
predicts the majority (balanced accuracy 0.5), the balanced fit does not."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from brainalign.data.splits import Split
from brainalign.evaluation.baselines import run_baseline
from brainalign.preprocessing.pipeline import Windows


def _imbalanced_alpha(n: int = 600, seed: int = 0) -> tuple[Windows, Split]:
    """1 in 6 windows (class "b") carries a weak 10 Hz rhythm on C0."""
    rng = np.random.default_rng(seed)
    labels = np.where(rng.random(n) < 1 / 6, "b", "a").astype(object)
    t = np.arange(100) / 100.0
    data = 5.0 * rng.standard_normal((n, 4, 100))
    data[labels == "b", 0] += 3.0 * np.sin(2 * np.pi * 10 * t + rng.uniform(0, 6, ((labels == "b").sum(), 1)))
    table = pd.DataFrame({"recording": [f"r{i // 10}" for i in range(n)], "subject": "s", "label": labels})
    split = Split(train=np.arange(400), val=np.arange(0), test=np.arange(400, n), kind="synthetic")
    return Windows(data.astype(np.float32), ["C0", "C1", "C2", "C3"], 100.0, table), split


@pytest.mark.parametrize("name", ["bandpower_lr", "csp_lda"])
def test_balanced_fit_beats_the_majority_vote(name):
    windows, split = _imbalanced_alpha()
    balanced = run_baseline(name, windows, split)
    unweighted = run_baseline(name, windows, split, class_weight=None)
    assert balanced["balanced_accuracy"] > 0.6, balanced
    assert balanced["balanced_accuracy"] > unweighted["balanced_accuracy"] + 0.05, (balanced, unweighted)
