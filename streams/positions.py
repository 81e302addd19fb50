"""The relay's position: the last notification id it committed to the events topic.

The position is written to the compacted positions topic (key = relay name, value =
``{"position": n}``) in the same Kafka transaction as the events up to ``n``, so it is
committed exactly when they are. On start the relay reads it back with ``read_committed``:

1. ``init_transactions()`` has already completed or aborted every transaction of an earlier
   producer with the same transactional id, so nothing of ours is still undecided;
2. the high watermark taken now is beyond every record we ever wrote;
3. reading ``read_committed`` up to that offset (the consumer waits while another relay's
   open transaction holds the last stable offset back) sees our last committed position.

The partition is read backwards in growing windows from its end, so start-up stays quick
however long the topic is between two compactions.
"""

from __future__ import annotations

import json
import time

import structlog
from kafka import KafkaConsumer, TopicPartition

from . import topics
from .settings import KafkaSettings

log = structlog.get_logger(__name__)

FIRST_WINDOW = 64


class PositionReadTimeout(RuntimeError):
    """The positions topic could not be read to its end in time."""


def encode_position(position: int) -> bytes:
    return json.dumps({"position": position}, separators=(",", ":")).encode()


def decode_position(value: bytes | None) -> int | None:
    if value is None:
        return None
    document = json.loads(value)
    return int(document["position"])


def read_committed_position(settings: KafkaSettings, timeout_s: float = 60.0) -> int:
    """The last position the relay named in ``settings`` committed (0 when none)."""
    consumer = topics.consumer(settings, "position-reader")
    try:
        return _read(consumer, settings, timeout_s)
    finally:
        consumer.close()


def _read(consumer: KafkaConsumer, settings: KafkaSettings, timeout_s: float) -> int:
    key = settings.relay_name.encode()
    deadline = time.monotonic() + timeout_s
    partitions = _partitions(consumer, settings.positions_topic, deadline)
    consumer.assign(partitions)
    beginnings = consumer.beginning_offsets(partitions)
    # Everything we ever wrote lies below the high watermark; read_committed end offsets
    # would stop at the last stable offset instead (see the module's docstring).
    ends = _high_watermarks(settings, partitions)
    best: int | None = None
    for partition in partitions:
        start, end = beginnings[partition], ends[partition]
        window = FIRST_WINDOW
        upper = end
        while upper > start:
            lower = max(start, upper - window)
            found = _last_value_for_key(consumer, partition, lower, upper, key, deadline)
            if found is not None:
                best = max(best or 0, found)
                break
            upper, window = lower, window * 4
    position = best or 0
    log.info("relay_position_read", relay=settings.relay_name, position=position)
    return position


def _partitions(consumer: KafkaConsumer, topic: str, deadline: float) -> list[TopicPartition]:
    while True:
        found = consumer.partitions_for_topic(topic)
        if found:
            return [TopicPartition(topic, partition) for partition in sorted(found)]
        if time.monotonic() > deadline:
            raise PositionReadTimeout(f"topic {topic} has no partitions (does it exist?)")
        time.sleep(0.1)


def _high_watermarks(
    settings: KafkaSettings, partitions: list[TopicPartition]
) -> dict[TopicPartition, int]:
    uncommitted = topics.consumer(settings, "position-reader", isolation="read_uncommitted")
    try:
        ends: dict[TopicPartition, int] = uncommitted.end_offsets(partitions)
        return ends
    finally:
        uncommitted.close()


def _last_value_for_key(
    consumer: KafkaConsumer,
    partition: TopicPartition,
    lower: int,
    upper: int,
    key: bytes,
    deadline: float,
) -> int | None:
    """The last position under ``key`` among the committed records in [lower, upper)."""
    consumer.seek(partition, lower)
    found: int | None = None
    while consumer.position(partition) < upper:
        if time.monotonic() > deadline:
            raise PositionReadTimeout(
                f"could not read {partition.topic} up to offset {upper} "
                f"(at {consumer.position(partition)}): is a transaction stuck open?"
            )
        for records in consumer.poll(timeout_ms=200).values():
            for record in records:
                if record.offset < upper and record.key == key:
                    found = decode_position(record.value)
    return found
