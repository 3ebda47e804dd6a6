"""DataLoaders whose worker processes cannot stall a long run.

With ``num_workers > 0`` a PyTorch DataLoader hands batches to worker processes.
A worker killed outright (the OOM killer, a segfault in a C extension) is noticed
by PyTorch, but a worker that stops answering (a deadlock in a library, a stalled
network file system) is waited on forever: the loader's ``timeout`` is 0 by
default. :func:`make_loader` always sets a timeout when there are workers, and
:class:`GuardedLoader` turns either failure into one
:class:`~brainalign.errors.WorkerError` that names the loader and says what to do,
instead of a traceback from inside PyTorch or a silent hang.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from torch.utils.data import DataLoader, Dataset

from brainalign.errors import WorkerError

#: seconds a batch may take in a worker before the run is stopped (generous: a
#: batch normally takes milliseconds; slow storage may take seconds)
DEFAULT_TIMEOUT_S = 300.0

# PyTorch's messages for a dead or silent worker (torch/utils/data/dataloader.py,
# torch/utils/data/_utils/signal_handling.py)
_WORKER_FAILURES = ("DataLoader worker", "DataLoader timed out", "worker exited unexpectedly")


class GuardedLoader:
    """A DataLoader whose worker failures end in :class:`WorkerError`."""

    def __init__(self, loader: DataLoader, name: str = "data loader"):
        self.loader = loader
        self.name = name

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator[Any]:
        iterator = iter(self.loader)
        while True:
            try:
                batch = next(iterator)
            except StopIteration:
                return
            except RuntimeError as err:
                message = " ".join(str(err).split())
                if not any(part in message for part in _WORKER_FAILURES):
                    raise
                raise WorkerError(
                    f"{self.name}: a worker process failed ({message}); rerun with fewer workers "
                    f"(num_workers=0 reads in the main process) or a larger timeout"
                ) from None
            yield batch

    def __getattr__(self, name: str) -> Any:  # dataset, batch_size, sampler...
        return getattr(self.loader, name)


def make_loader(
    dataset: Dataset,
    *,
    num_workers: int = 0,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    name: str = "data loader",
    **kwargs: Any,
) -> GuardedLoader:
    """``DataLoader(dataset, num_workers=..., **kwargs)`` with a ``timeout`` whenever
    there are workers, wrapped in :class:`GuardedLoader`."""
    if num_workers < 0:
        raise ValueError(f"num_workers must be >= 0, got {num_workers}")
    if num_workers > 0:
        kwargs.setdefault("timeout", timeout_s)
    return GuardedLoader(DataLoader(dataset, num_workers=num_workers, **kwargs), name=name)
