"""Issue 12, item 9: a download has a total deadline, not only a per-read timeout.

Before, a server dripping one byte every few seconds was never given up on (each read
got its byte within the socket timeout). A loopback server in a thread drips bytes;
the deadline is made small so that the test takes about a second.
"""

from __future__ import annotations

import hashlib
import http.server
import threading
import time

import pytest

from chainrule.data import datasets
from chainrule.data._http import DeadlineExceeded, bounded_get
from chainrule.errors import DatasetNotFoundError

BODY = bytes(range(40))


class _Drip(http.server.BaseHTTPRequestHandler):
    stop = threading.Event()

    def do_GET(self):
        if self.path.startswith("/fast/"):
            self.send_response(200)
            self.send_header("Content-Length", str(len(BODY)))
            self.end_headers()
            self.wfile.write(BODY)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        try:
            for b in BODY:                   # one byte every 0.25 s: 10 s in all
                if self.stop.wait(0.25):
                    return
                self.wfile.write(bytes([b]))
                self.wfile.flush()
        except OSError:                      # the client gave up: good
            return

    def log_message(self, format, *args):
        pass


@pytest.fixture
def server(monkeypatch):
    for var in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY", "no_proxy"):
        monkeypatch.delenv(var, raising=False)
    handler = type("Drip", (_Drip,), {"stop": threading.Event()})
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True)
    t.start()
    host, port = srv.server_address[:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        handler.stop.set()
        srv.shutdown()
        srv.server_close()
        t.join(5)


def test_bounded_get_gives_up_on_a_dripping_server_at_the_deadline(server):
    t0 = time.monotonic()
    got = b""
    with pytest.raises(DeadlineExceeded, match=r"gave up after 1 s in total"), \
            bounded_get(server + "/drip/x", {}, timeout=5.0, deadline=1.0) as resp:
        while chunk := resp.read(1 << 16):
            got += chunk
    elapsed = time.monotonic() - t0
    assert 0.9 < elapsed < 4.0
    assert 0 < len(got) < len(BODY)


def test_bounded_get_reads_a_fast_server_whole(server):
    with bounded_get(server + "/fast/x", {}, timeout=5.0, deadline=5.0) as resp:
        assert resp.status == 200
        data = b""
        while chunk := resp.read(7):
            data += chunk
    assert data == BODY


def test_a_dataset_download_from_a_dripping_mirror_fails_clearly_in_time(server, tmp_path):
    remote = datasets.RemoteFile("train-images-idx3-ubyte.gz",
                                 hashlib.sha256(BODY).hexdigest(), len(BODY))
    labels = datasets.RemoteFile("train-labels-idx1-ubyte.gz",
                                 hashlib.sha256(BODY).hexdigest(), len(BODY))
    spec = datasets.DatasetSpec(
        key="drip", title="Drip", subdir="drip", mirrors=(server + "/drip/",),
        files={"train-images": remote, "train-labels": labels}, classes=("a",),
        homepage="http://example.invalid/")
    t0 = time.monotonic()
    with pytest.raises(DatasetNotFoundError) as e:
        datasets.locate_files(spec, "train", root=tmp_path / "data", download=True,
                              timeout=5.0, deadline=1.0)
    assert time.monotonic() - t0 < 5.0
    msg = str(e.value)
    assert "Download failed:" in msg
    assert "/drip/train-images-idx3-ubyte.gz: gave up after 1 s in total" in msg
    assert not any((tmp_path / "data").rglob("*.gz"))        # nothing half-written


def test_the_default_deadline_is_finite_and_the_cli_failure_is_shown():
    # Session 4 made `chainrule train --download` show the failure and exit non-zero
    # (tests/cli/test_cli_polish.py); the deadline now bounds each file too.
    assert 0 < datasets.DOWNLOAD_DEADLINE < float("inf")
    assert datasets.DOWNLOAD_TIMEOUT <= datasets.DOWNLOAD_DEADLINE
