"""MNIST download path against a local HTTP server on 127.0.0.1: verified, resumable, and a
corrupted file rejected by its checksum."""

from __future__ import annotations

import hashlib
import http.server
import threading
from pathlib import Path

import numpy as np
import pytest

from gankit.data import mnist
from gankit.data.idx import write_idx
from gankit.data.mnist import FILES, download_mnist, fetch, load_mnist_like
from gankit.errors import DataError


class RangeHandler(http.server.SimpleHTTPRequestHandler):
    """Serves the test's folder; honours 'Range: bytes=N-' when the server allows it."""

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.server.requests.append((self.path, self.headers.get("Range")))
        path = Path(self.server.root) / self.path.lstrip("/")
        if not path.is_file():
            self.send_error(404)
            return
        data = path.read_bytes()
        rng = self.headers.get("Range")
        if rng and self.server.ranges:
            start = int(rng.split("=")[1].rstrip("-"))
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            data = data[start:]
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RangeHandler)
    httpd.root, httpd.requests, httpd.ranges = root, [], True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def publish(root: Path, mirror: str = "good") -> dict[str, str]:
    """Tiny MNIST-format .gz files under root/mirror; returns their SHA-256 sums."""
    folder = root / mirror
    folder.mkdir(exist_ok=True)
    rng = np.random.default_rng(1)
    sums = {}
    for (split, kind), base in FILES.items():
        n = 30 if split == "train" else 10
        arr = (rng.integers(0, 256, (n, 28, 28), dtype=np.uint8) if kind == "images"
               else (np.arange(n) % 10).astype(np.uint8))
        path = write_idx(folder / f"{base}.gz", arr)
        sums[path.name] = sha(path)
    return sums


def test_download_verifies_and_loads(tmp_path, server, monkeypatch):
    sums = publish(server.root)
    monkeypatch.setattr(mnist, "MNIST_SHA256", sums)
    monkeypatch.setenv("GANKIT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("GANKIT_DATA_DIR", raising=False)
    monkeypatch.setenv("GANKIT_MNIST_MIRRORS", f"{server.url}/good/")
    data = load_mnist_like("mnist")
    assert data.train_x.shape == (30, 1, 28, 28) and data.test_x.shape == (10, 1, 28, 28)
    for name, digest in sums.items():
        assert sha(tmp_path / "cache" / "mnist" / name) == digest
    assert not list((tmp_path / "cache" / "mnist").glob("*.part"))
    n = len(server.requests)
    load_mnist_like("mnist")  # second time: from the cache, no request
    assert len(server.requests) == n


def test_corrupted_file_is_rejected(tmp_path, server):
    sums = publish(server.root)
    name = "t10k-labels-idx1-ubyte.gz"
    target = server.root / "good" / name
    target.write_bytes(target.read_bytes()[:-3] + b"xyz")  # served bytes no longer match
    with pytest.raises(DataError, match="failed its checksum"):
        download_mnist(tmp_path / "dest", [f"{server.url}/good/"], sums)
    assert not (tmp_path / "dest" / name).exists()
    assert not (tmp_path / "dest" / (name + ".part")).exists()


def test_falls_back_to_the_next_mirror(tmp_path, server):
    sums = publish(server.root, "good")
    (server.root / "bad").mkdir()
    (server.root / "bad" / "train-images-idx3-ubyte.gz").write_bytes(b"garbage")
    download_mnist(tmp_path / "dest", [f"{server.url}/bad/", f"{server.url}/good/"], sums)
    assert all(sha(tmp_path / "dest" / n) == d for n, d in sums.items())


def test_all_mirrors_failing(tmp_path, server):
    sums = publish(server.root)
    with pytest.raises(DataError, match="HTTP 404.*1 more mirror"):
        download_mnist(tmp_path / "dest", [f"{server.url}/none/", f"{server.url}/gone/"], sums)


@pytest.mark.parametrize("ranges", [True, False])
def test_resumes_a_partial_download(tmp_path, server, ranges):
    server.ranges = ranges
    sums = publish(server.root)
    name = "train-images-idx3-ubyte.gz"
    full = (server.root / "good" / name).read_bytes()
    dest = tmp_path / name
    part = tmp_path / (name + ".part")
    part.write_bytes(full[:1000])
    fetch(f"{server.url}/good/{name}", dest, sums[name])
    assert dest.read_bytes() == full and not part.exists()
    assert server.requests[-1][1] == "bytes=1000-"  # asked only for the rest


def test_offline_error_for_unreachable_server(tmp_path):
    with pytest.raises(DataError, match="127.0.0.1"):
        fetch("http://127.0.0.1:9/x.gz", tmp_path / "x.gz", "0" * 64, timeout=5)
