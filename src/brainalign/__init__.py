"""brainalign: EEG representations aligned with text, images and ECG."""
from __future__ import annotations

__version__ = "0.1.0"

from brainalign.config import cache_dir, data_dir  # noqa: E402
from brainalign.errors import BrainalignError, ConfigError, ContractError, DataError  # noqa: E402

__all__ = [
    "BrainalignError",
    "ConfigError",
    "ContractError",
    "DataError",
    "cache_dir",
    "data_dir",
    "__version__",
]
