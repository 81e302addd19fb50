"""The ledger's own connection for recording commands in an SQLite file store.

The eventsourcing library records through its connection pool: a fair semaphore, a writer lock,
usage tracking and a transaction wrapper around the cursor, about a tenth of a command's cost
once the invariants, the seals and the commit are paid. A command needs none of that: commands
of one process already take turns under the ledger's lock, and SQLite itself keeps writers of
different connections apart (the busy timeout makes one wait for the other, as it does for a
second process). So the ledger records on one dedicated connection to the same file, with the
recorder's own INSERT statement, and reads stay with the library's pool.

Atomicity and errors are the library's: one transaction per command (``BEGIN IMMEDIATE`` takes
the write lock before the first INSERT, so a busy store makes the command wait rather than fail
half-way), rolled back on any error, and sqlite3's errors raised as the library's
``IntegrityError`` and ``OperationalError``, so a taken stream version reads as the version
conflict it is. An in-memory database is private to its connection: it keeps the pool's way.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from uuid import UUID

from eventsourcing import persistence
from eventsourcing.persistence import StoredEvent
from eventsourcing.sqlite import SQLITE3_DEFAULT_LOCK_TIMEOUT, SQLiteApplicationRecorder

#: sqlite3's errors and the library's errors of the same meaning, most specific first.
_TRANSLATED: tuple[tuple[type[sqlite3.Error], type[persistence.PersistenceError]], ...] = (
    (sqlite3.IntegrityError, persistence.IntegrityError),
    (sqlite3.OperationalError, persistence.OperationalError),
    (sqlite3.DataError, persistence.DataError),
    (sqlite3.InternalError, persistence.InternalError),
    (sqlite3.ProgrammingError, persistence.ProgrammingError),
    (sqlite3.NotSupportedError, persistence.NotSupportedError),
    (sqlite3.InterfaceError, persistence.InterfaceError),
    (sqlite3.DatabaseError, persistence.DatabaseError),
    (sqlite3.Error, persistence.PersistenceError),
)


class SQLiteEventWriter:
    """Inserts sealed events in one transaction on a connection of its own."""

    def __init__(self, database: str, statement: str, timeout: float) -> None:
        self._database = database
        self._statement = statement
        self._timeout = timeout
        self._connection: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    @classmethod
    def for_recorder(cls, recorder: object) -> SQLiteEventWriter | None:
        """A writer for the recorder's SQLite file; None for any other store."""
        if type(recorder) is not SQLiteApplicationRecorder:
            return None
        pool = recorder.datastore.pool
        if pool.is_sqlite_memory_mode:
            return None
        timeout = pool.lock_timeout or SQLITE3_DEFAULT_LOCK_TIMEOUT
        return cls(pool.db_name, recorder.insert_events_statement, timeout)

    def insert(self, sealed: Sequence[StoredEvent]) -> list[int]:
        """Record the events atomically; their notification ids (SQLite rowids), in order."""
        with self._lock:
            connection = self._connection or self._connect()
            try:
                connection.execute("BEGIN IMMEDIATE")
                ids = [self._insert_one(connection, stored) for stored in sealed]
                connection.execute("COMMIT")
            except sqlite3.Error as error:
                _roll_back(connection)
                raise _translated(error) from error
            except BaseException:
                _roll_back(connection)
                raise
            return ids

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

    def _insert_one(self, connection: sqlite3.Connection, stored: StoredEvent) -> int:
        stream = stored.originator_id
        cursor = connection.execute(
            self._statement,
            (
                stream.hex if isinstance(stream, UUID) else stream,
                stored.originator_version,
                stored.topic,
                stored.state,
            ),
        )
        rowid = cursor.lastrowid
        assert rowid is not None
        return rowid

    def _connect(self) -> sqlite3.Connection:
        # Autocommit mode, as the library's connections: transactions are begun explicitly.
        connection = sqlite3.connect(
            self._database,
            uri=True,
            timeout=self._timeout,
            isolation_level=None,
            check_same_thread=False,
        )
        self._connection = connection
        return connection


def _roll_back(connection: sqlite3.Connection) -> None:
    if connection.in_transaction:
        connection.execute("ROLLBACK")


def _translated(error: sqlite3.Error) -> persistence.PersistenceError:
    for raised, translation in _TRANSLATED:
        if isinstance(error, raised):
            return translation(error)
    return persistence.PersistenceError(error)
