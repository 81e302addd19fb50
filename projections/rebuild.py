"""Rebuild: replay the whole notification log into a fresh namespace, then switch to it.

The live namespace keeps serving (and its runner keeps following the log) while the fresh one
fills. When the fresh one has caught up, one transaction applies the last few notifications to
it and moves the pointer, so readers see either the old read model or the new one, never a mix;
the old namespace is dropped afterwards.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import structlog

from . import collector, prefetch
from .log import NotificationLog
from .runner import EmbeddedRunner, Progress
from .store import ReadModelStore

log = structlog.get_logger(__name__)

#: A log at least this long is read and decoded in a second process by default (``parallel``):
#: below it, starting the child and the hand-over cost about what they save.
PARALLEL_MIN_NOTIFICATIONS = 20_000


@dataclass(frozen=True)
class RebuildReport:
    namespace: str
    previous: str | None
    position: int
    notifications: int
    seconds: float

    @property
    def notifications_per_second(self) -> float:
        return self.notifications / self.seconds if self.seconds > 0 else 0.0


def rebuild(
    store: ReadModelStore,
    notification_log: NotificationLog,
    *,
    batch_size: int = 50_000,
    page_size: int = 10_000,
    progress: Progress | None = None,
    drop_previous: bool = True,
    parallel: bool | None = None,
) -> RebuildReport:
    """Replay the log into a fresh namespace and switch to it; what it took.

    Batches are large: a row changed many times within one (a project's line, paid every
    month) is written once per batch, and intermediate commits buy nothing here, since a failed
    rebuild is dropped whole. Memory stays bounded by one batch of pending rows, one page of
    decoded events and the runner's row cache.

    ``parallel``: read and decode the log in a child process while this one folds and writes
    (``prefetch``). None (the default) does when it is safe and pays: a file-based SQLite
    recorder, two CPUs or more, no other thread in this process (the child is forked), a log
    of at least ``PARALLEL_MIN_NOTIFICATIONS`` and a core that looks idle
    (``prefetch.idle_core``: on a busy machine the child only takes turns with this process).
    True insists (spawning the child if threads run; ValueError for a log no child can read),
    False reads in this process.
    """
    store.initialise()
    started = time.perf_counter()
    # Secondary indexes are built once the tables are full: much faster than row by row.
    fresh = store.create_namespace(indexes=False)
    reader: prefetch.ProcessLogReader | None = None
    try:
        if _parallel(notification_log, parallel):
            reader = prefetch.ProcessLogReader(notification_log, start=0)
        runner = EmbeddedRunner(
            store,
            notification_log,
            namespace=fresh,
            batch_size=batch_size,
            page_size=page_size,
            reader=reader,
        )
        # Collections between batches walk only what the rebuild made (see ``collector``).
        with collector.frozen():
            runner.catch_up(progress)
        store.create_indexes(fresh)
        previous = runner.switch_live()
    except BaseException:
        log.warning("read_model_rebuild_abandoned", namespace=fresh)
        if reader is not None:
            reader.close()  # before the namespace is dropped: no child outlives a failure
        store.drop_namespace(fresh)
        raise
    finally:
        if reader is not None:
            reader.close()
    seconds = time.perf_counter() - started
    if drop_previous and previous is not None and previous != fresh:
        store.drop_namespace(previous)
    report = RebuildReport(fresh, previous, runner.position, runner.notifications_applied, seconds)
    log.info(
        "read_model_rebuilt",
        namespace=fresh,
        previous=previous,
        position=report.position,
        notifications=report.notifications,
        seconds=round(seconds, 3),
        parallel=reader is not None,
    )
    return report


def _parallel(notification_log: NotificationLog, parallel: bool | None) -> bool:
    if parallel is False:
        return False
    if parallel:
        return True  # ``ProcessLogReader`` refuses a log it cannot read
    if not (prefetch.usable(notification_log) and prefetch.forks_safely()):
        return False
    if (notification_log.max_notification_id() or 0) < PARALLEL_MIN_NOTIFICATIONS:
        return False
    return prefetch.idle_core()
