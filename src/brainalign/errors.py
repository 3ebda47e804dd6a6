"""Errors that brainalign raises for bad input.

Every error that concerns a file names the file and the problem, so that the
command-line interface can print one clear line instead of a traceback.
"""

from __future__ import annotations

from pathlib import Path


class BrainalignError(Exception):
    """Base class of every error that brainalign reports to its user."""


class DataError(BrainalignError):
    """A file or folder cannot be used: truncated, empty, NaN samples, missing channels...

    ``str(err)`` is ``"<path>: <problem>"``, on one line (white space in ``problem``,
    newlines included, is collapsed).
    """

    def __init__(self, path: str | Path | None, problem: str):
        self.path = None if path is None else Path(path)
        # one line, whatever a dependency's message that ends up here looks like
        problem = " ".join(str(problem).split())
        self.problem = problem
        super().__init__(f"{path}: {problem}" if path is not None else problem)

    def __reduce__(self) -> tuple:
        # pickled by its arguments, so it crosses process boundaries (joblib workers) intact
        return type(self), (self.path, self.problem)


class ContractError(BrainalignError):
    """Input does not satisfy a model's or pipeline's input contract."""


class ConfigError(BrainalignError):
    """A recipe or setting is invalid (misspelt key, wrong type...)."""


class WorkerError(BrainalignError):
    """A data-loader worker died or stopped answering during a run."""
