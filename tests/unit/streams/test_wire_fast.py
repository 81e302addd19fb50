"""The relay's fast path (orjson, lean SQLite rows) writes exactly the reference messages."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.persistence import Notification

from capledger.application.chain import GENESIS, seal
from capledger.application.ledger import Ledger
from capledger.bootstrap import build_ledger, load_rules
from capledger.settings import Persistence, Settings, StoreSettings
from capledger.streams import schemas, wire
from capledger.streams.source import LogRow, PollingSource

from .stream_scenario import record_every_event_type

pytestmark = pytest.mark.unit

WIRE = wire.WireFormat("/capledger/capledger", "urn:capledger:schema:")
BEYOND_64_BITS = [2**64, 2**64 + 1, -(2**63) - 1, 10**30, -(10**40)]
WITHIN_64_BITS = [2**64 - 1, 2**63, -(2**63), 0, -1]
AWKWARD_TEXT = "".join(map(chr, range(32))) + '"\\/\u007f\u2028\u2029\ufeffé Đ 😀'


@pytest.fixture(scope="module")
def notifications() -> Iterator[list[Notification]]:
    ledger = Ledger(rules=load_rules())  # in memory
    record_every_event_type(ledger)
    yield list(ledger.recorder.select_notifications(1, 10_000))
    ledger.close()


def resealed(notification: Notification, extra: dict[str, Any], **meta: Any) -> Notification:
    """``notification`` with ``extra`` data (and meta) added, stored as the ledger stores."""
    document = json.loads(notification.state)
    document.pop("_chain")
    stored_meta = {**document.pop("_meta"), **meta}
    state, _ = seal(
        stream=str(notification.originator_id),
        version=notification.originator_version,
        topic=notification.topic,
        data={**document, **extra},
        meta=stored_meta,
        prev=GENESIS,
    )
    return Notification(
        id=notification.id,
        originator_id=notification.originator_id,
        originator_version=notification.originator_version,
        topic=notification.topic,
        state=state,
    )


def fast_path_taken(notification: Notification, monkeypatch: pytest.MonkeyPatch) -> bool:
    calls: list[object] = []
    reference = wire.reference_message

    def counted(entry: wire.LogEntry, stamp: wire.WireFormat) -> wire.WireMessage:
        calls.append(entry)
        return reference(entry, stamp)

    with monkeypatch.context() as patched:
        patched.setattr(wire, "reference_message", counted)
        wire.to_message(notification, WIRE)
    return not calls


def test_every_event_type_is_byte_identical_and_takes_the_fast_path(
    notifications: list[Notification], monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: set[str] = set()
    for notification in notifications:
        fast = wire.to_message(notification, WIRE)
        assert fast == wire.reference_message(notification, WIRE)
        assert fast_path_taken(notification, monkeypatch)
        seen.add(dict(fast.headers)[wire.CE_TYPE].decode())
    assert seen == {event_type.ce_type for event_type in schemas.event_types()}


@pytest.mark.parametrize(
    ("extra", "meta", "fast"),
    [
        ({"big": BEYOND_64_BITS[0]}, {}, False),
        ({"amounts": BEYOND_64_BITS}, {}, False),
        ({"nested": {"deep": [{"x": [1, {"y": BEYOND_64_BITS[-1]}]}]}}, {}, False),
        ({"fraction": 0.1}, {}, False),
        ({"nested": [[{"z": 1.5e300}]]}, {}, False),
        ({}, {"principal": 2**70}, False),
        ({}, {"correlation_id": 0.5}, False),
        ({"edges": WITHIN_64_BITS}, {}, True),
        ({"text": AWKWARD_TEXT, AWKWARD_TEXT: [AWKWARD_TEXT]}, {}, True),
        (
            {
                "nested": {
                    "list": [
                        {"_type_": "date_iso", "_data_": "2024-01-02"},
                        {"_type_": "w", "_data_": {"_type_": "v", "_data_": [{"a": None}]}},
                        [[], {}, True, False, None, ""],
                    ],
                    "wrapped": {
                        "_type_": "decision",
                        "_data_": {"n": {"_type_": "x", "_data_": 3}},
                    },
                    "not_a_wrapper": {"_type_": "x", "_data_": 1, "other": 2},
                    "half": {"_type_": "x"},
                }
            },
            {},
            True,
        ),
        ({"deep": json.loads("[" * 300 + "]" * 300)}, {}, False),
        ({}, {"correlation_id": "corr-1", "principal": {"_type_": "p", "_data_": "who"}}, True),
        ({}, {"subject": None, "command_id": None}, True),
    ],
)
def test_awkward_states_are_byte_identical(
    notifications: list[Notification],
    monkeypatch: pytest.MonkeyPatch,
    extra: dict[str, Any],
    meta: dict[str, Any],
    fast: bool,
) -> None:
    for notification in notifications[:12]:
        changed = resealed(notification, extra, **meta)
        assert wire.to_message(changed, WIRE) == wire.reference_message(changed, WIRE)
        assert fast_path_taken(changed, monkeypatch) is fast


def test_states_orjson_refuses_take_the_reference_path(
    notifications: list[Notification], monkeypatch: pytest.MonkeyPatch
) -> None:
    base = notifications[0]

    def with_state(state: bytes) -> Notification:
        return Notification(
            id=base.id,
            originator_id=base.originator_id,
            originator_version=base.originator_version,
            topic=base.topic,
            state=state,
        )

    for state in (base.state[:-1] + b',"nan":NaN}', b" \t\r\n" + base.state + b"\n"):
        changed = with_state(state)
        assert wire.to_message(changed, WIRE) == wire.reference_message(changed, WIRE)
        assert not fast_path_taken(changed, monkeypatch) or state.startswith(b" ")
    # A lone surrogate cannot be published either way.
    lone = with_state(base.state[:-1] + b',"lone":"\\ud800"}')
    for build in (wire.to_message, wire.reference_message):
        with pytest.raises(UnicodeEncodeError):
            build(lone, WIRE)


def test_lean_sqlite_rows_give_the_same_messages(tmp_path: Path) -> None:
    store = Settings(
        store=StoreSettings(
            persistence=Persistence.SQLITE, data_dir=tmp_path, sqlite_file="s.sqlite3"
        )
    )
    ledger = build_ledger(store)
    try:
        record_every_event_type(ledger)
        reference = list(ledger.recorder.select_notifications(1, 10_000))
        source = PollingSource(ledger.recorder, after=0, poll_interval_s=0.001)
        rows: list[wire.LogEntry] = []
        while batch := source.next_batch(limit=7, wait_s=0):
            rows.extend(batch)
    finally:
        ledger.close()
    assert len(rows) == len(reference) > 0
    for row, notification in zip(rows, reference, strict=True):
        assert isinstance(row, LogRow)
        assert (row.id, row.originator_id, row.originator_version, row.topic, row.state) == (
            notification.id,
            str(notification.originator_id),
            notification.originator_version,
            notification.topic,
            notification.state,
        )
        assert wire.to_message(row, WIRE) == wire.reference_message(notification, WIRE)
