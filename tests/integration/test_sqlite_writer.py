"""The ledger's own SQLite writer connection: as durable, atomic and safe as the library's pool.

Commands on an SQLite file are recorded by ``SQLiteEventWriter`` on a connection of its own;
reads stay with the library's pool. The library's guarantees must hold unchanged: one durable
transaction per command, nothing recorded of a refused batch, the library's errors, and writers
of other connections (another process) waited for, not overrun.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from builders import BILLION, PROJECT, funded_project, pay, position, sqlite_settings
from eventsourcing.persistence import OperationalError, StoredEvent

from capledger.application.eventstore import ChainedEventStore
from capledger.application.ledger import Ledger
from capledger.application.sqlite_writer import SQLiteEventWriter
from capledger.bootstrap import build_ledger, eventsourcing_env, load_rules
from capledger.domain.ids import project_id

pytestmark = pytest.mark.integration


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    opened = build_ledger(sqlite_settings(tmp_path / "store"))
    funded_project(opened, amount=100 * BILLION)
    yield opened
    opened.close()


def writer_of(ledger: Ledger) -> SQLiteEventWriter:
    assert isinstance(ledger.events, ChainedEventStore)
    writer = ledger.events._writer
    assert writer is not None
    return writer


def database_file(ledger: Ledger) -> str:
    return str(ledger.recorder.datastore.pool.db_name)


def pool_pragma(ledger: Ledger, name: str) -> Any:
    connection = ledger.recorder.datastore.pool.get_connection()
    try:
        cursor = connection.cursor()
        cursor.execute(f"PRAGMA {name}")
        return cursor.fetchone()[0]
    finally:
        ledger.recorder.datastore.pool.put_connection(connection)


def events(count: int) -> list[StoredEvent]:
    return [StoredEvent(uuid4(), 1, "test:Event", b"{}") for _ in range(count)]


class Holder:
    """Another connection (another process, as SQLite sees it) holding the write lock."""

    def __init__(self, database: str) -> None:
        self.connection = sqlite3.connect(database, isolation_level=None, check_same_thread=False)
        self.connection.execute("BEGIN IMMEDIATE")

    def release_after(self, seconds: float) -> threading.Thread:
        def release() -> None:
            time.sleep(seconds)
            self.connection.execute("COMMIT")

        thread = threading.Thread(target=release)
        thread.start()
        return thread

    def close(self) -> None:
        if self.connection.in_transaction:
            self.connection.execute("ROLLBACK")
        self.connection.close()


def test_a_command_on_an_sqlite_file_is_recorded_by_the_ledgers_own_writer(
    ledger: Ledger,
) -> None:
    writer = writer_of(ledger)
    calls: list[int] = []
    insert = writer.insert
    writer.insert = lambda sealed: calls.append(len(sealed)) or insert(sealed)  # type: ignore[method-assign]

    pay(ledger, amount=BILLION)

    assert calls == [2]  # the payment and its receipt, in one transaction


def test_the_writers_commits_are_as_durable_as_the_librarys(ledger: Ledger) -> None:
    writer = writer_of(ledger)
    writer.insert(events(1))
    connection = writer._connection
    assert connection is not None

    assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert connection.execute("PRAGMA synchronous").fetchone()[0] == pool_pragma(
        ledger, "synchronous"
    )


def test_what_the_writer_records_the_librarys_pool_reads_at_the_returned_positions(
    ledger: Ledger,
) -> None:
    recorded = events(3)

    ids = writer_of(ledger).insert(recorded)

    notifications = ledger.recorder.select_notifications(start=ids[0], limit=10)
    assert [n.id for n in notifications] == ids
    assert [n.originator_id for n in notifications] == [e.originator_id for e in recorded]
    assert ids == list(range(ids[0], ids[0] + 3))


def test_an_interrupted_batch_is_rolled_back_whole(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = writer_of(ledger)
    before = position(ledger)
    insert_one = writer._insert_one
    inserted: list[StoredEvent] = []

    def interrupted(connection: sqlite3.Connection, stored: StoredEvent) -> int:
        if inserted:
            raise KeyboardInterrupt
        inserted.append(stored)
        return insert_one(connection, stored)

    monkeypatch.setattr(writer, "_insert_one", interrupted)
    with pytest.raises(KeyboardInterrupt):
        writer.insert(events(2))
    monkeypatch.undo()

    assert position(ledger) == before
    assert ledger.recorder.select_events(inserted[0].originator_id) == []
    assert pay(ledger, amount=BILLION).position is not None


def test_a_command_waits_for_another_connections_write_then_records(ledger: Ledger) -> None:
    holder = Holder(database_file(ledger))
    try:
        release = holder.release_after(0.3)
        started = time.monotonic()
        outcome = pay(ledger, amount=BILLION)
        waited = time.monotonic() - started
        release.join()
    finally:
        holder.close()

    assert waited >= 0.25
    assert outcome.position == position(ledger)
    assert ledger.project(PROJECT).disbursed == BILLION


def test_a_store_locked_beyond_the_timeout_is_an_operational_error_and_changes_nothing(
    tmp_path: Path,
) -> None:
    env = {**eventsourcing_env(sqlite_settings(tmp_path / "store")), "SQLITE_LOCK_TIMEOUT": "1"}
    env_ledger = Ledger(env, rules=load_rules(None))
    try:
        funded_project(env_ledger, amount=100 * BILLION)
        before = position(env_ledger)
        holder = Holder(database_file(env_ledger))
        try:
            with pytest.raises(OperationalError, match="locked"):
                pay(env_ledger, amount=BILLION)
        finally:
            holder.close()

        assert position(env_ledger) == before
        assert env_ledger.cached(project_id(PROJECT)) is None  # evicted, not left ahead
        assert pay(env_ledger, amount=BILLION).position is not None
        assert env_ledger.project(PROJECT).disbursed == BILLION
    finally:
        env_ledger.close()


def test_an_in_memory_store_keeps_the_librarys_pool() -> None:
    env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": ":memory:"}
    ledger = Ledger(env, rules=load_rules(None))
    try:
        assert isinstance(ledger.events, ChainedEventStore)
        assert ledger.events._writer is None
    finally:
        ledger.close()


def test_other_recorders_have_no_writer() -> None:
    assert SQLiteEventWriter.for_recorder(object()) is None


def test_closing_the_ledger_closes_its_writer(tmp_path: Path) -> None:
    ledger = build_ledger(sqlite_settings(tmp_path / "store"))
    funded_project(ledger, amount=BILLION)
    writer = writer_of(ledger)
    assert writer._connection is not None

    ledger.close()

    assert writer._connection is None
