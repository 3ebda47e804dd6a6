"""brainalign.objectives: the losses that training optimises, and the gathering of
embeddings across data-parallel ranks that the contrastive ones use."""

from brainalign.objectives.distributed import gather_features
from brainalign.objectives.loss import (
    OBJECTIVES,
    ClipLoss,
    ConsistencyLoss,
    CrossEntropy,
    MaskedReconstructionLoss,
    SemiHardTripletLoss,
    SigLipLoss,
    WeightedSum,
    create_objective,
    objective_inputs,
)

__all__ = [
    "OBJECTIVES",
    "create_objective",
    "objective_inputs",
    "ClipLoss",
    "ConsistencyLoss",
    "CrossEntropy",
    "MaskedReconstructionLoss",
    "SemiHardTripletLoss",
    "SigLipLoss",
    "WeightedSum",
    "gather_features",
]
