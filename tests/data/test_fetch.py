"""Tests of brainalign.data.fetch against a local HTTP server on 127.0.0.1.

The server serves a few small files and a SHA256SUMS.txt, supports Range
requests, and can be told to drop the connection midway through a file, to
serve other bytes than the published ones, or to ignore Range.
"""

from __future__ import annotations

import hashlib
import http.server
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from brainalign.data import fetch as fetch_mod
from brainalign.data.fetch import DatasetSpec, RemoteFile, fetch, list_datasets
from brainalign.errors import BrainalignError, DataError

# Content the test dataset publishes (what upstream's SHA256SUMS.txt describes).
PUBLISHED = {
    "info.csv": b"subject,age\n1,30\n2,41\n",
    "S01/S01R01.bin": bytes(range(256)) * 40,  # 10240 bytes
    "S02/S02R01.bin": b"\x07" * 5000 + b"tail",
}


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class ServerState:
    """What the server serves and how it misbehaves; what it saw."""

    files: dict[str, bytes]
    drop_after: dict[str, int] = field(default_factory=dict)  # path -> bytes sent before closing
    ignore_range: bool = False
    requests: list[tuple[str, str | None]] = field(default_factory=list)  # (path, Range header)
    body_bytes: dict[str, int] = field(default_factory=dict)  # path -> body bytes sent in total

    def data_requests(self, path: str) -> list[str | None]:
        return [rng for p, rng in self.requests if p == path]


def _handler(state: ServerState) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:  # keep test output quiet
            pass

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            path = self.path.lstrip("/")
            rng = self.headers.get("Range")
            state.requests.append((path, rng))
            if path not in state.files:
                self.send_error(404)
                return
            data = state.files[path]
            start = 0
            match = re.fullmatch(r"bytes=(\d+)-", rng or "")
            if match and not state.ignore_range:
                start = int(match[1])
                if start >= len(data):
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(data)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            else:
                self.send_response(200)
            body = data[start:]
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            cut = state.drop_after.pop(path, None)
            sent = body if cut is None else body[:cut]
            self.wfile.write(sent)
            self.wfile.flush()
            state.body_bytes[path] = state.body_bytes.get(path, 0) + len(sent)
            if cut is not None:  # drop the connection with the body unfinished
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)

    return Handler


@pytest.fixture
def server() -> Iterator[tuple[str, ServerState]]:
    manifest = "".join(f"{_sha(data)}  {name}\n" for name, data in PUBLISHED.items())
    state = ServerState(files={**PUBLISHED, "SHA256SUMS.txt": manifest.encode()})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/", state
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def tiny(monkeypatch: pytest.MonkeyPatch) -> DatasetSpec:
    """A small dataset registered for the test, checked by the server's manifest."""
    spec = DatasetSpec(
        name="tiny",
        folder="tiny_set",
        base_url="http://upstream.invalid/tiny/",
        description="test dataset",
        license="CC0",
        files=(
            RemoteFile("info.csv"),
            RemoteFile("S01/S01R01.bin", subject=1, run=1),
            RemoteFile("S02/S02R01.bin", subject=2, run=1),
        ),
        manifest="SHA256SUMS.txt",
    )
    monkeypatch.setitem(fetch_mod.DATASETS, "tiny", spec)
    return spec


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_full_download_is_verified_and_complete(server, tiny, tmp_path):
    url, state = server
    root = fetch("tiny", data_dir=tmp_path, base_url=url, progress=False)
    assert root == tmp_path.resolve() / "tiny_set"
    assert _tree(root) == PUBLISHED  # exact bytes, no .part left behind
    assert state.data_requests("SHA256SUMS.txt") == [None]

    # A second call re-checks the files in place and downloads nothing.
    state.requests.clear()
    fetch("tiny", data_dir=tmp_path, base_url=url, progress=False)
    assert [p for p, _ in state.requests] == ["SHA256SUMS.txt"]

    # A file changed in place fails its checksum and is fetched again.
    (root / "info.csv").write_bytes(b"edited")
    fetch("tiny", data_dir=tmp_path, base_url=url, progress=False)
    assert (root / "info.csv").read_bytes() == PUBLISHED["info.csv"]

    # force downloads everything again.
    state.requests.clear()
    fetch("tiny", data_dir=tmp_path, base_url=url, progress=False, force=True)
    assert sorted(p for p, _ in state.requests) == sorted(["SHA256SUMS.txt", *PUBLISHED])


def test_interrupted_download_resumes_with_range(server, tiny, tmp_path):
    url, state = server
    name, data = "S01/S01R01.bin", PUBLISHED["S01/S01R01.bin"]
    state.drop_after[name] = 3000
    with pytest.raises(DataError, match="resume") as err:
        fetch("tiny", data_dir=tmp_path, base_url=url, progress=False)
    dest = tmp_path / "tiny_set" / name
    part = dest.with_name(dest.name + ".part")
    assert not dest.exists()
    assert part.read_bytes() == data[:3000]
    assert "S01R01.bin" in str(err.value)

    fetch("tiny", data_dir=tmp_path, base_url=url, progress=True)  # also runs the progress bars
    assert dest.read_bytes() == data
    assert not part.exists()
    assert state.data_requests(name) == [None, "bytes=3000-"]
    assert state.body_bytes[name] == len(data)  # the first 3000 bytes were not sent twice


def test_server_ignoring_range_restarts_cleanly(server, tiny, tmp_path):
    url, state = server
    name, data = "S02/S02R01.bin", PUBLISHED["S02/S02R01.bin"]
    state.drop_after[name] = 1234
    with pytest.raises(DataError):
        fetch("tiny", data_dir=tmp_path, base_url=url, progress=False)
    state.ignore_range = True
    fetch("tiny", data_dir=tmp_path, base_url=url, progress=False)
    assert (tmp_path / "tiny_set" / name).read_bytes() == data  # not 1234 bytes + the whole file
    assert state.data_requests(name) == [None, "bytes=1234-"]
    assert state.body_bytes[name] == 1234 + len(data)


def test_stale_part_longer_than_the_file_is_discarded(server, tiny, tmp_path):
    url, state = server
    name, data = "info.csv", PUBLISHED["info.csv"]
    part = tmp_path / "tiny_set" / "info.csv.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(b"x" * (len(data) + 10))  # server answers 416 to this Range
    fetch("tiny", data_dir=tmp_path, base_url=url, progress=False)
    assert (tmp_path / "tiny_set" / name).read_bytes() == data
    assert state.data_requests(name) == [f"bytes={len(data) + 10}-", None]


def test_checksum_mismatch_raises_and_leaves_no_file(server, tiny, tmp_path):
    url, state = server
    name = "S01/S01R01.bin"
    state.files[name] = b"not the published bytes" * 10
    with pytest.raises(DataError, match="sha256 mismatch") as err:
        fetch("tiny", data_dir=tmp_path, base_url=url, progress=False)
    assert err.value.path == tmp_path.resolve() / "tiny_set" / name
    assert _sha(state.files[name]) in str(err.value) and _sha(PUBLISHED[name]) in str(err.value)
    folder = tmp_path / "tiny_set" / "S01"
    assert list(folder.iterdir()) == []  # neither the final name nor a .part


def test_embedded_checksum_is_a_second_check(server, monkeypatch, tmp_path):
    url, state = server
    wrong = "0" * 64
    spec = DatasetSpec(
        name="tiny2",
        folder="t2",
        base_url=url,
        description="",
        license="",
        files=(RemoteFile("info.csv", sha256=wrong),),
        manifest="SHA256SUMS.txt",
    )
    monkeypatch.setitem(fetch_mod.DATASETS, "tiny2", spec)
    with pytest.raises(DataError, match="sha256 mismatch"):
        fetch("tiny2", data_dir=tmp_path, progress=False)  # manifest agrees, registry does not
    assert not (tmp_path / "t2" / "info.csv").exists()


def test_missing_manifest_refused_unless_unverified_or_embedded(server, tiny, tmp_path, monkeypatch):
    url, state = server
    del state.files["SHA256SUMS.txt"]
    with pytest.raises(DataError, match="manifest missing upstream"):
        fetch("tiny", data_dir=tmp_path, base_url=url, progress=False)
    assert not (tmp_path / "tiny_set").exists()

    root = fetch("tiny", data_dir=tmp_path, base_url=url, progress=False, verify=False)
    assert _tree(root) == PUBLISHED

    # Embedded digests covering every requested file stand in for the manifest.
    covered = DatasetSpec(
        name="tiny3",
        folder="t3",
        base_url=url,
        description="",
        license="",
        files=(RemoteFile("info.csv", sha256=_sha(PUBLISHED["info.csv"])),),
        manifest="SHA256SUMS.txt",
    )
    monkeypatch.setitem(fetch_mod.DATASETS, "tiny3", covered)
    assert _tree(fetch("tiny3", data_dir=tmp_path, progress=False)) == {"info.csv": PUBLISHED["info.csv"]}


def test_file_absent_from_manifest_is_refused(server, tiny, tmp_path):
    url, state = server
    state.files["SHA256SUMS.txt"] = f"{_sha(PUBLISHED['info.csv'])}  info.csv\n".encode()
    with pytest.raises(DataError, match="not listed in .*SHA256SUMS.txt") as err:
        fetch("tiny", data_dir=tmp_path, base_url=url, progress=False)
    assert err.value.path.name == "S01R01.bin"
    assert [p for p, _ in state.requests] == ["SHA256SUMS.txt"]  # refused before downloading


def test_file_missing_upstream(server, tiny, tmp_path):
    url, state = server
    del state.files["S02/S02R01.bin"]
    with pytest.raises(DataError, match="missing upstream") as err:
        fetch("tiny", data_dir=tmp_path, base_url=url, progress=False)
    assert err.value.path == tmp_path.resolve() / "tiny_set" / "S02" / "S02R01.bin"
    assert not err.value.path.exists()


def test_subject_and_run_filters(server, tiny, tmp_path):
    url, state = server
    root = fetch("tiny", data_dir=tmp_path, base_url=url, progress=False, subjects=[2])
    assert sorted(_tree(root)) == ["S02/S02R01.bin", "info.csv"]
    with pytest.raises(DataError, match="no recording"):
        fetch("tiny", data_dir=tmp_path, base_url=url, progress=False, subjects=[1], runs=[9])


def test_unreachable_host_fails_quickly(tiny, tmp_path):
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    t0 = time.monotonic()
    with pytest.raises(BrainalignError, match="unreachable") as err:
        fetch("tiny", data_dir=tmp_path, base_url=f"http://127.0.0.1:{port}/", progress=False, timeout=5)
    assert time.monotonic() - t0 < 5
    assert f"127.0.0.1:{port}" in str(err.value)
    assert not (tmp_path / "tiny_set").exists()


def test_unknown_dataset_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="unknown dataset 'nope'.*eegmat"):
        fetch("nope", data_dir=tmp_path)


def test_eegmmidb_layout_and_subject_default(server, tmp_path):
    """The real registry entry: SxxxRyy.edf and .edf.event under Sxxx/, subject 1 by default."""
    url, state = server
    published = {
        f"S001/S001R0{run}{ext}": f"run {run}{ext}".encode() for run in (1, 2) for ext in (".edf", ".edf.event")
    }
    state.files.update(published)
    state.files["SHA256SUMS.txt"] = "".join(f"{_sha(d)} {n}\n" for n, d in published.items()).encode()
    root = fetch("eegmmidb", data_dir=tmp_path, base_url=url, progress=False, runs=[1, 2])
    assert root.name == "eegmmidb"
    assert _tree(root) == published
    spec = list_datasets()["eegmmidb"]
    assert len(spec.files) == 109 * 14 * 2
    assert spec.default_subjects == (1,)


def test_registry_lists_the_three_datasets():
    datasets = list_datasets()
    assert {"eegmat", "eegmmidb", "n170"} <= set(datasets)
    eegmat = datasets["eegmat"]
    names = {f.path for f in eegmat.files}
    assert {"Subject00_1.edf", "Subject35_2.edf", "subject-info.csv"} <= names and len(names) == 73
    assert eegmat.base_url == "https://physionet.org/files/eegmat/1.0.0/"
    n170 = {f.path: f for f in datasets["n170"].files}
    assert n170["stimuli/faces/Don_3.jpg"].url_path == "stimulus_presentation/stim/face_house/faces/Don_3.jpg"
    assert n170["subject10/session2/recording_2018-06-06-14.42.27.csv.csv"].subject == 10
    assert all(f.sha256 for f in n170.values())  # GitHub has no manifest: all embedded


@pytest.mark.realdata
@pytest.mark.parametrize("name", ["eegmat", "n170"])
def test_embedded_checksums_match_the_shared_files(data_root, name):
    """The embedded digests are those of the published files in the shared data,
    and the n170 registry is exactly the eegnb layout held there."""
    spec = list_datasets()[name]
    folder = data_root / spec.folder
    if not folder.is_dir():
        pytest.skip(f"{folder} absent")
    embedded = {f.path: f.sha256 for f in spec.files if f.sha256}
    on_disk = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    if name == "eegmat":  # a trimmed subject-info.csv (30 of 36 subjects): the manifest checks it
        on_disk.discard("subject-info.csv")
    assert set(embedded) == on_disk
    for path, digest in embedded.items():
        assert hashlib.sha256((folder / path).read_bytes()).hexdigest() == digest, path


@pytest.mark.realdata
def test_n170_served_from_the_shared_copy(data_root, server, tmp_path, monkeypatch):
    """Fetch the real n170 entry from a server laid out like the eeg-notebooks repository."""
    url, state = server
    spec = list_datasets()["n170"]
    folder = data_root / spec.folder
    if not folder.is_dir():
        pytest.skip(f"{folder} absent")
    wanted = [f for f in spec.files if f.subject in (None, 2)]
    state.files.update({f.url_path: (folder / f.path).read_bytes() for f in wanted})
    root = fetch("n170", data_dir=tmp_path, base_url=url, progress=False, subjects=[2])
    assert root.name == "eegnb_n170"
    got = _tree(root)
    assert set(got) == {f.path for f in wanted}
    assert len([p for p in got if p.startswith("stimuli/faces/")]) == 48
    assert (
        got["subject2/session1/data_2018-04-15-21.18.48.csv"]
        == (folder / "subject2/session1/data_2018-04-15-21.18.48.csv").read_bytes()
    )
