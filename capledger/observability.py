"""Logging for every capledger process: JSON lines in production, readable on a terminal.

Logs go to stderr, so that stdout carries only a command's output (a history, an export) and can
be piped. Every line carries the correlation id bound for the current CLI invocation or request;
the ledger also stores that id in each event's ``_meta``, which ties a log line to the events it
recorded.
"""

from __future__ import annotations

import logging
import os
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

import structlog
from structlog.typing import Processor

from .settings import LogSettings

LOG_FORMATS = ("auto", "json", "console")
CORRELATION_KEY = "correlation_id"


class _CapledgerHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The one root handler we install; recognised so a second configuration replaces it."""


def configure_logging(settings: LogSettings | None = None, *, stream: TextIO | None = None) -> None:
    """Configure structlog and the standard library's logging alike; safe to call again."""
    settings = settings or LogSettings()
    stream = stream if stream is not None else sys.stderr
    level = parse_log_level(settings.level)
    renderer = _renderer(resolve_log_format(settings.format, stream), stream)
    shared = _shared_processors()
    structlog.configure(
        processors=[*shared, structlog.processors.StackInfoRenderer(), *renderer],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.WriteLoggerFactory(file=stream),
        # Not cached: a later configuration must reach loggers already used once.
        cache_logger_on_first_use=False,
    )
    _route_standard_logging(level, stream, shared, renderer)


def parse_log_level(value: str | int) -> int:
    """A level name (any case) or number, as the standard library knows them."""
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if text.isdigit():
        return int(text)
    levels = logging.getLevelNamesMapping()
    try:
        return levels[text.upper()]
    except KeyError:
        known = ", ".join(("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"))
        raise ValueError(f"unknown log level {value!r}; expected one of {known}") from None


def resolve_log_format(value: str, stream: TextIO) -> str:
    """``auto`` means console on a terminal and JSON everywhere else (services, pipes, CI)."""
    chosen = value.strip().lower()
    if chosen not in LOG_FORMATS:
        raise ValueError(f"unknown log format {value!r}; expected one of {', '.join(LOG_FORMATS)}")
    if chosen == "auto":
        return "console" if _is_terminal(stream) else "json"
    return chosen


def new_correlation_id() -> str:
    return str(uuid.uuid4())


def current_correlation_id() -> str | None:
    value = structlog.contextvars.get_contextvars().get(CORRELATION_KEY)
    return None if value is None else str(value)


@contextmanager
def correlation(correlation_id: str | None = None, **context: Any) -> Iterator[str]:
    """Bind a correlation id (a new one unless given) and extra context for a unit of work."""
    chosen = correlation_id or new_correlation_id()
    with structlog.contextvars.bound_contextvars(**{CORRELATION_KEY: chosen}, **context):
        yield chosen


def _shared_processors() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]


def _renderer(log_format: str, stream: TextIO) -> list[Processor]:
    if log_format == "json":
        return [structlog.processors.dict_tracebacks, structlog.processors.JSONRenderer()]
    colors = _is_terminal(stream) and "NO_COLOR" not in os.environ
    return [structlog.dev.ConsoleRenderer(colors=colors)]


def _route_standard_logging(
    level: int, stream: TextIO, shared: list[Processor], renderer: list[Processor]
) -> None:
    """Lines from libraries that log through ``logging`` (kafka, eventsourcing) look the same."""
    handler = _CapledgerHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *renderer],
        )
    )
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _CapledgerHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)


def _is_terminal(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())
