"""An HTTP(S) GET bounded twice: each read (``timeout``) and the whole transfer (``deadline``).

A socket timeout only bounds one read, so a server that drips one byte every few
seconds is never given up on. :func:`bounded_get` also starts a timer for the whole
request; when it fires, the connection's socket is shut down (which wakes a blocked
read at once) and the read raises :class:`DeadlineExceeded`. Standard library only;
proxies and redirects work as with ``urllib.request.urlopen``.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from typing import Any

__all__ = ["DeadlineExceeded", "bounded_get"]


class DeadlineExceeded(TimeoutError):
    """The whole transfer took longer than its deadline."""


class _Cutter:
    """The sockets of one request, shut down when the deadline passes."""

    def __init__(self) -> None:
        self.socks: list[socket.socket] = []
        self.expired = threading.Event()
        self.lock = threading.Lock()

    def add(self, sock: Any) -> None:
        with self.lock:
            self.socks.append(sock)
            if self.expired.is_set():
                self._shut(sock)

    def cut(self) -> None:
        with self.lock:
            self.expired.set()
            for s in self.socks:
                self._shut(s)

    @staticmethod
    def _shut(sock: Any) -> None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def _opener(cutter: _Cutter) -> Any:
    import http.client
    import urllib.request

    class _HTTP(http.client.HTTPConnection):
        def connect(self) -> None:
            super().connect()
            cutter.add(self.sock)

    class _HTTPS(http.client.HTTPSConnection):
        def connect(self) -> None:
            super().connect()
            cutter.add(self.sock)

    class _HTTPHandler(urllib.request.HTTPHandler):
        def http_open(self, req: Any) -> Any:
            return self.do_open(_HTTP, req)

    class _HTTPSHandler(urllib.request.HTTPSHandler):
        def https_open(self, req: Any) -> Any:
            return self.do_open(_HTTPS, req, context=getattr(self, "_context", None))

    return urllib.request.build_opener(_HTTPHandler, _HTTPSHandler)


class _Reader:
    def __init__(self, resp: Any, cutter: _Cutter, deadline: float) -> None:
        self.resp = resp
        self.cutter = cutter
        self.deadline = deadline

    @property
    def status(self) -> int:
        return getattr(self.resp, "status", 200)

    @property
    def headers(self) -> Any:
        return self.resp.headers

    def read(self, n: int) -> bytes:
        """Up to ``n`` bytes (b"" at the end); raises DeadlineExceeded once it passed."""
        try:
            chunk = self.resp.read1(n)
        except (OSError, ValueError):
            if self.cutter.expired.is_set():
                raise self.exceeded() from None
            raise
        if self.cutter.expired.is_set():
            raise self.exceeded()
        return chunk

    def exceeded(self) -> DeadlineExceeded:
        return DeadlineExceeded(f"gave up after {self.deadline:g} s in total (the "
                                f"download deadline): the server is too slow")


@contextlib.contextmanager
def bounded_get(url: str, headers: dict[str, str], timeout: float,
                deadline: float) -> Iterator[_Reader]:
    """GET ``url``; yields a reader with ``status``, ``headers`` and ``read(n)``.

    ``timeout`` bounds the connection and each read; ``deadline`` the whole request,
    reads included (both in seconds).
    """
    import urllib.request

    cutter = _Cutter()
    timer = threading.Timer(deadline, cutter.cut)
    timer.daemon = True
    timer.start()
    try:
        req = urllib.request.Request(url, headers=headers)
        try:
            resp = _opener(cutter).open(req, timeout=min(timeout, deadline))
        except OSError as e:
            if cutter.expired.is_set():
                raise DeadlineExceeded(f"gave up after {deadline:g} s in total (the "
                                       f"download deadline), before the response "
                                       f"arrived") from e
            raise
        with resp:
            yield _Reader(resp, cutter, deadline)
    finally:
        timer.cancel()
