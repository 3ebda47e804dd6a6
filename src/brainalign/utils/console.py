"""How the command line shows warnings: one readable line each, once, FutureWarnings hidden.

Installed by the CLI and by every worker process it spawns (``benchmark real --jobs``),
so a spawned worker prints exactly what a serial run prints."""

from __future__ import annotations

import sys
import warnings
from typing import Any

__all__ = ["install_warning_format"]

_SHOWN: set[str] = set()


def _show_warning(message: Any, category: Any, filename: Any, lineno: Any, file: Any = None, line: Any = None) -> None:
    """Warnings as one readable line, without the source line they came from, each once."""
    text = str(message)
    if text not in _SHOWN:
        _SHOWN.add(text)
        print(f"brainalign: warning: {text}", file=sys.stderr)


def install_warning_format() -> None:
    """Hide FutureWarnings (deprecations inside dependencies) and print the rest as one line each, once."""
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.showwarning = _show_warning
