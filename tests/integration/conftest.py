"""Fixtures of the integration tier: raw access to the store's events table, past the ledger.

Tests use it to do what the ledger never does (edit or delete a stored row, as someone with
access to the database could) and to read rows exactly as stored.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from builders import postgres_connect
from psycopg import sql

from capledger.application.ledger import Ledger
from capledger.projections import ReadModelStore
from capledger.settings import Persistence, Settings

from .projections.support import open_read_model


@dataclass(frozen=True)
class RawRow:
    position: int
    originator_id: UUID
    originator_version: int
    topic: str
    state: bytes


@dataclass(frozen=True)
class RawStore:
    """The events table of a store, read and written with the database's own client."""

    settings: Settings
    table: str

    @property
    def is_postgres(self) -> bool:
        return self.settings.store.persistence is Persistence.POSTGRES

    def table_exists(self) -> bool:
        if self.is_postgres:
            found = self._pg(
                "SELECT 1 FROM information_schema.tables "
                "WHERE table_schema = %s AND table_name = %s",
                (self.settings.store.postgres.schema_name, self.table),
            )
        else:
            found = self._sqlite(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (self.table,)
            )
        return bool(found)

    def rows(self) -> list[RawRow]:
        """Every stored event, in notification order."""
        if self.is_postgres:
            records = self._pg(
                "SELECT notification_id, originator_id, originator_version, topic, state "
                "FROM {table} ORDER BY notification_id"
            )
        else:
            records = self._sqlite(
                "SELECT rowid, originator_id, originator_version, topic, state "
                f"FROM {self.table} ORDER BY rowid"
            )
        return [
            RawRow(
                position=int(position),
                originator_id=stream if isinstance(stream, UUID) else UUID(hex=stream),
                originator_version=int(version),
                topic=str(topic),
                state=bytes(state),
            )
            for position, stream, version, topic, state in records
        ]

    def row(self, originator_id: UUID, version: int) -> RawRow:
        matches = [
            row
            for row in self.rows()
            if row.originator_id == originator_id and row.originator_version == version
        ]
        assert len(matches) == 1, f"no stored event {originator_id} v{version}"
        return matches[0]

    def update_state(self, originator_id: UUID, version: int, state: bytes) -> None:
        """Overwrite one stored event's state in place."""
        self._update("state", state, originator_id, version)

    def update_topic(self, originator_id: UUID, version: int, topic: str) -> None:
        """Overwrite one stored event's topic in place."""
        self._update("topic", topic, originator_id, version)

    def _update(self, column: str, value: Any, originator_id: UUID, version: int) -> None:
        if self.is_postgres:
            changed = self._pg_write(
                f"UPDATE {{table}} SET {column} = %s WHERE originator_id = %s "
                "AND originator_version = %s",
                (value, originator_id, version),
            )
        else:
            changed = self._sqlite_write(
                f"UPDATE {self.table} SET {column} = ? WHERE originator_id = ? "
                "AND originator_version = ?",
                (value, originator_id.hex, version),
            )
        assert changed == 1

    def delete(self, originator_id: UUID, version: int) -> None:
        """Remove one stored event."""
        if self.is_postgres:
            changed = self._pg_write(
                "DELETE FROM {table} WHERE originator_id = %s AND originator_version = %s",
                (originator_id, version),
            )
        else:
            changed = self._sqlite_write(
                f"DELETE FROM {self.table} WHERE originator_id = ? AND originator_version = ?",
                (originator_id.hex, version),
            )
        assert changed == 1

    # -- the two databases ---------------------------------------------------------------

    def _sqlite(self, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with closing(sqlite3.connect(self.settings.store.sqlite_path)) as connection:
            return connection.execute(statement, params).fetchall()

    def _sqlite_write(self, statement: str, params: tuple[Any, ...]) -> int:
        with closing(sqlite3.connect(self.settings.store.sqlite_path)) as connection, connection:
            return connection.execute(statement, params).rowcount

    def _pg_statement(self, statement: str) -> sql.Composed:
        return sql.SQL(statement).format(
            table=sql.Identifier(self.settings.store.postgres.schema_name, self.table)
        )

    def _pg(self, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with postgres_connect(self.settings) as connection:
            return connection.execute(self._pg_statement(statement), params).fetchall()

    def _pg_write(self, statement: str, params: tuple[Any, ...]) -> int:
        with postgres_connect(self.settings) as connection:
            return connection.execute(self._pg_statement(statement), params).rowcount


@pytest.fixture
def raw_store(ledger: Ledger, store: Settings) -> Iterator[RawStore]:
    """The events table of the test's store (the table name the ledger's recorder uses)."""
    yield RawStore(store, ledger.recorder.events_table_name)  # type: ignore[attr-defined]


@pytest.fixture
def read_models(store: Settings, tmp_path: Path) -> Iterator[Callable[[], ReadModelStore]]:
    """Opens fresh read models on the test's kind of store (dropped after the test)."""
    opened: list[Iterator[ReadModelStore]] = []

    def open_() -> ReadModelStore:
        generator = open_read_model(store, tmp_path / f"read-model-{len(opened)}")
        opened.append(generator)
        return next(generator)

    yield open_
    for generator in opened:
        for _ in generator:
            pass
