"""ASGI middleware: request ids, access logs, metrics, the request-size limit and strict JSON
bodies.

Every request gets an id: the client's ``X-Request-ID`` when it is a sane token, else a new
UUID. It is returned in ``X-Request-ID``, bound as the structlog ``correlation_id`` (so the
ledger stores it in the ``_meta`` of every event the request records) and logged with one JSON
access line per request.
"""

from __future__ import annotations

import json
import re
import sys
import time
import uuid
from codecs import BOM_UTF8
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


_CONTENT_TYPE = b"content-type"
#: A run of digits longer than Python converts to an int (``sys.get_int_max_str_digits``).
_LONG_DIGITS = re.compile(rb"\d{%d,}" % (max(sys.get_int_max_str_digits(), 640) + 1))


class StrictJson:
    """Bodies read as JSON (``application/json``, ``application/*+json`` or no content type)
    are UTF-8 without a byte-order mark (RFC 8259 §8.1): anything else is refused with 415
    ``not-utf-8`` before the application parses it (Python's parser would otherwise
    take UTF-16 and UTF-32 too). An integer longer than Python converts
    (``sys.get_int_max_str_digits()``, 4,300 digits) is a 422 ``validation-error`` naming its
    field, as any other invalid value. Inside :class:`BodyLimit`: the body it reads whole is
    already bounded."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _has_json_body(scope):
            await self.app(scope, receive, send)
            return
        from starlette.requests import Request

        from .problems import FieldProblem, problem_response

        try:
            body, ended = await _whole_body(receive)
        except HTTPException as error:  # BodyLimit's 413
            response = problem_response(
                Request(scope), error.status_code, "request-too-large", str(error.detail)
            )
            await response(scope, receive, send)
            return
        if ended is None:
            refusal = json_body_refusal(body)
            if refusal is not None:
                status, code, detail, errors = refusal
                problems = [FieldProblem(field=f, message=m, type=t) for f, m, t in errors]
                response = problem_response(
                    Request(scope), status, code, detail, errors=problems or None
                )
                await response(scope, receive, send)
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                if ended is not None:
                    return ended
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def _has_json_body(scope: Scope) -> bool:
    """Whether the request has a body the application would read as JSON."""
    has_body = False
    content_type = b""
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            has_body = has_body or value.strip() not in (b"", b"0")
        elif name == b"transfer-encoding":
            has_body = True
        elif name == _CONTENT_TYPE:
            content_type = value.lower()
    if not has_body:
        return False
    media_type = content_type.split(b";", 1)[0].strip()
    return media_type in (b"", b"application/json") or (
        media_type.startswith(b"application/") and media_type.endswith(b"+json")
    )


async def _whole_body(receive: Receive) -> tuple[bytes, Message | None]:
    """The body, and the message that ended it early (a disconnect) or None."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), message
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks), None


Refusal = tuple[int, str, str, list[tuple[str, str, str]]]


def json_body_refusal(body: bytes) -> Refusal | None:
    """Why a JSON body is refused before it is parsed (status, code, detail, field errors),
    or None. A body that is not JSON at all is left to the application (400 `malformed-json`)."""
    if body.startswith(BOM_UTF8):
        return 415, "not-utf-8", "JSON bodies are UTF-8 without a byte-order mark", []
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return 415, "not-utf-8", "JSON bodies are UTF-8 (RFC 8259)", []
    if b"\x00" in body:
        # UTF-16 or UTF-32 JSON: a NUL byte is never in UTF-8 JSON (it is escaped in strings).
        return 415, "not-utf-8", "JSON bodies are UTF-8 (RFC 8259)", []
    if _LONG_DIGITS.search(body) is None:
        return None
    try:
        document = json.loads(body, parse_int=_int_or_overlong)
    except ValueError:
        return None  # not JSON: the application says so
    fields = [".".join(("body", *path)) for path in _overlong_paths(document, ())]
    if not fields:
        return None  # the digits were in a string
    limit = sys.get_int_max_str_digits()
    message = f"an integer of more than {limit} digits"
    return (
        422,
        "validation-error",
        f"the request is not valid: {', '.join(fields)}",
        [(field, message, "int_too_long") for field in fields],
    )


class _Overlong:
    """An integer too long to convert, kept as its place in the document."""


def _int_or_overlong(digits: str) -> int | _Overlong:
    try:
        return int(digits)
    except ValueError:
        return _Overlong()


def _overlong_paths(node: Any, path: tuple[str, ...]) -> list[tuple[str, ...]]:
    if isinstance(node, _Overlong):
        return [path]
    if isinstance(node, dict):
        return [found for key, value in node.items()
                for found in _overlong_paths(value, (*path, str(key)))]  # fmt: skip
    if isinstance(node, list):
        return [found for index, value in enumerate(node)
                for found in _overlong_paths(value, (*path, str(index)))]  # fmt: skip
    return []
