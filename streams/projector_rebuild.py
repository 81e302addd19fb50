"""Rebuild through Kafka: replay the events topic from offset 0 into a fresh namespace, switch.

1. ``create_namespace(indexes=False)``: an empty copy of the tables, not live; the live one
   keeps serving and its projector workers keep following the topic;
2. projector workers (the same Faust app, on the fresh namespace, with a consumer group of
   their own) replay every partition from offset 0 to the end offsets taken when the rebuild
   began, reporting ``progress(done, total)`` in offsets (with an ETA through
   ``ProgressReporter``), read from the offsets stored in the fresh namespace;
3. when every partition is within ``tail_threshold`` offsets of that target (or progress has
   stalled for ``stall_s``: aborted records at a partition's end are offsets no consumer ever
   receives), the workers stop, the secondary indexes are built on the full tables, and
   one transaction holding the pointer exclusively
   (live writers wait) reads what is left — up to the end offsets read *after* taking the
   lock — applies it and moves the pointer. Readers see the old read model or the new one,
   never a mix;
4. the previous namespace is dropped (unless asked to keep it).

After the switch every partition's stored offset in the new namespace is at or past the live
workers' (the tail reaches the topic's end under the lock, and live workers only ever applied
committed records before it), so they carry on in the new namespace without a gap: their next
batch's records below the new offsets are dropped as duplicates.

The workers are processes (``multiprocessing``, forked from a fork server that imported the
projector once, or spawned: nothing of this process is inherited; ``worker_context``),
one per CPU and at most one per partition on a PostgreSQL read model
(``ProjectorSettings.rebuild_workers``), one on SQLite (a single writer). They form one consumer
group, so Kafka gives each a share of the partitions, exactly as several ``capledger projector
run`` workers share them in service: each runs the one projector path, and a key's rows are
written by the worker holding its partition. The per-record cost of Faust's delivery, which
bounds one worker, is then paid on every CPU at once. A worker that fails fails the rebuild
(its error is raised here, the others are stopped, the fresh namespace is dropped).

A read model written by the embedded runner (the notification log's tracking row) is refused:
after a switch the embedded runner would re-apply the whole log on top of the Kafka rows.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import sys
import time
import uuid
from dataclasses import asdict, dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from multiprocessing.synchronize import Event as Synchronized_Event
from typing import Any

import structlog
from kafka import KafkaConsumer, TopicPartition

from capledger.projections import NOTIFICATION_LOG, ReadModelStore, Writer
from capledger.projections.dialects import Dialect
from capledger.projections.runner import Progress

from .lag import end_offsets, lag_consumer
from .projector import Projector, quiet_libraries
from .projector_apply import Applied, OffsetApplier, Record, SharedReadModel
from .settings import KafkaSettings, ProjectorSettings

log = structlog.get_logger(__name__)

#: Offsets per partition left to the switch transaction (read under the pointer lock).
DEFAULT_TAIL_THRESHOLD = 500
#: Seconds without progress after which the replay is taken as caught up.
DEFAULT_STALL_S = 5.0
POLL_S = 0.2
#: Seconds between a replay worker's heartbeats (see ``ReplayWorkers``).
REBUILD_HEARTBEAT_S = 0.5


class RebuildFailed(RuntimeError):
    """The replay stopped before catching up (its worker failed)."""


@dataclass(frozen=True)
class KafkaRebuildReport:
    namespace: str
    previous: str | None
    #: Records applied (events the reducers fold, and command receipts).
    records: int
    events: int
    #: Records the switch transaction applied itself, under the pointer lock.
    tail_records: int
    offsets: dict[int, int]
    seconds: float
    #: Seconds from the first batch the replay received to the switch (no start-up).
    processing_seconds: float

    @property
    def records_per_second(self) -> float:
        return self.records / self.seconds if self.seconds > 0 else 0.0

    @property
    def processing_records_per_second(self) -> float:
        seconds = self.processing_seconds
        return self.records / seconds if seconds > 0 else 0.0

    def as_dict(self) -> dict[str, object]:
        document = asdict(self)
        document["offsets"] = {str(p): o for p, o in self.offsets.items()}
        document["records_per_second"] = round(self.records_per_second, 1)
        return document


def rebuild_from_kafka(
    kafka: KafkaSettings,
    store: ReadModelStore,
    settings: ProjectorSettings | None = None,
    *,
    progress: Progress | None = None,
    drop_previous: bool = True,
    tail_threshold: int = DEFAULT_TAIL_THRESHOLD,
    stall_s: float = DEFAULT_STALL_S,
) -> KafkaRebuildReport:
    """Replay the events topic into a fresh namespace of ``store`` and make it live."""
    settings = settings or ProjectorSettings()
    store.initialise()
    live_log = store.position(NOTIFICATION_LOG)
    if live_log:
        raise SharedReadModel(
            f"the live read model follows the notification log (at {live_log}): rebuild it "
            "with the embedded runner, or give the Kafka projector a read model of its own"
        )
    started = time.perf_counter()
    # Secondary indexes are built once the tables are full: much faster than row by row.
    fresh = store.create_namespace(indexes=False)
    group = f"{settings.group}-rebuild-{fresh}-{uuid.uuid4().hex[:8]}"
    consumer = lag_consumer(kafka)
    applier = OffsetApplier(store, kafka.events_topic, namespace=fresh,
                            max_cached_rows=settings.max_cached_rows)  # fmt: skip
    workers: ReplayWorkers | None = None
    try:
        targets = end_offsets(consumer, kafka.events_topic)
        count = worker_count(store, settings, len(targets))
        log.info("projector_rebuild_started", namespace=fresh, group=group, workers=count,
                 targets={str(p): o for p, o in targets.items()})  # fmt: skip
        each = settings.model_copy(
            update={
                # The batch caches share the memory one worker's would take.
                "max_cached_rows": max(1, settings.max_cached_rows // count),
                # The workers join the group one after another; each learns of the next one
                # at its next heartbeat, and until then holds that worker's partitions.
                "heartbeat_interval_s": min(settings.heartbeat_interval_s, REBUILD_HEARTBEAT_S),
            }
        )
        workers = ReplayWorkers(kafka, store, each, fresh, group, count)
        _replay(workers, store, kafka.events_topic, fresh, targets, progress,
                tail_threshold, stall_s)  # fmt: skip
        workers.verify()
        store.create_indexes(fresh)
        with store.writer(fresh, lock_pointer=True) as writer:
            tail = _apply_tail(consumer, kafka, applier, writer, settings.batch_size)
            previous = writer.switch_pointer()
        applier.committed_externally(tail)
        offsets = _stored(store, kafka.events_topic, fresh, targets)
    except BaseException:
        if workers is not None:
            workers.stop()
        log.warning("projector_rebuild_abandoned", namespace=fresh)
        store.drop_namespace(fresh)
        raise
    finally:
        consumer.close()
    finished, finished_wall = time.perf_counter(), time.time()
    if drop_previous and previous is not None and previous != fresh:
        store.drop_namespace(previous)
    done = workers.results
    first = min((r.first_batch_at for r in done if r.first_batch_at is not None), default=None)
    report = KafkaRebuildReport(
        namespace=fresh,
        previous=previous,
        records=sum(r.records for r in done) + tail.records,
        events=sum(r.events for r in done) + tail.events,
        tail_records=tail.records,
        offsets=offsets,
        seconds=finished - started,
        processing_seconds=finished_wall - first if first is not None else finished - started,
    )
    if progress is not None:
        total = sum(targets.values())
        progress(total, total)
    log.info("projector_rebuilt", namespace=fresh, previous=previous, records=report.records,
             events=report.events, tail_records=report.tail_records, workers=len(done),
             seconds=round(report.seconds, 3))  # fmt: skip
    return report


def worker_count(store: ReadModelStore, settings: ProjectorSettings, partitions: int) -> int:
    """Replay workers: as set, else one per CPU on PostgreSQL (one on SQLite, a single writer);
    never more than partitions (Kafka would leave the others idle)."""
    wanted = settings.rebuild_workers
    if not wanted:
        wanted = 1 if store.dialect.name == "sqlite" else os.cpu_count() or 1
    return max(1, min(wanted, partitions))


def _stored(
    store: ReadModelStore, topic: str, namespace: str, targets: dict[int, int]
) -> dict[int, int]:
    """The offsets stored in ``namespace``, per partition of ``targets``."""
    return store.read(
        lambda reader: {p: reader.position(topic, p) for p in targets}, namespace=namespace
    )


def _replay(
    workers: ReplayWorkers,
    store: ReadModelStore,
    topic: str,
    namespace: str,
    targets: dict[int, int],
    progress: Progress | None,
    tail_threshold: int,
    stall_s: float,
) -> None:
    """Run the workers until the stored offsets are within ``tail_threshold`` of ``targets``."""
    total = sum(targets.values())
    last_done, last_change = -1, time.monotonic()
    try:
        while True:
            workers.check()
            stored = _stored(store, topic, namespace, targets)
            remaining = {p: max(0, end - stored.get(p, 0)) for p, end in targets.items()}
            done = total - sum(remaining.values())
            if progress is not None:
                progress(done, total)
            if all(left <= tail_threshold for left in remaining.values()):
                return
            now = time.monotonic()
            if done != last_done or not workers.assigned():
                last_done, last_change = done, now
            elif now - last_change > stall_s:
                log.info("projector_rebuild_stalled", remaining=remaining)
                return
            time.sleep(POLL_S)
    finally:
        workers.stop()


# -- the replay's worker processes ------------------------------------------------------------


@dataclass(frozen=True)
class WorkerResult:
    """What one replay worker did, sent to the rebuild when it stops."""

    records: int = 0
    events: int = 0
    #: ``time.time()`` when its first batch arrived (wall clock: comparable across processes).
    first_batch_at: float | None = None
    #: Why it stopped early, if it did (``Kind: message``).
    error: str | None = None


class ReplayWorkers:
    """``count`` projector processes of one consumer group on ``namespace`` (module docstring)."""

    def __init__(
        self,
        kafka: KafkaSettings,
        store: ReadModelStore,
        settings: ProjectorSettings,
        namespace: str,
        group: str,
        count: int,
    ) -> None:
        context = worker_context()
        self._stop = context.Event()
        self._assigned = context.Value("i", 0)
        self.results: list[WorkerResult] = []
        self._workers: list[tuple[BaseProcess, Connection]] = []
        self.count = count
        level = max(logging.WARNING, logging.getLogger().getEffectiveLevel())
        for index in range(count):
            receive, send = context.Pipe(duplex=False)
            process = context.Process(
                target=replay_worker,
                args=(
                    kafka,
                    store.dialect,
                    settings,
                    namespace,
                    group,
                    level,
                    self._stop,
                    self._assigned,
                    send,
                ),
                name=f"projector-rebuild-{index}",
                daemon=True,
            )
            process.start()
            send.close()
            self._workers.append((process, receive))

    def assigned(self) -> bool:
        """Whether some worker has been assigned partitions (the replay has begun)."""
        return bool(self._assigned.value)

    def check(self) -> None:
        """Raise ``RebuildFailed`` if a worker has stopped (none stops before it is told to)."""
        for process, receive in self._workers:
            if receive.poll():
                result: WorkerResult = receive.recv()
                raise RebuildFailed(f"the replay stopped: {result.error}")
            if not process.is_alive():
                raise RebuildFailed(
                    f"the replay's worker {process.name} stopped before catching up "
                    f"(exit status {process.exitcode})"
                )

    def stop(self, timeout_s: float = 60.0) -> None:
        """Stop the workers and collect their results (``results``); once."""
        if not self._workers:
            return
        self._stop.set()
        deadline = time.monotonic() + timeout_s
        for process, receive in self._workers:
            with contextlib.suppress(EOFError, OSError):
                if receive.poll(max(0.0, deadline - time.monotonic())):
                    self.results.append(receive.recv())
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.terminate()
                process.join()
            receive.close()
        self._workers = []

    def verify(self) -> None:
        """Raise ``RebuildFailed`` unless every worker, stopped, reported success."""
        failed = [r.error for r in self.results if r.error is not None]
        if failed:
            raise RebuildFailed(f"the replay stopped: {failed[0]}")
        if len(self.results) < self.count:
            raise RebuildFailed("a replay worker stopped without reporting what it applied")


def worker_context() -> Any:
    """Where replay workers come from: a fork server that has imported the projector once,
    where the platform has one, else fresh interpreters (spawn).

    Either way nothing of the rebuilding process (its threads, its database and broker
    connections) is inherited. A fork server imports the modules once and forks every worker
    from that clean process, so the workers start together, in milliseconds, instead of each
    importing everything again (a second or more of CPU each, while the first already reads).
    """
    if "forkserver" not in multiprocessing.get_all_start_methods():  # pragma: no cover
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["__main__", __name__])
    return context


def replay_worker(
    kafka: KafkaSettings,
    dialect: Dialect,
    settings: ProjectorSettings,
    namespace: str,
    group: str,
    log_level: int,
    stop: Synchronized_Event,
    assigned: Any,
    results: Connection,
) -> None:
    """One replay worker process: a projector on ``namespace`` until ``stop`` is set or it
    fails; then its ``WorkerResult`` goes to ``results``."""
    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(log_level),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
    )
    logging.basicConfig(level=log_level, stream=sys.stderr)
    quiet_libraries()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the rebuild stops its workers itself
    store = ReadModelStore(dialect)
    projector = Projector(kafka, store, settings, namespace=namespace, group=group)
    error: str | None = None
    try:
        projector.start()
        while not stop.wait(POLL_S):
            if projector.assigned:
                assigned.value = 1
            if projector.fatal is not None or not projector.running:
                break
        projector.stop()
        if projector.fatal is not None:
            error = f"{type(projector.fatal).__name__}: {projector.fatal}"
        elif not stop.is_set():
            error = "its projector stopped before catching up"
    except Exception as failure:  # reported to the rebuild, which raises it
        error = f"{type(failure).__name__}: {failure}"
    finally:
        projector.stop()
        store.close()
    stats = projector.stats
    first = stats.first_batch_at
    results.send(
        WorkerResult(
            records=projector.applier.records_applied,
            events=projector.applier.events_applied,
            first_batch_at=None if first is None else time.time() - (time.perf_counter() - first),
            error=error,
        )
    )
    results.close()


def _apply_tail(
    consumer: KafkaConsumer,
    kafka: KafkaSettings,
    applier: OffsetApplier,
    writer: Writer,
    batch_size: int,
) -> Applied:
    """In the switch transaction: every committed record from the stored offsets to the end
    offsets as they are now (read after the pointer lock was taken)."""
    topic = kafka.events_topic
    ends = end_offsets(consumer, topic)
    stored = {p: writer.claim_position(topic, p) for p in sorted(ends)}
    tps = {p: TopicPartition(topic, p) for p in ends}
    consumer.assign(list(tps.values()))
    for partition, tp in tps.items():
        consumer.seek(tp, stored[partition])
    total = Applied(namespace=writer.namespace)
    pending: list[Record] = []

    def flush() -> None:
        applied = applier.apply_in(writer, pending)
        total.records += applied.records
        total.events += applied.events
        total.duplicates += applied.duplicates
        total.rows += applied.rows
        total.offsets.update(applied.offsets)
        pending.clear()

    while any(consumer.position(tp) < ends[p] for p, tp in tps.items()):
        for tp, records in consumer.poll(timeout_ms=500, max_records=batch_size).items():
            pending.extend(
                Record(tp.partition, r.offset, r.headers or (), r.value)
                for r in records
                if r.offset < ends[tp.partition]
            )
        if len(pending) >= batch_size:
            flush()
    if pending:
        flush()
    log.info("projector_rebuild_tail", records=total.records,
             ends={str(p): e for p, e in ends.items()})  # fmt: skip
    return total
