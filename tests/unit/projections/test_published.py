"""The one decoder of stored events (``publish``): plain exact values; receipts skipped."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import Notification

from capledger.application.chain import seal
from capledger.application.published import parse_json, publish
from capledger.projections.batch import folded_name, published
from capledger.projections.log import StoredPage
from capledger.projections.verification import UnverifiedEvent

pytestmark = pytest.mark.unit

TOPIC = "capledger.domain.project:Project.CompletedWorkPaid"
RECEIPT = "capledger.application.receipts:CommandReceipt.Accepted"
STREAM = UUID("3f2b8c1e-8d4a-4c1e-9a7b-1d2e3f4a5b6c")


def wrapped(kind: str, value: Any) -> dict[str, Any]:
    return {"_type_": kind, "_data_": value}


def stored(data: dict[str, Any], topic: str = TOPIC, version: int = 3) -> bytes:
    meta = {"command": "pay", "command_id": "c-1", "principal": "lan", "subject": "project:P-1"}
    state, _ = seal(
        stream=str(STREAM), version=version, topic=topic, data=data, meta=meta, prev="0" * 64
    )
    return state


DOCUMENTS = {
    "payment": {
        "amount": 11 * 10**9,
        "advance_recovered": 0,
        "contract_no": None,
        "effective_on": wrapped("date_iso", "2021-06-20"),
        "from_extension": False,
        "plan_code": "HP-KHV-2021",
        "source": "central_budget",
        "timestamp": wrapped("datetime_iso", "2021-06-20T03:00:00.000001+00:00"),
        "originator_topic": "capledger.domain.project:Project",
    },
    "nested wrappers, lists and unicode": {
        "class_version": 2,
        "decision": wrapped(
            "decision",
            {"issued_on": wrapped("date_iso", "2021-01-05"), "issuer": "Thủ tướng", "number": "1"},
        ),
        "envelopes": {"central_budget": 10**18, "local_budget": 5},
        "history": [wrapped("date_iso", "2021-01-01"), {"x": [wrapped("date_iso", "2021-02-02")]}],
        "name": "Cầu Rào 2 (120 phòng học)",
        "timestamp": wrapped("datetime_iso", "2021-06-20T03:00:00+00:00"),
    },
    "an integer beyond 64 bits": {
        "amount": 2**70,
        "timestamp": wrapped("datetime_iso", "2021-06-20T03:00:00+00:00"),
    },
    "fractions, deep and on top": {"ratio": 0.25, "nested": {"deep": [{"x": 1.5}]}},
    "no timestamp nor version": {"amount": 1},
}


@pytest.mark.parametrize("data", DOCUMENTS.values(), ids=DOCUMENTS.keys())
def test_publish_unwraps_the_transcoders_wrappers_and_keeps_every_value_exact(
    data: dict[str, Any],
) -> None:
    state = stored(data)

    event = publish(42, STREAM, 3, TOPIC, state)

    expected = json.loads(json.dumps(data, sort_keys=True), object_hook=_unwrapped)
    expected.pop("class_version", None)
    assert event.recorded_at == str(expected.pop("timestamp", ""))
    expected.pop("originator_topic", None)
    assert event.data == expected
    assert repr(event.data) == repr(expected)  # the same types: exact integers stay ints
    assert (event.position, event.stream, event.stream_version) == (42, STREAM, 3)
    assert event.class_version == data.get("class_version", 1)
    assert event.subject == "project:P-1" and event.meta["principal"] == "lan"
    assert len(event.hash) == 64 and event.prev == "0" * 64


def _unwrapped(document: dict[str, Any]) -> Any:
    if len(document) == 2 and "_type_" in document and "_data_" in document:
        return document["_data_"]
    return document


def test_an_integer_beyond_64_bits_stays_an_exact_integer() -> None:
    state = stored(DOCUMENTS["an integer beyond 64 bits"])

    event = publish(1, STREAM, 3, TOPIC, state)

    assert event.data["amount"] == 2**70 and type(event.data["amount"]) is int


@pytest.mark.parametrize(
    "text",
    [
        b'{"amount": 5000000000000, "plan": {"code": "KH", "sources": [1, 2]}}',
        b'{"amount": 1180591620717411303424, "nested": [{"big": -1180591620717411303424}]}',
        b'{"ratio": 0.5, "list": [1.25]}',
        rb'{"text": "Nh\u00e0 th\u1ea7u", "none": null, "flag": true}',
    ],
)
def test_parse_json_is_json_loads(text: bytes) -> None:
    parsed = parse_json(text)

    assert parsed == json.loads(text)
    assert repr(parsed) == repr(json.loads(text))  # the same types: exact integers stay ints


def test_receipts_are_skipped_undecoded_and_the_others_keep_their_order() -> None:
    notes = [
        Notification(id=1, originator_id=STREAM, originator_version=1, topic=TOPIC,
                     state=stored(DOCUMENTS["payment"], version=1)),
        Notification(id=2, originator_id=uuid4(), originator_version=1, topic=RECEIPT,
                     state=b"not even JSON"),
        Notification(id=3, originator_id=str(STREAM), originator_version=2, topic=TOPIC,
                     state=stored(DOCUMENTS["payment"], version=2)),
    ]  # fmt: skip

    events = list(published(notes))

    assert [(event.position, event.stream, event.stream_version) for event in events] == [
        (1, STREAM, 1),
        (3, STREAM, 2),
    ]
    assert events[0].name == "Project.CompletedWorkPaid"


def test_an_event_of_a_folded_aggregate_without_a_reducer_is_decoded_not_skipped() -> None:
    unknown = "capledger.domain.project:Project.Teleported"

    assert folded_name(unknown) == "Project.Teleported"
    assert folded_name(RECEIPT) is None


def test_a_stored_page_publishes_its_folded_events_each_time_it_is_iterated() -> None:
    payment = stored(DOCUMENTS["payment"], version=1)
    page = StoredPage([
        (1, str(STREAM), 1, TOPIC, payment),
        (2, uuid4(), 1, RECEIPT, b"not even JSON"),
        (3, STREAM, 2, TOPIC, memoryview(stored(DOCUMENTS["payment"], version=2))),
    ])  # fmt: skip

    events = list(page)

    assert [(event.position, event.stream, event.stream_version) for event in events] == [
        (1, STREAM, 1),
        (3, STREAM, 2),
    ]
    assert events[0] == publish(1, STREAM, 1, TOPIC, payment)
    assert list(page) == events
    assert len(page) == 3


def test_a_stored_page_publishes_an_event_only_when_the_runner_reaches_it() -> None:
    page = StoredPage([
        (1, STREAM, 1, TOPIC, stored(DOCUMENTS["payment"], version=1)),
        (2, STREAM, 2, TOPIC, b"not even JSON"),
    ])  # fmt: skip
    events = iter(page)

    assert next(events).position == 1
    with pytest.raises(UnverifiedEvent, match="state is not a JSON object"):
        next(events)  # the runner never folds what it cannot verify
