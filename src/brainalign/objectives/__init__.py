"""brainalign.objectives: the losses that training optimises, and the gathering of
embeddings across data-parallel ranks that the contrastive ones use."""
from brainalign.objectives.distributed import gather_features
from brainalign.objectives.loss import (
    ClipLoss,
    CrossEntropy,
    MaskedReconstructionLoss,
    SemiHardTripletLoss,
    SigLipLoss,
    WeightedSum,
)

__all__ = [
    "ClipLoss",
    "CrossEntropy",
    "MaskedReconstructionLoss",
    "SemiHardTripletLoss",
    "SigLipLoss",
    "WeightedSum",
    "gather_features",
]
