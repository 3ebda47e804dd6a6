"""Training budgets of a benchmark run: the full run, and ``quick`` for the demo and tests."""

from __future__ import annotations

import dataclasses

__all__ = [
    "DEMO",
    "Budget",
    "FAIR_FULL",
    "FAIR_QUICK",
    "FULL",
    "FUSION_FAIR_FULL",
    "FUSION_FAIR_QUICK",
    "FUSION_FULL",
    "FUSION_QUICK",
    "FairBudget",
    "FusionBudget",
    "FusionFairBudget",
    "GENERATION_FULL",
    "GENERATION_BUDGETS",
    "GENERATION_DEMO",
    "GENERATION_QUICK",
    "GenerationBudget",
    "MULTIDATA_FULL",
    "MULTIDATA_QUICK",
    "MultiDataBudget",
    "QUICK",
    "SHARED_FULL",
    "SHARED_QUICK",
    "SharedEncoderBudget",
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
    #: SMNI stimulus condition: training statistics (the headline; the references' 5 seeds)
    #: and each subject z-scored with its own trials (transductive, reported beside)
    smni_condition_seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    smni_condition_own_seeds: tuple[int, ...] = (0, 1)
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
    smni_condition_seeds=(0,),
    smni_condition_own_seeds=(0,),
    reference_seeds=(0,),
    epochs=8,
    n_boot=200,
    n_perm=200,
)


@dataclasses.dataclass(frozen=True)
class SharedEncoderBudget:
    """The ``shared_encoder`` task's budget (:mod:`brainalign.experiments.shared_encoder`):
    which protocols run (``within``: the one within-subject split; ``subject``: ``folds``
    subject-disjoint folds), each arm's epochs (early stopping, patience 5), the seed, and
    the statistics' draws. Arms, baselines and split fractions are fixed in the module."""

    protocols: tuple[str, ...] = ("within", "subject")
    folds: int = 5
    epochs: int = 20
    seed: int = 0
    n_boot: int = 1000
    controls: bool = True


#: Both protocols, 20 epochs (early stopping), 5 subject folds: 677 s wall measured on the shared
#: 2-core machine at load 3-4 with torch on one thread (the within-subject protocol trains 5
#: models, 81 s of it; the subject folds 20 models, 260 s; the rest is scoring and baselines).
SHARED_FULL = SharedEncoderBudget()
#: A smoke run of the same path: 2 subject folds, 2 epochs; its scores mean nothing.
SHARED_QUICK = SharedEncoderBudget(folds=2, epochs=2, n_boot=200)


@dataclasses.dataclass
class Budget:
    """Training budget of a benchmark run (``quick`` for the demo and tests)."""

    epochs: dict[str, int]
    folds: dict[str, int]
    n_boot: int
    n_perm: int
    fusion_quick: bool
    baseline_epochs: int
    #: the generation task's budget: a key of GENERATION_BUDGETS ("full", "quick", "demo")
    generation: str = "full"
    fair: FairBudget = FairBudget()
    shared: SharedEncoderBudget = SharedEncoderBudget()


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
    generation="quick",
    fair=FAIR_QUICK,
    shared=SHARED_QUICK,
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


@dataclasses.dataclass(frozen=True)
class FusionFairBudget:
    """Budget of the fair EEG+ECG fusion task (``experiments/tasks/fusion_fair.py``):
    ``runs`` = (normalisation, with the aligned heads?) pairs, the fold seeds, the heads'
    epochs and the statistics' resamples. The protocol (windows, folds, features) is fixed."""

    runs: tuple[tuple[str, bool], ...] = (("calibration", True), ("train", False), ("own", False))
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    epochs: int = 40
    n_boot: int = 1000
    n_perm: int = 1000
    window_s: float = 2.0
    ecg_window_s: float = 10.0


#: the calibration headline with the aligned heads, training-statistics and transductive LR
#: comparisons, 3 fold seeds each: 466 s wall on one core (a ``benchmark real --jobs 2`` run on
#: the idle 2-core machine)
FUSION_FAIR_FULL = FusionFairBudget(seeds=(0, 1, 2))
#: the same protocol, one seed and little training, for tests and demos
FUSION_FAIR_QUICK = FusionFairBudget(seeds=(0,), epochs=5, n_boot=200, n_perm=200)


@dataclasses.dataclass(frozen=True)
class MultiDataBudget:
    """Budgets of the multi-dataset text encoder (``multidataset_text``) and of the Muse
    pre-training task (``muse_pretrain``): seeds and epochs; folds and configurations
    are fixed in :mod:`brainalign.experiments.multidata` / ``muse_pretrain``."""

    multi_seeds: tuple[int, ...] = (0,)
    multi_epochs: int = 40
    muse_seeds: tuple[int, ...] = (0,)
    pretrain_epochs: int = 10
    finetune_epochs: int = 5
    max_pretrain_windows: int | None = None
    n_boot: int = 1000
    n_perm: int = 1000


#: 211 s (multi-dataset: 5 folds of four front ends and six CLIP heads) and 141 s (Muse: one
#: pre-training, 22 fine-tunings), each on one core of the idle 2-core machine in a
#: ``benchmark real --jobs 2`` run.
MULTIDATA_FULL = MultiDataBudget()
#: The same protocols with little training, for tests and demos (401 s and 266 s measured on
#: the shared machine at a load average of 10-14, about a fifth of a core each).
MULTIDATA_QUICK = MultiDataBudget(
    multi_epochs=5, pretrain_epochs=1, finetune_epochs=1, max_pretrain_windows=256, n_boot=200, n_perm=200
)


@dataclasses.dataclass(frozen=True)
class GenerationBudget:
    """The generation task's budget (:mod:`brainalign.experiments.tasks.generation`).

    ``image_sets``: which eeg-notebooks sets get a generator (``n170``, ``p300``);
    each GAN trains for ``gan_steps`` steps (or ``gan_time_limit_s`` seconds, whichever
    comes first: a time limit makes the result depend on the machine's load, so the
    shipped budgets count steps only), at ``resolution`` px; images are scored on at most
    ``max_scored_trials`` held-out trials, with EfficientNet-Lite0 features at
    ``feature_size`` px. Text: ``text_folds`` subject-grouped folds of eegmat, the
    decoder trained ``text_epochs`` epochs (batches of ``text_batch_size``) on at most
    ``text_windows_per_recording`` windows of each recording (None: all)."""

    image_sets: tuple[str, ...] = ("n170",)
    resolution: int = 32
    gan_steps: int = 800
    #: > 0: progressive growing, this many steps at half the resolution first
    grow_steps: int = 0
    gan_time_limit_s: float | None = None
    max_scored_trials: int = 160
    feature_size: int = 128
    text: bool = True
    text_folds: int = 3
    text_epochs: int = 8
    text_windows_per_recording: int | None = 12
    text_batch_size: int = 32


#: The N170 generator (800 GAN steps at 32 px; 423 steps left the true-class ceiling at
#: 0.42) and EEG -> text on eegmat (3 folds, 12 windows a recording, 8 epochs of batches
#: of 32). Measured on the shared two-core machine: 256 s (GAN 86 s) at load 4-8, 915 s
#: (GAN 368 s) at load 10+, the same scores both times. The P300 generator is left out
#: of the default run (see docs/generation.md).
GENERATION_FULL = GenerationBudget()
#: A smoke run of the same path (16 px, 30 GAN steps, one text epoch on a subset):
#: its scores mean nothing.
GENERATION_QUICK = GenerationBudget(
    resolution=16,
    gan_steps=30,
    gan_time_limit_s=None,
    max_scored_trials=48,
    feature_size=64,
    text_folds=2,
    text_epochs=1,
    text_windows_per_recording=4,
)

#: The demo's generation (``make demo``): GENERATION_FULL with a 64 px N170 generator grown
#: from 32 px (800 steps, then 1600 at 64 px). Measured (N170, load 1-3 on the 2 cores):
#: 800 + 2000 steps took 927 s and reached a true-class consistency of 0.647 (logistic probe) /
#: 0.853 (nearest stimulus), against 0.94 / 0.96 at 32 px; 800 + 1600 steps took 504 s in the demo.
GENERATION_DEMO = dataclasses.replace(GENERATION_FULL, resolution=64, grow_steps=800, gan_steps=1600)
#: Budget.generation -> the generation task's budget
GENERATION_BUDGETS: dict[str, GenerationBudget] = {
    "full": GENERATION_FULL,
    "quick": GENERATION_QUICK,
    "demo": GENERATION_DEMO,
}
#: The demo's benchmark budget: QUICK, with the 64 px generator of GENERATION_DEMO.
DEMO = dataclasses.replace(QUICK, generation="demo")
