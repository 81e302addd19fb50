"""The HTTP server's own limits on every connection, from the ``api`` settings.

uvicorn has some of them as public ``Config`` options: the keep-alive timeout
(``timeout_keep_alive``) and a bound on concurrent connections (``limit_concurrency``: a request
over it is answered 503). What it lacks is added by :class:`LimitedHttpProtocol`, a subclass of
uvicorn's public ``HttpToolsProtocol`` (the httptools parser, which enforces no header size at
all) given to ``Config(http=...)``:

* **Header size.** The bytes of a request's header section (request line and header fields, up
  to the blank line) are counted as they arrive, before the parser buffers them; past
  ``max_header_bytes`` the request is answered ``431 Request Header Fields Too Large``
  (problem+json, ``request-header-too-large``) and the connection closed, so one connection
  holds at most the limit plus one read of the socket.
* **Header timeout.** A connection must deliver a whole header section within
  ``header_timeout_s`` of its first byte (of being opened, for its first request): else it
  gets ``408 Request Timeout`` (problem+json, ``request-timeout``), or is closed if it sent
  nothing. A slowloris client, trickling a header a byte at a time, is cut there.
* **Body timeout.** A request's body must arrive whole within ``body_timeout_s`` of its header
  section: else ``408`` (unless the application has already begun its answer) and the
  connection is closed; the application sees the client disconnect.

It uses only the asyncio ``Protocol`` methods (``connection_made``, ``data_received``,
``connection_lost``) and the parser callbacks uvicorn's class implements
(``on_headers_complete``, ``on_message_complete``), each calling uvicorn's own, and the public
``transport``, ``loop`` and ``cycle`` attributes it sets. ``tests/unit/api/test_server.py``
fails when uvicorn's class stops offering them; the real-server tests are in
``tests/e2e/api/test_connection_limits.py``.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, ClassVar

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from .settings import ApiSettings

#: The end of a header section (RFC 9112 wants CRLF; a bare LF is tolerated by parsers).
HEADER_ENDS = (b"\r\n\r\n", b"\n\n")
REASONS = {408: "Request Timeout", 431: "Request Header Fields Too Large"}


class LimitedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a header size limit and header and body timeouts (see
    the module docstring); :func:`protocol_for` makes one with the settings' values."""

    max_header_bytes: ClassVar[int] = 16 * 1024
    header_timeout_s: ClassVar[float] = 10.0
    body_timeout_s: ClassVar[float] = 30.0
    problem_base: ClassVar[str] = "/problems/"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.awaiting_headers = True
        #: Bytes of the header section being received, and its last three (an end may span
        #: two reads).
        self.header_bytes = 0
        self.header_tail = b""
        self.limit_timer: asyncio.TimerHandle | None = None

    # -- asyncio Protocol ---------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[arg-type]
        self._arm(self.header_timeout_s, self._header_timed_out)

    def data_received(self, data: bytes) -> None:
        if self.transport.is_closing():
            return
        if self.awaiting_headers:
            if self.limit_timer is None:
                self._arm(self.header_timeout_s, self._header_timed_out)
            room = self.max_header_bytes - self.header_bytes
            if len(data) > room and not _ends_headers(self.header_tail + data[: max(room, 0)]):
                self._refuse(
                    431,
                    "request-header-too-large",
                    f"the request's header section exceeds {self.max_header_bytes} bytes",
                )
                return
            self.header_bytes += len(data)
            self.header_tail = (self.header_tail + data[-3:])[-3:]
        super().data_received(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    # -- parser callbacks ----------------------------------------------------------------

    def on_headers_complete(self) -> None:
        self.awaiting_headers = False
        self.header_bytes = 0
        self.header_tail = b""
        self._arm(self.body_timeout_s, self._body_timed_out)
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        # The next request's header section starts with its first byte (its timer then).
        self._disarm()
        self.awaiting_headers = True

    # -- limits --------------------------------------------------------------------------

    def _arm(self, delay: float, callback: Any) -> None:
        self._disarm()
        self.limit_timer = self.loop.call_later(delay, callback)

    def _disarm(self) -> None:
        if self.limit_timer is not None:
            self.limit_timer.cancel()
            self.limit_timer = None

    def _header_timed_out(self) -> None:
        self.limit_timer = None
        if self.transport.is_closing() or not self.awaiting_headers:
            return
        if self.header_bytes == 0:
            self.transport.close()  # idle: nothing to answer
            return
        self._refuse(
            408,
            "request-timeout",
            f"the request's header section did not arrive within {self.header_timeout_s:g} s",
        )

    def _body_timed_out(self) -> None:
        self.limit_timer = None
        if self.transport.is_closing():
            return
        cycle = self.cycle
        if cycle is not None and cycle.response_started:
            self.transport.close()
            return
        self._refuse(
            408,
            "request-timeout",
            f"the request's body did not arrive within {self.body_timeout_s:g} s",
        )

    def _refuse(self, status: int, code: str, detail: str) -> None:
        """Answer ``status`` (problem+json) and close the connection."""
        self._disarm()
        body = json.dumps(
            {
                "type": f"{self.problem_base}{code}",
                "title": code.replace("-", " ").capitalize(),
                "status": status,
                "detail": detail,
                "code": code,
            }
        ).encode()
        head = (
            f"HTTP/1.1 {status} {REASONS[status]}\r\n"
            "content-type: application/problem+json\r\n"
            f"content-length: {len(body)}\r\n"
            "connection: close\r\n\r\n"
        ).encode()
        self.transport.write(head + body)
        self.transport.close()


def _ends_headers(data: bytes) -> bool:
    return any(end in data for end in HEADER_ENDS)


def protocol_for(settings: ApiSettings) -> type[LimitedHttpProtocol]:
    """:class:`LimitedHttpProtocol` with the limits of ``settings``."""
    attributes = {
        "max_header_bytes": settings.max_header_bytes,
        "header_timeout_s": settings.header_timeout_s,
        "body_timeout_s": settings.body_timeout_s,
        "problem_base": settings.problem_base,
    }
    return type("CapledgerHttpProtocol", (LimitedHttpProtocol,), attributes)


def uvicorn_config(app: Any, settings: ApiSettings, *, host: str, port: int) -> uvicorn.Config:
    """The server's configuration: where it listens and every connection limit."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=protocol_for(settings),
        timeout_keep_alive=settings.keep_alive_timeout_s,  # type: ignore[arg-type]
        # uvicorn answers 503 once the open connections (this one included) reach its limit.
        limit_concurrency=settings.max_connections + 1,
        # Our own JSON access log (with request ids) replaces uvicorn's.
        access_log=False,
        log_config=None,
        proxy_headers=True,
        server_header=False,
        timeout_graceful_shutdown=10,
    )
