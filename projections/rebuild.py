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

from . import prefetch
from . import shards as sharding
from .log import NotificationLog
from .runner import EmbeddedRunner, Progress
from .store import ReadModelStore

log = structlog.get_logger(__name__)

#: A log at least this long is read and decoded in a second process by default (``parallel``):
#: below it, starting the child and the hand-over cost about what they save.
PARALLEL_MIN_NOTIFICATIONS = 20_000
#: At most this many worker processes fold a sharded rebuild (``shards``).
MAX_SHARDS = 4


@dataclass(frozen=True)
class RebuildReport:
    namespace: str
    previous: str | None
    position: int
    notifications: int
    seconds: float
    #: Worker processes that folded the log (0: none), or whether a child read it ahead.
    shards: int = 0
    prefetched: bool = False

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
    shards: int | None = None,
) -> RebuildReport:
    """Replay the log into a fresh namespace and switch to it; what it took.

    Batches are large: a row changed many times within one (a project's line, paid every
    month) is written once per batch, and intermediate commits buy nothing here, since a failed
    rebuild is dropped whole. Memory stays bounded by one batch of pending rows, one page of
    stored events (each published as it is folded) and the runner's row cache; all three are
    kept as plain tuples, which the garbage collector stops walking (``context.Overlay``,
    ``log.StoredPage``).

    ``parallel``: use more than one process. On an SQLite read model, worker processes fold
    disjoint sets of streams side by side, each into a file of its own, and this one merges
    their tables (``projections.shards``: one worker per CPU, at most ``MAX_SHARDS``, or
    ``shards`` of them). On another read model a child process reads and decodes the log
    while this one folds and writes (``prefetch``). None (the default) does either when it is
    safe and pays: a file-based SQLite recorder, two CPUs or more, no other thread in this
    process (children are forked), a log of at least ``PARALLEL_MIN_NOTIFICATIONS`` and a core
    that looks idle (``prefetch.idle_core``: on a busy machine children only take turns with
    this process). True insists (spawning children if threads run; ValueError for a log no
    child can read), False does everything in this process. ``shards=1`` folds in this
    process (with the prefetching reader when parallel).
    """
    store.initialise()
    started = time.perf_counter()
    # Secondary indexes are built once the tables are full: much faster than row by row.
    fresh = store.create_namespace(indexes=False)
    reader: prefetch.ProcessLogReader | None = None
    workers = _shards(store, notification_log, parallel, shards)
    sharded = 0
    try:
        if workers > 1:
            sharded = notification_log.max_notification_id() or 0
            sharding.fold_in_shards(
                store, notification_log, fresh, until=sharded, shards=workers,
                batch_size=batch_size, page_size=page_size, progress=progress,
                start_method="fork" if prefetch.forks_safely() else "spawn",
            )  # fmt: skip
        elif _parallel(notification_log, parallel):
            reader = prefetch.ProcessLogReader(notification_log, start=0)
        runner = EmbeddedRunner(
            store,
            notification_log,
            namespace=fresh,
            batch_size=batch_size,
            page_size=page_size,
            reader=reader,
        )
        runner.catch_up(_after(progress, sharded))
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
    applied = sharded + runner.notifications_applied
    report = RebuildReport(
        fresh, previous, runner.position, applied, seconds,
        shards=workers if workers > 1 else 0, prefetched=reader is not None,
    )  # fmt: skip
    log.info(
        "read_model_rebuilt",
        namespace=fresh,
        previous=previous,
        position=report.position,
        notifications=report.notifications,
        seconds=round(seconds, 3),
        prefetched=report.prefetched,
        shards=report.shards,
    )
    return report


def _shards(
    store: ReadModelStore,
    notification_log: NotificationLog,
    parallel: bool | None,
    shards: int | None,
) -> int:
    """How many worker processes fold the log (``projections.shards``); 0 for none.
    ``parallel=None`` shards a large log when it is safe and pays, as ``_parallel`` decides for
    the prefetching reader; True insists. ``shards`` overrides the number (1: none)."""
    if parallel is False or (shards is not None and shards <= 1):
        return 0
    if not sharding.usable(store, notification_log):
        return 0
    if parallel is None and not _children_pay(notification_log):
        return 0
    return shards or min(prefetch.cpus(), MAX_SHARDS)


def _after(progress: Progress | None, done: int) -> Progress | None:
    """Progress of the runner's catch-up after ``done`` positions folded in shards."""
    if progress is None or not done:
        return progress
    return lambda applied, total: progress(done + applied, done + total)


def _parallel(notification_log: NotificationLog, parallel: bool | None) -> bool:
    if parallel is False:
        return False
    if parallel:
        return True  # ``ProcessLogReader`` refuses a log it cannot read
    return prefetch.usable(notification_log) and _children_pay(notification_log)


def _children_pay(notification_log: NotificationLog) -> bool:
    """Whether child processes are safe and pay, by default: forked (no other thread runs
    here), on a log of at least ``PARALLEL_MIN_NOTIFICATIONS``, with a core that looks idle."""
    return (
        prefetch.forks_safely()
        and (notification_log.max_notification_id() or 0) >= PARALLEL_MIN_NOTIFICATIONS
        and prefetch.idle_core()
    )
