"""Rebuild through Kafka: replay the events topic from offset 0 into a fresh namespace, switch.

1. ``create_namespace(indexes=False)``: an empty copy of the tables, not live; the live one
   keeps serving and its projector workers keep following the topic;
2. a projector (the same Faust app, on the fresh namespace, with a consumer group of its own)
   replays every partition from offset 0 to the end offsets taken when the rebuild began,
   reporting ``progress(done, total)`` in offsets (with an ETA through ``ProgressReporter``);
3. when every partition is within ``tail_threshold`` offsets of that target (or progress has
   stalled for ``stall_s``: aborted records at a partition's end are offsets no consumer ever
   receives), the Faust worker stops, the secondary indexes are built on the full tables, and
   one transaction holding the pointer exclusively
   (live writers wait) reads what is left — up to the end offsets read *after* taking the
   lock — applies it and moves the pointer. Readers see the old read model or the new one,
   never a mix;
4. the previous namespace is dropped (unless asked to keep it).

After the switch every partition's stored offset in the new namespace is at or past the live
workers' (the tail reaches the topic's end under the lock, and live workers only ever applied
committed records before it), so they carry on in the new namespace without a gap: their next
batch's records below the new offsets are dropped as duplicates.

A read model written by the embedded runner (the notification log's tracking row) is refused:
after a switch the embedded runner would re-apply the whole log on top of the Kafka rows.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import asdict, dataclass

import structlog
from kafka import KafkaConsumer, TopicPartition

from capledger.projections import NOTIFICATION_LOG, ReadModelStore, Writer
from capledger.projections.runner import Progress

from .lag import end_offsets, lag_consumer
from .projector import Projector
from .projector_apply import Applied, OffsetApplier, Record, SharedReadModel
from .settings import KafkaSettings, ProjectorSettings

log = structlog.get_logger(__name__)

#: Offsets per partition left to the switch transaction (read under the pointer lock).
DEFAULT_TAIL_THRESHOLD = 500
#: Seconds without progress after which the replay is taken as caught up.
DEFAULT_STALL_S = 5.0
POLL_S = 0.2


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
    projector = Projector(kafka, store, settings, namespace=fresh, group=group)
    try:
        targets = end_offsets(consumer, kafka.events_topic)
        log.info("projector_rebuild_started", namespace=fresh, group=group,
                 targets={str(p): o for p, o in targets.items()})  # fmt: skip
        _replay(projector, targets, progress, tail_threshold, stall_s)
        store.create_indexes(fresh)
        with store.writer(fresh, lock_pointer=True) as writer:
            tail = _apply_tail(consumer, kafka, projector.applier, writer, settings.batch_size)
            previous = writer.switch_pointer()
        projector.applier.committed_externally(tail)
    except BaseException:
        projector.stop()
        log.warning("projector_rebuild_abandoned", namespace=fresh)
        store.drop_namespace(fresh)
        raise
    finally:
        consumer.close()
    finished = time.perf_counter()
    if drop_previous and previous is not None and previous != fresh:
        store.drop_namespace(previous)
    first = projector.stats.first_batch_at
    report = KafkaRebuildReport(
        namespace=fresh,
        previous=previous,
        records=projector.applier.records_applied,
        events=projector.applier.events_applied,
        tail_records=tail.records,
        offsets=projector.applier.committed,
        seconds=finished - started,
        processing_seconds=finished - (first if first is not None else started),
    )
    if progress is not None:
        total = sum(targets.values())
        progress(total, total)
    log.info("projector_rebuilt", namespace=fresh, previous=previous, records=report.records,
             events=report.events, tail_records=report.tail_records,
             seconds=round(report.seconds, 3))  # fmt: skip
    return report


def _replay(
    projector: Projector,
    targets: dict[int, int],
    progress: Progress | None,
    tail_threshold: int,
    stall_s: float,
) -> None:
    """Run the Faust worker until it is within ``tail_threshold`` of ``targets``."""
    total = sum(targets.values())
    projector.start()
    last_done, last_change = -1, time.monotonic()
    try:
        while True:
            if projector.fatal is not None:
                raise RebuildFailed(f"the replay stopped: {projector.fatal}") from projector.fatal
            if not projector.running:
                raise RebuildFailed("the replay's worker stopped before catching up")
            committed = projector.applier.committed
            remaining = {p: max(0, end - committed.get(p, 0)) for p, end in targets.items()}
            done = total - sum(remaining.values())
            if progress is not None:
                progress(done, total)
            if all(left <= tail_threshold for left in remaining.values()):
                return
            now = time.monotonic()
            if done != last_done:
                last_done, last_change = done, now
            elif projector.assigned and now - last_change > stall_s:
                log.info("projector_rebuild_stalled", remaining=remaining)
                return
            time.sleep(POLL_S)
    finally:
        projector.stop()


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
