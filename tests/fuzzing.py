"""Shared pieces of the fuzz tests: time-bounded runs, byte-level mutations and a
tally of the outcomes.

A case passes when the code under test succeeds or raises the project's own
:class:`~brainalign.errors.BrainalignError` with a one-line message; any other
exception, or a run longer than :data:`CASE_TIMEOUT_S`, fails the test (hypothesis
then shrinks and prints the input). Setting ``BRAINALIGN_FUZZ_REPORT=<file.json>``
writes how many cases of each kind ran and how they ended (docs/robustness.md).
"""

from __future__ import annotations

import faulthandler
import json
import os
import resource
import signal
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from brainalign.errors import BrainalignError

#: wall-clock bound of one case (a hang fails the test instead of stalling CI); generous,
#: since a loaded 2-core CI machine runs a case 10x slower than an idle one
CASE_TIMEOUT_S = 60
#: how much a case may grow the process's address space (see bounded())
CASE_MEMORY_BYTES = 4 << 30
#: the mutation kinds of every target
KINDS = ("truncate", "corrupt", "zero", "nonfinite", "dtype")

#: examples per fuzz test; CI keeps the default, a longer hunt sets BRAINALIGN_FUZZ_EXAMPLES
EXAMPLES = int(os.environ.get("BRAINALIGN_FUZZ_EXAMPLES", "4"))

#: hypothesis settings of the fuzz tests: few examples, deterministic, no database
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,  # each case is bounded by bounded()'s alarm instead (hypothesis' deadline flakes under load)
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)

_TALLY: Counter[tuple[str, str, str]] = Counter()
_SECONDS: dict[tuple[str, str, str], list[float]] = {}


class Hang(AssertionError):
    """A case ran past :data:`CASE_TIMEOUT_S`."""


def _vm_bytes() -> int:
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) * 1024 for line in fh if line.startswith("VmSize:"))


def bounded(target: str, kind: str, run: Callable[[], object], timeout: float = CASE_TIMEOUT_S) -> str:
    """Run ``run()`` with a SIGALRM deadline; ``"ok"`` or ``"error"`` (a
    BrainalignError with a one-line message). Other exceptions propagate.

    The alarm cannot interrupt compiled code, so two backstops guard a case stuck
    there: its address space may grow by at most :data:`CASE_MEMORY_BYTES` (a
    runaway allocation fails with MemoryError instead of swapping), and a watchdog
    thread ends the whole test process, with every thread's traceback, when the
    case outlives its timeout by a minute: a failed run, never a silent hang."""

    def on_alarm(signum, frame):
        raise Hang(f"{target}/{kind}: no result after {timeout} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    faulthandler.dump_traceback_later(timeout + 60, exit=True)
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = _vm_bytes() + CASE_MEMORY_BYTES
    if hard == resource.RLIM_INFINITY or cap < hard:
        resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    start = time.perf_counter()
    try:
        run()
        outcome = "ok"
    except BrainalignError as err:
        assert "\n" not in str(err), f"multi-line error: {err!r}"
        outcome = "error"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        faulthandler.cancel_dump_traceback_later()
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
    _TALLY[target, kind, outcome] += 1
    _SECONDS.setdefault((target, kind, outcome), []).append(time.perf_counter() - start)
    _write_report()
    return outcome


def _write_report() -> None:
    report = os.environ.get("BRAINALIGN_FUZZ_REPORT")
    if not report:
        return
    path = Path(report)
    rows = [
        {
            "target": t,
            "kind": k,
            "outcome": o,
            "cases": n,
            "seconds": round(sum(_SECONDS[t, k, o]), 2),
            "max_seconds": round(max(_SECONDS[t, k, o]), 2),
        }
        for (t, k, o), n in sorted(_TALLY.items())
    ]
    path.write_text(json.dumps(rows, indent=1) + "\n")


# ------------------------------------------------------------ byte mutations
@st.composite
def truncation(draw: st.DrawFn, data: bytes) -> bytes:
    """``data`` cut at a drawn length (never the whole)."""
    return data[: draw(st.integers(0, max(len(data) - 1, 0)))]


@st.composite
def corruption(draw: st.DrawFn, data: bytes, header: int = 4096) -> bytes:
    """``data`` with 1-16 bytes overwritten, half of them within the first ``header``
    bytes (where formats keep their structure)."""
    out = bytearray(data)
    n = len(out)
    positions = st.one_of(st.integers(0, min(n, header) - 1), st.integers(0, n - 1))
    for pos, value in draw(st.lists(st.tuples(positions, st.integers(0, 255)), min_size=1, max_size=16)):
        out[pos] = value
    return bytes(out)


NONFINITE_TEXT = st.sampled_from(["nan", "NaN", "inf", "-inf", "Infinity", "1e999"])
