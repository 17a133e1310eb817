"""An AWS-like round trip in front of the emulator: a small threaded proxy that delays every request.

On this machine moto answers in microseconds and both sides are CPU-bound Python, so overlapping
calls gains nothing here; on AWS each call costs 50-300 ms of round trip. The proxy adds that round
trip: every request waits ``delay`` seconds, then goes to the emulator, and its answer comes back
unchanged. Many requests wait at the same time (a thread per connection), as AWS serves many calls
at once.

The proxy also keeps when each request waited: :meth:`Proxy.round_trips` is the time during which
at least one request was waiting, in round trips. Reads one after the other count one each; reads
made at the same time count once together. It is the part of a run that latency makes, measured
apart from the CPU time that a shared machine stretches.

Bounded and self-stopping, so it cannot outlive or overload the benchmark: it listens on loopback
only and forwards to a loopback emulator only; at most ``max_in_flight`` requests are forwarded at
once (the others wait for a slot); and it shuts itself down after ``lifetime`` seconds or after
``idle`` seconds without a request, whichever comes first (or when its ``with`` block ends).
"""

from __future__ import annotations

import http.client
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

LOOPBACK = "127.0.0.1"
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "upgrade", "te", "trailer"}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    upstream: tuple[str, int]
    delay: float
    slots: threading.BoundedSemaphore
    last_request: float
    requests: int
    lock: threading.Lock
    waits: list[tuple[float, float]]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as botocore's connection pool expects
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _forward(self) -> None:
        server = self.server
        with server.lock:
            server.requests += 1
            server.last_request = time.monotonic()
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        waited = time.monotonic()
        time.sleep(server.delay)  # the round trip
        with server.lock:
            server.waits.append((waited, time.monotonic()))
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
        with server.slots:
            connection = http.client.HTTPConnection(*server.upstream, timeout=300)
            try:
                connection.request(self.command, self.path, body=body, headers=headers)
                response = connection.getresponse()
                payload = response.read()
                status, reason, answer_headers = response.status, response.reason, response.getheaders()
            finally:
                connection.close()
        self.send_response(status, reason)
        for key, value in answer_headers:
            if key.lower() not in _HOP_BY_HOP and key.lower() != "content-length":
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _forward


class Proxy:
    """The running proxy: its URL, and what latency cost the requests since the last question."""

    def __init__(self, url: str, server: _Server) -> None:
        self.url, self._server = url, server
        self.delay = server.delay

    def round_trips(self) -> float:
        """Round trips during which some request waited, since the last call (then forgotten)."""
        with self._server.lock:
            waits, self._server.waits = sorted(self._server.waits), []
        covered, end = 0.0, float("-inf")
        for start, stop in waits:
            covered += max(0.0, stop - max(start, end))
            end = max(end, stop)
        return round(covered / self._server.delay, 1)


@contextmanager
def delayed(
    upstream_url: str,
    delay: float = 0.1,
    *,
    max_in_flight: int = 64,
    lifetime: float = 3600.0,
    idle: float = 600.0,
) -> Iterator[Proxy]:
    """A proxy to ``upstream_url`` (loopback only) adding ``delay`` s to every request."""
    parsed = urllib.parse.urlsplit(upstream_url)
    if parsed.hostname not in (LOOPBACK, "localhost"):
        raise ValueError(f"the latency proxy forwards to loopback only, not {parsed.hostname!r}")
    server = _Server((LOOPBACK, 0), _Handler)
    server.upstream = (LOOPBACK, parsed.port or 80)
    server.delay = delay
    server.slots = threading.BoundedSemaphore(max_in_flight)
    server.last_request = time.monotonic()
    server.requests = 0
    server.lock = threading.Lock()
    server.waits = []
    stop = threading.Event()
    started = time.monotonic()

    def watchdog() -> None:
        while not stop.wait(1.0):
            now = time.monotonic()
            if now - started > lifetime or now - server.last_request > idle:
                break
        server.shutdown()

    serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    guard = threading.Thread(target=watchdog, daemon=True)
    serving.start()
    guard.start()
    try:
        yield Proxy(f"http://{LOOPBACK}:{server.server_address[1]}", server)
    finally:
        stop.set()
        guard.join(timeout=10)
        server.server_close()
