"""An in-memory stand-in for a transactional Kafka producer, for the relay's unit tests.

It keeps what matters to the relay's exactly-once argument: records sent in a transaction
become visible (``committed``) only when it commits; an abort drops them; a newer producer
with the same transactional id fences the older one, whose next transactional call fails.
Failures can be injected at the n-th send or commit.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from kafka.errors import KafkaError, ProducerFencedError

from capledger.streams.settings import KafkaSettings


@dataclass
class Record:
    topic: str
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]


class Done:
    """A completed send future (kafka-python's ``FutureRecordMetadata`` interface)."""

    def __init__(self, error: BaseException | None = None) -> None:
        self.exception = error

    def failed(self) -> bool:
        return self.exception is not None


@dataclass
class FakeBroker:
    committed: list[Record] = field(default_factory=list)
    aborted: list[Record] = field(default_factory=list)
    transactions: list[list[Record]] = field(default_factory=list)
    epochs: dict[str, int] = field(default_factory=dict)
    fail_send_at: set[int] = field(default_factory=set)
    fail_commit_at: set[int] = field(default_factory=set)
    sends: int = 0
    commits: int = 0

    def producer(self, settings: KafkaSettings) -> FakeProducer:
        return FakeProducer(self, settings.relay_transactional_id)

    def position(self, settings: KafkaSettings) -> int:
        found = [
            json.loads(record.value)["position"]
            for record in self.committed
            if record.topic == settings.positions_topic
            and record.key == settings.relay_name.encode()
            and record.value is not None
        ]
        return found[-1] if found else 0

    def events(self, topic: str) -> list[Record]:
        return [record for record in self.committed if record.topic == topic]


class FakeProducer:
    def __init__(self, broker: FakeBroker, transactional_id: str) -> None:
        self.broker = broker
        self.transactional_id = transactional_id
        self.epoch = -1
        self.pending: list[Record] | None = None
        self.closed = False

    def _check_epoch(self) -> None:
        if self.broker.epochs.get(self.transactional_id) != self.epoch:
            raise ProducerFencedError()

    def init_transactions(self) -> None:
        self.epoch = self.broker.epochs.get(self.transactional_id, -1) + 1
        self.broker.epochs[self.transactional_id] = self.epoch

    def begin_transaction(self) -> None:
        self._check_epoch()
        assert self.pending is None, "a transaction is already open"
        self.pending = []

    def send(
        self,
        topic: str,
        value: bytes | None = None,
        key: bytes | None = None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> Done:
        self._check_epoch()
        assert self.pending is not None, "send outside a transaction"
        self.broker.sends += 1
        if self.broker.sends in self.broker.fail_send_at:
            return Done(KafkaError(f"injected failure of send {self.broker.sends}"))
        self.pending.append(Record(topic, key, value, list(headers or [])))
        return Done()

    def flush(self, timeout: float | None = None) -> None:
        return None

    def commit_transaction(self) -> None:
        self._check_epoch()
        assert self.pending is not None
        self.broker.commits += 1
        if self.broker.commits in self.broker.fail_commit_at:
            raise KafkaError(f"injected failure of commit {self.broker.commits}")
        self.broker.committed.extend(self.pending)
        self.broker.transactions.append(self.pending)
        self.pending = None

    def abort_transaction(self) -> None:
        self._check_epoch()
        if self.pending is not None:
            self.broker.aborted.extend(self.pending)
        self.pending = None

    def close(self, timeout: float | None = None) -> None:
        self.closed = True


def no_drift(settings: KafkaSettings) -> list[Any]:
    return []
