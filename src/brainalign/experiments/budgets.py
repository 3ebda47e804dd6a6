"""Training budgets of a benchmark run: the full run, and ``quick`` for the demo and tests."""

from __future__ import annotations

import dataclasses

__all__ = ["FULL", "QUICK", "Budget"]


@dataclasses.dataclass
class Budget:
    """Training budget of a benchmark run (``quick`` for the demo and tests)."""

    epochs: dict[str, int]
    folds: dict[str, int]
    n_boot: int
    n_perm: int
    fusion_quick: bool
    baseline_epochs: int


FULL = Budget(
    epochs={"eegmat_text": 8, "n170_image": 12, "n170_triplet": 12, "eegmmidb_triplet": 25, "n400_text": 25},
    folds={"eegmat_text": 4, "n170_image": 5, "n400_text": 5},
    n_boot=1000, n_perm=1000, fusion_quick=False, baseline_epochs=15,
)
QUICK = Budget(
    epochs={"eegmat_text": 2, "n170_image": 3, "n170_triplet": 3, "eegmmidb_triplet": 4, "n400_text": 6},
    folds={"eegmat_text": 2, "n170_image": 2, "n400_text": 2},
    n_boot=200, n_perm=200, fusion_quick=True, baseline_epochs=3,
)
