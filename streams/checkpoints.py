"""Publishes the verifiable log's signed checkpoints on their Kafka topic (docs/kafka.md).

One record per checkpoint: the key is the log's origin (one key, one partition: subscribers read
checkpoints in the order they were issued), the value the signed note as UTF-8 text, and the
headers ``content-type: text/plain; charset=utf-8`` and ``tree-size`` (decimal). The producer is
idempotent with ``acks=all``, as the relay's; each record is acknowledged before the next
checkpoint is issued.
"""

from __future__ import annotations

from typing import Protocol

from kafka import KafkaProducer

from capledger.application.tlog.checkpoint import Checkpoint

from .relay import quiet_kafka_client_logs
from .settings import KafkaSettings
from .topics import checkpoints_topic, ensure_topic

CONTENT_TYPE = b"text/plain; charset=utf-8"


class Sent(Protocol):
    def get(self, timeout: float | None = None) -> object: ...


class Producer(Protocol):
    """The part of kafka-python's ``KafkaProducer`` used here."""

    def send(
        self,
        topic: str,
        value: bytes | None = None,
        key: bytes | None = None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> Sent: ...
    def flush(self, timeout: float | None = None) -> None: ...
    def close(self, timeout: float | None = None) -> None: ...


class CheckpointPublisher:
    def __init__(self, settings: KafkaSettings, topic: str) -> None:
        self.settings = settings
        self.topic = topic
        quiet_kafka_client_logs()
        ensure_topic(settings, checkpoints_topic(settings, topic))
        self.producer: Producer = KafkaProducer(
            bootstrap_servers=settings.bootstrap_servers,
            client_id=f"{settings.client_id}-log",
            enable_idempotence=True,
            acks="all",
            max_block_ms=settings.max_block_ms,
            request_timeout_ms=settings.request_timeout_ms,
            reconnect_backoff_max_ms=settings.reconnect_backoff_max_ms,
        )

    def __call__(self, checkpoint: Checkpoint, note: str) -> None:
        headers = [("content-type", CONTENT_TYPE), ("tree-size", str(checkpoint.size).encode())]
        sent = self.producer.send(self.topic, note.encode(), checkpoint.origin.encode(), headers)
        sent.get(timeout=self.settings.request_timeout_ms / 1000)  # raises if not written

    def close(self) -> None:
        self.producer.close(self.settings.request_timeout_ms / 1000)
