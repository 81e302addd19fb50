"""A rebuild that reads and decodes the log in a child process (``projections.prefetch``):
the same read model, the same errors, the old namespace serving after any failure, and no
child process left behind. (``shards=1``: on an SQLite read model a parallel rebuild would
otherwise fold in shard workers, which ``test_sharded_rebuild`` tests.)"""

from __future__ import annotations

import importlib
import multiprocessing
import os
import signal
from collections.abc import Callable
from typing import Any

import pytest

from capledger.application.ledger import Ledger
from capledger.application.storage import event_log
from capledger.projections import EmbeddedRunner, ReadModelStore, UnknownEvent, prefetch, rebuild
from capledger.projections.log import EventLogReader
from capledger.projections.reducers import REDUCERS
from capledger.settings import Persistence, Settings

from ..conftest import RawStore
from .haiphong import record_hai_phong
from .support import Clock, dump
from .test_runner import every_reducer

pytestmark = pytest.mark.integration
rebuild_module = importlib.import_module("capledger.projections.rebuild")

OpenReadModel = Callable[[], ReadModelStore]


def no_child_left() -> bool:
    return multiprocessing.active_children() == []


@pytest.mark.usefixtures("sqlite_only")
@pytest.mark.parametrize("chunk", [1, 7, 2_500])
def test_a_parallel_rebuild_writes_the_read_model_of_a_rebuild_in_process(
    ledger: Ledger,
    clock: Clock,
    read_model: ReadModelStore,
    read_models: OpenReadModel,
    monkeypatch: pytest.MonkeyPatch,
    chunk: int,
) -> None:
    record_hai_phong(ledger, clock)
    monkeypatch.setattr(prefetch, "CHUNK", chunk)
    in_process = read_models()
    rebuild(in_process, ledger.recorder, batch_size=5, page_size=3, parallel=False)

    report = rebuild(
        read_model, ledger.recorder, batch_size=5, page_size=3, parallel=True, shards=1
    )

    assert report.position == ledger.recorder.max_notification_id()
    assert dump(read_model) == dump(in_process)
    assert no_child_left()


@pytest.mark.usefixtures("sqlite_only")
@pytest.mark.parametrize("start_method", ["fork", "spawn"])
@pytest.mark.parametrize(("start", "limit"), [(0, 1), (0, 4), (3, 1_000)])
def test_the_child_hands_over_the_events_the_in_process_reader_reads(
    ledger: Ledger, clock: Clock, start_method: str, start: int, limit: int
) -> None:
    record_hai_phong(ledger, clock)
    expected = read_everything(EventLogReader(event_log(ledger.recorder)), start, limit)

    with prefetch.ProcessLogReader(
        ledger.recorder, start=start, chunk=3, ahead=2, start_method=start_method
    ) as reader:
        found = read_everything(reader, start, limit)
        assert not reader.active  # caught up: the child has finished

    assert found == expected and len(found) > 10
    assert no_child_left()


def read_everything(reader: Any, start: int, limit: int) -> list[Any]:
    events: list[Any] = []
    position = start
    while True:
        page, after = reader.read(position, limit)
        if after == position:
            return events
        assert after - position <= limit
        assert all(position < event.position <= after for event in page)
        events.extend(page)
        position = after


@pytest.mark.usefixtures("sqlite_only")
def test_a_reader_asked_out_of_step_reads_in_process_from_there(
    ledger: Ledger, clock: Clock
) -> None:
    record_hai_phong(ledger, clock)
    expected = read_everything(EventLogReader(event_log(ledger.recorder)), 5, 4)

    with prefetch.ProcessLogReader(ledger.recorder, start=0, chunk=2) as reader:
        reader.read(0, 2)
        found = read_everything(reader, 5, 4)  # a retried batch, say
        assert not reader.active

    assert found == expected
    assert no_child_left()


@pytest.mark.usefixtures("sqlite_only")
def test_a_state_the_child_cannot_decode_fails_the_rebuild_and_the_old_namespace_serves(
    ledger: Ledger, clock: Clock, read_model: ReadModelStore, raw_store: RawStore
) -> None:
    record_hai_phong(ledger, clock)
    EmbeddedRunner(read_model, ledger.recorder).catch_up()
    before = dump(read_model)
    # A folded event's stored state damaged in place: whether the child is forked or spawned
    # (a process running other threads spawns it), it reads the damage from the file.
    damaged = next(
        row for row in raw_store.rows() if row.position > 20 and ":Project." in row.topic
    )
    raw_store.update_state(damaged.originator_id, damaged.originator_version, b"{undecodable")

    with pytest.raises(ValueError):
        rebuild(read_model, ledger.recorder, batch_size=4, parallel=True, shards=1)

    assert read_model.namespaces() == [read_model.current_namespace()]
    assert dump(read_model) == before
    assert no_child_left()


@pytest.mark.usefixtures("sqlite_only")
def test_an_unknown_event_stops_a_parallel_rebuild_as_it_stops_one_in_process(
    ledger: Ledger, clock: Clock, read_model: ReadModelStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    record_hai_phong(ledger, clock)
    EmbeddedRunner(read_model, ledger.recorder).catch_up()
    before = dump(read_model)
    monkeypatch.delitem(REDUCERS, "Project.CompletedWorkPaid")  # the runners' too

    with pytest.raises(UnknownEvent, match=r"Project\.CompletedWorkPaid"):
        rebuild(read_model, ledger.recorder, parallel=True, shards=1)

    assert read_model.namespaces() == [read_model.current_namespace()]
    assert dump(read_model) == before
    assert no_child_left()


@pytest.mark.usefixtures("sqlite_only")
@pytest.mark.parametrize("error", [RuntimeError("disk full"), KeyboardInterrupt()])
def test_a_failure_while_folding_leaves_no_child_process_behind(
    ledger: Ledger,
    clock: Clock,
    read_model: ReadModelStore,
    monkeypatch: pytest.MonkeyPatch,
    error: BaseException,
) -> None:
    record_hai_phong(ledger, clock)
    EmbeddedRunner(read_model, ledger.recorder).catch_up()
    before = dump(read_model)

    def broken(event: Any, ctx: Any) -> Any:
        raise error

    every_reducer(monkeypatch, broken)
    with pytest.raises(type(error)):
        rebuild(read_model, ledger.recorder, parallel=True, shards=1)

    assert read_model.namespaces() == [read_model.current_namespace()]
    assert dump(read_model) == before
    assert no_child_left()


@pytest.mark.usefixtures("sqlite_only")
def test_a_child_that_dies_is_an_error_not_a_hang(ledger: Ledger, clock: Clock) -> None:
    record_hai_phong(ledger, clock)
    with prefetch.ProcessLogReader(ledger.recorder, chunk=1, ahead=1) as reader:
        reader.read(0, 1)
        os.kill(reader._process.pid, signal.SIGKILL)
        with pytest.raises(RuntimeError, match="log reader process"):
            read_everything(reader, 1, 1)
        assert not reader.active
    assert no_child_left()


def test_only_a_large_sqlite_log_is_rebuilt_in_parallel_by_default(
    ledger: Ledger, clock: Clock, store: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    record_hai_phong(ledger, clock)
    monkeypatch.setattr(prefetch, "cpus", lambda: 2)
    sqlite = store.store.persistence is not Persistence.POSTGRES
    assert prefetch.usable(ledger.recorder) is sqlite
    assert not rebuild_module._parallel(ledger.recorder, None)  # too short to pay
    monkeypatch.setattr(rebuild_module, "PARALLEL_MIN_NOTIFICATIONS", 1)
    monkeypatch.setattr(os, "getloadavg", lambda: (0.9, 0.9, 0.9))
    # As if no other thread ran here (earlier tests in this process may leave some).
    monkeypatch.setattr(prefetch, "forks_safely", lambda: True)
    assert rebuild_module._parallel(ledger.recorder, None) is sqlite
    assert not rebuild_module._parallel(ledger.recorder, False)
    monkeypatch.setattr(os, "getloadavg", lambda: (1.6, 1.6, 1.6))  # no core left idle
    assert not rebuild_module._parallel(ledger.recorder, None)


def test_a_parallel_rebuild_of_a_log_no_child_can_read_is_refused_and_leaves_nothing(
    ledger: Ledger, clock: Clock, store: Settings, read_model: ReadModelStore
) -> None:
    if store.store.persistence is not Persistence.POSTGRES:
        pytest.skip("a file-based SQLite log can be read by a child")
    record_hai_phong(ledger, clock)
    live = read_model.current_namespace()

    with pytest.raises(ValueError, match="SQLite"):
        rebuild(read_model, ledger.recorder, parallel=True)

    assert read_model.namespaces() == [live]
