"""The outbox relay: every recorded event, exactly once, into the events topic.

The relay follows the application's notification log and publishes it in batches with a
transactional producer. Each batch is one Kafka transaction holding the batch's events and the
relay's new position (in the compacted positions topic), so a ``read_committed`` consumer sees
a batch's events exactly when the position that covers them is committed too:

    init_transactions()                     # fences any older producer with our id
    position = last committed position      # read_committed, see positions.py
    loop:
        batch = notifications after position (≤ batch_size, whatever is there now)
        begin_transaction(); send every event; send position = batch[-1].id
        commit_transaction(); position = batch[-1].id
        # (while the commit waits for the broker, the next batch is read and encoded)

Any error inside a transaction aborts it; the relay then starts a new producer session, which
reads the committed position again and resumes after it — a commit whose outcome was unknown
is settled by ``init_transactions()`` before the position is read. A relay fenced by another
one with the same transactional id stops with ``RelayFenced`` (exit status 5).

    capledger relay [--until-caught-up]        # settings from CAPLEDGER_* / CAPLEDGER_KAFKA_*
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import structlog
from eventsourcing.persistence import ApplicationRecorder
from kafka import KafkaProducer
from kafka.errors import (
    InvalidProducerEpochError,
    KafkaError,
    KafkaTimeoutError,
    ProducerFencedError,
    TransactionalIdAuthorizationFailedError,
)

from .positions import encode_position, read_committed_position
from .settings import KafkaSettings
from .source import NotificationSource, open_source
from .topics import Drift, ensure_topics
from .wire import LogEntry, WireFormat, WireMessage, to_message

log = structlog.get_logger(__name__)

EXIT_FENCED = 5
#: Longest wait for new notifications before the loop checks for a stop (and logs lag).
IDLE_WAIT_S = 0.5
#: Bytes per producer batch (per partition request); a transaction flushes them all anyway.
PRODUCER_BATCH_BYTES = 512 * 1024
FENCED_ERRORS: tuple[type[BaseException], ...] = (
    ProducerFencedError,
    InvalidProducerEpochError,
    TransactionalIdAuthorizationFailedError,
)


class RelayFenced(RuntimeError):
    """Another relay with the same transactional id took over; this one must stop."""


class TransactionalProducer(Protocol):
    """The part of kafka-python's ``KafkaProducer`` the relay uses."""

    def init_transactions(self) -> None: ...
    def begin_transaction(self) -> None: ...
    def send(
        self,
        topic: str,
        value: bytes | None = None,
        key: bytes | None = None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> Any: ...
    def flush(self, timeout: float | None = None) -> None: ...
    def commit_transaction(self) -> None: ...
    def abort_transaction(self) -> None: ...
    def close(self, timeout: float | None = None) -> None: ...


#: A batch read ahead and its messages.
Prepared = tuple[Sequence[LogEntry], list[WireMessage]]
ProducerFactory = Callable[[KafkaSettings], TransactionalProducer]
PositionReader = Callable[[KafkaSettings], int]
TopicEnsurer = Callable[[KafkaSettings], list[Drift]]


def kafka_producer(settings: KafkaSettings) -> TransactionalProducer:
    producer: TransactionalProducer = KafkaProducer(
        bootstrap_servers=settings.bootstrap_servers,
        client_id=f"{settings.client_id}-relay",
        transactional_id=settings.relay_transactional_id,
        enable_idempotence=True,
        acks="all",
        linger_ms=settings.linger_ms,
        batch_size=PRODUCER_BATCH_BYTES,
        max_block_ms=settings.max_block_ms,
        request_timeout_ms=settings.request_timeout_ms,
        reconnect_backoff_max_ms=settings.reconnect_backoff_max_ms,
        transaction_timeout_ms=settings.transaction_timeout_ms,
    )
    return producer


def committed_position(settings: KafkaSettings) -> int:
    return read_committed_position(settings, timeout_s=settings.transaction_timeout_ms / 1000 + 30)


@dataclass
class RelayStats:
    sessions: int = 0
    batches: int = 0
    events: int = 0
    aborted: int = 0
    #: ``time.perf_counter()`` when the first batch began and the last one was committed.
    first_batch_at: float | None = None
    last_commit_at: float | None = None

    @property
    def events_per_s(self) -> float:
        """Publishing rate from the first batch to the last commit (0 before two points)."""
        if self.first_batch_at is None or self.last_commit_at is None:
            return 0.0
        elapsed = self.last_commit_at - self.first_batch_at
        return self.events / elapsed if elapsed > 0 else 0.0


class Relay:
    """Publishes the notification log of ``recorder`` to Kafka, exactly once."""

    def __init__(
        self,
        recorder: ApplicationRecorder,
        settings: KafkaSettings,
        *,
        producer_factory: ProducerFactory = kafka_producer,
        position_reader: PositionReader = committed_position,
        topic_ensurer: TopicEnsurer = ensure_topics,
        source_factory: Callable[[ApplicationRecorder, int], NotificationSource] | None = None,
    ) -> None:
        self.recorder = recorder
        self.settings = settings
        self.wire = WireFormat(settings.ce_source, settings.schema_base_uri)
        self.stats = RelayStats()
        self._producer_factory = producer_factory
        self._position_reader = position_reader
        self._topic_ensurer = topic_ensurer
        self._source_factory = source_factory or self._open_source
        self._topics_ready = False
        self._position: int | None = None
        self._next_lag_log = 0.0
        self._events_at_last_log = 0

    # -- state -----------------------------------------------------------------------------

    @property
    def position(self) -> int | None:
        """The last position committed by this relay (None before its first session)."""
        return self._position

    def lag(self) -> int:
        """Recorded events not yet committed to Kafka by this relay."""
        latest = self.recorder.max_notification_id() or 0
        return max(0, latest - (self._position or 0))

    # -- running ---------------------------------------------------------------------------

    def run(
        self,
        stop: threading.Event | None = None,
        *,
        until_caught_up: bool = False,
        max_sessions: int | None = None,
    ) -> RelayStats:
        """Relay until ``stop`` is set (or, with ``until_caught_up``, until the lag is zero).

        Errors restart the session after ``retry_backoff_s``; fencing raises ``RelayFenced``.
        """
        stop = stop or threading.Event()
        with structlog.contextvars.bound_contextvars(relay=self.settings.relay_name):
            while not stop.is_set():
                if max_sessions is not None and self.stats.sessions >= max_sessions:
                    break
                try:
                    caught_up = self._session(stop, until_caught_up)
                except RelayFenced:
                    raise
                except Exception as error:
                    log.warning(
                        "relay_session_failed",
                        error=repr(error),
                        position=self._position,
                        retry_in_s=self.settings.retry_backoff_s,
                    )
                    stop.wait(self.settings.retry_backoff_s)
                    continue
                if caught_up:
                    break
        log.info("relay_stopped", relay=self.settings.relay_name, position=self._position,
                 batches=self.stats.batches, events=self.stats.events)  # fmt: skip
        return self.stats

    def _session(self, stop: threading.Event, until_caught_up: bool) -> bool:
        """One producer's life: returns True when caught up (and asked to stop then)."""
        self.stats.sessions += 1
        if not self._topics_ready:
            self._topic_ensurer(self.settings)
            self._topics_ready = True
        producer = self._producer_factory(self.settings)
        try:
            _fenced_guard(producer.init_transactions, self.settings)
            self._position = self._position_reader(self.settings)
            log.info("relay_session_started", session=self.stats.sessions,
                     position=self._position, lag=self.lag())  # fmt: skip
            source = self._source_factory(self.recorder, self._position)
            try:
                return self._follow(producer, source, stop, until_caught_up)
            finally:
                source.close()
        finally:
            _close_quietly(producer)

    def _follow(
        self,
        producer: TransactionalProducer,
        source: NotificationSource,
        stop: threading.Event,
        until_caught_up: bool,
    ) -> bool:
        wait_s = min(IDLE_WAIT_S, self.settings.poll_interval_ms / 1000 * 25)
        limit = self.settings.batch_size

        def read_ahead() -> Prepared:
            ahead = source.next_batch(limit, 0.0)
            return ahead, self.messages(ahead)

        prepared: Prepared | None = None
        while not stop.is_set():
            if prepared is not None and prepared[0]:
                batch, messages = prepared
            else:
                batch, messages = source.next_batch(limit, wait_s), None
            prepared = None
            if batch:
                prepared = self.publish_batch(
                    producer, batch, messages=messages, read_ahead=read_ahead
                )
            self._maybe_log_lag()
            if until_caught_up and not batch and self.lag() == 0:
                return True
        return False

    def messages(self, batch: Sequence[LogEntry]) -> list[WireMessage]:
        stamp = self.wire
        return [to_message(entry, stamp) for entry in batch]

    def publish_batch(
        self,
        producer: TransactionalProducer,
        batch: Sequence[LogEntry],
        *,
        messages: list[WireMessage] | None = None,
        read_ahead: Callable[[], Prepared] | None = None,
    ) -> Prepared | None:
        """One Kafka transaction: the batch's events and the position after them.

        ``messages`` are the batch's messages when already made. While the commit waits for
        the broker, ``read_ahead()`` reads and encodes the next batch (nothing of it is sent
        before this commit has succeeded; a failed session drops it with its source): that
        is returned, or None. An error while reading ahead is raised once this batch is
        committed: the session ends, and the next one reads from the committed position.
        """
        settings = self.settings
        last = batch[-1].id
        started = time.perf_counter()
        if self.stats.first_batch_at is None:
            self.stats.first_batch_at = started
        if messages is None:
            messages = self.messages(batch)
        _fenced_guard(producer.begin_transaction, settings)
        prepared: Prepared | None = None
        ahead_error: Exception | None = None
        try:
            send, topic = producer.send, settings.events_topic
            futures = [send(topic, key=m.key, value=m.value, headers=m.headers) for m in messages]
            futures.append(
                send(
                    settings.positions_topic,
                    key=settings.relay_name.encode(),
                    value=encode_position(last),
                )
            )
            producer.flush(timeout=settings.request_timeout_ms / 1000)
            for future in futures:
                if future.failed():
                    raise future.exception
            commit = _Bounded(producer.commit_transaction, "commit_transaction")
            if read_ahead is not None:
                try:
                    prepared = read_ahead()
                except Exception as error:  # raised once this batch is settled
                    ahead_error = error
            commit.result(self._call_timeout_s)
        except BaseException as error:
            self.stats.aborted += 1
            self._abort(producer, error)
            if is_fenced(error):
                raise RelayFenced(_fenced_message(self.settings)) from error
            raise
        self._position = last
        self.stats.batches += 1
        self.stats.events += len(batch)
        self.stats.last_commit_at = time.perf_counter()
        log.debug("relay_batch_committed", first=batch[0].id, last=last, events=len(batch),
                  ms=round((self.stats.last_commit_at - started) * 1000, 1))  # fmt: skip
        if ahead_error is not None:  # the source moved past what it could not hand over
            raise ahead_error
        return prepared

    @property
    def _call_timeout_s(self) -> float:
        return self.settings.request_timeout_ms / 1000

    def _abort(self, producer: TransactionalProducer, error: BaseException) -> None:
        log.warning("relay_transaction_aborted", error=repr(error), position=self._position)
        try:
            _bounded(producer.abort_transaction, self._call_timeout_s, "abort_transaction")
        except Exception as abort_error:  # the next session's init_transactions aborts it
            log.debug("relay_abort_failed", error=repr(abort_error))

    def _open_source(self, recorder: ApplicationRecorder, after: int) -> NotificationSource:
        return open_source(
            recorder,
            after,
            poll_interval_s=self.settings.poll_interval_ms / 1000,
            subscribe=self.settings.postgres_subscribe,
        )

    def _maybe_log_lag(self) -> None:
        now = time.monotonic()
        if now < self._next_lag_log:
            return
        interval = self.settings.lag_log_interval_s
        published = self.stats.events - self._events_at_last_log
        rate = published / interval if self._next_lag_log else 0.0
        self._next_lag_log = now + interval
        self._events_at_last_log = self.stats.events
        latest = self.recorder.max_notification_id() or 0
        position = self._position or 0
        log.info("relay_lag", position=position, latest=latest, lag=max(0, latest - position),
                 events_per_s=round(rate, 1), batches=self.stats.batches)  # fmt: skip


def is_fenced(error: BaseException) -> bool:
    """Whether ``error`` is, or carries, a fencing error (kafka-python wraps the fatal error
    of an earlier request in the ``KafkaError`` of a later call)."""
    seen: set[int] = set()
    pending: list[object] = [error]
    while pending:
        current = pending.pop()
        if not isinstance(current, BaseException) or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, FENCED_ERRORS):
            return True
        pending.extend(current.args)
        pending.extend((current.__cause__, current.__context__))
    return False


def _fenced_guard(call: Callable[[], None], settings: KafkaSettings) -> None:
    try:
        call()
    except Exception as error:
        if is_fenced(error):
            raise RelayFenced(_fenced_message(settings)) from error
        raise


def _bounded(call: Callable[[], None], timeout_s: float, what: str) -> None:
    """Run a blocking producer call with a time limit (kafka-python's commit and abort wait
    without one). On timeout the session is abandoned: the next one's ``init_transactions``
    settles the transaction, committed or aborted, before the position is read again."""
    _Bounded(call, what).result(timeout_s)


class _Bounded:
    """``call()`` started in a thread of its own; ``result(timeout_s)`` waits for it (counted
    from the start) and raises what it raised, or ``KafkaTimeoutError``."""

    def __init__(self, call: Callable[[], None], what: str) -> None:
        self._call = call
        self._what = what
        self._outcome: list[BaseException | None] = []
        self._started = time.monotonic()
        self._worker = threading.Thread(target=self._run, name=f"relay-{what}", daemon=True)
        self._worker.start()

    def _run(self) -> None:
        try:
            self._call()
        except BaseException as error:
            self._outcome.append(error)
        else:
            self._outcome.append(None)

    def result(self, timeout_s: float) -> None:
        self._worker.join(max(0.0, self._started + timeout_s - time.monotonic()))
        if not self._outcome:
            raise KafkaTimeoutError(f"{self._what} did not finish within {timeout_s:g}s")
        error = self._outcome[0]
        if error is not None:
            raise error


def _fenced_message(settings: KafkaSettings) -> str:
    return (
        f"relay {settings.relay_name} was fenced: another producer with transactional id "
        f"{settings.relay_transactional_id!r} started; this one stops"
    )


def _close_quietly(producer: TransactionalProducer) -> None:
    try:
        producer.close(timeout=5)
    except KafkaError as error:
        log.debug("relay_producer_close_failed", error=repr(error))


# -- the process ---------------------------------------------------------------------------


def quiet_kafka_client_logs() -> None:
    """kafka-python logs every connection at INFO; keep its warnings and errors only."""
    kafka_logger = logging.getLogger("kafka")
    kafka_logger.setLevel(max(logging.WARNING, logging.getLogger().getEffectiveLevel()))
