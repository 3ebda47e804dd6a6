"""Window cache under faults: a writer killed mid-write (SIGKILL), a file changed
behind the cache's back (checksum), two processes writing the same entry at once.
The children are real processes running the library, as a user's jobs would."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from brainalign.preprocessing import cache_key, cached_windows
from tests.preprocessing.test_cache import PIPE, entries, load_fif, write_fif

REPO = Path(__file__).resolve().parents[2]

#: a child process: windows of one FIF file through PIPE into a cache folder.
#: ``slow_digest`` pauses after data.npy is written (so a kill lands mid-write);
#: ``slow_compute`` holds the computed windows before writing (so two children race).
CHILD = textwrap.dedent("""
    import hashlib, json, os, sys, time
    from pathlib import Path
    import numpy as np
    import brainalign.preprocessing.cache as cache
    from brainalign.preprocessing import Pipeline
    from tests.preprocessing.test_cache import PIPE, load_fif

    fif, root, mode, go = sys.argv[1:5]
    if mode == "slow_digest":
        real = cache._sha256
        def slow(path):
            Path(root, "writing").touch()
            time.sleep(60)  # the parent kills it here; alone, it finishes after a minute
            return real(path)
        cache._sha256 = slow
    if mode == "slow_compute":
        real_transform = Pipeline.transform
        def transform(self, *a, **k):
            out = real_transform(self, *a, **k)
            Path(f"{go}.{os.getpid()}.ready").touch()
            give_up = time.monotonic() + 180  # never outlive a parent that died
            while not Path(go).exists():
                if time.monotonic() > give_up:
                    sys.exit(3)
                time.sleep(0.05)
            return out
        Pipeline.transform = transform
    won = []
    real_write = cache._write_entry
    cache._write_entry = lambda *a: won.append(real_write(*a)) or won[-1]
    w = cache.cached_windows(load_fif(Path(fif)), PIPE, root)
    print(json.dumps({"sha256": hashlib.sha256(np.ascontiguousarray(w.data).tobytes()).hexdigest(),
                      "shape": list(w.data.shape), "won": won}))
""")


def child(fif: Path, root: Path, mode: str, go: Path | None = None) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO)])}
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, str(fif), str(root), mode, str(go or "")],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(path: Path, proc: subprocess.Popen, timeout: float = 120) -> None:
    end = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None, proc.communicate()[1]
        assert time.monotonic() < end, f"{path} never appeared"
        time.sleep(0.05)


def test_writer_killed_mid_write_leaves_no_entry_and_is_rebuilt(tmp_path: Path) -> None:
    fif, root = write_fif(tmp_path / "a_raw.fif"), tmp_path / "cache"
    proc = child(fif, root, "slow_digest")
    try:
        wait_for(root / "writing", proc)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    rec = load_fif(fif)
    key, _ = cache_key(rec, PIPE)
    assert entries(root) == []  # nothing in place: only the killed writer's temporary folder
    (partial,) = [p for p in (root / "windows").iterdir() if p.name.endswith(".tmp")]
    assert (partial / "data.npy").is_file() and not (partial / "meta.json").exists()

    windows = cached_windows(rec, PIPE, root)
    np.testing.assert_array_equal(windows.data, PIPE.transform(rec).data)
    assert entries(root) == [root / "windows" / key]
    meta = json.loads((root / "windows" / key / "meta.json").read_text())
    assert set(meta["sha256"]) == {"data.npy", "windows.csv"}


@pytest.mark.parametrize("victim", ["data.npy", "windows.csv"])
def test_checksum_mismatch_is_reported_and_rebuilt(tmp_path: Path, victim: str, caplog) -> None:
    """Same size, same shape, one value changed: only the digest can tell."""
    rec = load_fif(write_fif(tmp_path / "a_raw.fif"))
    root = tmp_path / "cache"
    good = np.array(cached_windows(rec, PIPE, root).data)
    (entry,) = entries(root)
    path = entry / victim
    content = bytearray(path.read_bytes())
    if victim == "data.npy":
        content[-3] ^= 0x01  # the lowest mantissa bits of the last sample
    else:
        content[-2] = ord("7") if content[-2] != ord("7") else ord("8")
    path.write_bytes(bytes(content))
    with caplog.at_level("WARNING", logger="brainalign.preprocessing.cache"):
        again = cached_windows(rec, PIPE, root)
    assert f"checksum mismatch of {victim}" in caplog.text and str(entry) in caplog.text
    np.testing.assert_array_equal(again.data, good)


def test_two_processes_writing_the_same_entry(tmp_path: Path) -> None:
    fif, root, go = write_fif(tmp_path / "a_raw.fif"), tmp_path / "cache", tmp_path / "go"
    procs = [child(fif, root, "slow_compute", go) for _ in range(2)]
    try:
        end = time.monotonic() + 120
        while len(list(tmp_path.glob("go.*.ready"))) < 2:  # both have computed the windows...
            assert all(p.poll() is None for p in procs) and time.monotonic() < end
            time.sleep(0.05)
        go.touch()  # ...and now write the same entry at once
        results = []
        for proc in procs:
            out, err = proc.communicate(timeout=180)
            assert proc.returncode == 0, err
            results.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        for proc in procs:  # a failed or interrupted test leaves no child behind
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=30)
    rec = load_fif(fif)
    expected = PIPE.transform(rec).data
    assert sorted(r.pop("won") for r in results) == [[False], [True]]  # both wrote; one rename lost
    assert results[0] == results[1]
    key, _ = cache_key(rec, PIPE)
    assert entries(root) == [root / "windows" / key]
    assert [p.name for p in (root / "windows").iterdir() if p.name.startswith(".")] == []  # no debris
    served = cached_windows(rec, PIPE, root)  # verify=True: digests match the files
    np.testing.assert_array_equal(served.data, expected)
