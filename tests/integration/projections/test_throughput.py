"""What makes the embedded runner fast must not change what it writes.

- the SQL reader of the known recorders and the paged reader of any log fold the same events,
  and both stop at an event of a folded aggregate that no reducer knows;
- batches of many pages write what batches of one notification write;
- many rows per statement, and indexes built after the rows, give the same tables.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any
from uuid import uuid4

import pytest
from eventsourcing.persistence import Notification, StoredEvent

from capledger.application.chain import seal
from capledger.application.ledger import Ledger
from capledger.projections import EmbeddedRunner, ReadModelStore, UnknownEvent, rebuild
from capledger.projections.log import PagedLogReader, log_reader
from capledger.projections.rows import MovementRow
from capledger.projections.schema import index_ddl

from .haiphong import record_hai_phong
from .support import Clock, dump, rows

pytestmark = pytest.mark.integration

OpenReadModel = Callable[[], ReadModelStore]


def small_batches(ledger: Ledger, read_models: OpenReadModel) -> dict[str, Any]:
    reference = read_models()
    EmbeddedRunner(reference, ledger.recorder, batch_size=1).catch_up()
    return dump(reference)


def test_batches_larger_than_a_page_write_what_small_batches_write(
    ledger: Ledger, clock: Clock, read_model: ReadModelStore, read_models: OpenReadModel
) -> None:
    recorded = record_hai_phong(ledger, clock)
    runner = EmbeddedRunner(read_model, ledger.recorder, batch_size=25, page_size=3)

    assert runner.step() == 25
    assert runner.catch_up() == recorded.last.position

    assert dump(read_model) == small_batches(ledger, read_models)
    assert runner.notifications_applied == recorded.last.position


def test_a_rebuild_indexes_the_fresh_namespace_once_it_is_full(
    ledger: Ledger, clock: Clock, read_model: ReadModelStore, read_models: OpenReadModel
) -> None:
    record_hai_phong(ledger, clock)
    fresh = read_model.create_namespace(indexes=False)
    assert index_names(read_model, fresh) == set()

    read_model.create_indexes(fresh)
    read_model.create_indexes(fresh)  # again: nothing changes
    expected = index_names(read_model, fresh)
    assert len(expected) == len(index_ddl(read_model.dialect, fresh)) > 0

    report = rebuild(read_model, ledger.recorder, batch_size=9)
    assert index_names(read_model, report.namespace) == {
        name.replace(fresh, report.namespace) for name in expected
    }
    assert dump(read_model) == small_batches(ledger, read_models)


def index_names(read_model: ReadModelStore, namespace: str) -> set[str]:
    """The secondary indexes a namespace holds (primary keys aside)."""
    dialect = read_model.dialect
    if dialect.name == "sqlite":
        sql = (
            "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
            f"AND tbl_name LIKE '{namespace}\\_%' ESCAPE '\\'"
        )
    else:
        schema = f"{getattr(dialect, 'base_schema', '')}_{namespace}"
        sql = f"SELECT indexname FROM pg_indexes WHERE schemaname = '{schema}'"
    found = read_model.read(lambda reader: reader.rows(sql), namespace=namespace)
    return {str(row[0]) for row in found if not str(row[0]).endswith("_pkey")}


def test_many_rows_per_statement_are_written_and_upserted_like_one_by_one(
    read_model: ReadModelStore,
) -> None:
    def movement(position: int, amount: int) -> MovementRow:
        return MovementRow(
            position, 0, "P-1", "KH", "oda", 2021, "disbursed", amount, "2021-01-01",
            "2021-01-01T00:00:00.000000Z", "2021-01-01", 0, position % 2 == 0, False, None, "BQL",
        )  # fmt: skip

    first = [movement(position, 10) for position in range(1, 151)]
    second = [movement(position, 20) for position in range(100, 201)]
    with read_model.writer() as writer:
        assert writer.put_tables({MovementRow: first}) == 150
    with read_model.writer() as writer:
        assert writer.put_tables({MovementRow: second}) == 101

    stored = rows(read_model, MovementRow)
    assert stored == [*first[:99], *second]


class WrappedLog:
    """A notification log that is not one of the recorders the runner knows."""

    def __init__(self, ledger: Ledger) -> None:
        self.recorder = ledger.recorder

    def select_notifications(self, start: int | None, limit: int) -> Sequence[Notification]:
        return self.recorder.select_notifications(start, limit)

    def max_notification_id(self) -> int | None:
        return self.recorder.max_notification_id()


def test_any_notification_log_is_read_in_pages_to_the_same_rows(
    ledger: Ledger, clock: Clock, read_model: ReadModelStore, read_models: OpenReadModel
) -> None:
    recorded = record_hai_phong(ledger, clock)
    log = WrappedLog(ledger)
    assert isinstance(log_reader(log), PagedLogReader)
    assert not isinstance(log_reader(ledger.recorder), PagedLogReader)

    assert EmbeddedRunner(read_model, log, batch_size=6).catch_up() == recorded.last.position

    assert dump(read_model) == small_batches(ledger, read_models)


def record_raw(ledger: Ledger, topic: str) -> int:
    """Store an event of ``topic`` directly, as a newer or other program would."""
    stream = uuid4()
    state, _ = seal(
        stream=str(stream), version=1, topic=topic,
        data={"effective_on": {"_type_": "date_iso", "_data_": "2021-12-01"}},
        meta={"subject": "project:HP-001"}, prev="0" * 64,
    )  # fmt: skip
    (position,) = ledger.recorder.insert_events([StoredEvent(stream, 1, topic, state)])
    assert position is not None
    return int(position)


@pytest.mark.parametrize("wrapped", [False, True], ids=["recorder", "any log"])
def test_an_event_of_a_folded_aggregate_without_reducer_stops_the_runner_before_it(
    ledger: Ledger, clock: Clock, read_model: ReadModelStore, wrapped: bool
) -> None:
    recorded = record_hai_phong(ledger, clock)
    unknown = record_raw(ledger, "capledger.domain.project:Project.Teleported")
    log = WrappedLog(ledger) if wrapped else ledger.recorder
    runner = EmbeddedRunner(read_model, log, batch_size=recorded.last.position)

    runner.step()
    with pytest.raises(UnknownEvent, match=r"no reducer for Project\.Teleported"):
        runner.step()

    assert read_model.position() == recorded.last.position < unknown


@pytest.mark.parametrize("wrapped", [False, True], ids=["recorder", "any log"])
def test_events_of_other_aggregates_are_passed_over(
    ledger: Ledger, clock: Clock, read_model: ReadModelStore, wrapped: bool
) -> None:
    record_hai_phong(ledger, clock)
    other = record_raw(ledger, "capledger.application.surveys:Survey.Taken")
    log = WrappedLog(ledger) if wrapped else ledger.recorder

    assert EmbeddedRunner(read_model, log).catch_up() == other == read_model.position()
