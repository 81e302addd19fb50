"""How far the read model is behind the events topic: per partition, the topic's last stable
offset against the offset stored with the read model. Read by ``capledger projector lag``,
``capledger projections status``, ``/readyz``, the Kafka rebuild and the projector's own lag
log line; it needs no Faust, so the API's readiness probe does not load the worker.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from kafka import KafkaConsumer, TopicPartition

from capledger.projections import ReadModelStore

from . import topics
from .settings import KafkaSettings


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
    timeout_s: float = 30.0,
) -> dict[int, PartitionLag]:
    """Per partition of the events topic: end offset, stored offset and lag of the read model
    (its live namespace, or ``namespace``); ``timeout_s`` is the longest wait for the topic."""
    own = consumer is None
    consumer = consumer or lag_consumer(kafka)
    try:
        ends = end_offsets(consumer, kafka.events_topic, timeout_s)
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
