"""brainalign: EEG representations aligned with text, images and ECG."""

from __future__ import annotations

__version__ = "0.1.0"

from brainalign.config import cache_dir, data_dir  # noqa: E402
from brainalign.errors import BrainalignError, ConfigError, ContractError, DataError  # noqa: E402


def load(run_dir):  # noqa: ANN001, ANN201 - thin lazy wrapper
    """Re-create a trained model from its run folder (see :mod:`brainalign.training.api`)."""
    from brainalign.training.api import load as _load

    return _load(run_dir)


__all__ = [
    "load",
    "BrainalignError",
    "ConfigError",
    "ContractError",
    "DataError",
    "cache_dir",
    "data_dir",
    "__version__",
]
