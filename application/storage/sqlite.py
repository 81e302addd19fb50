"""The event store on SQLite: the library's recorder with the ledger's operations on the log.

``PERSISTENCE_MODULE=capledger.application.storage.sqlite`` makes the library build
:class:`LedgerSQLiteFactory`, whose application recorder is :class:`LedgerSQLiteRecorder`.
Every statement that names the events table (``stored_events``; the notification id is
SQLite's ``rowid``) is in this module.

Writes are the library's ``insert_events``: one transaction per call on its connection pool,
its errors (a taken stream version is its ``IntegrityError``), one statement per event to collect
the notification ids. An import inserts with one ``executemany`` per batch, in one transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from uuid import UUID

import eventsourcing.sqlite as library
from eventsourcing.persistence import IntegrityError, StoredEvent

from ..tlog.merkle import TileHashReader
from . import (
    BulkImport,
    ImportRow,
    LogRow,
    PageRow,
    StoredCheckpoint,
    StreamRange,
    TreeLeaf,
    TreeTile,
    leaf_in_run,
    positions_in_runs,
    uuid_text,
)

#: SQLite's page cache while importing, in KiB (a negative ``cache_size`` is KiB).
IMPORT_CACHE_KIB = 64 * 1024
#: Streams whose last event is looked up per query (below SQLite's bound-parameter limit).
HEAD_LOOKUP_CHUNK = 500


@lru_cache(maxsize=64)
def folded_page_statements(
    table: str, aggregates: tuple[str, ...], streams: bool, bounded: bool
) -> tuple[str, str, list[str]]:
    """The head query, the page query (parameters: after, stop, the patterns, then the stream
    range's low and high bounds when ``streams``/``bounded``) and the topic patterns."""
    folded = " OR ".join("topic GLOB ?" for _ in aggregates)
    where = (
        (" AND originator_id >= ?" + (" AND originator_id < ?" if bounded else ""))
        if streams
        else ""
    )
    rows = (
        f"SELECT rowid, originator_id, originator_version, topic, state FROM {table} "
        f"WHERE rowid > ? AND rowid <= ? AND ({folded}){where} ORDER BY rowid"
    )
    patterns = [f"*:{aggregate}.*" for aggregate in aggregates]
    return f"SELECT MAX(rowid) FROM {table}", rows, patterns


class LedgerSQLiteRecorder(library.SQLiteApplicationRecorder):
    """The library's SQLite application recorder, and the ledger's operations on the log."""

    pushes_notifications = False

    def __init__(
        self, datastore: library.SQLiteDatastore, events_table_name: str = "stored_events"
    ) -> None:
        super().__init__(datastore, events_table_name)
        table = self.events_table_name
        self.select_position_statement = (
            f"SELECT rowid FROM {table} WHERE originator_id=? AND originator_version=?"
        )
        self.select_rows_statement = (
            "SELECT rowid, originator_id, originator_version, topic, state "
            f"FROM {table} WHERE rowid>? ORDER BY rowid LIMIT ?"
        )

    def position_of(self, originator_id: UUID, version: int) -> int | None:
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(self.select_position_statement, (originator_id.hex, version))
            row = cursor.fetchone()
        return None if row is None else int(row[0])

    def read_rows(self, after: int, limit: int) -> Sequence[LogRow]:
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(self.select_rows_statement, (after, limit))
            rows = cursor.fetchall()
        if self.datastore.originator_id_type == "uuid":
            return [
                LogRow(rowid, uuid_text(stream), version, topic, state)
                for rowid, stream, version, topic, state in rows
            ]
        return [LogRow(*row) for row in rows]

    def read_folded(
        self, after: int, stop: int, aggregates: Sequence[str]
    ) -> tuple[int, list[PageRow]]:
        head_sql, rows_sql, patterns = folded_page_statements(
            self.events_table_name, tuple(aggregates), streams=False, bounded=False
        )
        with self.datastore.transaction(commit=False) as cursor:
            # Plain tuples rather than the pool's ``sqlite3.Row`` objects (this cursor only).
            cursor.sqlite_cursor.row_factory = None
            cursor.execute(head_sql)
            head = int(cursor.fetchone()[0] or 0)
            cursor.execute(rows_sql, (after, min(stop, head), *patterns))
            rows: list[PageRow] = cursor.fetchall()
        return head, rows

    def log_file(self) -> SQLiteLogFile | None:
        pool = self.datastore.pool
        if pool.is_sqlite_memory_mode:  # private to its connection
            return None
        return SQLiteLogFile(pool.db_name, self.events_table_name)

    @contextmanager
    def bulk_import(self) -> Iterator[BulkImport]:
        with self.datastore.transaction(commit=True) as cursor, _page_cache(cursor):
            yield _SQLiteImport(self, cursor)

    def overwrite_stored_event(
        self, originator_id: UUID, version: int, *, topic: str | None = None,
        state: bytes | None = None,
    ) -> None:  # fmt: skip
        for column, value in (("topic", topic), ("state", state)):
            if value is not None:
                self._change(
                    f"UPDATE {self.events_table_name} SET {column}=? "
                    "WHERE originator_id=? AND originator_version=?",
                    (value, originator_id.hex, version),
                )

    def delete_stored_event(self, originator_id: UUID, version: int) -> None:
        self._change(
            f"DELETE FROM {self.events_table_name} WHERE originator_id=? AND originator_version=?",
            (originator_id.hex, version),
        )

    def _change(self, statement: str, params: tuple[Any, ...]) -> None:
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(statement, params)
            changed = cursor.sqlite_cursor.rowcount
        if changed != 1:
            raise LookupError(f"no stored event matched ({changed} rows)")

    # -- the verifiable log's tree (capledger.application.tlog), tables beside the events' --

    def create_log_tree(self) -> None:
        head, runs, tiles = self._log_tree_tables()
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(
                f"CREATE TABLE IF NOT EXISTS {head} (one INTEGER PRIMARY KEY CHECK (one = 1), "
                "size INTEGER NOT NULL, position INTEGER NOT NULL)"
            )
            cursor.execute(f"INSERT OR IGNORE INTO {head} VALUES (1, 0, 0)")
            cursor.execute(
                f"CREATE TABLE IF NOT EXISTS {runs} (first_leaf INTEGER PRIMARY KEY, "
                "first_position INTEGER NOT NULL UNIQUE)"
            )
            cursor.execute(
                f"CREATE TABLE IF NOT EXISTS {tiles} (level INTEGER NOT NULL, "
                "tile_index INTEGER NOT NULL, hashes BLOB NOT NULL, "
                "PRIMARY KEY (level, tile_index)) WITHOUT ROWID"
            )

    def log_tree_head(self) -> TreeLeaf | None:
        head, _, _ = self._log_tree_tables()
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(f"SELECT size, position FROM {head}")
            row = cursor.fetchone()
        return None if row is None or not row[0] else (int(row[0]) - 1, int(row[1]))

    def append_to_log_tree(
        self, size: int, head: TreeLeaf, runs: Sequence[TreeLeaf], tiles: Sequence[TreeTile]
    ) -> None:
        head_table, runs_table, tiles_table = self._log_tree_tables()
        try:
            with self.datastore.transaction(commit=True) as cursor:
                cursor.execute(
                    f"UPDATE {head_table} SET size = ?, position = ? WHERE size = ?",
                    (head[0] + 1, head[1], size),
                )
                if cursor.sqlite_cursor.rowcount != 1:
                    raise sqlite3.IntegrityError(f"the log tree no longer has {size} leaves")
                cursor.executemany(
                    f"INSERT INTO {tiles_table} VALUES (?, ?, ?) ON CONFLICT (level, tile_index) "
                    "DO UPDATE SET hashes = excluded.hashes",
                    tiles,
                )
                cursor.executemany(f"INSERT INTO {runs_table} VALUES (?, ?)", runs)
        except sqlite3.IntegrityError as error:
            raise IntegrityError(error) from error

    def read_tiles(self, ids: Collection[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        if not ids:
            return {}
        _, _, tiles = self._log_tree_tables()
        wanted = list(ids)
        # Point lookups OR'ed: SQLite searches the primary key for each (it scans the whole
        # table for a row-value IN over VALUES).
        where = " OR ".join("(level = ? AND tile_index = ?)" for _ in wanted)
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(
                f"SELECT level, tile_index, hashes FROM {tiles} WHERE {where}",
                [value for tile in wanted for value in tile],
            )
            rows = cursor.fetchall()
        return {(int(level), int(index)): bytes(hashes) for level, index, hashes in rows}

    def subtree_hashes(self, ids: Collection[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        return TileHashReader(self).subtree_hashes(ids)

    def leaf_index_of(self, position: int) -> int | None:
        head, runs, _ = self._log_tree_tables()
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(
                f"SELECT first_leaf, first_position, COALESCE((SELECT MIN(first_leaf) "
                f"FROM {runs} AS later WHERE later.first_leaf > run.first_leaf), "
                f"(SELECT size FROM {head})) FROM {runs} AS run WHERE first_position <= ? "
                "ORDER BY first_position DESC LIMIT 1",
                (position,),
            )
            row = cursor.fetchone()
        if row is None:
            return None
        return leaf_in_run(position, (int(row[0]), int(row[1])), int(row[2]))

    def leaf_positions(self, start: int, stop: int) -> list[int]:
        head, runs, _ = self._log_tree_tables()
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(
                f"SELECT first_leaf, first_position, (SELECT size FROM {head}) FROM {runs} "
                f"WHERE first_leaf < ? AND first_leaf >= (SELECT COALESCE(MAX(first_leaf), 0) "
                f"FROM {runs} WHERE first_leaf <= ?) ORDER BY first_leaf",
                (stop, start),
            )
            rows = cursor.fetchall()
        if not rows:
            return []
        size = int(rows[0][2])
        return positions_in_runs([(int(a), int(b)) for a, b, _ in rows], start, min(stop, size))

    def _log_tree_tables(self) -> tuple[str, str, str]:
        table = self.events_table_name
        return f"{table}_tlog_head", f"{table}_tlog_runs", f"{table}_tlog_tiles"

    # -- the verifiable log's checkpoints and cosignatures, tables beside the events' --

    def create_checkpoint_tables(self) -> None:
        checkpoints, cosignatures = self._checkpoint_tables()
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(
                f"CREATE TABLE IF NOT EXISTS {checkpoints} (tree_size INTEGER PRIMARY KEY, "
                "root BLOB NOT NULL, note TEXT NOT NULL)"
            )
            cursor.execute(
                f"CREATE TABLE IF NOT EXISTS {cosignatures} (tree_size INTEGER NOT NULL, "
                "witness TEXT NOT NULL, line TEXT NOT NULL, PRIMARY KEY (tree_size, witness)) "
                "WITHOUT ROWID"
            )

    def store_checkpoint(self, size: int, root: bytes, note: str) -> None:
        checkpoints, _ = self._checkpoint_tables()
        try:
            with self.datastore.transaction(commit=True) as cursor:
                cursor.execute(f"INSERT INTO {checkpoints} VALUES (?, ?, ?)", (size, root, note))
        except sqlite3.IntegrityError as error:
            raise IntegrityError(error) from error

    def latest_checkpoint(self) -> StoredCheckpoint | None:
        return self._checkpoint("ORDER BY tree_size DESC LIMIT 1", ())

    def checkpoint_of_size(self, size: int) -> StoredCheckpoint | None:
        return self._checkpoint("WHERE tree_size = ?", (size,))

    def _checkpoint(self, clause: str, params: tuple[int, ...]) -> StoredCheckpoint | None:
        checkpoints, _ = self._checkpoint_tables()
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(f"SELECT tree_size, root, note FROM {checkpoints} {clause}", params)
            row = cursor.fetchone()
        return None if row is None else (int(row[0]), bytes(row[1]), str(row[2]))

    def store_cosignature(self, size: int, witness: str, line: str) -> None:
        _, cosignatures = self._checkpoint_tables()
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(
                f"INSERT OR REPLACE INTO {cosignatures} VALUES (?, ?, ?)", (size, witness, line)
            )

    def cosignatures(self, size: int) -> list[str]:
        _, cosignatures = self._checkpoint_tables()
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(
                f"SELECT line FROM {cosignatures} WHERE tree_size = ? ORDER BY witness", (size,)
            )
            rows = cursor.fetchall()
        return [str(row[0]) for row in rows]

    def _checkpoint_tables(self) -> tuple[str, str]:
        table = self.events_table_name
        return f"{table}_tlog_checkpoints", f"{table}_tlog_cosignatures"


class LedgerSQLiteFactory(library.SQLiteFactory):
    application_recorder_class = LedgerSQLiteRecorder


class _SQLiteImport:
    def __init__(self, recorder: LedgerSQLiteRecorder, cursor: library.SQLiteCursor) -> None:
        self.recorder = recorder
        self.cursor = cursor
        cursor.execute(f"SELECT MAX(rowid) FROM {recorder.events_table_name}")
        self.empty = cursor.fetchone()[0] is None

    def is_empty(self) -> bool:
        return self.empty

    def last_events(self, streams: Collection[UUID]) -> dict[UUID, StoredEvent]:
        by_key = {stream.hex: stream for stream in streams}
        keys = list(by_key)
        found: dict[UUID, StoredEvent] = {}
        for start in range(0, len(keys), HEAD_LOOKUP_CHUNK):
            chunk = keys[start : start + HEAD_LOOKUP_CHUNK]
            # SQLite takes the bare columns of a MAX() query from the row holding the maximum.
            self.cursor.execute(
                "SELECT originator_id, MAX(originator_version), topic, state "
                f"FROM {self.recorder.events_table_name} "
                f"WHERE originator_id IN ({','.join('?' * len(chunk))}) GROUP BY originator_id",
                chunk,
            )
            for key, version, topic, state in self.cursor.fetchall():
                stream = by_key[key]
                found[stream] = StoredEvent(stream, int(version), topic, state)
        return found

    def insert(self, rows: Sequence[ImportRow]) -> None:
        # The recorder's own statement, run once for all the rows: an import needs no
        # notification ids, which the per-event inserts of ``insert_events`` collect.
        try:
            self.cursor.executemany(self.recorder.insert_events_statement, rows)
        except sqlite3.IntegrityError as error:
            raise IntegrityError(error) from error


@contextmanager
def _page_cache(cursor: library.SQLiteCursor) -> Iterator[None]:
    """A page cache the size of ``IMPORT_CACHE_KIB`` on this connection while the import lasts.

    One transaction inserts everything: with SQLite's default cache (2 MiB), the primary-key
    index, filled in stream order rather than in insertion order, keeps writing pages out to the
    write-ahead log before the commit and reading them back.
    """
    cursor.execute("PRAGMA cache_size")
    default = int(cursor.fetchone()[0])
    cursor.execute(f"PRAGMA cache_size = {-IMPORT_CACHE_KIB}")
    try:
        yield
    finally:
        # A connection that cannot take this any more has a worse error to report.
        with suppress(sqlite3.Error):
            cursor.execute(f"PRAGMA cache_size = {default}")


@dataclass(frozen=True)
class SQLiteLogFile:
    """An SQLite log file and its events table, for a reader in another process."""

    path: str
    table: str

    def open(self) -> SQLiteLogReader:
        return SQLiteLogReader(self)


class SQLiteLogReader:
    """Log pages on a connection of its own (a child process's)."""

    def __init__(self, log_file: SQLiteLogFile) -> None:
        self.log_file = log_file
        self._connection = sqlite3.connect(
            log_file.path, uri=True, isolation_level=None, timeout=60.0
        )

    def page(
        self, after: int, stop: int, aggregates: Sequence[str], streams: StreamRange | None = None
    ) -> tuple[int, list[PageRow]]:
        low, high = streams if streams is not None else ("", None)
        head_sql, rows_sql, patterns = folded_page_statements(
            self.log_file.table,
            tuple(aggregates),
            streams=streams is not None,
            bounded=high is not None,
        )
        bounds = [] if streams is None else [low, *([] if high is None else [high])]
        connection = self._connection
        connection.execute("BEGIN")
        try:
            head = int(connection.execute(head_sql).fetchone()[0] or 0)
            rows = connection.execute(rows_sql, (after, min(stop, head), *patterns, *bounds))
            return head, rows.fetchall()
        finally:
            connection.execute("COMMIT")

    def close(self) -> None:
        self._connection.close()
