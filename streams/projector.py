"""The stream projector: a faust-streaming agent folding the events topic into the read model.

    capledger projector run          # a worker; SIGTERM/SIGINT stop it
    capledger projector lag          # per-partition lag, as JSON
    capledger projections rebuild    # (CAPLEDGER_PROJECTIONS_RUNNER=kafka) replay into a
                                     # fresh namespace, switch (projector_rebuild.py)

This module is the live service: workers of one consumer group following the topic. The
rebuild replays the topic without Faust (``projector_rebuild.py``): a bulk replay of a known
extent needs no group and no rebalance, and Faust's per-record delivery (below) would be paid
on every record of the topic. Both hand their batches to the same ``OffsetApplier``.

One agent (``@app.agent``) consumes the events topic and takes its records in batches
(``stream.take_events(batch_size, within=batch_within_s)``); each batch goes to
:class:`~capledger.streams.projector_apply.OffsetApplier`, which folds it with the same reducers
as the embedded runner and writes the rows and the batch's Kafka offsets in one database
transaction (PostgreSQL on servers, SQLite on one machine). Only Faust's public API is used:

- **Where a worker starts.** Offsets live in the read model, not in Kafka. The app's
  ``on_rebalance_complete`` signal — sent after every assignment (start, restart, rebalance),
  while the assigned partitions are still paused, before Faust resumes fetching — reads the
  stored offset of every assigned partition (one tracking row per topic-partition) and seeks
  there (``consumer.seek_wait``). The seek precedes every fetch of the new assignment: a
  record fetched from an older position and dropped in the rebalance can never be skipped.
- **Nothing committed to Kafka.** The topic is declared with ``acks=False``: Faust acks no
  message of it, so it commits no offset to the consumer group (whatever ``broker_commit_every``
  or ``broker_commit_interval`` say), and Faust's own seek to the group's committed offsets
  finds none and leaves ours in place. ``stream_wait_empty`` is off: a rebalance never waits
  for a batch, since a batch is idempotent (step 2 of ``projector_apply``).
- **Only committed relay transactions.** ``processing_guarantee="exactly_once"`` is the one
  public setting that makes a worker's consumer read ``read_committed`` (Faust's
  ``app.in_transaction``: that guarantee in an app marked ``in_worker``, as ``faust.Worker``
  marks it): records of aborted relay transactions are never seen. (It also makes Faust keep
  a transactional producer per assigned partition, for Kafka-to-Kafka pipelines; the projector
  produces nothing, so they stay idle. Exactly-once *into the read model* comes from the
  database transaction, not from Kafka.)
- **Records from before a rebalance.** Faust's stream drops an event fetched in an older
  consumer generation; the agent applies the same rule to the events already in a batch, and
  a batch being retried when the generation changes is dropped: the new generation reads them
  again from the stored offsets.

Faust hands every record through its fetcher, conductor, channel and stream (a few event-loop
tasks per record): that path bounds a projector. It is kept short through public means only:
uvloop's event loop, ``RecordSchema`` (keys and values as bytes, the applier decodes the
headers) and ``ProjectorMonitor`` (no per-record statistics for a web page not served). One
batch is decoded while the previous one's transaction runs (in a worker thread); one
transaction at a time, in order. A batch that fails (database down, an event the reducers
cannot fold) is retried with backoff, the same records in hand, until it succeeds, the worker
stops or the partitions are assigned anew: a projector never skips an event.

Scaling: run several workers with the same group (``CAPLEDGER_PROJECTOR_GROUP``); Kafka gives
each some partitions and each worker writes only the rows of the partitions it holds (a key's
events, hence a stream's rows, live in one partition). During a rebalance two workers may hold
batches of one partition for a moment: the tracking row's lock serialises them and the second
drops what the first stored. More workers than partitions idle. Every ``lag_log_interval_s``
the worker logs ``projector_lag``: per partition, the topic's end offset (last stable offset)
minus the stored offset.
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
from collections.abc import AsyncIterable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import faust
import structlog
from faust.sensors import Monitor
from faust.types import TP, AppT, EventT, Message, StreamT
from kafka import KafkaConsumer

from capledger.application.published import PublishedEvent
from capledger.projections import ReadModelStore
from capledger.projections.verification import UnverifiedEvent

from .lag import PartitionLag, lag_consumer, projector_lag
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
#: Errors no retry can mend: the worker stops (and a supervisor restarts it, seeking again). A
#: record that fails verification is one: it is recorded in the read model, which /readyz and
#: the readers report, and a restart meets it again.
FATAL_ERRORS: tuple[type[BaseException], ...] = (
    OffsetsMovedBack,
    SharedReadModel,
    UnverifiedEvent,
)


# -- the projector ---------------------------------------------------------------------------


class RecordSchema(faust.Schema[bytes, bytes]):
    """Keys and values as the broker gave them (bytes): the applier decodes the records
    itself, from their headers (Faust's documented way to customise decoding: a ``Schema``)."""

    def loads_key(
        self,
        app: AppT,
        message: Message,
        *,
        loads: Callable[..., Any] | None = None,
        serializer: Any = None,
    ) -> bytes:
        return message.key  # type: ignore[return-value]  # a record without a key has None

    def loads_value(
        self,
        app: AppT,
        message: Message,
        *,
        loads: Callable[..., Any] | None = None,
        serializer: Any = None,
    ) -> bytes:
        return message.value  # type: ignore[return-value]  # a tombstone has None


class ProjectorMonitor(Monitor):
    """Faust's monitor sensor without its per-message statistics (``Monitor`` setting).

    Faust calls these hooks for every record; their figures feed Faust's web statistics page,
    which the projector does not serve (its own counts are ``ProjectorStats`` and the
    ``projector_lag`` line). The rebalance and commit hooks are kept.
    """

    def on_message_in(self, tp: TP, offset: int, message: Message) -> None:
        return None

    def on_stream_event_in(
        self, tp: TP, offset: int, stream: StreamT[Any], event: EventT[Any]
    ) -> dict[str, Any] | None:
        return None

    def on_stream_event_out(
        self,
        tp: TP,
        offset: int,
        stream: StreamT[Any],
        event: EventT[Any],
        state: dict[str, Any] | None = None,
    ) -> None:
        return None

    def on_message_out(self, tp: TP, offset: int, message: Message) -> None:
        return None

    def track_tp_end_offset(self, tp: TP, offset: int) -> None:
        return None


@dataclass
class ProjectorStats:
    batches: int = 0
    records: int = 0
    events: int = 0
    duplicates: int = 0
    #: Records dropped because they were fetched before the last assignment (read again).
    stale: int = 0
    failures: int = 0


class Projector:
    """One worker: a Faust app whose agent applies batches of the events topic to ``store``'s
    live namespace (and, after a rebuild's switch, to the new one)."""

    def __init__(
        self,
        kafka: KafkaSettings,
        store: ReadModelStore,
        settings: ProjectorSettings | None = None,
        *,
        datadir: Path | None = None,
        applier: OffsetApplier | None = None,
    ) -> None:
        self.kafka = kafka
        self.store = store
        self.settings = settings or ProjectorSettings()
        self.group = self.settings.group
        self.topic = kafka.events_topic
        self.applier = applier or OffsetApplier(
            store, self.topic, max_cached_rows=self.settings.max_cached_rows
        )
        self.stats = ProjectorStats()
        self.assigned: list[int] = []
        self.fatal: BaseException | None = None
        self.started = threading.Event()
        self._datadir = datadir
        self._stop = threading.Event()
        #: Set once the app is stopping: a batch still being retried gives up.
        self._closing = False
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._lag_consumer: KafkaConsumer | None = None
        self._app: faust.App | None = None
        self._lag_lock = threading.Lock()
        self._inflight: asyncio.Future[None] | None = None
        self._events_at_last_log = 0
        self._last_log_at = time.monotonic()

    # -- the app ------------------------------------------------------------------------

    def build_app(self, datadir: Path) -> faust.App:
        """The Faust app: the agent, the seek on assignment, the lag timer (module docstring)."""
        settings, kafka = self.settings, self.kafka
        app = faust.App(
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
            broker_heartbeat_interval=min(
                settings.heartbeat_interval_s, settings.session_timeout_s / 3
            ),
            broker_max_poll_records=settings.max_poll_records,
            # Per partition and fetch: a few thousand records, more than a batch takes from
            # one partition; a larger fetch only holds more of the topic in memory per worker.
            consumer_max_fetch_size=1024 * 1024,
            # The one public switch to a read_committed consumer (see the module docstring).
            processing_guarantee="exactly_once",
            # Room for the next batch while the agent applies one: fetching goes on meanwhile.
            stream_buffer_maxsize=max(4096, 2 * settings.batch_size),
            stream_wait_empty=False,
            Monitor=ProjectorMonitor,
            key_serializer="raw",
            value_serializer="raw",
        )
        # What ``faust.Worker`` marks its app with; the projector starts the app itself (in its
        # own thread and loop), and Faust's consumer reads committed only in a worker.
        app.in_worker = True
        topic = app.topic(self.topic, schema=RecordSchema(), acks=False)

        @app.agent(topic)
        async def project(stream: StreamT[bytes]) -> None:
            # ``StreamT`` lacks ``take_events``; ``faust.Stream`` (what an agent gets) has it.
            batches: AsyncIterable[Sequence[EventT[bytes]]] = cast(
                faust.Stream[bytes], stream
            ).take_events(settings.batch_size, within=settings.batch_within_s)
            async for events in batches:
                await self._take(app, events)

        # mode's ``SignalHandlerT`` (``mypy_extensions`` argument kinds) matches no coroutine
        # function under mypy; the signal calls ``handler(sender, signal=…)`` and awaits it.
        @app.on_rebalance_complete.connect  # type: ignore[arg-type]
        async def seek_stored(_app: Any, *_: Any, signal: Any, **__: Any) -> None:
            await self._seek_stored(app)

        @app.on_partitions_revoked.connect  # type: ignore[arg-type]
        async def forget_revoked(_app: Any, *args: Any, signal: Any, **_: Any) -> None:
            revoked: set[TP] = args[0]
            self.applier.forget(tp.partition for tp in revoked if tp.topic == self.topic)

        @app.timer(interval=settings.lag_log_interval_s)  # type: ignore[untyped-decorator]
        async def report_lag() -> None:
            await asyncio.to_thread(self.log_lag)

        return app

    async def _seek_stored(self, app: faust.App) -> None:
        """Seek every assigned partition to the offset stored with the read model.

        Runs in ``on_rebalance_complete``, before Faust resumes the paused partitions; a
        failing read (database down) is retried, the partitions staying paused meanwhile.
        """
        assigned = sorted(
            (tp for tp in app.consumer.assignment() if tp.topic == self.topic),
            key=lambda tp: tp.partition,
        )
        backoff = self.settings.retry_backoff_s
        while True:
            try:
                stored = await asyncio.to_thread(
                    self.applier.positions, [tp.partition for tp in assigned]
                )
                break
            except Exception as error:
                if self._stop.is_set() or self._closing:
                    return
                log.warning("projector_positions_unavailable", error=repr(error),
                            retry_in_s=backoff)  # fmt: skip
                await asyncio.sleep(backoff)
                backoff = min(max(backoff, 0.05) * 2, self.settings.max_backoff_s)
        if assigned:
            await app.consumer.seek_wait({tp: stored[tp.partition] for tp in assigned})
        self.assigned = [tp.partition for tp in assigned]
        log.info("projector_assigned", topic=self.topic, partitions=self.assigned,
                 offsets=stored, generation=app.consumer_generation_id)  # fmt: skip

    async def _take(self, app: faust.App, events: Sequence[EventT[bytes]]) -> None:
        """Hand one batch of the agent's events over, without those of an older generation."""
        generation, topic = app.consumer_generation_id, self.topic
        records = [
            Record(message.partition, message.offset, _headers(message.headers), message.value)
            for message in [event.message for event in events]
            if message.generation_id == generation and message.topic == topic
        ]
        self.stats.stale += len(events) - len(records)
        if records:
            await self._submit(records, generation)

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
        """Wait for the batch in flight, if any (shielded: a cancelled agent lets it end)."""
        inflight = self._inflight
        if inflight is not None:
            await asyncio.shield(inflight)
            if self._inflight is inflight:
                self._inflight = None

    async def _apply(
        self,
        records: Sequence[Record],
        generation: int | None = None,
        decoded: Sequence[PublishedEvent | None] | None = None,
    ) -> None:
        """Apply one batch, retrying with backoff until it is stored, the worker stops, or
        (with ``generation``) the partitions are assigned anew (they will be read again)."""
        backoff = self.settings.retry_backoff_s
        app = self._app
        while not (self._stop.is_set() or self._closing):
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
                if self._stop.is_set() or self._closing:
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
        return self.applier.apply(records, decoded=decoded)

    def _fail(self, error: BaseException) -> None:
        log.error("projector_stopped_on_error", error=str(error), kind=type(error).__name__)
        self.fatal = error
        self.request_stop()

    # -- lag ------------------------------------------------------------------------------

    def lag(self) -> dict[int, PartitionLag]:
        if self._lag_consumer is None:
            self._lag_consumer = lag_consumer(self.kafka)
        return projector_lag(self.kafka, self.store, consumer=self._lag_consumer)

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
        loop = new_event_loop()
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
        self._closing = False
        app = self._app = self.build_app(datadir)
        with structlog.contextvars.bound_contextvars(projector=self.group):
            log.info("projector_starting", topic=self.topic, group=self.group)
            await app.start()
            self.started.set()
            try:
                while not self._stop.is_set() and not app.should_stop:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), timeout=0.5)
            finally:
                self._closing = True
                if app.crash_reason is not None and self.fatal is None:
                    self.fatal = app.crash_reason
                await app.stop()
                await self._settle()
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
        """Run the worker in a background thread (tests)."""
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


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop's loop where it is installed (a dependency on CPython off Windows): Faust hands
    every record through a few tasks of the loop, which uvloop runs in a fraction of the time."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - another interpreter or platform
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


@contextlib.contextmanager
def _datadir(chosen: Path | None) -> Iterator[Path]:
    """Faust wants a data directory (for tables; the projector has none)."""
    if chosen is not None:
        chosen.mkdir(parents=True, exist_ok=True)
        yield chosen
        return
    with tempfile.TemporaryDirectory(prefix="capledger-projector-") as directory:
        yield Path(directory)


def _headers(
    headers: Sequence[tuple[str, bytes]] | Mapping[str, bytes] | None,
) -> Sequence[tuple[str, bytes]]:
    """A message's headers as aiokafka gives them: pairs (a mapping only from other transports)."""
    if type(headers) is tuple or type(headers) is list:  # aiokafka's; cheaper than the ABC
        return headers
    if headers is None:
        return ()
    return list(headers.items()) if isinstance(headers, Mapping) else headers


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
    *,
    applier: OffsetApplier | None = None,
) -> int:
    """Run one worker in this (main) thread until SIGTERM/SIGINT; the exit status.
    ``applier``: the worker's (by default an ``OffsetApplier`` of ``store``'s live namespace)."""
    stop = threading.Event()
    projector = Projector(kafka, store, settings, applier=applier)

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
