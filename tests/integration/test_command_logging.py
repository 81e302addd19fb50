"""The command path's log lines: written at the level that asks for them, filtered above.

A recorded command writes a ``command_recorded`` debug line (command, command id, position, the
caller's correlation id). In production the level is INFO or above and structlog's filtering
logger drops the line.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog
from builders import BILLION, funded_project, pay

from capledger.application.ledger import Ledger
from capledger.observability import configure_logging, correlation
from capledger.settings import LogSettings

pytestmark = pytest.mark.integration


@pytest.fixture
def logs() -> Iterator[io.StringIO]:
    buffer = io.StringIO()
    yield buffer
    structlog.reset_defaults()
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "stream", None) is buffer:
            root.removeHandler(handler)


def lines(buffer: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]


def test_at_debug_level_a_recorded_command_logs_its_id_position_and_correlation_id(
    ledger: Ledger, logs: io.StringIO
) -> None:
    funded_project(ledger, amount=10 * BILLION)
    configure_logging(LogSettings(level="DEBUG", format="json"), stream=logs)

    with correlation("corr-1"):
        outcome = pay(ledger, amount=BILLION)

    recorded = [line for line in lines(logs) if line["event"] == "command_recorded"]
    assert recorded == [
        {
            "event": "command_recorded",
            "command": "PayCompletedWork",
            "command_id": outcome.command_id,
            "position": outcome.position,
            "correlation_id": "corr-1",
            "level": "debug",
            "timestamp": recorded[0]["timestamp"],
        }
    ]


@pytest.mark.parametrize("level", ["INFO", "WARNING"])
def test_above_debug_level_no_command_line_is_written(
    level: str, ledger: Ledger, logs: io.StringIO
) -> None:
    funded_project(ledger, amount=10 * BILLION)
    configure_logging(LogSettings(level=level, format="json"), stream=logs)

    pay(ledger, amount=BILLION)

    assert [line for line in lines(logs) if line["event"] == "command_recorded"] == []


def test_a_later_configuration_reaches_the_command_line(ledger: Ledger, logs: io.StringIO) -> None:
    funded_project(ledger, amount=10 * BILLION)
    earlier = io.StringIO()
    configure_logging(LogSettings(level="DEBUG", format="json"), stream=earlier)
    first = pay(ledger, amount=BILLION)
    configure_logging(LogSettings(level="DEBUG", format="json"), stream=logs)
    second = pay(ledger, amount=BILLION)
    configure_logging(LogSettings(level="INFO", format="json"), stream=logs)
    pay(ledger, amount=BILLION)

    def recorded(buffer: io.StringIO) -> list[object]:
        return [line["command_id"] for line in lines(buffer) if line["event"] == "command_recorded"]

    assert recorded(earlier) == [first.command_id]
    assert recorded(logs) == [second.command_id]
