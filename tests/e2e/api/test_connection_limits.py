"""The server's limits on connections (``capledger.api.server``), against a real ``capledger
serve`` on loopback with small limits set through its settings: oversized headers (431, memory
bounded under 40 of them), slowloris headers and slow bodies (408, closed), idle connections
(closed), connections over the limit (503).

Each test prints what it measured (``pytest -s``): docs/security.md quotes the figures."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from builders import sqlite_settings

from .served import Served, serve, shared_settings

pytestmark = pytest.mark.e2e

MAX_HEADER_BYTES = 8 * 1024
TIMEOUT_S = 1.0
#: How long a test waits for the server before it gives up (far above every timeout).
PATIENCE_S = 20.0
OVERSIZED = 8 * 1024 * 1024
CHUNK = 64 * 1024
LIMITS = {
    "max_header_bytes": MAX_HEADER_BYTES,
    "header_timeout_s": TIMEOUT_S,
    "body_timeout_s": TIMEOUT_S,
    "keep_alive_timeout_s": TIMEOUT_S,
    "max_connections": 100,
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("limits")
    settings = shared_settings(sqlite_settings(root / "store"), root, **LIMITS)
    with serve(settings, root / "server.log") as served:
        yield served


def connect(server: Served) -> socket.socket:
    return socket.create_connection((server.host, server.port), timeout=PATIENCE_S)


def read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 response (status, headers, body) read from ``sock``."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before a response: {data!r}")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return int(status_line.split()[1]), headers, body


def closed_after(sock: socket.socket) -> float:
    """Seconds until the server closes ``sock`` (reading and dropping anything it sends)."""
    started = time.monotonic()
    try:
        while sock.recv(65536):
            pass
    except ConnectionResetError:
        pass
    return time.monotonic() - started


def resident_kib(process_id: int) -> int:
    for line in Path(f"/proc/{process_id}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def send_oversized_header(sock: socket.socket) -> int:
    """Start a request whose one header is 8 MB; the bytes the server took before it stopped."""
    sent = 0
    try:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: test\r\nX-Big: ")
        while sent < OVERSIZED:
            sock.sendall(b"a" * CHUNK)
            sent += CHUNK
    except (BrokenPipeError, ConnectionResetError):
        pass
    return sent


def test_a_request_within_the_limits_is_served(server: Served) -> None:
    with connect(server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: test\r\nX-Fill: " + b"a" * 4000 + b"\r\n\r\n")
        status, _, _ = read_response(sock)
    assert status == 200


def test_an_oversized_header_gets_431_and_memory_stays_bounded(server: Served) -> None:
    before = resident_kib(server.process.pid)
    sockets = [connect(server) for _ in range(40)]
    try:
        sent = [send_oversized_header(sock) for sock in sockets]
        after = resident_kib(server.process.pid)
        print(f"40 oversized headers: RSS {before / 1024:.1f} -> {after / 1024:.1f} MiB")
        answers = [read_response(sock) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()
    assert {status for status, _, _ in answers} == {431}
    assert answers[0][1]["content-type"] == "application/problem+json"
    assert b'"code": "request-header-too-large"' in answers[0][2]
    assert max(sent) < OVERSIZED
    assert (after - before) / 1024 < 32


def test_a_slowloris_header_is_cut_after_the_header_timeout(server: Served) -> None:
    with connect(server) as sock:
        started = time.monotonic()
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: test\r\n")
        answered = None
        sock.settimeout(0.2)
        while time.monotonic() - started < PATIENCE_S:
            try:
                sock.sendall(b"X-Slow: a\r\n")
                answered = sock.recv(65536)
                break
            except TimeoutError:
                continue
            except (BrokenPipeError, ConnectionResetError):
                break
        elapsed = time.monotonic() - started
    print(f"slowloris cut after {elapsed:.2f} s")
    assert answered is not None and answered.startswith(b"HTTP/1.1 408 "), answered
    assert elapsed < PATIENCE_S


def test_a_connection_that_sends_nothing_is_closed_after_the_header_timeout(
    server: Served,
) -> None:
    with connect(server) as sock:
        lifetime = closed_after(sock)
    print(f"silent connection closed after {lifetime:.2f} s")
    assert lifetime < PATIENCE_S


def test_an_idle_keep_alive_connection_is_closed_after_the_keep_alive_timeout(
    server: Served,
) -> None:
    with connect(server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")
        status, headers, _ = read_response(sock)
        assert status == 200 and headers.get("connection") != "close"
        lifetime = closed_after(sock)
    print(f"idle keep-alive connection closed after {lifetime:.2f} s")
    # uvicorn's own default (5 s) would be longer: the setting holds.
    assert lifetime < TIMEOUT_S + 3


def test_a_slow_body_is_cut_after_the_body_timeout(server: Served) -> None:
    with connect(server) as sock:
        started = time.monotonic()
        sock.sendall(
            b"POST /plans HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
            b'Content-Length: 100\r\nIdempotency-Key: slow\r\n\r\n{"code": '
        )
        status, headers, body = read_response(sock)
        elapsed = time.monotonic() - started
        assert closed_after(sock) < PATIENCE_S
    print(f"slow body cut after {elapsed:.2f} s")
    assert status == 408, body
    assert headers["connection"] == "close"
    assert b'"code": "request-timeout"' in body


def test_connections_over_the_limit_get_503(tmp_path: Path) -> None:
    settings = shared_settings(
        sqlite_settings(tmp_path / "store"),
        tmp_path,
        **{**LIMITS, "max_connections": 2, "keep_alive_timeout_s": 30, "header_timeout_s": 30},
    )
    with serve(settings, tmp_path / "server.log") as server:
        first, second = served_connection(server), served_connection(server)
        with connect(server) as third:
            third.sendall(REQUEST)
            status, headers, _ = read_response(third)
        first.close()
        second.close()
        served_connection(server).close()  # the server has seen them close: served again
    assert status == 503
    assert headers["connection"] == "close"


REQUEST = b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n"


def served_connection(server: Served) -> socket.socket:
    """A new connection that got a 200 and stays open. The server counts a connection until
    it hears of its close (on its next turn of the event loop): until then, retried."""
    deadline = time.monotonic() + PATIENCE_S
    while True:
        sock = connect(server)
        sock.sendall(REQUEST)
        status = read_response(sock)[0]
        if status == 200:
            return sock
        sock.close()
        assert time.monotonic() < deadline, status
        time.sleep(0.05)
