"""brainalign.models: signal encoders, projection heads and input contracts.

``create_encoder(name, n_chans, n_times, sfreq, ...)`` builds any registered
encoder (``list_encoders()`` names them); importing this package is cheap, the
encoder modules (and braindecode) load on first use of the registry.
"""

from __future__ import annotations

from brainalign.models.contract import InputContract
from brainalign.models.heads import ProjectionHead
from brainalign.models.registry import (
    EEGEncoder,
    create_encoder,
    list_encoders,
    register_encoder,
)

__all__ = [
    "EEGEncoder",
    "InputContract",
    "ProjectionHead",
    "create_encoder",
    "list_encoders",
    "register_encoder",
]
