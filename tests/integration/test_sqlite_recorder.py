"""The ledger's SQLite recorder: one durable, atomic transaction per command on the library's pool.

Commands record through the recorder's ``insert_events``: nothing recorded of a refused or
interrupted batch, the library's errors, and writers of other connections (another process)
waited for, not overrun.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from builders import BILLION, PROJECT, funded_project, pay, position, sqlite_settings
from eventsourcing.persistence import OperationalError, StoredEvent

from capledger.application.ledger import Ledger
from capledger.application.storage import SQLITE_MODULE
from capledger.application.storage.sqlite import LedgerSQLiteRecorder
from capledger.bootstrap import build_ledger, eventsourcing_env, load_rules
from capledger.domain.ids import project_id

pytestmark = pytest.mark.integration


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    opened = build_ledger(sqlite_settings(tmp_path / "store"))
    funded_project(opened, amount=100 * BILLION)
    yield opened
    opened.close()


def recorder_of(ledger: Ledger) -> LedgerSQLiteRecorder:
    assert isinstance(ledger.recorder, LedgerSQLiteRecorder)
    return ledger.recorder


def database_file(ledger: Ledger) -> str:
    return str(recorder_of(ledger).datastore.pool.db_name)


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


@dataclass(frozen=True)
class Interrupting:
    """A stored event whose state cannot be read: the insert is interrupted at it."""

    originator_id: UUID
    originator_version: int
    topic: str

    @property
    def state(self) -> Any:
        raise KeyboardInterrupt


def test_a_command_records_its_events_in_one_insert(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder = recorder_of(ledger)
    calls: list[int] = []
    insert = recorder.insert_events

    def counted(stored: Any, **kwargs: Any) -> Any:
        calls.append(len(stored))
        return insert(stored, **kwargs)

    monkeypatch.setattr(recorder, "insert_events", counted)
    pay(ledger, amount=BILLION)

    assert calls == [2]  # the payment and its receipt, in one transaction


def test_a_recorded_command_is_committed_in_a_write_ahead_log(
    ledger: Ledger, tmp_path: Path
) -> None:
    outcome = pay(ledger, amount=BILLION)

    with sqlite3.connect(database_file(ledger)) as other:
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    reopened = build_ledger(sqlite_settings(tmp_path / "store"))
    try:
        assert reopened.recorder.max_notification_id() == outcome.position
    finally:
        reopened.close()


def test_inserted_events_are_read_at_the_returned_positions(ledger: Ledger) -> None:
    recorded = events(3)

    ids = list(recorder_of(ledger).insert_events(recorded) or [])

    notifications = ledger.recorder.select_notifications(start=ids[0], limit=10)
    assert [n.id for n in notifications] == ids
    assert [n.originator_id for n in notifications] == [e.originator_id for e in recorded]
    assert ids == list(range(ids[0], ids[0] + 3))


def test_an_interrupted_batch_is_rolled_back_whole(ledger: Ledger) -> None:
    before = position(ledger)
    first = events(1)[0]

    with pytest.raises(KeyboardInterrupt):
        recorder_of(ledger).insert_events([first, Interrupting(uuid4(), 1, "t")])  # type: ignore[list-item]

    assert position(ledger) == before
    assert ledger.recorder.select_events(first.originator_id) == []
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


def test_an_in_memory_sqlite_store_records_commands() -> None:
    env = {"PERSISTENCE_MODULE": SQLITE_MODULE, "SQLITE_DBNAME": ":memory:"}
    ledger = Ledger(env, rules=load_rules(None))
    try:
        funded_project(ledger, amount=100 * BILLION)
        assert pay(ledger, amount=BILLION).position == position(ledger)
        assert recorder_of(ledger).log_file() is None  # no other process can read it
    finally:
        ledger.close()
