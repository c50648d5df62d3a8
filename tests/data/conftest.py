"""Fixtures for the data-layer tests: tiny IDX datasets and a local HTTP mirror."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

from chainrule.data import write_idx

FILES = {
    "train-images": "train-images-idx3-ubyte.gz",
    "train-labels": "train-labels-idx1-ubyte.gz",
    "test-images": "t10k-images-idx3-ubyte.gz",
    "test-labels": "t10k-labels-idx1-ubyte.gz",
}


def _tiny_arrays(n_train: int = 12, n_test: int = 5, seed: int = 0) -> dict[str, np.ndarray]:
    """Random uint8 images (N, 28, 28) and labels 0..9 for both splits."""
    rng = np.random.default_rng(seed)
    return {
        "train-images": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels": rng.integers(0, 10, n_train, dtype=np.uint8),
        "test-images": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "test-labels": rng.integers(0, 10, n_test, dtype=np.uint8),
    }


def _write_tiny_dataset(directory: Path, arrays: dict[str, np.ndarray],
                        gzip: bool = True) -> None:
    """Write the four IDX files into ``directory`` (created)."""
    directory.mkdir(parents=True, exist_ok=True)
    for key, arr in arrays.items():
        name = FILES[key] if gzip else FILES[key][:-3]
        write_idx(directory / name, arr)


@pytest.fixture
def tiny_arrays() -> Callable[..., dict[str, np.ndarray]]:
    """``tiny_arrays(n_train=12, n_test=5, seed=0)``: arrays keyed like ``FILES``."""
    return _tiny_arrays


@pytest.fixture
def write_tiny() -> Callable[..., None]:
    """``write_tiny(directory, arrays, gzip=True)``: the four IDX files in ``directory``."""
    return _write_tiny_dataset


@pytest.fixture
def idx_names() -> dict[str, str]:
    """The standard file names, keyed "train-images", "train-labels", ..."""
    return dict(FILES)


@pytest.fixture
def clean_data_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No CHAINRULE_DATA, XDG_CACHE_HOME pointing to an empty temp dir; returns it."""
    monkeypatch.delenv("CHAINRULE_DATA", raising=False)
    cache = tmp_path / "xdg-cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    return cache


class _Handler(http.server.BaseHTTPRequestHandler):
    routes: ClassVar[dict[str, bytes]] = {}
    hits: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.hits.append(self.path)
        if self.path.startswith("/fail/"):
            self.send_error(503, "mirror down")
            return
        if self.path.startswith("/short/"):
            body = self.routes.get("/good/" + self.path.split("/", 2)[2])
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])  # then hang up
            self.close_connection = True
            return
        body = self.routes.get(self.path)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Type", "application/octet-stream")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
        pass


class LocalMirror:
    """An HTTP server on 127.0.0.1: ``url(prefix)`` is a mirror base URL.

    ``/good/<name>`` serves ``routes['/good/<name>']``; ``/fail/`` answers 503;
    ``/short/<name>`` announces the full length of ``/good/<name>`` but sends half.
    """

    def __init__(self) -> None:
        self.handler = type("Handler", (_Handler,), {"routes": {}, "hits": []})
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self.handler)
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def routes(self) -> dict[str, bytes]:
        return self.handler.routes

    @property
    def hits(self) -> list[str]:
        return self.handler.hits

    def url(self, prefix: str) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/{prefix.strip('/')}/"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def mirror(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalMirror]:
    """A running :class:`LocalMirror`; proxies are disabled so urllib talks to it."""
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy",
                "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    m = LocalMirror()
    try:
        yield m
    finally:
        m.close()
