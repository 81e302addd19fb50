"""The development/CI Kafka broker (deploy/kafka/kafka.sh) supports what capledger needs.

Runs against a real broker at ``CAPLEDGER_KAFKA_BOOTSTRAP`` (default ``127.0.0.1:9092``)
and only when ``CAPLEDGER_TEST_KAFKA=1``::

    bash deploy/kafka/kafka.sh start
    CAPLEDGER_TEST_KAFKA=1 pytest tests/integration/kafka -q

It proves, on a single-node KRaft broker, that a transactional kafka-python producer can
commit one transaction and abort another, and that a ``read_committed`` consumer sees
exactly the committed records while the aborted ones really are in the log.

(No ``__init__.py`` here on purpose: a package named ``kafka`` under tests/ could shadow
the kafka-python library.)
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition

BOOTSTRAP = os.environ.get("CAPLEDGER_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
PARTITIONS = 3

pytestmark = [
    pytest.mark.integration,
    pytest.mark.kafka,
    pytest.mark.skipif(
        os.environ.get("CAPLEDGER_TEST_KAFKA") != "1",
        reason=(
            "needs a running Kafka broker: start it with `bash deploy/kafka/kafka.sh start` "
            "and set CAPLEDGER_TEST_KAFKA=1 (broker address: CAPLEDGER_KAFKA_BOOTSTRAP, "
            f"now {BOOTSTRAP})"
        ),
    ),
]


@pytest.fixture
def admin() -> Iterator[KafkaAdminClient]:
    client = KafkaAdminClient(
        bootstrap_servers=BOOTSTRAP,
        client_id="capledger-test-admin",
        request_timeout_ms=15_000,
    )
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def topic(admin: KafkaAdminClient) -> Iterator[str]:
    name = f"capledger-test-txn-{uuid.uuid4().hex[:12]}"
    admin.create_topics(
        {name: {"num_partitions": PARTITIONS, "replication_factor": 1}},
        timeout_ms=15_000,
        wait_for_metadata=True,
    )
    try:
        yield name
    finally:
        admin.delete_topics([name], timeout_ms=15_000)


def _read_all(topic: str, isolation_level: str, timeout_s: float = 30.0) -> list[bytes]:
    """Read every record of ``topic`` from the beginning up to its end offsets.

    With ``read_committed`` the end offsets are the last stable offsets, so once the
    transactions are finished the consumer has seen all it will ever see.
    """
    consumer = KafkaConsumer(
        bootstrap_servers=BOOTSTRAP,
        group_id=None,
        enable_auto_commit=False,
        isolation_level=isolation_level,
        client_id=f"capledger-test-{isolation_level}",
    )
    try:
        partitions = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        end = consumer.end_offsets(partitions)
        values: list[bytes] = []
        deadline = time.monotonic() + timeout_s
        while any(consumer.position(tp) < end[tp] for tp in partitions):
            if time.monotonic() > deadline:
                positions = {tp.partition: consumer.position(tp) for tp in partitions}
                ends = {tp.partition: end[tp] for tp in partitions}
                pytest.fail(f"timed out reading {topic}: positions {positions}, ends {ends}")
            for records in consumer.poll(timeout_ms=500).values():
                values.extend(record.value for record in records)
        return values
    finally:
        consumer.close()


def test_read_committed_sees_exactly_the_committed_transaction(topic: str) -> None:
    committed = [f"committed-{i}".encode() for i in range(6)]
    aborted = [f"aborted-{i}".encode() for i in range(4)]

    producer = KafkaProducer(
        bootstrap_servers=BOOTSTRAP,
        transactional_id=f"capledger-test-{uuid.uuid4().hex}",
        client_id="capledger-test-txn-producer",
        max_block_ms=30_000,
    )
    try:
        producer.init_transactions()

        producer.begin_transaction()
        for i, value in enumerate(committed):
            producer.send(topic, key=f"k{i}".encode(), value=value)
        producer.commit_transaction()

        producer.begin_transaction()
        for i, value in enumerate(aborted):
            producer.send(topic, key=f"k{i}".encode(), value=value)
        # Make sure the aborted records are really written to the log before the abort,
        # so that hiding them is the broker's and the consumer's doing.
        producer.flush()
        producer.abort_transaction()
    finally:
        producer.close()

    seen_committed = _read_all(topic, "read_committed")
    assert sorted(seen_committed) == sorted(committed)

    # Control: the aborted records are in the log; read_uncommitted sees both batches.
    seen_uncommitted = _read_all(topic, "read_uncommitted")
    assert sorted(seen_uncommitted) == sorted(committed + aborted)
