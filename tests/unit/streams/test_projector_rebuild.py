"""A rebuild through Kafka: how many replay processes, which partitions each reads, and the one
reading path (``read_partitions``) on a consumer fake (the real broker: the integration tier)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import pytest
from kafka import KafkaConsumer, TopicPartition

from capledger.projections import ReadModelStore
from capledger.streams.projector_apply import Record
from capledger.streams.projector_rebuild import (
    partition_shares,
    read_partitions,
    worker_context,
    worker_count,
)
from capledger.streams.settings import ProjectorSettings

pytestmark = pytest.mark.unit


def store_on(dialect: str) -> ReadModelStore:
    return cast(ReadModelStore, SimpleNamespace(dialect=SimpleNamespace(name=dialect)))


def test_a_postgres_read_model_is_replayed_by_one_worker_per_cpu_at_most_one_per_partition() -> (
    None
):
    cpus = os.cpu_count() or 1
    assert worker_count(store_on("postgres"), ProjectorSettings(), 64) == min(cpus, 64)
    assert worker_count(store_on("postgres"), ProjectorSettings(), 1) == 1


def test_a_sqlite_read_model_has_one_writer_unless_told_otherwise() -> None:
    assert worker_count(store_on("sqlite"), ProjectorSettings(), 6) == 1
    assert worker_count(store_on("sqlite"), ProjectorSettings(rebuild_workers=3), 6) == 3


def test_the_setting_is_capped_by_the_partitions() -> None:
    assert worker_count(store_on("postgres"), ProjectorSettings(rebuild_workers=8), 3) == 3


def _open_fd_names(fd: int, results: Connection) -> None:
    try:
        results.send(str(Path(f"/proc/self/fd/{fd}").readlink()))
    except OSError:
        results.send(None)
    results.close()


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs Linux's /proc")
def test_a_replay_worker_inherits_none_of_the_rebuilding_process_s_open_files(
    tmp_path: Path,
) -> None:
    # A forked copy of the rebuild would share its database and broker sockets.
    context = worker_context()
    with (tmp_path / "held-by-the-rebuild").open("w") as held:
        receive, send = context.Pipe(duplex=False)
        worker = context.Process(target=_open_fd_names, args=(held.fileno(), send))
        worker.start()
        send.close()
        seen = receive.recv()
        worker.join(30)
    assert worker.exitcode == 0
    assert seen is None or not seen.endswith("held-by-the-rebuild")


# -- which partitions each worker reads ----------------------------------------------------------


def test_every_partition_is_read_by_exactly_one_worker() -> None:
    sizes = {p: 1_000 + 37 * p for p in range(6)}
    for count in range(1, 8):
        shares = partition_shares(sizes, count)
        assert len(shares) == min(count, 6)
        assert sorted(p for share in shares for p in share) == list(range(6))
        assert all(share == sorted(share) for share in shares)


def test_the_shares_are_even_in_offsets_not_in_partitions() -> None:
    # One large partition and four small ones: the large one alone against the rest.
    assert partition_shares({0: 100, 1: 400, 2: 100, 3: 100, 4: 100}, 2) == [[1], [0, 2, 3, 4]]
    assert partition_shares({0: 10, 1: 10, 2: 10, 3: 10}, 2) == [[0, 2], [1, 3]]


# -- the one reading path, on a fake consumer ---------------------------------------------------


class FakeConsumer:
    """kafka-python's consumer as ``read_partitions`` uses it, over a partition → records map.

    ``offsets`` per partition may leave gaps (a transaction marker's offset, aborted records):
    a poll that gets past them moves the position there without a record, as Kafka's does."""

    def __init__(self, offsets: Mapping[int, Sequence[int]], log_end: Mapping[int, int]) -> None:
        self.offsets = offsets
        self.log_end = log_end
        self.positions: dict[int, int] = {}
        self.paused: set[int] = set()
        self.polls: list[int] = []

    def assign(self, tps: list[TopicPartition]) -> None:
        self.positions = {tp.partition: 0 for tp in tps}
        self.paused = set()

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.positions[tp.partition] = offset

    def position(self, tp: TopicPartition) -> int:
        return self.positions[tp.partition]

    def pause(self, *tps: TopicPartition) -> None:
        self.paused.update(tp.partition for tp in tps)

    def poll(self, timeout_ms: int, max_records: int) -> dict[TopicPartition, list[object]]:
        self.polls.append(max_records)
        found: dict[TopicPartition, list[object]] = {}
        for partition, position in self.positions.items():
            if partition in self.paused or max_records <= 0:
                continue
            ahead = [o for o in self.offsets[partition] if o >= position][:max_records]
            if ahead:
                records = [
                    SimpleNamespace(offset=o, headers=[("ce_type", b"t")], value=b"{}")
                    for o in ahead
                ]
                found[TopicPartition("events", partition)] = records
                max_records -= len(ahead)
                self.positions[partition] = ahead[-1] + 1
            else:  # past the offsets no consumer receives
                self.positions[partition] = self.log_end[partition]
        return found


def read_all(
    consumer: FakeConsumer,
    starts: dict[int, int],
    ends: dict[int, int],
    batch_size: int,
    stop_after: int | None = None,
) -> list[list[Record]]:
    batches: list[list[Record]] = []
    read_partitions(
        cast(KafkaConsumer, consumer), "events", starts, ends, batch_size, batches.append,
        (lambda: len(batches) >= stop_after) if stop_after is not None else None,
    )  # fmt: skip
    return batches


def test_each_partition_is_read_from_its_start_to_its_end_in_batches_of_at_most_the_size() -> None:
    consumer = FakeConsumer({0: range(0, 50), 1: range(0, 30)}, {0: 50, 1: 30})

    batches = read_all(consumer, starts={0: 10, 1: 0}, ends={0: 40, 1: 30}, batch_size=7)

    read = [(r.partition, r.offset) for batch in batches for r in batch]
    assert sorted(read) == [(0, o) for o in range(10, 40)] + [(1, o) for o in range(30)]
    for partition in (0, 1):
        mine = [o for p, o in read if p == partition]
        assert mine == sorted(mine)
    assert all(0 < len(batch) <= 7 for batch in batches)
    assert consumer.paused == {0, 1}  # records appended past the end are not fetched


def test_a_partition_whose_last_offsets_no_consumer_receives_ends_all_the_same() -> None:
    # Offsets 8 and 9 of partition 0: an aborted transaction and its marker.
    consumer = FakeConsumer({0: range(0, 8), 1: []}, {0: 10, 1: 0})

    batches = read_all(consumer, starts={0: 0, 1: 0}, ends={0: 10, 1: 0}, batch_size=100)

    assert [r.offset for batch in batches for r in batch] == list(range(8))


def test_a_partition_already_at_its_end_is_not_polled() -> None:
    consumer = FakeConsumer({0: range(5)}, {0: 5})

    assert read_all(consumer, starts={0: 5}, ends={0: 5}, batch_size=10) == []
    assert consumer.polls == []


def test_a_stop_leaves_the_records_in_hand_unapplied() -> None:
    consumer = FakeConsumer({0: range(100)}, {0: 100})

    batches = read_all(consumer, starts={0: 0}, ends={0: 100}, batch_size=10, stop_after=2)

    assert [len(batch) for batch in batches] == [10, 10]
