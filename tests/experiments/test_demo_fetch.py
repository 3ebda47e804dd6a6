"""``brainalign demo`` on a fresh machine: no data directory, so the demo sets are
fetched first, from a local HTTP server on 127.0.0.1 that serves a mirror
(``BRAINALIGN_FETCH_BASE_URL``) built from the shared recordings in their
published layouts; and, with nothing listening, one line saying what to do."""

from __future__ import annotations

import hashlib
import http.server
import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from brainalign.data.fetch import list_datasets
from brainalign.experiments.demo import DEMO_FETCH, demo_data_dir
from tests.data.test_fetch import ServerState, _handler
from tests.test_cli import CliResult, is_png, run_cli


def _published(data_root: Path) -> dict[str, bytes]:
    """Every file the demo fetches, at its mirror path ``<name>/<upstream path>``, with
    eegmat's SHA256SUMS.txt (eeg-notebooks publishes none: the registry's digests check it)."""
    files: dict[str, bytes] = {}
    for name, subjects in DEMO_FETCH:
        spec = list_datasets()[name]
        served = {
            f.url_path: (data_root / spec.folder / f.path).read_bytes()
            for f in spec.files
            if f.subject is None or f.subject in subjects
        }
        if spec.manifest:
            served[spec.manifest] = "".join(
                f"{hashlib.sha256(d).hexdigest()}  {p}\n" for p, d in served.items()
            ).encode()
        files.update({f"{name}/{p}": d for p, d in served.items()})
    return files


@pytest.fixture
def mirror(data_root: Path) -> Iterator[tuple[str, ServerState]]:
    for name, _ in DEMO_FETCH:
        if not (data_root / list_datasets()[name].folder).is_dir():
            pytest.skip(f"{name} absent from the shared data")
    state = ServerState(files=_published(data_root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", state
    finally:
        httpd.shutdown()
        httpd.server_close()


def _demo(tmp_path: Path, base_url: str, monkeypatch: pytest.MonkeyPatch) -> tuple[CliResult, Path, Path]:
    """``brainalign demo`` with $BRAINALIGN_DATA at a folder that does not exist yet."""
    data, out = tmp_path / "fresh" / "data", tmp_path / "out"
    monkeypatch.setenv("BRAINALIGN_FETCH_BASE_URL", base_url)
    result = run_cli("demo", "--out", out, "--no-benchmark", data_dir=data, cache_dir=tmp_path / "cache")
    return result, data, out


@pytest.mark.realdata
def test_demo_fetches_its_sets_into_an_absent_data_directory(
    mirror, data_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    url, state = mirror
    result, data, out = _demo(tmp_path, url, monkeypatch)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"brainalign demo: no demo data in {data}; downloading eegmat, n170 (checksummed, resumable)"

    # what was fetched is exactly what the mirror published, in the readers' layouts
    for name, subjects in DEMO_FETCH:
        spec = list_datasets()[name]
        folder = data / spec.folder
        got = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
        wanted = {f.path for f in spec.files if f.subject is None or f.subject in subjects}
        assert got - {spec.manifest} == wanted, name
        for rel in wanted:
            assert (folder / rel).read_bytes() == (data_root / spec.folder / rel).read_bytes(), rel
    assert not list(data.rglob("*.part"))

    # then the demo ran on them
    rows = {row["name"]: row for row in json.loads((out / "datasets.json").read_text())}
    assert set(rows) == {"eegmat", "eegnb_n170"}
    assert rows["eegmat"]["subjects"] == 4 and rows["eegmat"]["recordings"] == 8
    assert set(rows["eegmat"]["classes"]) == {"rest", "arithmetic"}
    assert rows["eegnb_n170"]["subjects"] == 2 and set(rows["eegnb_n170"]["classes"]) == {"house", "face"}
    assert rows["eegnb_n170"]["images"] == 96
    assert is_png(out / "eegmat.png") and is_png(out / "eegnb_n170.png")
    assert lines[-1].startswith("brainalign demo: done in ")

    # a second demo finds its sets and downloads nothing
    state.requests.clear()
    again, _, _ = _demo(tmp_path, url, monkeypatch)
    assert again.returncode == 0, again.stderr
    assert state.requests == [] and "downloading" not in again.stdout


@pytest.mark.realdata
def test_demo_without_network_says_what_to_do_in_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result, data, out = _demo(tmp_path, f"http://127.0.0.1:{port}", monkeypatch)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    (line,) = [x for x in result.stderr.splitlines() if x.strip()]
    assert line.startswith(f"brainalign demo: error: no data to show: {data} holds none of the demo sets")
    assert "host unreachable" in line
    assert line.endswith(
        "Set BRAINALIGN_DATA (or --data-dir) to a folder of recordings, or run `brainalign fetch eegmat` when online"
    )
    assert not out.exists()
    assert not list(data.rglob("*.edf"))


def test_demo_data_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """--data-dir, else $BRAINALIGN_DATA, else ../shared/data when present, else the default."""
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    monkeypatch.chdir(checkout)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("BRAINALIGN_DATA", raising=False)
    assert demo_data_dir() == (tmp_path / "home" / "brainalign_data").resolve()
    (tmp_path / "shared" / "data").mkdir(parents=True)
    assert demo_data_dir() == (tmp_path / "shared" / "data").resolve()
    monkeypatch.setenv("BRAINALIGN_DATA", str(tmp_path / "env"))
    assert demo_data_dir() == (tmp_path / "env").resolve()
    assert demo_data_dir(tmp_path / "flag") == (tmp_path / "flag").resolve()
