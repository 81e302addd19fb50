"""The Kafka runner's core without a broker: records of the events topic (built by the relay's
own ``wire.to_message``) applied to a real read model (SQLite, and PostgreSQL with
``CAPLEDGER_TEST_POSTGRES=1``) with their offsets in the same transaction.

Partitions are simulated as Kafka makes them: a key's records in one partition, in order, with
offsets left out where a relay transaction's commit marker sits. Any interleaving of partitions,
any batching, redelivery, failed transactions and two workers on one partition must give the
read model of the embedded runner, row for row.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from builders import record_year
from unit.streams.stream_scenario import record_every_event_type

from capledger.application.ledger import Ledger
from capledger.projections import EmbeddedRunner, ReadModelStore
from capledger.streams import wire
from capledger.streams.projector_apply import (
    OffsetApplier,
    OffsetsMovedBack,
    Record,
    SharedReadModel,
)

from ..projections.support import dump

pytestmark = pytest.mark.integration

TOPIC = "capledger.events"
WIRE = wire.WireFormat("/capledger/test", "urn:capledger:schema:")


@dataclass(frozen=True)
class Topic:
    """The events topic as a broker would hold it: per partition, records in offset order."""

    partitions: dict[int, list[Record]]

    @property
    def records(self) -> int:
        return sum(len(records) for records in self.partitions.values())

    def interleaved(self, rng: random.Random) -> list[Record]:
        """All records, partitions interleaved at random, each partition in order."""
        cursors = {p: 0 for p, records in self.partitions.items() if records}
        merged: list[Record] = []
        while cursors:
            partition = rng.choice(sorted(cursors))
            merged.append(self.partitions[partition][cursors[partition]])
            cursors[partition] += 1
            if cursors[partition] == len(self.partitions[partition]):
                del cursors[partition]
        return merged


def topic_of(ledger: Ledger, partitions: int = 3, transaction: int = 7) -> Topic:
    """The ledger's notification log as the relay publishes it: a key's records in one
    partition; an offset skipped after every ``transaction`` records (the commit marker)."""
    found: dict[int, list[Record]] = {p: [] for p in range(partitions)}
    offsets = dict.fromkeys(range(partitions), 0)
    for index, note in enumerate(ledger.recorder.select_notifications(1, 1_000_000)):
        message = wire.to_message(note, WIRE)
        partition = zlib.crc32(message.key) % partitions
        found[partition].append(
            Record(partition, offsets[partition], message.headers, message.value)
        )
        offsets[partition] += 1
        if index % transaction == transaction - 1:
            offsets = {p: offset + 1 for p, offset in offsets.items()}
    return Topic(found)


def batches(records: list[Record], rng: random.Random, largest: int = 40) -> Iterator[list[Record]]:
    start = 0
    while start < len(records):
        size = rng.randint(1, largest)
        yield records[start : start + size]
        start += size


@pytest.fixture
def history(ledger: Ledger) -> Ledger:
    record_year(ledger)
    record_every_event_type(ledger, prefix="X-")
    return ledger


@pytest.fixture
def expected(history: Ledger, read_models: Callable[[], ReadModelStore]) -> dict[str, Any]:
    """Every table as the embedded runner folds the same history."""
    embedded = read_models()
    EmbeddedRunner(embedded, history.recorder, batch_size=13).catch_up()
    return dump(embedded)


def test_any_interleaving_and_batching_gives_the_embedded_read_model(
    history: Ledger, read_models: Callable[[], ReadModelStore], expected: dict[str, Any]
) -> None:
    topic = topic_of(history)
    for seed in range(3):
        rng = random.Random(seed)
        read_model = read_models()
        applier = OffsetApplier(read_model, TOPIC)
        for batch in batches(topic.interleaved(rng), rng):
            applier.apply(batch)

        assert dump(read_model) == expected
        assert applier.records_applied == topic.records
        last = {p: records[-1].offset + 1 for p, records in topic.partitions.items()}
        assert applier.positions(last) == last  # the offset after each partition's last record


def test_redelivered_records_are_dropped_and_never_counted_twice(
    history: Ledger, read_models: Callable[[], ReadModelStore], expected: dict[str, Any]
) -> None:
    topic, rng = topic_of(history), random.Random(7)
    read_model = read_models()
    applier = OffsetApplier(read_model, TOPIC)
    records = topic.interleaved(rng)
    done = 0
    while done < len(records):
        # Each batch starts somewhere at or before where the last one ended: a restart
        # after a crash, Kafka re-delivering from an older position.
        start = max(0, done - rng.randint(0, 30))
        batch = records[start : done + rng.randint(1, 30)]
        applier.apply(batch)
        done = start + len(batch)

    assert dump(read_model) == expected
    assert applier.records_applied == topic.records
    assert applier.duplicates_dropped > 0


class Crash(Exception):
    pass


def test_a_batch_that_fails_leaves_nothing_and_is_applied_whole_on_retry(
    history: Ledger, read_models: Callable[[], ReadModelStore], expected: dict[str, Any]
) -> None:
    topic, rng = topic_of(history), random.Random(11)
    read_model = read_models()
    applier = OffsetApplier(read_model, TOPIC)
    failures = 0

    def maybe_crash() -> None:
        nonlocal failures
        if rng.random() < 0.3:
            failures += 1
            raise Crash

    for batch in batches(topic.interleaved(rng), rng):
        while True:
            try:
                applier.apply(batch, before_commit=maybe_crash)
                break
            except Crash:
                continue

    assert failures > 0
    assert dump(read_model) == expected
    assert applier.records_applied == topic.records


def test_two_workers_holding_one_partition_during_a_rebalance_never_double_count(
    history: Ledger, read_models: Callable[[], ReadModelStore], expected: dict[str, Any]
) -> None:
    """Both workers get every record, in overlapping batches; the tracking row's lock and the
    stored offset let each record in once, whichever worker stores it."""
    topic, rng = topic_of(history), random.Random(3)
    read_model = read_models()
    workers = [OffsetApplier(read_model, TOPIC), OffsetApplier(read_model, TOPIC)]
    streams = [list(batches(topic.interleaved(rng), rng)) for _ in workers]
    # The old owner runs a third of the way; the new owner starts from the beginning and runs
    # two thirds of the way, overtaking it; then both deliver the rest in random turns.
    first, second = streams
    for batch in first[: len(first) // 3]:
        workers[0].apply(batch)
    for batch in second[: 2 * len(second) // 3]:
        workers[1].apply(batch)
    del first[: len(first) // 3], second[: 2 * len(second) // 3]
    while any(streams):
        index = rng.randrange(2)
        if streams[index]:
            workers[index].apply(streams[index].pop(0))

    assert dump(read_model) == expected
    assert sum(worker.records_applied for worker in workers) == topic.records
    # Every record reached both workers: one stored it, the other dropped it.
    assert sum(worker.duplicates_dropped for worker in workers) == topic.records
    assert all(worker.records_applied > 0 for worker in workers)
    assert all(worker.duplicates_dropped > 0 for worker in workers)


def test_offsets_moved_back_under_a_worker_stop_it_rather_than_skip_records(
    history: Ledger, read_models: Callable[[], ReadModelStore]
) -> None:
    topic = topic_of(history)
    partition, records = max(topic.partitions.items(), key=lambda item: len(item[1]))
    assert len(records) >= 30
    read_model = read_models()
    applier = OffsetApplier(read_model, TOPIC)
    applier.apply(records[:20])
    with read_model.writer() as writer:  # someone resets the partition behind its back
        writer.set_position(records[5].offset, TOPIC, partition)

    with pytest.raises(OffsetsMovedBack):
        applier.apply(records[20:30])

    # Seeking again (what a restart does) makes the stored offset the anchor.
    assert applier.positions([partition]) == {partition: records[5].offset}
    applier.apply(records[5:30])
    assert applier.positions([partition]) == {partition: records[29].offset + 1}


def test_a_read_model_written_by_the_embedded_runner_is_refused(
    history: Ledger, read_models: Callable[[], ReadModelStore]
) -> None:
    read_model = read_models()
    EmbeddedRunner(read_model, history.recorder).catch_up()
    applier = OffsetApplier(read_model, TOPIC)

    with pytest.raises(SharedReadModel):
        applier.apply(topic_of(history).partitions[0][:5])
