"""Rebuilding from a large SQLite log in several processes, each folding a share of the streams.

A reducer reads only rows of its event's own stream (``reducers``), so streams folded apart give
the rows they would give folded together: that is what lets the Kafka runner spread partitions
over workers. A rebuild on an SQLite read model uses it on one machine:

1. The log's head is fixed (``until``); the streams are split by the first hex digit of their
   id into ``shards`` ranges (stream ids are UUIDs: uniform).
2. One worker process per range reads the log's notifications up to ``until`` with the runner's
   own page query, narrowed to its range in SQL (the storage adapter's ``LogFileReader.page``:
   the other streams' rows never reach Python),
   and folds them with an ordinary ``EmbeddedRunner`` into a fresh read-model file of its own.
3. This process copies every shard's tables into the rebuild's namespace in one transaction
   (``ReadModelStore.merge_sqlite_shards``, in SQLite's C: a primary key found in two shards
   would fail it) with the position ``until``; the rebuild then follows the log from there as
   usual, indexes the namespace and switches to it.

Each worker writes only its own file, so SQLite's single writer is no bottleneck; reading,
decoding, folding and writing all run in parallel. A worker that fails fails the rebuild (its
exception is raised here) and the others are stopped; the shard files are removed either way.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any, NamedTuple

import structlog

from capledger.application.storage import EventLog, LogFile, PageRow, StreamRange

from .dialects import SqliteDialect
from .log import FoldedLogReader, NotificationLog, folded_aggregates
from .runner import MAX_CACHED_ROWS, EmbeddedRunner, Progress
from .store import ReadModelStore

log = structlog.get_logger(__name__)

#: Seconds between checks that the workers live, while waiting for their results.
POLL_S = 0.5
HEX_DIGITS = 16
_PROGRESS, _DONE, _ERROR = 0, 1, 2


def usable(store: ReadModelStore, notification_log: NotificationLog) -> bool:
    """Whether ``fold_in_shards`` applies: an SQLite read model and a file-based SQLite log."""
    from . import prefetch

    return isinstance(store.dialect, SqliteDialect) and prefetch.usable(notification_log)


def stream_ranges(shards: int) -> list[tuple[str, str | None]]:
    """``shards`` ranges of stream ids (lowest id, first id above; None: no bound) covering all
    ids, split by their first hex digit."""
    if not 1 <= shards <= HEX_DIGITS:
        raise ValueError(f"between 1 and {HEX_DIGITS} shards")
    bounds = [f"{HEX_DIGITS * index // shards:x}" for index in range(shards)]
    return [(low, bounds[i + 1] if i + 1 < shards else None) for i, low in enumerate(bounds)]


class StreamRangeLogReader(FoldedLogReader):
    """The runner's page query on a log file, for the streams of one id range and the positions
    up to ``until``, on a connection of its own (a worker's)."""

    def __init__(self, log_file: LogFile, stream_range: StreamRange, until: int) -> None:
        self._reader = log_file.open()
        self._range = stream_range
        self._until = until
        self._aggregates = folded_aggregates()

    def _select(self, after: int, stop: int) -> tuple[int, list[PageRow]]:
        _, rows = self._reader.page(after, min(stop, self._until), self._aggregates, self._range)
        return self._until, rows

    def close(self) -> None:
        self._reader.close()


class _Until:
    """The log as a worker's runner sees it: it ends at ``until``."""

    def __init__(self, until: int) -> None:
        self.until = until

    def max_notification_id(self) -> int:
        return self.until

    def select_notifications(self, start: int | None, limit: int) -> Sequence[Any]:
        raise NotImplementedError("a shard worker reads with its StreamRangeLogReader")


def fold_in_shards(
    store: ReadModelStore,
    notification_log: Any,
    namespace: str,
    *,
    until: int,
    shards: int,
    batch_size: int,
    page_size: int,
    progress: Progress | None = None,
    start_method: str = "fork",
) -> int:
    """Fold positions ``(0, until]`` of the log into the empty ``namespace`` in ``shards``
    worker processes; the rows merged."""
    log_file = notification_log.log_file() if isinstance(notification_log, EventLog) else None
    if log_file is None:
        raise ValueError("only a log another process can read is folded in shards")
    dialect = store.dialect
    assert isinstance(dialect, SqliteDialect)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=".rebuild-shards-", dir=dialect.path.parent) as work:
        jobs = [
            # The workers share one process's row cache: memory stays as bounded as in one.
            _Job(index, log_file, stream_range, until,
                 Path(work) / f"shard-{index}.sqlite3", batch_size, page_size,
                 MAX_CACHED_ROWS // shards)
            for index, stream_range in enumerate(stream_ranges(shards))
        ]  # fmt: skip
        results = _run_workers(jobs, start_method, progress, until)
        folded = time.perf_counter() - started
        merged = [(job.path, into) for job, into in zip(jobs, results, strict=True)]
        rows = store.merge_sqlite_shards(namespace, merged, until)
    log.info(
        "read_model_shards_folded",
        namespace=namespace,
        shards=shards,
        position=until,
        rows=rows,
        fold_seconds=round(folded, 3),
        merge_seconds=round(time.perf_counter() - started - folded, 3),
    )
    return rows


class _Job(NamedTuple):
    number: int
    log_file: LogFile
    stream_range: tuple[str, str | None]
    until: int
    path: Path
    batch_size: int
    page_size: int
    max_cached_rows: int


def _run_workers(
    jobs: list[_Job], start_method: str, progress: Progress | None, until: int
) -> list[str]:
    """Each job in a worker process; the namespaces they folded into, in job order. Progress
    is the workers' mean position."""
    context: Any = multiprocessing.get_context(start_method)
    workers: list[tuple[Any, Any]] = []
    try:
        for job in jobs:
            receiving, sending = context.Pipe(duplex=False)
            process = context.Process(
                target=_worker,
                args=(job, sending, start_method == "spawn"),
                name="capledger-rebuild-shard",
                daemon=True,
            )
            process.start()
            sending.close()  # the worker's end: a worker's death then ends the pipe
            workers.append((process, receiving))
        return _results(workers, progress, until)
    finally:
        for process, receiving in workers:
            receiving.close()
            if process.is_alive():
                process.terminate()
            process.join()
            process.close()


def _results(workers: list[tuple[Any, Any]], progress: Progress | None, until: int) -> list[str]:
    positions = [0] * len(workers)
    namespaces: list[str | None] = [None] * len(workers)
    pending: dict[Any, int] = {receiving: index for index, (_, receiving) in enumerate(workers)}
    while pending:
        ready = wait(list(pending), timeout=POLL_S)
        for index in pending.values():
            process = workers[index][0]
            if not ready and not process.is_alive():
                raise RuntimeError(f"a rebuild shard worker died (exit code {process.exitcode})")
        for receiving in ready:
            index = pending[receiving]
            assert isinstance(receiving, Connection)
            try:
                kind, value = receiving.recv()
            except EOFError:
                raise RuntimeError("a rebuild shard worker ended without a result") from None
            if kind == _ERROR:
                raise value if isinstance(value, BaseException) else RuntimeError(str(value))
            if kind == _DONE:
                namespaces[index] = str(value)
                del pending[receiving]
            else:
                positions[index] = int(value)
                if progress is not None:
                    progress(sum(positions) // len(positions), until)
    return [namespace for namespace in namespaces if namespace is not None]


def _worker(job: _Job, sending: Any, spawned: bool) -> None:
    """In the worker: fold the job's streams into a fresh file; send progress, then its
    namespace or its error."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # an interrupt is the parent's to handle
    if spawned:
        # A fresh interpreter has structlog's defaults, which print everything to stdout:
        # a command's output. A forked worker keeps its parent's configuration.
        structlog.configure(
            wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
            logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        )
    # The worker's own file logs its namespaces and catch-up too: told apart by this.
    structlog.contextvars.bind_contextvars(rebuild_shard=job.number)
    try:
        sending.send((_DONE, _fold(job, lambda done, _total: sending.send((_PROGRESS, done)))))
    except BaseException as error:
        try:
            sending.send((_ERROR, error))
        except Exception:  # an exception that does not pickle: its text
            sending.send((_ERROR, RuntimeError(f"{type(error).__name__}: {error}")))
    finally:
        sending.close()


def _fold(job: _Job, progress: Progress) -> str:
    store = ReadModelStore.sqlite(job.path)
    reader = StreamRangeLogReader(job.log_file, job.stream_range, job.until)
    try:
        store.initialise()
        namespace = store.create_namespace(indexes=False)
        runner = EmbeddedRunner(
            store,
            _Until(job.until),
            namespace=namespace,
            batch_size=job.batch_size,
            page_size=job.page_size,
            max_cached_rows=job.max_cached_rows,
            reader=reader,
        )
        runner.catch_up(progress, until=job.until)
        return namespace
    finally:
        reader.close()
        store.close()
