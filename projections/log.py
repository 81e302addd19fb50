"""Reading the notification log for the runner: the events the reducers fold, page by page.

Any log that has ``select_notifications`` and ``max_notification_id`` will do: its pages are read
whole and the notifications no reducer folds (command receipts, about half the log) are skipped
by topic before decoding. The ledger's own recorders (the storage adapters' ``EventLog``) instead
leave those notifications in the database: a page is a range of positions, and only the rows
whose topic names an event of a folded aggregate (``Project.*``, ``CapitalPlan.*``, whether a
reducer exists for it or not, so an unknown event still stops the runner) come back, as plain
rows rather than notification objects (``EventLog.read_folded``), published one by one as the
runner folds them (``StoredPage``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from functools import lru_cache
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.persistence import Notification

from capledger.application.published import PublishedEvent, publish
from capledger.application.storage import EventLog, PageRow

from .batch import folded_name, published
from .reducers import FOLDED_AGGREGATES, REDUCERS
from .verification import check_content, stream_text


class NotificationLog(Protocol):
    """What the runner reads: the application recorder (``ledger.recorder``) fits."""

    def select_notifications(self, start: int | None, limit: int) -> Sequence[Notification]: ...

    def max_notification_id(self) -> int | None: ...


class LogReader(Protocol):
    def read(self, after: int, limit: int) -> tuple[Iterable[PublishedEvent], int]:
        """The folded events among the next ``limit`` positions after ``after``, and the
        position read up to (``after`` itself when there is nothing new)."""
        ...


def log_reader(log: NotificationLog) -> LogReader:
    """The fastest reader of ``log`` this module knows."""
    if isinstance(log, EventLog):
        return EventLogReader(log)
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


class FoldedLogReader:
    """A page is a range of positions, read in one snapshot with the log's head."""

    def read(self, after: int, limit: int) -> tuple[StoredPage, int]:
        head, rows = self._select(after, after + limit)
        stop = min(after + limit, head)
        if stop <= after:
            return StoredPage([]), after
        return StoredPage(rows), stop

    def _select(self, after: int, stop: int) -> tuple[int, list[PageRow]]:
        """The log's head, and the rows of folded topics in ``(after, min(stop, head)]``."""
        raise NotImplementedError


class EventLogReader(FoldedLogReader):
    """The folded rows of one of the ledger's recorders (``EventLog.read_folded``)."""

    def __init__(self, log: EventLog) -> None:
        self.log = log
        self.aggregates = folded_aggregates()

    def _select(self, after: int, stop: int) -> tuple[int, list[PageRow]]:
        return self.log.read_folded(after, stop, self.aggregates)


class StoredPage:
    """A page of the log as stored, its folded events published as they are iterated (each
    time it is).

    The runner folds a page event by event, so each event (a named tuple and its
    dictionaries, which the cyclic garbage collector tracks) lives only while it is folded. A
    page of events published in advance would live through many of the collector's young
    collections and be promoted to its older generations, whose collections walk every
    object they hold; stored rows (plain tuples of numbers, text and bytes) are not tracked
    once the collector has seen them.
    """

    __slots__ = ("rows",)

    def __init__(self, rows: list[PageRow]) -> None:
        self.rows = rows

    def __len__(self) -> int:
        """The stored rows of the page (folded topics, as the log selected them)."""
        return len(self.rows)

    def __iter__(self) -> Iterator[PublishedEvent]:
        for position, stream, version, topic, state in self.rows:
            if folded_name(topic) is not None:  # the query's filter, as the reducers see it
                if type(state) is not bytes:  # PostgreSQL's bytea may come as a memoryview
                    state = bytes(state)
                stream_id = _uuid(stream)
                check_content(position, stream_text(stream_id), version, topic, state)
                yield publish(position, stream_id, version, topic, state)


@lru_cache(maxsize=65_536)
def _stream_uuid(text: str) -> UUID:
    return UUID(text)


def _uuid(value: Any) -> UUID:
    """Stream ids come back as UUIDs (PostgreSQL) or their text (SQLite): one per stream."""
    return value if type(value) is UUID else _stream_uuid(str(value))
