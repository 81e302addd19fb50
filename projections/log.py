"""Reading the notification log for the runner: the events the reducers fold, page by page.

Any log that has ``select_notifications`` and ``max_notification_id`` will do: its pages are read
whole and the notifications no reducer folds (command receipts, about half the log) are skipped
by topic before decoding. For the two recorders the ledger runs on (eventsourcing's SQLite and
PostgreSQL application recorders), one SQL query per page instead leaves those notifications in
the database: a page is a range of positions, and only the rows whose topic names an event of a
folded aggregate (``Project.*``, ``CapitalPlan.*``, whether a reducer exists for it or not, so an
unknown event still stops the runner) come back, as plain rows rather than notification objects.
The library has no query of that shape, so the tables are read as ``application/positions.py``
reads them, by the recorder's own table name.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.persistence import Notification

from capledger.application.published import PublishedEvent, publish

from .batch import folded_name, published
from .reducers import FOLDED_AGGREGATES, REDUCERS


class NotificationLog(Protocol):
    """What the runner reads: the application recorder (``ledger.recorder``) fits."""

    def select_notifications(self, start: int | None, limit: int) -> Sequence[Notification]: ...

    def max_notification_id(self) -> int | None: ...


class LogReader(Protocol):
    def read(self, after: int, limit: int) -> tuple[list[PublishedEvent], int]:
        """The folded events among the next ``limit`` positions after ``after``, and the
        position read up to (``after`` itself when there is nothing new)."""
        ...


def log_reader(log: NotificationLog) -> LogReader:
    """The fastest reader of ``log`` this module knows."""
    from eventsourcing.sqlite import SQLiteApplicationRecorder

    if isinstance(log, SQLiteApplicationRecorder):
        return SqliteLogReader(log)
    try:
        from eventsourcing.postgres import PostgresApplicationRecorder
    except ImportError:  # psycopg missing: no PostgreSQL recorder can exist either
        return PagedLogReader(log)
    if isinstance(log, PostgresApplicationRecorder):
        return PostgresLogReader(log)
    return PagedLogReader(log)


class PagedLogReader:
    """Whole pages of ``select_notifications``; the others are skipped undecoded."""

    def __init__(self, log: NotificationLog) -> None:
        self.log = log

    def read(self, after: int, limit: int) -> tuple[list[PublishedEvent], int]:
        page = self.log.select_notifications(after + 1, limit)
        if not page:
            return [], after
        return list(published(page)), page[-1].id


def folded_aggregates() -> list[str]:
    """Aggregates whose every event the runner must read (``reducers.folds``)."""
    return sorted(FOLDED_AGGREGATES | {name.partition(".")[0] for name in REDUCERS})


class _SqlLogReader:
    """A page is a range of positions, read in one snapshot with the log's head."""

    def read(self, after: int, limit: int) -> tuple[list[PublishedEvent], int]:
        head, rows = self._select(after, after + limit)
        stop = min(after + limit, head)
        if stop <= after:
            return [], after
        events: list[PublishedEvent] = []
        append = events.append
        for position, stream, version, topic, state in rows:
            name = folded_name(topic)
            if name is not None:  # the query's filter, checked as the reducers see it
                if type(state) is not bytes:  # PostgreSQL's bytea may come as a memoryview
                    state = bytes(state)
                append(publish(position, _uuid(stream), version, topic, state))
        return events, stop

    def _select(self, after: int, stop: int) -> tuple[int, list[tuple[Any, ...]]]:
        """The log's head, and the rows of folded topics in ``(after, min(stop, head)]``."""
        raise NotImplementedError


def sqlite_queries(table: str, where: str = "") -> tuple[str, str, list[str]]:
    """The head query, the page query (its parameters: after, stop, the patterns, then those
    of ``where``, an extra condition such as `` AND originator_id >= ?``) and the patterns of
    folded topics, for an eventsourcing SQLite events table."""
    folded = " OR ".join("topic GLOB ?" for _ in folded_aggregates())
    rows = (
        f"SELECT rowid, originator_id, originator_version, topic, state FROM {table} "
        f"WHERE rowid > ? AND rowid <= ? AND ({folded}){where} ORDER BY rowid"
    )
    patterns = [f"*:{aggregate}.*" for aggregate in folded_aggregates()]
    return f"SELECT MAX(rowid) FROM {table}", rows, patterns


class SqliteLogReader(_SqlLogReader):
    def __init__(self, recorder: Any) -> None:
        self.recorder = recorder
        self._head, self._rows, self._patterns = sqlite_queries(recorder.events_table_name)

    def _select(self, after: int, stop: int) -> tuple[int, list[tuple[Any, ...]]]:
        with self.recorder.datastore.transaction(commit=False) as cursor:
            # Plain tuples rather than the recorder's ``sqlite3.Row`` objects (this cursor only).
            cursor.sqlite_cursor.row_factory = None
            cursor.execute(self._head)
            head = int(cursor.fetchone()[0] or 0)
            cursor.execute(self._rows, (after, min(stop, head), *self._patterns))
            rows: list[tuple[Any, ...]] = cursor.fetchall()
            return head, rows


class PostgresLogReader(_SqlLogReader):
    def __init__(self, recorder: Any) -> None:
        from psycopg.sql import SQL, Identifier

        self.recorder = recorder
        table = SQL("{schema}.{table}").format(
            schema=Identifier(recorder.datastore.schema),
            table=Identifier(recorder.events_table_name),
        )
        folded = SQL(" OR ").join(SQL("topic LIKE %s") for _ in folded_aggregates())
        self._head = SQL("SELECT MAX(notification_id) AS head FROM {table}").format(table=table)
        self._rows = SQL(
            "SELECT notification_id, originator_id, originator_version, topic, state "
            "FROM {table} WHERE notification_id > %s AND notification_id <= %s AND ({folded}) "
            "ORDER BY notification_id"
        ).format(table=table, folded=folded)
        self._patterns = [f"%:{aggregate}.%" for aggregate in folded_aggregates()]

    def _select(self, after: int, stop: int) -> tuple[int, list[tuple[Any, ...]]]:
        # One REPEATABLE READ snapshot would cost a round trip more; the head is read first,
        # and every position up to it is committed (the recorder commits in position order).
        with self.recorder.datastore.transaction(commit=False) as cursor:
            cursor.execute(self._head)
            head = int(_field(cursor.fetchone(), "head", 0) or 0)
            cursor.execute(self._rows, (after, min(stop, head), *self._patterns))
            found = cursor.fetchall()
        names = ("notification_id", "originator_id", "originator_version", "topic", "state")
        return head, [tuple(_field(row, name, index) for index, name in enumerate(names))
                      for row in found]  # fmt: skip


def _field(row: Any, name: str, index: int) -> Any:
    """A column of a row the recorder's cursor returns (a dict row, or a tuple)."""
    return row[name] if isinstance(row, dict) else row[index]


@lru_cache(maxsize=65_536)
def _stream_uuid(text: str) -> UUID:
    return UUID(text)


def _uuid(value: Any) -> UUID:
    """Stream ids come back as UUIDs (PostgreSQL) or their text (SQLite): one per stream."""
    return value if type(value) is UUID else _stream_uuid(str(value))
