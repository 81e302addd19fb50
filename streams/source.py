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

``PollingSource`` reads the log as the storage adapter's lean rows (``EventLog.read_rows``):
``LogRow`` has the attributes of a ``Notification`` that the relay reads, with
``originator_id`` already ``str(UUID)``.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence
from typing import Protocol

import structlog
from eventsourcing.persistence import ApplicationRecorder, Notification

from capledger.application.storage import LogRow as LogRow  # what PollingSource reads
from capledger.application.storage import event_log

from .wire import LogEntry

log = structlog.get_logger(__name__)


class NotificationSource(Protocol):
    def next_batch(self, limit: int, wait_s: float) -> Sequence[LogEntry]:
        """Up to ``limit`` notifications after the last one returned; waits ≤ ``wait_s``."""
        ...

    def close(self) -> None: ...


class PollingSource:
    def __init__(self, recorder: ApplicationRecorder, after: int, poll_interval_s: float) -> None:
        self._read: Callable[[int, int], Sequence[LogEntry]] = event_log(recorder).read_rows
        self._after = after
        self._poll_interval_s = poll_interval_s

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
    """A subscription where the store pushes notifications (when enabled), polling otherwise."""
    if subscribe and event_log(recorder).pushes_notifications:
        log.debug("relay_source", kind="subscription", after=after)
        return SubscriptionSource(recorder, after)
    log.debug("relay_source", kind="polling", after=after, poll_interval_s=poll_interval_s)
    return PollingSource(recorder, after, poll_interval_s)
