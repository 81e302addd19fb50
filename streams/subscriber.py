"""Subscribing to the events topic, for finance systems and operators.

``subscribe(settings, start, sink)`` reads the events topic as a member of a consumer group,
``read_committed`` (only events of committed relay transactions, never an aborted attempt),
hands each event to ``sink`` in partition order and commits the group's offsets by hand after
the sink has taken them: delivery is at least once, and a sink that remembers ``ce_id`` (the
event's ``id``) makes it exactly once.

Where to start, when the group has no committed offsets or when asked explicitly:

- ``Start.committed()`` (default): the group's committed offsets, else the beginning;
- ``Start.beginning()``: every event from the first;
- ``Start.now()``: only events published from now on;
- ``Start.from_position(n)``: events at ledger position ``n`` and later. Positions grow along
  every partition, so each partition is bisected to its first event at or after ``n``.

The CLI's ``capledger subscribe`` is a thin shell over ``subscribe`` (see ``run_subscribe``).
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TextIO

import structlog
from kafka import ConsumerRebalanceListener, KafkaConsumer, TopicPartition
from kafka.structs import OffsetAndMetadata

from . import topics
from .settings import KafkaSettings
from .wire import ReceivedEvent, received

log = structlog.get_logger(__name__)

Sink = Callable[[ReceivedEvent], None]
POLL_MS = 500


class StartKind(StrEnum):
    COMMITTED = "committed"
    BEGINNING = "beginning"
    NOW = "now"
    POSITION = "position"


@dataclass(frozen=True)
class Start:
    kind: StartKind
    position: int = 0

    @classmethod
    def committed(cls) -> Start:
        return cls(StartKind.COMMITTED)

    @classmethod
    def beginning(cls) -> Start:
        return cls(StartKind.BEGINNING)

    @classmethod
    def now(cls) -> Start:
        return cls(StartKind.NOW)

    @classmethod
    def from_position(cls, position: int) -> Start:
        if position < 1:
            raise ValueError("ledger positions start at 1")
        return cls(StartKind.POSITION, position)


class TypeFilter:
    """Matches an event's type by its name (``Project.CompletedWorkPaid``, any version) or
    its full CloudEvents type (``vn.capledger.Project.CompletedWorkPaid.v1``)."""

    def __init__(self, types: Collection[str] = ()) -> None:
        self.types = frozenset(t.strip() for t in types if t.strip())

    def __call__(self, event: ReceivedEvent) -> bool:
        return not self.types or event.type in self.types or event.name in self.types


def consumer_for(settings: KafkaSettings, group: str | None) -> KafkaConsumer:
    return topics.consumer(settings, "subscriber", group=group, auto_offset_reset="earliest")


class _Positioner(ConsumerRebalanceListener):  # type: ignore[misc]
    """Moves newly assigned partitions to where ``start`` says, once per partition."""

    def __init__(
        self, consumer: KafkaConsumer, start: Start, offsets: dict[TopicPartition, int]
    ) -> None:
        self.consumer = consumer
        self.start = start
        self.offsets = offsets
        self.done: set[TopicPartition] = set()

    def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        return None

    def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        fresh = [tp for tp in assigned if tp not in self.done]
        self.done.update(fresh)
        if not fresh or self.start.kind is StartKind.COMMITTED:
            return
        if self.start.kind is StartKind.BEGINNING:
            self.consumer.seek_to_beginning(*fresh)
        elif self.start.kind is StartKind.NOW:
            self.consumer.seek_to_end(*fresh)
        else:
            for tp in fresh:
                self.consumer.seek(tp, self.offsets.get(tp, 0))
        log.info("subscriber_positioned", start=self.start.kind.value,
                 partitions=sorted(tp.partition for tp in fresh))  # fmt: skip


def offsets_at_position(settings: KafkaSettings, position: int) -> dict[TopicPartition, int]:
    """Per partition of the events topic, the offset of its first event at ≥ ``position``."""
    consumer = consumer_for(settings, None)
    try:
        partitions = sorted(consumer.partitions_for_topic(settings.events_topic) or ())
        tps = [TopicPartition(settings.events_topic, partition) for partition in partitions]
        consumer.assign(tps)
        return {tp: first_offset_at(consumer, tp, position) for tp in tps}
    finally:
        consumer.close(autocommit=False)


def first_offset_at(consumer: KafkaConsumer, tp: TopicPartition, position: int) -> int:
    """The offset of the first committed event of ``tp`` at ledger position ≥ ``position``.

    Bisects the partition (``consumer`` has it assigned): positions grow with offsets.
    """
    low: int = consumer.beginning_offsets([tp])[tp]
    high: int = consumer.end_offsets([tp])[tp]  # read_committed: the last stable offset
    while low < high:
        middle = (low + high) // 2
        event = _first_event_from(consumer, tp, middle, high)
        if event is None or event.position >= position:
            high = middle
        else:
            low = event.offset + 1
    return low


def _first_event_from(
    consumer: KafkaConsumer, tp: TopicPartition, offset: int, end: int
) -> ReceivedEvent | None:
    """The first committed event of ``tp`` in [offset, end), if any."""
    consumer.seek(tp, offset)
    while consumer.position(tp) < end:
        for record in consumer.poll(timeout_ms=POLL_MS, max_records=1).get(tp, []):
            if record.offset >= end:
                return None
            return received(tp.topic, tp.partition, record.offset, record.headers, record.value)
    return None


def subscribe(
    settings: KafkaSettings,
    start: Start,
    sink: Sink,
    stop_after: int | None = None,
    *,
    group: str | None = None,
    types: Collection[str] = (),
    stop: threading.Event | None = None,
) -> int:
    """Hand every matching event to ``sink`` until ``stop_after`` events (or ``stop``).

    Offsets are committed after the sink returns, batch by batch (and exactly up to the last
    event taken when ``stop_after`` ends the run). Returns how many events ``sink`` took.
    """
    wanted = TypeFilter(types)
    stop = stop or threading.Event()
    start_offsets = offsets_at_position(settings, start.position) if start.position else {}
    consumer = consumer_for(settings, group or settings.subscriber_group)
    positioner = _Positioner(consumer, start, start_offsets)
    consumer.subscribe([settings.events_topic], listener=positioner)
    taken = 0
    try:
        while not stop.is_set() and (stop_after is None or taken < stop_after):
            batches = consumer.poll(timeout_ms=POLL_MS)
            commits: dict[TopicPartition, OffsetAndMetadata] = {}
            for tp, records in batches.items():
                for record in records:
                    event = received(tp.topic, tp.partition, record.offset, record.headers,
                                     record.value)  # fmt: skip
                    skip = start.kind is StartKind.POSITION and event.position < start.position
                    if not skip and wanted(event):
                        sink(event)
                        taken += 1
                    commits[tp] = OffsetAndMetadata(record.offset + 1, "", -1)
                    if stop_after is not None and taken >= stop_after:
                        break
                if stop_after is not None and taken >= stop_after:
                    break
            if commits:
                consumer.commit(commits)
    finally:
        consumer.close(autocommit=False)
    log.info("subscriber_stopped", events=taken)
    return taken


# -- output for the CLI --------------------------------------------------------------------


class OutputFormat(StrEnum):
    JSON = "json"
    LINE = "line"


def json_line(event: ReceivedEvent) -> str:
    document: dict[str, Any] = {
        "id": event.id,
        "type": event.type,
        "subject": event.subject,
        "time": event.time,
        "position": event.position,
        "stream": event.stream,
        "stream_version": event.stream_version,
        "principal": event.principal,
        "command_id": event.command_id,
        "hash": event.hash,
        "prev": event.prev,
        "data": event.data,
        "kafka": {"topic": event.topic, "partition": event.partition, "offset": event.offset},
    }
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"))


def text_line(event: ReceivedEvent) -> str:
    data = event.data if isinstance(event.data, dict) else {}
    fields = " ".join(
        f"{key}={json.dumps(value, ensure_ascii=False)}"
        for key, value in sorted(data.items())
        if not isinstance(value, dict | list)
    )
    return f"{event.position:>10} {event.time} {event.name:<36} {event.subject:<24} {fields}"


def printing_sink(out: TextIO, output: OutputFormat) -> Sink:
    render = json_line if output is OutputFormat.JSON else text_line

    def sink(event: ReceivedEvent) -> None:
        out.write(render(event) + "\n")
        out.flush()

    return sink


def run_subscribe(
    settings: KafkaSettings,
    *,
    start: Start,
    group: str | None,
    types: Collection[str],
    output: OutputFormat,
    max_events: int | None,
    out: TextIO | None = None,
) -> int:
    """What ``capledger subscribe`` does; returns the process exit status."""
    try:
        subscribe(settings, start, printing_sink(out or sys.stdout, output), max_events,
                  group=group, types=types)  # fmt: skip
    except KeyboardInterrupt:
        return 130
    return 0


def parse_types(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]
