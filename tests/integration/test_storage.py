"""The storage adapters: every backend answers the ledger's operations on the log alike.

Each test runs on SQLite, on PostgreSQL (with ``CAPLEDGER_TEST_POSTGRES=1``) and in memory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from uuid import UUID, uuid4

import pytest
from builders import BILLION, PROJECT, funded_project, pay, position
from eventsourcing.persistence import IntegrityError, StoredEvent

from capledger.application.ledger import Ledger
from capledger.application.storage import EventLog, event_log
from capledger.bootstrap import load_rules
from capledger.domain.ids import project_id

pytestmark = pytest.mark.integration

TOPIC = "capledger.domain.project:Project.Test"


@pytest.fixture(params=["store", "memory"])
def any_ledger(
    request: pytest.FixtureRequest, open_ledger: Callable[[], Ledger]
) -> Iterator[Ledger]:
    """A funded project's ledger on the test's store, or in memory."""
    opened = Ledger(rules=load_rules()) if request.param == "memory" else open_ledger()
    funded_project(opened, amount=100 * BILLION)
    yield opened
    if request.param == "memory":
        opened.close()


def log_of(ledger: Ledger) -> EventLog:
    return event_log(ledger.recorder)


def test_the_ledgers_recorder_is_an_event_log_and_a_library_recorder_is_not() -> None:
    from eventsourcing.popo import POPOApplicationRecorder

    assert isinstance(Ledger(rules=load_rules()).recorder, EventLog)
    with pytest.raises(TypeError, match="PERSISTENCE_MODULE"):
        event_log(POPOApplicationRecorder())


def test_a_stored_events_position_is_found_by_stream_and_version(any_ledger: Ledger) -> None:
    outcome = pay(any_ledger, amount=BILLION)
    stream = project_id(PROJECT)
    version = outcome.streams[f"project:{PROJECT}"]

    found = log_of(any_ledger).position_of(stream, version)

    assert found is not None and found <= position(any_ledger)
    (notification,) = any_ledger.recorder.select_notifications(start=found, limit=1)
    assert (notification.originator_id, notification.originator_version) == (stream, version)
    assert log_of(any_ledger).position_of(stream, version + 1) is None


def test_lean_rows_are_the_notifications_with_the_stream_as_text(any_ledger: Ledger) -> None:
    expected = any_ledger.recorder.select_notifications(start=3, limit=4)

    rows = log_of(any_ledger).read_rows(2, 4)

    assert [
        (row.id, row.originator_id, row.originator_version, row.topic, bytes(row.state))
        for row in rows
    ] == [(n.id, str(n.originator_id), n.originator_version, n.topic, n.state) for n in expected]


def test_a_folded_page_holds_the_named_aggregates_events_up_to_the_head(any_ledger: Ledger) -> None:
    head = position(any_ledger)
    everything = any_ledger.recorder.select_notifications(start=1, limit=head)

    found_head, rows = log_of(any_ledger).read_folded(1, head + 100, ["Project"])

    assert found_head == head
    assert [row[0] for row in rows] == [
        n.id for n in everything if n.id > 1 and ":Project." in n.topic
    ]
    assert all(UUID(str(row[1])) == project_id(PROJECT) for row in rows)
    assert log_of(any_ledger).read_folded(head, head + 10, ["Project"]) == (head, [])


def test_a_bulk_import_inserts_all_or_nothing(any_ledger: Ledger) -> None:
    log = log_of(any_ledger)
    before = position(any_ledger)
    stream = uuid4()
    rows = [(stream.hex, version, TOPIC, b"{}") for version in (1, 2)]

    with log.bulk_import() as target:
        assert not target.is_empty()
        assert target.last_events([stream]) == {}
        target.insert(rows)

    assert position(any_ledger) == before + 2
    last = any_ledger.recorder.select_events(stream, desc=True, limit=1)
    assert last == [StoredEvent(stream, 2, TOPIC, b"{}")]
    with log.bulk_import() as target:
        assert target.last_events([stream, uuid4()]) == {stream: last[0]}

    with pytest.raises(IntegrityError), log.bulk_import() as target:
        target.insert([(uuid4().hex, 1, TOPIC, b"{}")])
        target.insert(rows[:1])  # taken: the whole import is undone
    assert position(any_ledger) == before + 2


def test_a_store_tells_whether_another_process_can_read_it_and_if_it_pushes(
    any_ledger: Ledger,
) -> None:
    log = log_of(any_ledger)
    kind = type(log).__module__.rsplit(".", 1)[-1]

    assert (log.log_file() is not None) is (kind == "sqlite")
    assert log.pushes_notifications is (kind == "postgres")


def test_a_stored_event_is_overwritten_or_deleted_past_the_ledger(
    open_ledger: Callable[[], Ledger],
) -> None:
    ledger = open_ledger()
    funded_project(ledger, amount=100 * BILLION)
    log = log_of(ledger)
    stream = project_id(PROJECT)

    log.overwrite_stored_event(stream, 1, topic="x:Y", state=b'{"a":1}')
    assert ledger.recorder.select_events(stream, lte=1) == [
        StoredEvent(stream, 1, "x:Y", b'{"a":1}')
    ]
    log.delete_stored_event(stream, 1)
    assert ledger.recorder.select_events(stream, lte=1) == []
    with pytest.raises(LookupError):
        log.delete_stored_event(stream, 1)
