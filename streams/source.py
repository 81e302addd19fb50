"""Following the notification log: what the relay has not published yet, as it is recorded.

- ``PollingSource`` (SQLite, and any recorder): reads what is after the position; when there
  is nothing, sleeps ``poll_interval`` and reads again. SQLite commits one writer at a time,
  so notification ids become visible in order and a reader never passes over a gap that is
  filled later.
- ``SubscriptionSource`` (PostgreSQL): ``recorder.subscribe(gt=position)``, the library's
  LISTEN/NOTIFY subscription, run in a thread that feeds a bounded queue. The recorder takes
  an exclusive table lock to insert, so ids are committed in order there too.

``next_batch`` returns at once whatever is available (up to ``limit``) and only waits when
nothing is: low traffic is never held back to fill a batch.

On SQLite, ``PollingSource`` reads the log with its own lean query (the library's
``select_notifications`` statement, rows kept as tuples, the stream's UUID written out as text
without making a ``UUID`` of it): ``LogRow`` has the attributes of a ``Notification`` that the
relay reads, with ``originator_id`` already ``str(UUID)``.
"""

from __future__ import annotations

import queue
import re
import threading
import time
from collections.abc import Callable, Sequence
from typing import NamedTuple, Protocol
from uuid import UUID

import structlog
from eventsourcing.persistence import ApplicationRecorder, Notification
from eventsourcing.sqlite import SQLiteApplicationRecorder

from .wire import LogEntry

log = structlog.get_logger(__name__)


class LogRow(NamedTuple):
    """A notification as ``PollingSource`` reads it from SQLite (``originator_id`` as text)."""

    id: int
    originator_id: str
    originator_version: int
    topic: str
    state: bytes


#: How SQLite stores a UUID (``UUID.hex``): its ``str`` is this with dashes.
_HEX_UUID = re.compile(r"[0-9a-f]{32}")


def _uuid_text(stored: str) -> str:
    if _HEX_UUID.fullmatch(stored):
        return f"{stored[:8]}-{stored[8:12]}-{stored[12:16]}-{stored[16:20]}-{stored[20:]}"
    return str(UUID(stored))


def sqlite_reader(
    recorder: SQLiteApplicationRecorder,
) -> Callable[[int, int], Sequence[LogRow]]:
    """``read(after, limit)``: what ``select_notifications(after, limit,
    inclusive_of_start=False)`` returns, as ``LogRow`` tuples."""
    statement = (
        f"SELECT rowid, originator_id, originator_version, topic, state "
        f"FROM {recorder.events_table_name} WHERE rowid>? ORDER BY rowid LIMIT ?"
    )
    datastore = recorder.datastore
    as_uuid = datastore.originator_id_type == "uuid"

    def read(after: int, limit: int) -> Sequence[LogRow]:
        with datastore.transaction(commit=False) as cursor:
            cursor.execute(statement, (after, limit))
            rows = cursor.fetchall()
        if as_uuid:
            return [
                LogRow(rowid, _uuid_text(stream), version, topic, state)
                for rowid, stream, version, topic, state in rows
            ]
        return [LogRow(*row) for row in rows]

    return read


class NotificationSource(Protocol):
    def next_batch(self, limit: int, wait_s: float) -> Sequence[LogEntry]:
        """Up to ``limit`` notifications after the last one returned; waits ≤ ``wait_s``."""
        ...

    def close(self) -> None: ...


class PollingSource:
    def __init__(self, recorder: ApplicationRecorder, after: int, poll_interval_s: float) -> None:
        self._recorder = recorder
        self._after = after
        self._poll_interval_s = poll_interval_s
        self._read: Callable[[int, int], Sequence[LogEntry]] = (
            sqlite_reader(recorder)
            if isinstance(recorder, SQLiteApplicationRecorder)
            else self._select
        )

    def _select(self, after: int, limit: int) -> Sequence[Notification]:
        return self._recorder.select_notifications(
            start=after, limit=limit, inclusive_of_start=False
        )

    def next_batch(self, limit: int, wait_s: float) -> Sequence[LogEntry]:
        deadline = time.monotonic() + wait_s
        while True:
            found = self._read(self._after, limit)
            if found:
                self._after = found[-1].id
                return found
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return ()
            time.sleep(min(self._poll_interval_s, remaining))

    def close(self) -> None:
        return None


class SubscriptionError(RuntimeError):
    """The recorder's subscription stopped with an error."""


class SubscriptionSource:
    def __init__(self, recorder: ApplicationRecorder, after: int, capacity: int = 10_000) -> None:
        self._subscription = recorder.subscribe(gt=after)
        self._queue: queue.Queue[Notification] = queue.Queue(maxsize=capacity)
        self._error: BaseException | None = None
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._pump, name="relay-subscription", daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        try:
            with self._subscription as subscription:
                for notification in subscription:
                    while not self._stopping.is_set():
                        try:
                            self._queue.put(notification, timeout=0.1)
                            break
                        except queue.Full:
                            continue
                    if self._stopping.is_set():
                        break
        except BaseException as error:  # handed over to the relay's thread
            self._error = error

    def next_batch(self, limit: int, wait_s: float) -> Sequence[LogEntry]:
        batch: list[LogEntry] = []
        try:
            batch.append(self._queue.get(timeout=wait_s))
        except queue.Empty:
            if not self._thread.is_alive() and not self._stopping.is_set():
                raise SubscriptionError(
                    f"the notification subscription ended: {self._error!r}"
                ) from self._error
            return batch
        while len(batch) < limit:
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return batch

    def close(self) -> None:
        self._stopping.set()
        self._subscription.stop()
        self._thread.join(timeout=10)


def open_source(
    recorder: ApplicationRecorder, after: int, *, poll_interval_s: float, subscribe: bool
) -> NotificationSource:
    """A subscription for PostgreSQL (when enabled), polling otherwise."""
    from eventsourcing.postgres import PostgresApplicationRecorder

    if subscribe and isinstance(recorder, PostgresApplicationRecorder):
        log.debug("relay_source", kind="subscription", after=after)
        return SubscriptionSource(recorder, after)
    log.debug("relay_source", kind="polling", after=after, poll_interval_s=poll_interval_s)
    return PollingSource(recorder, after, poll_interval_s)
