"""Training budgets of a benchmark run: the full run, and ``quick`` for the demo and tests."""

from __future__ import annotations

import dataclasses

__all__ = [
    "FAIR_FULL",
    "FAIR_QUICK",
    "FULL",
    "FUSION_FULL",
    "FUSION_QUICK",
    "QUICK",
    "Budget",
    "FairBudget",
    "FusionBudget",
]


@dataclasses.dataclass(frozen=True)
class FairBudget:
    """The fair-protocol tasks' budget (issue 10; :mod:`brainalign.experiments.fair`):
    seeds of each aligned protocol (a seed = one fold assignment and one initialisation of
    every network), the heads' epochs, and the statistics' draws. Head hyper-parameters
    other than the epochs are :class:`brainalign.training.heads.HeadConfig`'s, fixed."""

    #: eegmat, calibration-block normalisation (the headline) and training statistics
    eegmat_seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    #: eegmat, each subject z-scored with its own windows (transductive, reported beside)
    eegmat_own_seeds: tuple[int, ...] = (0, 1)
    p300_within_seeds: tuple[int, ...] = (0, 1)
    p300_loso_seeds: tuple[int, ...] = (0,)
    smni_seeds: tuple[int, ...] = (0, 1, 2)
    #: the classical references of shared/data/README.md (their protocol: 5 seeds)
    reference_seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    epochs: int = 40
    n_boot: int = 1000
    n_perm: int = 1000


#: About 11 minutes on one free CPU core.
FAIR_FULL = FairBudget()
#: One seed everywhere, short training: for tests and demos.
FAIR_QUICK = FairBudget(
    eegmat_seeds=(0,),
    eegmat_own_seeds=(0,),
    p300_within_seeds=(0,),
    p300_loso_seeds=(0,),
    smni_seeds=(0,),
    reference_seeds=(0,),
    epochs=8,
    n_boot=200,
    n_perm=200,
)


@dataclasses.dataclass
class Budget:
    """Training budget of a benchmark run (``quick`` for the demo and tests)."""

    epochs: dict[str, int]
    folds: dict[str, int]
    n_boot: int
    n_perm: int
    fusion_quick: bool
    baseline_epochs: int
    fair: FairBudget = FairBudget()


FULL = Budget(
    epochs={"eegmat_text": 8, "n170_image": 12, "n170_triplet": 12, "eegmmidb_triplet": 25, "n400_text": 25},
    folds={"eegmat_text": 4, "n170_image": 5, "n400_text": 5},
    n_boot=1000,
    n_perm=1000,
    fusion_quick=False,
    baseline_epochs=15,
    fair=FAIR_FULL,
)
QUICK = Budget(
    epochs={"eegmat_text": 2, "n170_image": 3, "n170_triplet": 3, "eegmmidb_triplet": 4, "n400_text": 6},
    folds={"eegmat_text": 2, "n170_image": 2, "n400_text": 2},
    n_boot=200,
    n_perm=200,
    fusion_quick=True,
    baseline_epochs=3,
    fair=FAIR_QUICK,
)


@dataclasses.dataclass(frozen=True)
class FusionBudget:
    """The fusion experiment's budget: its folds and statistics, and recipe overrides
    (``--set`` items) for its three recipes: ``pretrain`` (pretrain_eeg_all,
    pretrain_ecg_eegmat) and ``finetune`` (eegmat_fusion)."""

    n_folds: int = 4
    n_val_subjects: int = 2
    #: at most this many windows of each pre-training corpus per fold (None: all)
    max_pretrain_windows: int | None = None
    n_boot: int = 1000
    n_perm: int = 1000
    cross_attention: bool = True
    pretrain: tuple[str, ...] = ()
    finetune: tuple[str, ...] = ()


def _pretrain(epochs: int) -> tuple[str, ...]:
    # every epoch runs (patience = epochs), cosine decay from the first step (no warm-up)
    return (
        f"train.epochs={epochs}",
        f"train.patience={epochs}",
        "train.batch_size=64",
        "train.lr=0.001",
        "train.weight_decay=0.01",
        "train.warmup_epochs=0",
        "train.grad_clip=1.0",
    )


def _finetune(epochs: int, patience: int) -> tuple[str, ...]:
    # the trainer stops after patience + 1 epochs without improvement; the budget's patience counts them
    return (
        f"train.epochs={epochs}",
        f"train.patience={patience - 1}",
        "train.batch_size=64",
        "train.lr=0.0005",
        "train.weight_decay=0.01",
        "train.warmup_epochs=0",
        "train.grad_clip=1.0",
    )


#: About 6 minutes on one free CPU core.
FUSION_FULL = FusionBudget(pretrain=_pretrain(12), finetune=_finetune(20, 5))
#: The same protocol with little training, for tests and demos.
FUSION_QUICK = FusionBudget(
    max_pretrain_windows=192, n_boot=200, n_perm=200, pretrain=_pretrain(2), finetune=_finetune(3, 3)
)
