"""Rebuild through Kafka: replay the events topic from offset 0 into a fresh namespace, switch.

1. ``create_namespace(indexes=False)``: an empty copy of the tables, not live; the live one
   keeps serving and its projector workers keep following the topic;
2. replay worker processes, each with a fixed share of the partitions, read them from the
   offsets stored in the fresh namespace (0) to the end offsets taken when the rebuild began,
   reporting ``progress(done, total)`` in offsets (with an ETA through ``ProgressReporter``);
3. when every worker has read its share to those end offsets, or every partition is within
   ``tail_threshold`` offsets of them, or no stored offset has moved for ``stall_s``, the
   workers stop, the secondary indexes are built on the full tables, and one transaction
   holding the pointer exclusively (live writers wait) reads what is left — up to the end
   offsets read *after* taking the lock — applies it and moves the pointer. Readers see the
   old read model or the new one, never a mix;
4. the previous namespace is dropped (unless asked to keep it).

After the switch every partition's stored offset in the new namespace is at or past the live
workers' (the tail reaches the topic's end under the lock, and live workers only ever applied
committed records before it), so they carry on in the new namespace without a gap: their next
batch's records below the new offsets are dropped as duplicates.

**One reading path.** The workers' replay and the switch's tail read through one function,
:func:`read_partitions`: a kafka-python consumer without a group (``read_committed``) is
assigned the partitions, seeks each to its stored offset and polls batches until every
position has reached its end offset; each batch goes to
:class:`~capledger.streams.projector_apply.OffsetApplier`, the same applier (decode, the
embedded runner's reducers, rows and offsets in one transaction) as the live projector's. A
replay worker decodes a batch while the previous batch's transaction runs in a thread of its
own (one transaction at a time, in order: :class:`Pipeline`); the tail applies its batches in
the switch transaction. Only public kafka-python calls are used: ``assign``, ``seek``,
``poll``, ``position``, ``pause``, ``end_offsets``, and the ``read_committed`` isolation level
(records of aborted relay transactions are never seen).

Why not the live projector's Faust agent: the live service (``streams/projector.py``) needs a
consumer group — partitions handed out and taken back as workers come and go, a seek to the
stored offsets on every assignment — which is what Faust's agent and rebalance signals give.
A rebuild is a bulk replay of a topic whose extent is known when it begins: its partitions
are shared out once, by the rebuild, and never move, so it needs no group and no rebalance;
and Faust hands every record through its fetcher, conductor, channel and stream (event-loop
tasks per record), a per-record cost no public setting removes, which a bulk replay of the
whole topic would pay on every record (``docs/projections-kafka.md`` has the measurements).

The workers are processes (``multiprocessing``, forked from a fork server that imported this
module once, or spawned: nothing of this process is inherited; ``worker_context``), one per
CPU and at most one per partition on a PostgreSQL read model
(``ProjectorSettings.rebuild_workers``), one on SQLite (a single writer). The rebuild shares the
partitions out among them by size (``partition_shares``); a key's events, hence a stream's
rows, live in one partition, so the workers never write the same row. A worker that fails —
an error in a batch, or the process dying — fails the rebuild (its error is raised here, the
others are stopped, the fresh namespace is dropped); no batch is retried: the rebuild can be
run again.

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
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
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

from . import topics
from .lag import end_offsets
from .projector_apply import Applied, OffsetApplier, Record, SharedReadModel, decode
from .relay import quiet_kafka_client_logs
from .settings import KafkaSettings, ProjectorSettings

log = structlog.get_logger(__name__)

#: Offsets per partition left to the switch transaction (read under the pointer lock).
DEFAULT_TAIL_THRESHOLD = 500
#: Seconds without progress after which the replay is taken as caught up.
DEFAULT_STALL_S = 5.0
POLL_S = 0.2
#: Longest wait of one ``poll`` for records (a partition at its end gives none).
FETCH_WAIT_MS = 500


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
    #: Worker processes the replay ran in.
    workers: int = 1

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
    consumer = replay_consumer(kafka)
    applier = OffsetApplier(store, kafka.events_topic, namespace=fresh,
                            max_cached_rows=settings.max_cached_rows)  # fmt: skip
    workers: ReplayWorkers | None = None
    try:
        targets = end_offsets(consumer, kafka.events_topic)
        shares = partition_shares(targets, worker_count(store, settings, len(targets)))
        log.info("projector_rebuild_started", namespace=fresh, shares=shares,
                 targets={str(p): o for p, o in targets.items()})  # fmt: skip
        # The batch caches share the memory one worker's would take.
        each = settings.model_copy(
            update={"max_cached_rows": max(1, settings.max_cached_rows // len(shares))}
        )
        workers = ReplayWorkers(kafka, store, each, fresh, shares, targets)
        _replay(workers, store, kafka.events_topic, fresh, targets, progress,
                tail_threshold, stall_s)  # fmt: skip
        workers.verify()
        store.create_indexes(fresh)
        with store.writer(fresh, lock_pointer=True) as writer:
            tail = _apply_tail(consumer, kafka.events_topic, applier, writer, settings.batch_size)
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
        workers=len(shares),
    )
    if progress is not None:
        total = sum(targets.values())
        progress(total, total)
    log.info("projector_rebuilt", namespace=fresh, previous=previous, records=report.records,
             events=report.events, tail_records=report.tail_records, workers=len(shares),
             seconds=round(report.seconds, 3))  # fmt: skip
    return report


def worker_count(store: ReadModelStore, settings: ProjectorSettings, partitions: int) -> int:
    """Replay workers: as set, else one per CPU on PostgreSQL (one on SQLite, a single writer);
    never more than partitions (a partition is read by one worker)."""
    wanted = settings.rebuild_workers
    if not wanted:
        wanted = 1 if store.dialect.name == "sqlite" else os.cpu_count() or 1
    return max(1, min(wanted, partitions))


def partition_shares(sizes: Mapping[int, int], count: int) -> list[list[int]]:
    """``count`` disjoint shares of the partitions, each partition in one, as even in offsets
    as it goes (the largest partition first to the share holding least); each share sorted."""
    shares: list[list[int]] = [[] for _ in range(max(1, min(count, len(sizes))))]
    held = [0] * len(shares)
    for partition in sorted(sizes, key=lambda p: (-sizes[p], p)):
        least = held.index(min(held))
        shares[least].append(partition)
        held[least] += sizes[partition]
    return [sorted(share) for share in shares]


def replay_consumer(kafka: KafkaSettings) -> KafkaConsumer:
    """A ``read_committed`` consumer of no group: partitions are assigned, not shared out."""
    return topics.consumer(kafka, "projector-rebuild")


def read_partitions(
    consumer: KafkaConsumer,
    topic: str,
    starts: Mapping[int, int],
    ends: Mapping[int, int],
    batch_size: int,
    apply: Callable[[list[Record]], object],
    stop: Callable[[], bool] | None = None,
) -> None:
    """The rebuild's one reading path: the committed records of ``topic``'s partitions from
    ``starts`` to ``ends`` (end excluded), handed to ``apply`` in batches of at most
    ``batch_size`` (in offset order within a partition), until every partition's position has
    reached its end or ``stop()`` says so (the records in hand are then left unapplied).

    Positions pass the offsets no consumer receives (transaction markers, aborted records), so
    a partition whose last offsets are such ends all the same. A partition at its end is paused:
    records appended meanwhile are not fetched.
    """
    tps = {p: TopicPartition(topic, p) for p in sorted(starts)}
    consumer.assign(list(tps.values()))
    for partition, tp in tps.items():
        consumer.seek(tp, starts[partition])
    reading = dict(tps)
    pending: list[Record] = []
    while True:
        done = [p for p, tp in reading.items() if consumer.position(tp) >= ends[p]]
        if done:
            consumer.pause(*(reading.pop(p) for p in done))
        if pending and (len(pending) >= batch_size or not reading):
            apply(pending)
            pending = []
        if not reading or (stop is not None and stop()):
            return
        room = batch_size - len(pending)
        for tp, records in consumer.poll(timeout_ms=FETCH_WAIT_MS, max_records=room).items():
            end = ends[tp.partition]
            pending.extend(
                Record(tp.partition, r.offset, r.headers or (), r.value)
                for r in records
                if r.offset < end
            )


def _stored(
    store: ReadModelStore, topic: str, namespace: str, targets: Mapping[int, int]
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
    """Run the workers until they have read to ``targets``, or the stored offsets are within
    ``tail_threshold`` of them, or the stored offsets have not moved for ``stall_s``."""
    total = sum(targets.values())
    last_done, last_change = -1, time.monotonic()
    try:
        while True:
            finished = workers.check()
            stored = _stored(store, topic, namespace, targets)
            remaining = {p: max(0, end - stored.get(p, 0)) for p, end in targets.items()}
            done = total - sum(remaining.values())
            if progress is not None:
                progress(done, total)
            if finished or all(left <= tail_threshold for left in remaining.values()):
                return
            now = time.monotonic()
            if done != last_done or not workers.reading():
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
    """One replay process per share of the partitions, on ``namespace`` (module docstring)."""

    def __init__(
        self,
        kafka: KafkaSettings,
        store: ReadModelStore,
        settings: ProjectorSettings,
        namespace: str,
        shares: Sequence[Sequence[int]],
        ends: Mapping[int, int],
    ) -> None:
        context = worker_context()
        self._stop = context.Event()
        #: Workers that have sought their partitions and are reading.
        self._reading = context.Value("i", 0)
        self._results: dict[int, WorkerResult] = {}
        self._workers: list[tuple[BaseProcess, Connection]] = []
        self.count = len(shares)
        level = max(logging.WARNING, logging.getLogger().getEffectiveLevel())
        for index, share in enumerate(shares):
            receive, send = context.Pipe(duplex=False)
            process = context.Process(
                target=replay_worker,
                args=(
                    kafka,
                    store.dialect,
                    settings,
                    namespace,
                    {p: ends[p] for p in share},
                    level,
                    self._stop,
                    self._reading,
                    send,
                ),
                name=f"projector-rebuild-{index}",
                daemon=True,
            )
            process.start()
            send.close()
            self._workers.append((process, receive))

    @property
    def results(self) -> list[WorkerResult]:
        return list(self._results.values())

    def reading(self) -> bool:
        """Whether every worker has sought its partitions (the replay has begun)."""
        return bool(self._reading.value >= self.count)

    def check(self) -> bool:
        """Whether every worker has read its share to the end; ``RebuildFailed`` if one failed
        or stopped without saying what it applied."""
        for index, (process, receive) in enumerate(self._workers):
            if index in self._results:
                continue
            alive = process.is_alive()
            result = self._receive(receive)
            if result is not None:
                self._results[index] = result
                if result.error is not None:
                    raise RebuildFailed(f"the replay stopped: {result.error}")
            elif not alive:
                raise RebuildFailed(
                    f"the replay's worker {process.name} stopped before catching up "
                    f"(exit status {process.exitcode})"
                )
        return len(self._results) == self.count

    @staticmethod
    def _receive(receive: Connection, timeout_s: float = 0.0) -> WorkerResult | None:
        with contextlib.suppress(EOFError, OSError):
            if receive.poll(timeout_s):
                result: WorkerResult = receive.recv()
                return result
        return None

    def stop(self, timeout_s: float = 60.0) -> None:
        """Stop the workers still reading and collect their results (``results``); once."""
        if not self._workers:
            return
        self._stop.set()
        deadline = time.monotonic() + timeout_s
        for index, (process, receive) in enumerate(self._workers):
            if index not in self._results:
                result = self._receive(receive, max(0.0, deadline - time.monotonic()))
                if result is not None:
                    self._results[index] = result
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.terminate()
                process.join()
            receive.close()
        self._workers = []

    def verify(self) -> None:
        """Raise ``RebuildFailed`` unless every worker, stopped, reported success."""
        failed = [r.error for r in self._results.values() if r.error is not None]
        if failed:
            raise RebuildFailed(f"the replay stopped: {failed[0]}")
        if len(self._results) < self.count:
            raise RebuildFailed("a replay worker stopped without reporting what it applied")


def worker_context() -> Any:
    """Where replay workers come from: a fork server that has imported this module once, where
    the platform has one, else fresh interpreters (spawn).

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


class Pipeline:
    """A replay worker's batches, applied one transaction at a time and in order, in a thread
    of their own: the next batch is read and decoded while the previous one's transaction runs.
    A batch's failure is raised by the next ``submit`` or by ``finish``."""

    def __init__(self, applier: OffsetApplier) -> None:
        self.applier = applier
        #: ``time.time()`` when the first batch was handed over.
        self.first_batch_at: float | None = None
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="projector-rebuild-apply")
        self._inflight: Future[Applied] | None = None

    def submit(self, records: list[Record]) -> None:
        if self.first_batch_at is None:
            self.first_batch_at = time.time()
        decoded = [decode(record.headers, record.value) for record in records]
        self._settle()
        self._inflight = self._executor.submit(self.applier.apply, records, decoded=decoded)

    def finish(self) -> None:
        """Wait for the batch in flight; raise its error."""
        try:
            self._settle()
        finally:
            self._executor.shutdown(wait=True)

    def _settle(self) -> None:
        inflight, self._inflight = self._inflight, None
        if inflight is not None:
            inflight.result()


def replay_worker(
    kafka: KafkaSettings,
    dialect: Dialect,
    settings: ProjectorSettings,
    namespace: str,
    ends: dict[int, int],
    log_level: int,
    stop: Synchronized_Event,
    reading: Any,
    results: Connection,
) -> None:
    """One replay worker process: reads the partitions of ``ends`` from the offsets stored in
    ``namespace`` to ``ends`` (``read_partitions``), applying them (``Pipeline``), until done,
    ``stop`` is set or it fails; then its ``WorkerResult`` goes to ``results``."""
    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(log_level),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
    )
    logging.basicConfig(level=log_level, stream=sys.stderr)
    quiet_kafka_client_logs()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the rebuild stops its workers itself
    store = ReadModelStore(dialect)
    applier = OffsetApplier(store, kafka.events_topic, namespace=namespace,
                            max_cached_rows=settings.max_cached_rows)  # fmt: skip
    pipeline = Pipeline(applier)
    error: str | None = None
    try:
        consumer = replay_consumer(kafka)
        try:
            starts = applier.positions(ends)
            with reading.get_lock():
                reading.value += 1
            try:
                read_partitions(consumer, kafka.events_topic, starts, ends, settings.batch_size,
                                pipeline.submit, stop.is_set)  # fmt: skip
            finally:
                pipeline.finish()
        finally:
            consumer.close()
    except Exception as failure:  # reported to the rebuild, which raises it
        error = f"{type(failure).__name__}: {failure}"
    finally:
        store.close()
    results.send(
        WorkerResult(
            records=applier.records_applied,
            events=applier.events_applied,
            first_batch_at=pipeline.first_batch_at,
            error=error,
        )
    )
    results.close()


def _apply_tail(
    consumer: KafkaConsumer,
    topic: str,
    applier: OffsetApplier,
    writer: Writer,
    batch_size: int,
) -> Applied:
    """In the switch transaction: every committed record from the stored offsets to the end
    offsets as they are now (read after the pointer lock was taken)."""
    ends = end_offsets(consumer, topic)
    starts = {p: writer.claim_position(topic, p) for p in sorted(ends)}
    total = Applied(namespace=writer.namespace)

    def apply(records: list[Record]) -> None:
        applied = applier.apply_in(writer, records)
        total.records += applied.records
        total.events += applied.events
        total.duplicates += applied.duplicates
        total.rows += applied.rows
        total.offsets.update(applied.offsets)

    read_partitions(consumer, topic, starts, ends, batch_size, apply)
    log.info("projector_rebuild_tail", records=total.records,
             ends={str(p): e for p, e in ends.items()})  # fmt: skip
    return total
