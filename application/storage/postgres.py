"""The event store on PostgreSQL: the library's recorder with the ledger's operations on the log.

``PERSISTENCE_MODULE=capledger.application.storage.postgres`` makes the library build
:class:`LedgerPostgresFactory`, whose application recorder is :class:`LedgerPostgresRecorder`.
Every statement that names the events table (``<application>_events`` in the configured schema,
positions in its ``notification_id`` column) is in this module. Writes are the library's.

An import writes in one transaction under the same table lock the library takes before each
insert (so notification ids are committed in order) and sends the same notification to
subscribers; its rows go in with ``COPY`` rather than an array of composite values.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from uuid import UUID

import eventsourcing.postgres as library
import psycopg
from eventsourcing.persistence import IntegrityError, StoredEvent
from psycopg.rows import DictRow
from psycopg.sql import SQL, Composed, Identifier

from ..tlog.merkle import TileHashReader
from . import (
    BulkImport,
    ImportRow,
    LogRow,
    PageRow,
    StoredCheckpoint,
    TreeLeaf,
    TreeTile,
    leaf_in_run,
    positions_in_runs,
)


class LedgerPostgresRecorder(library.PostgresApplicationRecorder):
    """The library's PostgreSQL application recorder, and the ledger's operations on the log."""

    pushes_notifications = True

    def __init__(
        self, datastore: library.PostgresDatastore, *, events_table_name: str = "stored_events"
    ) -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        self.table = SQL("{schema}.{table}").format(
            schema=Identifier(self.datastore.schema), table=Identifier(self.events_table_name)
        )
        columns = "notification_id, originator_id, originator_version, topic, state"
        self.select_position_statement = SQL(
            "SELECT notification_id FROM {table} WHERE originator_id=%s AND originator_version=%s"
        ).format(table=self.table)
        self.select_rows_statement = SQL(
            "SELECT " + columns + " FROM {table} WHERE notification_id > %s "
            "ORDER BY notification_id LIMIT %s"
        ).format(table=self.table)
        self.select_head_statement = SQL("SELECT MAX(notification_id) AS head FROM {table}").format(
            table=self.table
        )
        self.import_lock_statements = [
            SQL("SET LOCAL lock_timeout = '{0}s'").format(self.datastore.lock_timeout),
            SQL("LOCK TABLE {table} IN EXCLUSIVE MODE").format(table=self.table),
            SQL("NOTIFY {channel}").format(channel=Identifier(self.channel_name)),
        ]

    def create_table(self) -> None:
        with self.schema_lock():
            super().create_table()

    @contextmanager
    def schema_lock(self) -> Iterator[None]:
        """Hold a session advisory lock named after the events table while its schema is made.

        Processes that start together on a new schema (the log service and a CLI beside it) run
        the same ``CREATE OR REPLACE FUNCTION`` and ``CREATE TABLE IF NOT EXISTS``; PostgreSQL
        answers the second with "tuple concurrently updated" or a duplicate ``pg_type`` row.
        The lock is held on a connection of its own, so the statements it guards take theirs.
        """
        key = f"{self.datastore.schema}.{self.events_table_name}"
        with self.datastore.get_connection() as connection:
            connection.execute("SELECT pg_advisory_lock(hashtext(%s))", (key,))
            try:
                yield
            finally:
                connection.execute("SELECT pg_advisory_unlock(hashtext(%s))", (key,))

    def position_of(self, originator_id: UUID, version: int) -> int | None:
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(self.select_position_statement, (originator_id, version))
            row = cursor.fetchone()
        return None if row is None else int(row["notification_id"])

    def read_rows(self, after: int, limit: int) -> Sequence[LogRow]:
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(self.select_rows_statement, (after, limit), prepare=True)
            rows = cursor.fetchall()
        return [
            LogRow(
                row["notification_id"],
                str(row["originator_id"]),
                row["originator_version"],
                row["topic"],
                bytes(row["state"]),
            )
            for row in rows
        ]

    def read_folded(
        self, after: int, stop: int, aggregates: Sequence[str]
    ) -> tuple[int, list[PageRow]]:
        folded = SQL(" OR ").join(SQL("topic LIKE %s") for _ in aggregates)
        statement = SQL(
            "SELECT notification_id, originator_id, originator_version, topic, state "
            "FROM {table} WHERE notification_id > %s AND notification_id <= %s AND ({folded}) "
            "ORDER BY notification_id"
        ).format(table=self.table, folded=folded)
        patterns = [f"%:{aggregate}.%" for aggregate in aggregates]
        # One REPEATABLE READ snapshot would cost a round trip more; the head is read first,
        # and every position up to it is committed (inserts commit in position order).
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(self.select_head_statement)
            found = cursor.fetchone()
            head = int((found["head"] if found is not None else 0) or 0)
            cursor.execute(statement, (after, min(stop, head), *patterns))
            rows = cursor.fetchall()
        return head, [
            (
                row["notification_id"],
                row["originator_id"],
                row["originator_version"],
                row["topic"],
                bytes(row["state"]),
            )
            for row in rows
        ]

    def log_file(self) -> None:
        return None

    @contextmanager
    def bulk_import(self) -> Iterator[BulkImport]:
        with self.datastore.transaction(commit=True) as cursor:
            # The import checks the whole file (chains, the rules audit) inside its transaction,
            # so that no writer lands in its streams meanwhile; the library's idle-in-transaction
            # timeout would end a long check's session.
            cursor.execute("SET LOCAL idle_in_transaction_session_timeout = 0")
            yield _PostgresImport(self, cursor)

    def overwrite_stored_event(
        self, originator_id: UUID, version: int, *, topic: str | None = None,
        state: bytes | None = None,
    ) -> None:  # fmt: skip
        for column, value in (("topic", topic), ("state", state)):
            if value is not None:
                self._change(
                    SQL("UPDATE {table} SET {column} = %s WHERE originator_id = %s "
                        "AND originator_version = %s").format(
                        table=self.table, column=Identifier(column)
                    ),
                    (value, originator_id, version),
                )  # fmt: skip

    def delete_stored_event(self, originator_id: UUID, version: int) -> None:
        self._change(
            SQL("DELETE FROM {table} WHERE originator_id = %s AND originator_version = %s").format(
                table=self.table
            ),
            (originator_id, version),
        )

    def _change(self, statement: Composed, params: tuple[Any, ...]) -> None:
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(statement, params)
            changed = cursor.rowcount
        if changed != 1:
            raise LookupError(f"no stored event matched ({changed} rows)")

    # -- the verifiable log's tree (capledger.application.tlog), tables beside the events' --

    def create_log_tree(self) -> None:
        head, runs, tiles = self._log_tree_tables()
        with self.schema_lock(), self.datastore.transaction(commit=True) as cursor:
            cursor.execute(
                SQL(
                    "CREATE TABLE IF NOT EXISTS {head} (one smallint PRIMARY KEY CHECK (one = 1), "
                    "size bigint NOT NULL, position bigint NOT NULL)"
                ).format(head=head)
            )
            cursor.execute(
                SQL("INSERT INTO {head} VALUES (1, 0, 0) ON CONFLICT DO NOTHING").format(head=head)
            )
            cursor.execute(
                SQL(
                    "CREATE TABLE IF NOT EXISTS {runs} (first_leaf bigint PRIMARY KEY, "
                    "first_position bigint NOT NULL UNIQUE)"
                ).format(runs=runs)
            )
            cursor.execute(
                SQL(
                    "CREATE TABLE IF NOT EXISTS {tiles} (level smallint NOT NULL, "
                    "tile_index bigint NOT NULL, hashes bytea NOT NULL, "
                    "PRIMARY KEY (level, tile_index))"
                ).format(tiles=tiles)
            )

    def log_tree_head(self) -> TreeLeaf | None:
        head, _, _ = self._log_tree_tables()
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(SQL("SELECT size, position FROM {head}").format(head=head))
            row = cursor.fetchone()
        if row is None or not row["size"]:
            return None
        return int(row["size"]) - 1, int(row["position"])

    def append_to_log_tree(
        self, size: int, head: TreeLeaf, runs: Sequence[TreeLeaf], tiles: Sequence[TreeTile]
    ) -> None:
        head_table, runs_table, tiles_table = self._log_tree_tables()
        try:
            with self.datastore.transaction(commit=True) as cursor:
                # A second sequencer waits here for the first one's commit, then finds the
                # size changed: it writes nothing.
                cursor.execute(
                    SQL("UPDATE {head} SET size = %s, position = %s WHERE size = %s").format(
                        head=head_table
                    ),
                    (head[0] + 1, head[1], size),
                )
                if cursor.rowcount != 1:
                    raise IntegrityError(f"the log tree no longer has {size} leaves")
                cursor.execute(
                    SQL(
                        "INSERT INTO {tiles} "
                        "SELECT * FROM unnest(%s::smallint[], %s::bigint[], %s::bytea[]) "
                        "ON CONFLICT (level, tile_index) DO UPDATE SET hashes = EXCLUDED.hashes"
                    ).format(tiles=tiles_table),
                    (
                        [level for level, _, _ in tiles],
                        [index for _, index, _ in tiles],
                        [hashes for _, _, hashes in tiles],
                    ),
                )
                if runs:
                    cursor.execute(
                        SQL(
                            "INSERT INTO {runs} SELECT * FROM unnest(%s::bigint[], %s::bigint[])"
                        ).format(runs=runs_table),
                        ([leaf for leaf, _ in runs], [position for _, position in runs]),
                    )
        except psycopg.IntegrityError as error:
            raise IntegrityError(error) from error

    def read_tiles(self, ids: Collection[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        if not ids:
            return {}
        _, _, tiles = self._log_tree_tables()
        wanted = list(ids)
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(
                SQL(
                    "SELECT level, tile_index, hashes FROM {tiles} JOIN "
                    "unnest(%s::smallint[], %s::bigint[]) AS wanted(level, tile_index) "
                    "USING (level, tile_index)"
                ).format(tiles=tiles),
                ([level for level, _ in wanted], [index for _, index in wanted]),
            )
            rows = cursor.fetchall()
        return {(int(row["level"]), int(row["tile_index"])): bytes(row["hashes"]) for row in rows}

    def subtree_hashes(self, ids: Collection[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        return TileHashReader(self).subtree_hashes(ids)

    def leaf_index_of(self, position: int) -> int | None:
        head, runs, _ = self._log_tree_tables()
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(
                SQL(
                    "SELECT first_leaf, first_position, COALESCE((SELECT MIN(first_leaf) "
                    "FROM {runs} AS later WHERE later.first_leaf > run.first_leaf), "
                    "(SELECT size FROM {head})) AS run_end FROM {runs} AS run "
                    "WHERE first_position <= %s ORDER BY first_position DESC LIMIT 1"
                ).format(runs=runs, head=head),
                (position,),
            )
            row = cursor.fetchone()
        if row is None:
            return None
        run = (int(row["first_leaf"]), int(row["first_position"]))
        return leaf_in_run(position, run, int(row["run_end"]))

    def leaf_positions(self, start: int, stop: int) -> list[int]:
        head, runs, _ = self._log_tree_tables()
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(
                SQL(
                    "SELECT first_leaf, first_position, (SELECT size FROM {head}) AS size "
                    "FROM {runs} WHERE first_leaf < %s AND first_leaf >= "
                    "(SELECT COALESCE(MAX(first_leaf), 0) FROM {runs} WHERE first_leaf <= %s) "
                    "ORDER BY first_leaf"
                ).format(runs=runs, head=head),
                (stop, start),
            )
            rows = cursor.fetchall()
        if not rows:
            return []
        size = int(rows[0]["size"])
        return positions_in_runs(
            [(int(row["first_leaf"]), int(row["first_position"])) for row in rows],
            start,
            min(stop, size),
        )

    def _log_tree_tables(self) -> tuple[Composed, Composed, Composed]:
        schema = Identifier(self.datastore.schema)
        table = self.events_table_name
        return (
            SQL("{}.{}").format(schema, Identifier(f"{table}_tlog_head")),
            SQL("{}.{}").format(schema, Identifier(f"{table}_tlog_runs")),
            SQL("{}.{}").format(schema, Identifier(f"{table}_tlog_tiles")),
        )

    # -- the verifiable log's checkpoints and cosignatures, tables beside the events' --

    def create_checkpoint_tables(self) -> None:
        checkpoints, cosignatures = self._checkpoint_tables()
        with self.schema_lock(), self.datastore.transaction(commit=True) as cursor:
            cursor.execute(
                SQL(
                    "CREATE TABLE IF NOT EXISTS {checkpoints} (tree_size bigint PRIMARY KEY, "
                    "root bytea NOT NULL, note text NOT NULL)"
                ).format(checkpoints=checkpoints)
            )
            cursor.execute(
                SQL(
                    "CREATE TABLE IF NOT EXISTS {cosignatures} (tree_size bigint NOT NULL, "
                    "witness text NOT NULL, line text NOT NULL, PRIMARY KEY (tree_size, witness))"
                ).format(cosignatures=cosignatures)
            )

    def store_checkpoint(self, size: int, root: bytes, note: str) -> None:
        checkpoints, _ = self._checkpoint_tables()
        try:
            with self.datastore.transaction(commit=True) as cursor:
                cursor.execute(
                    SQL("INSERT INTO {checkpoints} VALUES (%s, %s, %s)").format(
                        checkpoints=checkpoints
                    ),
                    (size, root, note),
                )
        except psycopg.IntegrityError as error:
            raise IntegrityError(error) from error

    def latest_checkpoint(self) -> StoredCheckpoint | None:
        return self._checkpoint(SQL("ORDER BY tree_size DESC LIMIT 1"), ())

    def checkpoint_of_size(self, size: int) -> StoredCheckpoint | None:
        return self._checkpoint(SQL("WHERE tree_size = %s"), (size,))

    def _checkpoint(self, clause: SQL, params: tuple[int, ...]) -> StoredCheckpoint | None:
        checkpoints, _ = self._checkpoint_tables()
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(
                SQL("SELECT tree_size, root, note FROM {checkpoints} {clause}").format(
                    checkpoints=checkpoints, clause=clause
                ),
                params,
            )
            row = cursor.fetchone()
        if row is None:
            return None
        return int(row["tree_size"]), bytes(row["root"]), str(row["note"])

    def store_cosignature(self, size: int, witness: str, line: str) -> None:
        _, cosignatures = self._checkpoint_tables()
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(
                SQL(
                    "INSERT INTO {cosignatures} VALUES (%s, %s, %s) ON CONFLICT "
                    "(tree_size, witness) DO UPDATE SET line = EXCLUDED.line"
                ).format(cosignatures=cosignatures),
                (size, witness, line),
            )

    def cosignatures(self, size: int) -> list[str]:
        _, cosignatures = self._checkpoint_tables()
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(
                SQL("SELECT line FROM {cosignatures} WHERE tree_size = %s ORDER BY witness").format(
                    cosignatures=cosignatures
                ),
                (size,),
            )
            rows = cursor.fetchall()
        return [str(row["line"]) for row in rows]

    def _checkpoint_tables(self) -> tuple[Composed, Composed]:
        schema = Identifier(self.datastore.schema)
        table = self.events_table_name
        return (
            SQL("{}.{}").format(schema, Identifier(f"{table}_tlog_checkpoints")),
            SQL("{}.{}").format(schema, Identifier(f"{table}_tlog_cosignatures")),
        )


class LedgerPostgresFactory(library.PostgresFactory):
    application_recorder_class = LedgerPostgresRecorder


class _PostgresImport:
    def __init__(self, recorder: LedgerPostgresRecorder, cursor: psycopg.Cursor[DictRow]) -> None:
        self.recorder = recorder
        self.cursor = cursor
        self.copy_statement = SQL(
            "COPY {table} (originator_id, originator_version, topic, state) FROM STDIN"
        ).format(table=recorder.table)
        self.locked = False
        cursor.execute(SQL("SELECT 1 AS found FROM {table} LIMIT 1").format(table=recorder.table))
        self.empty = cursor.fetchone() is None

    def is_empty(self) -> bool:
        return self.empty

    def last_events(self, streams: Collection[UUID]) -> dict[UUID, StoredEvent]:
        if not streams:
            return {}
        self.cursor.execute(
            SQL(
                "SELECT DISTINCT ON (originator_id) originator_id, originator_version, topic, "
                "state FROM {table} WHERE originator_id = ANY(%s) "
                "ORDER BY originator_id, originator_version DESC"
            ).format(table=self.recorder.table),
            (list(streams),),
        )
        found: dict[UUID, StoredEvent] = {}
        for row in self.cursor.fetchall():
            stream = UUID(str(row["originator_id"]))
            found[stream] = StoredEvent(
                stream, int(row["originator_version"]), row["topic"], bytes(row["state"])
            )
        return found

    def insert(self, rows: Sequence[ImportRow]) -> None:
        if not self.locked:
            # What the library does before every insert, once for the whole transaction: the
            # table lock that keeps notification ids in commit order, and the notification.
            for statement in self.recorder.import_lock_statements:
                self.cursor.execute(statement)
            self.locked = True
        # The 32 hex digits are a valid uuid literal.
        try:
            with self.cursor.copy(self.copy_statement) as copy:
                for row in rows:
                    copy.write_row(row)
        except psycopg.IntegrityError as error:
            raise IntegrityError(error) from error
