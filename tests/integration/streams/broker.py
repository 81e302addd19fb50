"""Helpers of the broker tests: unique topics, reading a topic to its end, the exactly-once audit.

Every test works on its own topics and relay name (a random suffix), so tests never see each
other's records and can share one broker.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

from capledger.settings import Persistence, Settings
from capledger.streams import wire
from capledger.streams.settings import KafkaSettings

BOOTSTRAP = os.environ.get("CAPLEDGER_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
KAFKA_ENABLED = os.environ.get("CAPLEDGER_TEST_KAFKA") == "1"
REPO = Path(__file__).resolve().parents[3]

requires_kafka = [
    pytest.mark.integration,
    pytest.mark.kafka,
    pytest.mark.skipif(
        not KAFKA_ENABLED,
        reason=(
            "needs a running Kafka broker: `bash deploy/kafka/kafka.sh start` and "
            f"CAPLEDGER_TEST_KAFKA=1 (broker: CAPLEDGER_KAFKA_BOOTSTRAP, now {BOOTSTRAP})"
        ),
    ),
]


def unique_settings(label: str, bootstrap: str = BOOTSTRAP, **overrides: Any) -> KafkaSettings:
    suffix = f"{label}-{uuid.uuid4().hex[:10]}"
    values: dict[str, Any] = {
        "bootstrap": bootstrap,
        "events_topic": f"test.events.{suffix}",
        "positions_topic": f"test.positions.{suffix}",
        "relay_name": f"test-relay-{suffix}",
        "partitions": 3,
        "retry_backoff_s": 0.2,
        "subscriber_group": f"test-group-{suffix}",
        **overrides,
    }
    return KafkaSettings(**values)


def kafka_env(settings: KafkaSettings) -> dict[str, str]:
    """The ``CAPLEDGER_KAFKA_*`` variables that give a subprocess these settings."""
    env: dict[str, str] = {}
    for name, value in settings.model_dump().items():
        if value is not None:
            env[f"CAPLEDGER_KAFKA_{name.upper()}"] = str(value)
    return env


def store_env(settings: Settings) -> dict[str, str]:
    """The ``CAPLEDGER_*`` variables that give a subprocess this store."""
    env = {
        "CAPLEDGER_PERSISTENCE": settings.store.persistence.value,
        "CAPLEDGER_DATA_DIR": str(settings.store.data_dir),
        "CAPLEDGER_SQLITE_FILE": settings.store.sqlite_file,
    }
    if settings.store.persistence is Persistence.POSTGRES:
        env.update(
            CAPLEDGER_POSTGRES_HOST=settings.store.postgres.host,
            CAPLEDGER_POSTGRES_PORT=str(settings.store.postgres.port),
            CAPLEDGER_POSTGRES_USER=settings.store.postgres.user,
            CAPLEDGER_POSTGRES_PASSWORD=settings.store.postgres.password.get_secret_value(),
            CAPLEDGER_POSTGRES_DBNAME=settings.store.postgres.dbname,
            CAPLEDGER_POSTGRES_SCHEMA=settings.store.postgres.schema_name,
        )
    return env


def process_env(store: Settings, kafka: KafkaSettings, **extra: str) -> dict[str, str]:
    env = {**os.environ, **store_env(store), **kafka_env(kafka), **extra}
    env.setdefault("CAPLEDGER_LOG_FORMAT", "json")
    env.setdefault("CAPLEDGER_LOG_LEVEL", "INFO")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def start_relay(
    env: Mapping[str, str], log_path: Path, *args: str, pause_ms: int = 0
) -> subprocess.Popen[bytes]:
    """``capledger relay`` as a child process, logging to ``log_path``; with ``pause_ms``, the
    same relay pausing up to that long inside each transaction (``paused_relay.py``)."""
    command = ["-m", "capledger", "relay"]
    if pause_ms:
        command = [str(Path(__file__).with_name("paused_relay.py")), str(pause_ms)]
    log = log_path.open("ab")
    try:
        return subprocess.Popen(
            [sys.executable, *command, *args],
            env=dict(env),
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    finally:
        log.close()


@contextmanager
def admin(bootstrap: str = BOOTSTRAP) -> Iterator[KafkaAdminClient]:
    client = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=30_000)
    try:
        yield client
    finally:
        client.close()


def delete_topics(settings: KafkaSettings) -> None:
    with admin(settings.bootstrap) as client:
        present = set(client.list_topics())
        names = [t for t in (settings.events_topic, settings.positions_topic) if t in present]
        if names:
            client.delete_topics(names)


@dataclass(frozen=True)
class Message:
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: dict[str, bytes]

    @property
    def ce_id(self) -> str:
        return self.headers[wire.CE_ID].decode()

    @property
    def position(self) -> int:
        return int(self.headers[wire.POSITION])

    @property
    def stream_version(self) -> int:
        return int(self.headers[wire.STREAM_VERSION])


def read_topic(
    bootstrap: str, topic: str, isolation_level: str = "read_committed", timeout_s: float = 120
) -> list[Message]:
    """Every record of ``topic`` up to its end offsets (the last stable offsets when
    ``read_committed``), in partition then offset order."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        isolation_level=isolation_level,
        client_id=f"capledger-test-reader-{isolation_level}",
    )
    try:
        partitions = [
            TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))
        ]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        end = consumer.end_offsets(partitions)
        found: list[Message] = []
        deadline = time.monotonic() + timeout_s
        while any(consumer.position(tp) < end[tp] for tp in partitions):
            if time.monotonic() > deadline:
                pytest.fail(f"could not read {topic} to its end offsets {end}")
            for tp, records in consumer.poll(timeout_ms=500).items():
                found.extend(
                    Message(tp.partition, r.offset, r.key, r.value, dict(r.headers or []))
                    for r in records
                    if r.offset < end[tp]
                )
        return sorted(found, key=lambda m: (m.partition, m.offset))
    finally:
        consumer.close()


@dataclass
class Audit:
    """How the topic compares with the notification log."""

    recorded: int
    published: int
    missing: list[str] = field(default_factory=list)
    duplicates: dict[str, int] = field(default_factory=dict)
    unexpected: list[str] = field(default_factory=list)
    out_of_order: list[str] = field(default_factory=list)

    @property
    def exactly_once(self) -> bool:
        return not (self.missing or self.duplicates or self.unexpected or self.out_of_order)

    def summary(self) -> str:
        return (
            f"recorded={self.recorded} published={self.published} missing={len(self.missing)} "
            f"duplicates={sum(n - 1 for n in self.duplicates.values())} "
            f"unexpected={len(self.unexpected)} out_of_order={len(self.out_of_order)}"
        )


def audit(recorded_ids: Iterable[str], messages: list[Message]) -> Audit:
    """Every recorded event once, nothing else, each key's stream versions increasing."""
    recorded = list(recorded_ids)
    counts = Counter(message.ce_id for message in messages)
    expected = set(recorded)
    report = Audit(recorded=len(recorded), published=len(messages))
    report.missing = sorted(expected - set(counts))
    report.duplicates = {ce_id: n for ce_id, n in counts.items() if n > 1}
    report.unexpected = sorted(set(counts) - expected)
    last: dict[tuple[int, bytes | None, str], int] = {}
    for message in messages:  # partition then offset order
        stream = message.headers[wire.STREAM].decode()
        key = (message.partition, message.key, stream)
        if key in last and message.stream_version <= last[key]:
            report.out_of_order.append(message.ce_id)
        last[key] = message.stream_version
    return report


def recorded_ids(notifications: Iterable[Any]) -> list[str]:
    return [wire.event_id(n.originator_id, n.originator_version) for n in notifications]


def wait_for(condition: Any, timeout_s: float, what: str, interval_s: float = 0.1) -> None:
    """Wait until ``condition()`` is true; fail the test with ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what} after {timeout_s}s")
        time.sleep(interval_s)


def wait_for_log(
    process: subprocess.Popen[bytes], log_path: Path, text: str, timeout_s: float, what: str
) -> None:
    """Wait until a child's log holds ``text``; fail at once if the child exits first, and
    either way show the end of its log (the child's own account of why it did not get there)."""

    def tail() -> str:
        if not log_path.exists():
            return "(no log written)"
        return log_path.read_text(errors="replace")[-4000:]

    deadline = time.monotonic() + timeout_s
    while not (log_path.exists() and text in log_path.read_text(errors="replace")):
        if process.poll() is not None:
            status = process.returncode
            pytest.fail(f"the child exited ({status}) before {what}; its log:\n{tail()}")
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what} after {timeout_s}s; its log:\n{tail()}")
        time.sleep(0.1)
