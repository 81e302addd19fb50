"""The subscriber's pieces that need no broker: where to start, filters, output lines."""

from __future__ import annotations

import io
import json

import pytest

from capledger.streams import subscriber
from capledger.streams.wire import ReceivedEvent

pytestmark = pytest.mark.unit


def event(type_: str = "vn.capledger.Project.CompletedWorkPaid.v1") -> ReceivedEvent:
    return ReceivedEvent(
        id="5f0c:3", type=type_, source="/capledger/capledger", subject="project:HP-001",
        time="2025-06-30T01:02:03+00:00",
        dataschema="urn:capledger:schema:Project.CompletedWorkPaid.v1.json", position=42,
        stream="5f0c", stream_version=3, hash="h" * 64, prev="p" * 64, principal="officer",
        command_id="pay-1", data={"amount": 1_000_000, "treasury_ref": "KB-1",
                                  "decision": {"number": "1"}},
        topic="capledger.events", partition=1, offset=9,
    )  # fmt: skip


def test_start_positions() -> None:
    assert subscriber.Start.committed().kind is subscriber.StartKind.COMMITTED
    assert subscriber.Start.from_position(7).position == 7
    with pytest.raises(ValueError, match="start at 1"):
        subscriber.Start.from_position(0)


@pytest.mark.parametrize(
    ("types", "matches"),
    [
        ((), True),
        (("Project.CompletedWorkPaid",), True),
        (("vn.capledger.Project.CompletedWorkPaid.v1",), True),
        (("vn.capledger.Project.CompletedWorkPaid.v2",), False),
        (("Project.AdvancePaid", " Project.CompletedWorkPaid "), True),
        (("CommandReceipt.Accepted",), False),
    ],
)
def test_type_filter(types: tuple[str, ...], matches: bool) -> None:
    assert subscriber.TypeFilter(types)(event()) is matches


def test_parse_types() -> None:
    assert subscriber.parse_types("Project.AdvancePaid, Project.CompletedWorkPaid,") == [
        "Project.AdvancePaid",
        "Project.CompletedWorkPaid",
    ]
    assert subscriber.parse_types(None) == []


def test_json_lines_carry_the_event_and_where_it_was_read() -> None:
    line = json.loads(subscriber.json_line(event()))
    assert line["id"] == "5f0c:3"
    assert line["type"] == "vn.capledger.Project.CompletedWorkPaid.v1"
    assert line["position"] == 42
    assert line["data"]["amount"] == 1_000_000
    assert line["kafka"] == {"topic": "capledger.events", "partition": 1, "offset": 9}


def test_text_lines_are_one_readable_line_per_event() -> None:
    line = subscriber.text_line(event())
    assert "\n" not in line
    assert "Project.CompletedWorkPaid" in line
    assert "amount=1000000" in line
    assert "decision" not in line


def test_printing_sink_writes_one_line_per_event() -> None:
    out = io.StringIO()
    sink = subscriber.printing_sink(out, subscriber.OutputFormat.JSON)
    sink(event())
    sink(event())
    assert len(out.getvalue().splitlines()) == 2
