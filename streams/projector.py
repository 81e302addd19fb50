"""The stream projector: a faust-streaming app folding the events topic into the read model.

    capledger projector run          # a worker; SIGTERM/SIGINT stop it
    capledger projector lag          # per-partition lag, as JSON
    capledger projections rebuild    # (CAPLEDGER_PROJECTIONS_RUNNER=kafka) replay into a
                                     # fresh namespace, switch

One agent consumes the events topic (``read_committed``: only events of committed relay
transactions), takes records in batches (``stream.take_events``) and hands each batch to
:class:`~capledger.streams.projector_apply.OffsetApplier`, which folds it with the same reducers
as the embedded runner and writes the rows and the batch's Kafka offsets in one database
transaction (PostgreSQL on servers, SQLite on one machine).

Offsets live in the read model, not in Kafka. Faust's consumer is told so:

- ``seek_to_committed`` — what Faust calls after every partition assignment (start, restart,
  rebalance) to position the consumer — is overridden to seek each assigned partition to the
  offset stored in the read model's tracking table (one row per topic-partition);
- the topic is consumed with ``acks=False``: Faust tracks and commits no offsets of its own, so
  nothing in the consumer group's Kafka offsets is ever trusted or needed;
- records fetched before an assignment (an older consumer generation) are dropped from a batch:
  the new generation re-reads them from the stored offsets.

Faust's exactly-once mode (``processing_guarantee="exactly_once"``) is not used: it is for
Kafka-to-Kafka pipelines, and it is what would set ``read_committed``; the consumer thread sets
the isolation level itself here. Exactly-once into the read model comes from the transaction.

Scaling: run several workers with the same group (``CAPLEDGER_PROJECTOR_GROUP``); Kafka gives
each some partitions and each worker writes only the rows of the partitions it holds (a key's
events, hence a stream's rows, live in one partition). During a rebalance two workers may hold
batches of one partition for a moment: the tracking row's lock serialises them and the second
drops what the first stored. More workers than partitions idle.

A batch that fails (database down, an event the reducers cannot fold) is retried with backoff,
the same records in hand, until it succeeds or the worker stops: a projector never skips an
event. Every ``lag_log_interval_s`` the worker logs ``projector_lag``: per partition, the
topic's end offset (last stable offset) minus the stored offset.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import faust
import structlog
from faust.transport.drivers import aiokafka as faust_aiokafka
from kafka import KafkaConsumer, TopicPartition
from mode import Service, ServiceT

from capledger.application.published import PublishedEvent
from capledger.projections import ReadModelStore

from . import topics
from .projector_apply import (
    Applied,
    OffsetApplier,
    OffsetsMovedBack,
    Record,
    SharedReadModel,
    decode,
)
from .settings import KafkaSettings, ProjectorSettings

log = structlog.get_logger(__name__)

EXIT_FATAL = 3
#: Errors no retry can mend: the worker stops (and a supervisor restarts it, seeking again).
FATAL_ERRORS: tuple[type[BaseException], ...] = (OffsetsMovedBack, SharedReadModel)


# -- Faust, told where offsets live ----------------------------------------------------------


class _ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    """aiokafka's consumer, reading only committed transactions."""

    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        if not hasattr(consumer, "_isolation_level"):  # pragma: no cover - library changed
            raise RuntimeError("cannot set aiokafka's isolation level: upgrade the projector")
        consumer._isolation_level = "read_committed"
        return consumer


class _Consumer(faust_aiokafka.Consumer):
    """Faust's consumer, seeking to the offsets stored in the read model."""

    def _new_consumer_thread(self) -> _ConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def seek_to_committed(self) -> Mapping[Any, int]:
        projector = cast(ProjectorApp, self.app).projector
        assigned = [tp for tp in self.assignment() if tp.topic == projector.topic]
        stored = await asyncio.to_thread(
            projector.applier.positions, [tp.partition for tp in assigned]
        )
        targets = {tp: stored[tp.partition] for tp in assigned}
        if targets:
            await self._thread.seek_wait(targets)
        projector.assigned = sorted(tp.partition for tp in assigned)
        log.info("projector_assigned", topic=projector.topic,
                 partitions=projector.assigned, offsets=stored)  # fmt: skip
        return targets

    async def _commit(self, offsets: Mapping[Any, int]) -> bool:
        return True  # offsets are committed with the read model, never to the group

    async def _drain_messages(self, fetcher: ServiceT) -> None:
        """The fetcher service's loop: batches to the projector instead of messages to
        streams (Faust's per-message path costs more than the projector's whole fold)."""
        await cast(ProjectorApp, self.app).projector.drain(self, fetcher)


class _Transport(faust_aiokafka.Transport):
    Consumer = _Consumer


class ProjectorApp(faust.App):
    """The Faust app of one projector (its transport seeks to the read model's offsets)."""

    projector: Projector

    def _new_transport(self) -> Any:
        return _Transport(self.conf.broker_consumer, self)


# -- the projector ---------------------------------------------------------------------------


@dataclass
class ProjectorStats:
    batches: int = 0
    records: int = 0
    events: int = 0
    duplicates: int = 0
    stale: int = 0
    failures: int = 0
    #: ``time.perf_counter()`` when the first batch reached the agent.
    first_batch_at: float | None = None


class Projector:
    """One worker: a Faust app whose agent applies batches of the events topic to ``store``.

    ``namespace=None`` follows the live namespace (and a switch to a new one); a rebuild runs
    one on an explicit fresh namespace with a group of its own.
    """

    def __init__(
        self,
        kafka: KafkaSettings,
        store: ReadModelStore,
        settings: ProjectorSettings | None = None,
        *,
        namespace: str | None = None,
        group: str | None = None,
        datadir: Path | None = None,
    ) -> None:
        self.kafka = kafka
        self.store = store
        self.settings = settings or ProjectorSettings()
        self.namespace = namespace
        self.group = group or self.settings.group
        self.topic = kafka.events_topic
        self.applier = OffsetApplier(
            store, self.topic, namespace=namespace, max_cached_rows=self.settings.max_cached_rows
        )
        self.stats = ProjectorStats()
        self.assigned: list[int] = []
        self.fatal: BaseException | None = None
        self.started = threading.Event()
        self._datadir = datadir
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._lag_consumer: KafkaConsumer | None = None
        self._app: ProjectorApp | None = None
        self._lag_lock = threading.Lock()
        self._inflight: asyncio.Future[None] | None = None
        self._events_at_last_log = 0
        self._last_log_at = time.monotonic()

    # -- the app ------------------------------------------------------------------------

    def build_app(self, datadir: Path) -> ProjectorApp:
        settings, kafka = self.settings, self.kafka
        app = ProjectorApp(
            self.group,
            broker=[f"kafka://{server}" for server in kafka.bootstrap_servers],
            broker_client_id=f"{kafka.client_id}-projector",
            datadir=str(datadir),
            store="memory://",
            web_enabled=False,
            topic_disable_leader=True,
            topic_allow_declare=False,
            consumer_auto_offset_reset="earliest",
            consumer_group_instance_id=settings.instance_id,
            broker_session_timeout=settings.session_timeout_s,
            broker_heartbeat_interval=min(3.0, settings.session_timeout_s / 3),
            broker_max_poll_records=settings.max_poll_records,
            consumer_max_fetch_size=4 * 1024 * 1024,
            key_serializer="raw",
            value_serializer="raw",
        )
        app.projector = self
        # Registered with the conductor, so the consumer subscribes to it; its records are
        # handed over in batches by ``_Consumer._drain_messages``, not message by message.
        topic = app.topic(
            self.topic, key_type=bytes, value_type=bytes, key_serializer="raw",
            value_serializer="raw", acks=False,
        )  # fmt: skip
        app.topics.add(topic)

        @app.timer(interval=settings.lag_log_interval_s)  # type: ignore[untyped-decorator]
        async def report_lag() -> None:
            await asyncio.to_thread(self.log_lag)

        return app

    async def drain(self, consumer: _Consumer, fetcher: ServiceT) -> None:
        """Fetch records of the assigned partitions and apply them in batches of up to
        ``batch_size``, each at most ``batch_within_s`` after its first record arrived.

        Records fetched in an older consumer generation (before the last assignment) are
        dropped: the assignment sought every partition to its stored offset, so they come
        again. If the flow stops (a rebalance begins) right after a fetch, the fetched records
        are dropped too and the partitions sought to the stored offsets, as Faust does.
        """
        app = consumer.app
        batch_size, within = self.settings.batch_size, self.settings.batch_within_s
        consumer_stopped = consumer._stopped.is_set
        fetcher_stopped = cast(Service, fetcher)._stopped.is_set
        pending: list[Record] = []
        generation: int | None = None
        first_at = 0.0
        while not (consumer_stopped() or fetcher_stopped() or self._stop.is_set()):
            current = app.consumer_generation_id
            timeout = max(0.0, first_at + within - time.monotonic()) if pending else 1.0
            records, active = await consumer._wait_next_records(timeout)
            if records is None or consumer.should_stop:
                continue
            if not consumer.flow_active or app.consumer_generation_id != current:
                self.stats.stale += len(pending) + sum(len(found) for found in records.values())
                pending.clear()
                if not consumer.flow_active:
                    await consumer.perform_seek()
                continue
            if generation != current:
                self.stats.stale += len(pending)
                pending.clear()
                generation = current
            for tp, found in records.items():
                if tp.topic != self.topic or (active is not None and tp not in active):
                    continue
                if not pending and found:
                    first_at = time.monotonic()
                partition = tp.partition
                pending.extend(Record(partition, r.offset, r.headers, r.value) for r in found)
            now = time.monotonic()
            while len(pending) >= batch_size or (
                pending and (not records or now - first_at >= within)
            ):
                batch, pending = pending[:batch_size], pending[batch_size:]
                first_at = now
                await self._submit(batch, current)
        await self._settle()

    async def _submit(self, records: list[Record], generation: int) -> None:
        """Decode a batch while the previous one's transaction runs, then start its own.

        One transaction at a time, in order: the previous one has committed (or given up)
        before this one begins. Decoding is pure, so it overlaps the database's work.
        """
        try:
            decoded: list[PublishedEvent | None] | None = [
                decode(record.headers, record.value) for record in records
            ]
        except Exception:  # decoded again in the transaction, where the failure is retried
            decoded = None
        await self._settle()
        self._inflight = asyncio.ensure_future(self._apply(records, generation, decoded))

    async def _settle(self) -> None:
        """Wait for the batch in flight, if any."""
        inflight, self._inflight = self._inflight, None
        if inflight is not None:
            await inflight

    async def _apply(
        self,
        records: Sequence[Record],
        generation: int | None = None,
        decoded: Sequence[PublishedEvent | None] | None = None,
    ) -> None:
        """Apply one batch, retrying with backoff until it is stored, the worker stops, or
        (with ``generation``) the partitions are assigned anew (they will be read again)."""
        if self.stats.first_batch_at is None:
            self.stats.first_batch_at = time.perf_counter()
        backoff = self.settings.retry_backoff_s
        app = self._app
        while not self._stop.is_set():
            stale = app is not None and app.consumer_generation_id != generation
            if generation is not None and stale:
                self.stats.stale += len(records)
                return
            try:
                applied = await asyncio.to_thread(self._apply_now, records, decoded)
            except FATAL_ERRORS as error:
                self._fail(error)
                return
            except Exception as error:
                if self._stop.is_set():
                    return
                self.stats.failures += 1
                log.warning("projector_batch_failed", error=repr(error), records=len(records),
                            retry_in_s=backoff)  # fmt: skip
                await asyncio.sleep(backoff)
                backoff = min(max(backoff, 0.05) * 2, self.settings.max_backoff_s)
                continue
            self.stats.batches += 1
            self.stats.records += applied.records
            self.stats.events += applied.events
            self.stats.duplicates += applied.duplicates
            return

    def _apply_now(
        self, records: Sequence[Record], decoded: Sequence[PublishedEvent | None] | None
    ) -> Applied:
        pause = self.settings.fault_pause_ms
        before_commit = (lambda: _random_pause(pause)) if pause else None
        return self.applier.apply(records, decoded=decoded, before_commit=before_commit)

    def _fail(self, error: BaseException) -> None:
        log.error("projector_stopped_on_error", error=str(error), kind=type(error).__name__)
        self.fatal = error
        self.request_stop()

    # -- lag ------------------------------------------------------------------------------

    def lag(self) -> dict[int, PartitionLag]:
        if self._lag_consumer is None:
            self._lag_consumer = lag_consumer(self.kafka)
        return projector_lag(
            self.kafka, self.store, namespace=self.namespace, consumer=self._lag_consumer
        )

    def log_lag(self) -> None:
        try:
            with self._lag_lock:
                if self._stop.is_set():
                    return
                lags = self.lag()
        except Exception as error:
            log.warning("projector_lag_unavailable", error=repr(error))
            return
        now = time.monotonic()
        rate = (self.stats.events - self._events_at_last_log) / max(now - self._last_log_at, 1e-9)
        self._events_at_last_log, self._last_log_at = self.stats.events, now
        log.info(
            "projector_lag",
            topic=self.topic,
            group=self.group,
            lag=sum(item.lag for item in lags.values()),
            partitions={str(p): item.lag for p, item in sorted(lags.items())},
            assigned=self.assigned,
            events_per_s=round(rate, 1),
            events=self.stats.events,
            batches=self.stats.batches,
        )

    # -- running --------------------------------------------------------------------------

    def run(self, stop: threading.Event | None = None) -> None:
        """Run the worker in this thread until ``stop`` is set (or ``request_stop()``)."""
        if stop is not None:
            self._stop = stop
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        try:
            with _datadir(self._datadir) as datadir:
                loop.run_until_complete(self._main(datadir))
        finally:
            with self._lag_lock:
                if self._lag_consumer is not None:
                    self._lag_consumer.close()
                    self._lag_consumer = None
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()
            asyncio.set_event_loop(None)
            self._loop = None

    async def _main(self, datadir: Path) -> None:
        self._wake = asyncio.Event()
        if self._stop.is_set():
            return
        app = self._app = self.build_app(datadir)
        with structlog.contextvars.bound_contextvars(projector=self.group):
            log.info("projector_starting", topic=self.topic, group=self.group,
                     namespace=self.namespace or "live")  # fmt: skip
            await app.start()
            self.started.set()
            try:
                while not self._stop.is_set() and not app.should_stop:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), timeout=0.5)
            finally:
                if app.crash_reason is not None and self.fatal is None:
                    self.fatal = app.crash_reason
                await app.stop()
                log.info("projector_stopped", events=self.stats.events,
                         batches=self.stats.batches, duplicates=self.stats.duplicates,
                         stale=self.stats.stale)  # fmt: skip

    def request_stop(self) -> None:
        self._stop.set()
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(wake.set)

    def start(self) -> Projector:
        """Run the worker in a background thread (tests, the rebuild)."""
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(
                target=self.run, name=f"projector-{self.group}", daemon=True
            )
            self._thread.start()
        return self

    def stop(self, timeout: float = 60.0) -> None:
        self.request_stop()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def __enter__(self) -> Projector:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


@contextlib.contextmanager
def _datadir(chosen: Path | None) -> Iterator[Path]:
    """Faust wants a data directory (for tables; the projector has none)."""
    if chosen is not None:
        chosen.mkdir(parents=True, exist_ok=True)
        yield chosen
        return
    with tempfile.TemporaryDirectory(prefix="capledger-projector-") as directory:
        yield Path(directory)


def _random_pause(max_ms: int) -> None:
    import random

    time.sleep(random.uniform(0, max_ms) / 1000)


# -- lag --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PartitionLag:
    """How far the read model is behind one partition of the events topic."""

    partition: int
    #: The topic's end offset for ``read_committed`` consumers (the last stable offset).
    end: int
    #: The next offset the read model will apply.
    stored: int
    #: Committed records not yet applied: exact when small (counted), else ``end - stored``.
    lag: int

    def as_dict(self) -> dict[str, int]:
        return {"partition": self.partition, "end": self.end, "stored": self.stored,
                "lag": self.lag}  # fmt: skip


#: Below this many offsets of difference the lag is counted record by record: the relay's
#: transaction markers occupy offsets that no consumer receives, so a partition at rest has
#: ``end - stored`` of 1 or so while nothing is left to apply.
EXACT_LAG_BELOW = 1_000


def lag_consumer(kafka: KafkaSettings) -> KafkaConsumer:
    return topics.consumer(kafka, "projector-lag")


def projector_lag(
    kafka: KafkaSettings,
    store: ReadModelStore,
    *,
    namespace: str | None = None,
    consumer: KafkaConsumer | None = None,
) -> dict[int, PartitionLag]:
    """Per partition of the events topic: end offset, stored offset and lag of the read model
    (its live namespace, or ``namespace``)."""
    own = consumer is None
    consumer = consumer or lag_consumer(kafka)
    try:
        ends = end_offsets(consumer, kafka.events_topic)
        stored = store.read(
            lambda reader: {p: reader.position(kafka.events_topic, p) for p in ends},
            namespace=namespace,
        )
        found: dict[int, PartitionLag] = {}
        for partition, end in sorted(ends.items()):
            behind = max(0, end - stored[partition])
            if 0 < behind < EXACT_LAG_BELOW:
                behind = count_records(consumer, kafka.events_topic, partition,
                                       stored[partition], end)  # fmt: skip
            found[partition] = PartitionLag(partition, end, stored[partition], behind)
        return found
    finally:
        if own:
            consumer.close()


def lag_report(kafka: KafkaSettings, store: ReadModelStore) -> dict[str, Any]:
    """The read model's lag behind the events topic as ``projector lag`` prints it (JSON)."""
    lags = projector_lag(kafka, store)
    return {
        "topic": kafka.events_topic,
        "lag": sum(item.lag for item in lags.values()),
        "partitions": [item.as_dict() for item in lags.values()],
    }


def end_offsets(consumer: KafkaConsumer, topic: str, timeout_s: float = 30.0) -> dict[int, int]:
    """The last stable offset of every partition of ``topic`` (``consumer`` reads committed)."""
    deadline = time.monotonic() + timeout_s
    while not (partitions := consumer.partitions_for_topic(topic)):
        if time.monotonic() > deadline:
            raise RuntimeError(f"topic {topic} has no partitions (does it exist?)")
        time.sleep(0.1)
    tps = [TopicPartition(topic, p) for p in sorted(partitions)]
    ends: dict[TopicPartition, int] = consumer.end_offsets(tps)
    return {tp.partition: int(offset) for tp, offset in ends.items()}


def count_records(consumer: KafkaConsumer, topic: str, partition: int, start: int, end: int) -> int:
    """Committed records of one partition in [start, end)."""
    tp = TopicPartition(topic, partition)
    consumer.assign([tp])
    consumer.seek(tp, start)
    count = 0
    while consumer.position(tp) < end:
        for records in consumer.poll(timeout_ms=500).values():
            count += sum(1 for record in records if start <= record.offset < end)
    return count


# -- the process ------------------------------------------------------------------------------


def quiet_libraries() -> None:
    """kafka-python, aiokafka, Faust and mode log their life at INFO: keep warnings up."""
    level = max(logging.WARNING, logging.getLogger().getEffectiveLevel())
    for name in ("kafka", "aiokafka", "faust", "mode"):
        logging.getLogger(name).setLevel(level)


def run_worker(
    kafka: KafkaSettings,
    store: ReadModelStore,
    settings: ProjectorSettings,
    install_signals: Callable[[threading.Event], None] | None = None,
) -> int:
    """Run one worker in this (main) thread until SIGTERM/SIGINT; the exit status."""
    stop = threading.Event()
    projector = Projector(kafka, store, settings)

    def request_stop(signum: int, _frame: Any) -> None:
        log.info("projector_stop_requested", signal=signal.Signals(signum).name)
        projector.request_stop()

    if install_signals is None:
        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)
    else:
        install_signals(stop)
    projector.run(stop)
    if projector.fatal is not None:
        sys.stderr.write(f"capledger projector: {projector.fatal}\n")
        return EXIT_FATAL
    return 0
