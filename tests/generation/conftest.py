"""Generation tests run single-threaded: the networks are tiny, and thread start-up
and contention cost more than they save on a shared two-core machine."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
