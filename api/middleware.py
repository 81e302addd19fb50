"""ASGI middleware: request ids, access logs, metrics, and the request-size limit.

Every request gets an id: the client's ``X-Request-ID`` when it is a sane token, else a new
UUID. It is returned in ``X-Request-ID``, bound as the structlog ``correlation_id`` (so the
ledger stores it in the ``_meta`` of every event the request records) and logged with one JSON
access line per request.
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import structlog
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from capledger.observability import CORRELATION_KEY

from .metrics import Metrics

log = structlog.get_logger("capledger.api.access")

REQUEST_ID = "X-Request-ID"
_REQUEST_ID_HEADER = REQUEST_ID.lower().encode()
_VALID_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


def request_id_from(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == _REQUEST_ID_HEADER:
            text = str(value.decode("latin-1")).strip()
            if _VALID_ID.match(text):
                return text
    return str(uuid.uuid4())


class RequestContext:
    """Request id, correlation id, access log and request metrics for every HTTP request."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        # The labelled children of the request metrics, found once per (method, route,
        # status) rather than looked up (with a lock) twice per request.
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_from(scope)
        state: dict[str, Any] = scope.setdefault("state", {})
        state["request_id"] = request_id
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = list(message.get("headers", []))
                headers.append((_REQUEST_ID_HEADER, request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        with structlog.contextvars.bound_contextvars(**{CORRELATION_KEY: request_id}):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                elapsed = time.perf_counter() - started
                route = scope.get("route")
                template = getattr(route, "path", None) or "unmatched"
                method = scope.get("method", "")
                children = self._children.get((method, template, status))
                if children is None:
                    children = self._children[(method, template, status)] = (
                        self.metrics.requests.labels(method, template, str(status)),
                        self.metrics.latency.labels(method, template),
                    )
                children[0].inc()
                children[1].observe(elapsed)
                client = scope.get("client")
                log.info(
                    "http_request",
                    method=method,
                    path=scope.get("path", ""),
                    route=template,
                    status=status,
                    duration_ms=round(elapsed * 1000, 2),
                    request_id=request_id,
                    principal=state.get("principal"),
                    client=None if client is None else client[0],
                )


class BodyLimit:
    """Refuse request bodies above ``max_bytes`` (413) without reading them whole: by their
    ``Content-Length``, or while a body without one streams in."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared < 0 or declared > self.max_bytes:
                    await self._refuse(scope, receive, send)
                    return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise HTTPException(413, self._detail())
            return message

        await self.app(scope, limited, send)

    def _detail(self) -> str:
        return f"the request body exceeds {self.max_bytes} bytes"

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        from starlette.requests import Request

        from .problems import problem_response

        request = Request(scope, receive)
        response = problem_response(request, 413, "request-too-large", self._detail())
        await response(scope, receive, send)
