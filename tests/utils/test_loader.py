"""A data-loader worker that dies or hangs is reported, not waited on forever."""

from __future__ import annotations

import os
import signal
import time

import pytest
import torch
from torch.utils.data import Dataset

from brainalign.errors import WorkerError
from brainalign.utils.loader import make_loader


class Faulty(Dataset):
    """Eight items; reading item ``bad`` kills (``SIGKILL``) or stalls its worker."""

    def __init__(self, bad: int, how: str):
        self.bad, self.how = bad, how

    def __len__(self) -> int:
        return 8

    def __getitem__(self, i: int) -> torch.Tensor:
        if i == self.bad and torch.utils.data.get_worker_info() is not None:
            if self.how == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            time.sleep(3600)
        return torch.full((2,), float(i))


def _consume(loader) -> list[torch.Tensor]:
    return list(loader)


def test_healthy_loader_with_workers_has_a_timeout() -> None:
    loader = make_loader(Faulty(-1, "kill"), num_workers=2, batch_size=4)
    assert loader.loader.timeout > 0
    assert [row[0] for row in torch.cat(_consume(loader)).tolist()] == list(range(8)) and len(loader) == 2
    assert make_loader(Faulty(-1, "kill"), batch_size=4).loader.timeout == 0  # no workers: nothing to wait on


def test_killed_worker_is_reported() -> None:
    loader = make_loader(Faulty(5, "kill"), num_workers=2, batch_size=2, name="train windows")
    start = time.monotonic()
    with pytest.raises(WorkerError, match=r"^train windows: a worker process failed \(DataLoader worker"):
        _consume(loader)
    assert time.monotonic() - start < 60


def test_stalled_worker_times_out() -> None:
    """Without the timeout this would wait for the hour the worker sleeps."""
    loader = make_loader(Faulty(1, "hang"), num_workers=1, batch_size=2, timeout_s=3)
    start = time.monotonic()
    with pytest.raises(WorkerError, match=r"DataLoader timed out after 3 seconds"):
        _consume(loader)
    assert time.monotonic() - start < 60


def test_other_errors_pass_through() -> None:
    class Broken(Faulty):
        def __getitem__(self, i: int) -> torch.Tensor:
            raise KeyError(i)

    with pytest.raises(KeyError):
        _consume(make_loader(Broken(0, "kill"), num_workers=0, batch_size=2))
