"""Folding a batch of events into one write transaction: what every runner does the same way.

The embedded runner calls it with events decoded from the notification log; the Kafka runner
calls it with events decoded from a batch of records, then moves its offsets in the same
transaction (``writer.set_position(offset, log, partition)``) before committing.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from functools import lru_cache
from uuid import UUID

from eventsourcing.persistence import Notification

from capledger.application.published import PublishedEvent, event_name, publish

from .context import Overlay, RowSource
from .reducers import REDUCERS, VERSIONS, folds, reduce
from .store import Writer
from .verification import check_content, checked_link


@lru_cache(maxsize=1024)
def folded_name(topic: str) -> str | None:
    """The event name of a topic whose events the reducers fold; None for the others (command
    receipts, half the log), which runners skip without decoding them."""
    name = event_name(topic)
    return name if folds(name) else None


def published(notifications: Sequence[Notification]) -> Iterator[PublishedEvent]:
    """The published form of each notification the reducers fold, in order."""
    for note in notifications:
        if folded_name(note.topic) is None:
            continue
        stream = note.originator_id
        stream_id = stream if type(stream) is UUID else UUID(str(stream))
        check_content(note.id, str(stream_id), note.originator_version, note.topic, note.state)
        yield publish(note.id, stream_id, note.originator_version, note.topic, note.state)


def fold_batch(writer: Writer, overlay: Overlay, events: Iterable[PublishedEvent]) -> int:
    """Reduce ``events`` in order over ``overlay`` (loading misses in ``writer``'s transaction)
    and upsert the rows they changed; the number of rows written.

    On an exception nothing has been written, but the overlay holds rows of the failed batch:
    drop it (make a new one) before the next batch.
    """
    fold(overlay, writer, events)
    return flush(writer, overlay)


def fold(overlay: Overlay, source: RowSource, events: Iterable[PublishedEvent]) -> None:
    """Reduce ``events`` in order into ``overlay``'s pending rows (loading misses from
    ``source``), writing nothing: a runner may fold several pages before one ``flush``.

    Each event's hash link is checked first (``verification.checked_link``): an event that does
    not continue its stream's chain raises ``UnverifiedEvent`` and the batch folds nothing; an
    event of a version its stream has folded already is skipped."""
    overlay.bind(source)
    try:
        put = overlay.put
        reducer_of, newest = REDUCERS.get, VERSIONS.get
        for event in events:
            head = checked_link(event, overlay)
            if head is None:
                continue  # folded already
            put((head,))
            name = event.name
            reducer = reducer_of(name)
            if reducer is not None and event.class_version <= newest(name, 1):
                put(reducer(event, overlay))  # ``reduce`` without its checks, the usual case
            elif folds(name):
                put(reduce(event, overlay))  # an event no reducer knows stops the runner
    finally:
        overlay.bind(None)


def flush(writer: Writer, overlay: Overlay) -> int:
    """Upsert the overlay's pending rows (each key once, its last value); the rows written."""
    return writer.put_tables(overlay.take_pending_tables())
