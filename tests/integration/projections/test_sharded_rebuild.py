"""A rebuild folded by worker processes, each on its own streams (``projections.shards``):
the read model of a rebuild in one process, the notifications recorded meanwhile followed, the
same errors, the old namespace serving after any failure, no worker and no shard file left."""

from __future__ import annotations

import importlib
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import structlog

from capledger.application.chain import seal, unseal
from capledger.application.ledger import Ledger
from capledger.application.storage import event_log
from capledger.observability import configure_logging
from capledger.projections import EmbeddedRunner, ReadModelStore, UnknownEvent, rebuild, shards
from capledger.projections.log import EventLogReader
from capledger.settings import LogSettings, Persistence, Settings

from ..conftest import RawRow, RawStore
from . import haiphong
from .haiphong import record_hai_phong
from .support import Clock, dump

pytestmark = pytest.mark.integration
rebuild_module = importlib.import_module("capledger.projections.rebuild")

OpenReadModel = Callable[[], ReadModelStore]


def nothing_left(read_model: ReadModelStore) -> bool:
    """No worker process alive, no shard directory beside the read model."""
    directory = read_model.dialect.path.parent  # type: ignore[attr-defined]
    leftovers = [path for path in directory.iterdir() if path.name.startswith(".rebuild-shards")]
    return multiprocessing.active_children() == [] and leftovers == []


@pytest.mark.usefixtures("sqlite_only")
@pytest.mark.parametrize(("workers", "start_method"), [(2, "fork"), (3, "fork"), (2, "spawn")])
def test_a_sharded_rebuild_writes_the_read_model_of_a_rebuild_in_one_process(
    ledger: Ledger,
    clock: Clock,
    read_model: ReadModelStore,
    read_models: OpenReadModel,
    monkeypatch: pytest.MonkeyPatch,
    workers: int,
    start_method: str,
) -> None:
    record_hai_phong(ledger, clock)
    monkeypatch.setattr(rebuild_module.prefetch, "forks_safely", lambda: start_method == "fork")
    in_process = read_models()
    rebuild(in_process, ledger.recorder, batch_size=5, page_size=3, parallel=False)
    done: list[tuple[int, int]] = []

    report = rebuild(
        read_model, ledger.recorder, batch_size=5, page_size=3, parallel=True, shards=workers,
        progress=lambda applied, total: done.append((applied, total)),
    )  # fmt: skip

    head = ledger.recorder.max_notification_id()
    assert (report.shards, report.position, report.notifications) == (workers, head, head)
    assert dump(read_model) == dump(in_process)
    assert done[-1] == (head, head)
    assert all(applied <= total for applied, total in done)
    assert nothing_left(read_model)


@pytest.mark.usefixtures("sqlite_only")
def test_every_worker_folds_streams_of_its_own_range_only(ledger: Ledger, clock: Clock) -> None:
    record_hai_phong(ledger, clock)
    head = ledger.recorder.max_notification_id() or 0
    everything = read_all(EventLogReader(event_log(ledger.recorder)), head)
    log_file = event_log(ledger.recorder).log_file()
    assert log_file is not None

    parts = []
    for stream_range in shards.stream_ranges(3):
        reader = shards.StreamRangeLogReader(log_file, stream_range, head)
        parts.append(read_all(reader, head))
        reader.close()

    assert all(len(part) > 0 for part in parts)
    assert sorted((e for part in parts for e in part), key=lambda e: e.position) == everything
    streams = [{event.stream for event in part} for part in parts]
    assert not (streams[0] & streams[1]) and not (streams[1] & streams[2])


def read_all(reader: Any, until: int) -> list[Any]:
    events: list[Any] = []
    position = 0
    while position < until:
        page, position = reader.read(position, 7)
        events.extend(page)
    return events


@pytest.mark.parametrize("count", range(1, 17))
def test_stream_ranges_give_every_first_hex_digit_to_exactly_one_shard(count: int) -> None:
    ranges = shards.stream_ranges(count)

    for digit in "0123456789abcdef":
        holders = [low for low, high in ranges if low <= digit and (high is None or digit < high)]
        assert len(holders) == 1
    assert len(ranges) == count


@pytest.mark.parametrize("count", [0, 17])
def test_there_are_one_to_sixteen_stream_ranges(count: int) -> None:
    with pytest.raises(ValueError, match="shards"):
        shards.stream_ranges(count)


@pytest.mark.usefixtures("sqlite_only")
def test_what_is_recorded_while_the_workers_fold_is_followed_before_the_switch(
    ledger: Ledger,
    clock: Clock,
    read_model: ReadModelStore,
    read_models: OpenReadModel,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clerk = haiphong.Clerk(ledger, clock)
    haiphong._plans(clerk)
    haiphong._projects(clerk)
    haiphong._first_half(clerk)
    folded = shards.fold_in_shards

    def and_meanwhile(*args: Any, **kwargs: Any) -> int:
        rows = folded(*args, **kwargs)
        before = ledger.recorder.max_notification_id()
        haiphong._second_half(clerk)  # recorded after the shards' head
        haiphong._year_end(clerk)
        assert ledger.recorder.max_notification_id() > before
        return rows

    monkeypatch.setattr(rebuild_module.sharding, "fold_in_shards", and_meanwhile)
    report = rebuild(read_model, ledger.recorder, parallel=True, shards=2)

    in_process = read_models()
    rebuild(in_process, ledger.recorder, parallel=False)
    assert report.position == ledger.recorder.max_notification_id()
    assert dump(read_model) == dump(in_process)


# Failures are planted in the stored log, not monkeypatched: a worker may be spawned (a fresh
# interpreter, when other threads run in this process), and it would not see a patch.


def unknown_topic(raw_store: RawStore, row: RawRow) -> None:
    """An event of a topic the reducers do not know, sealed again so that its chain holds
    (otherwise the runner's verification refuses it before any reducer sees it)."""
    unheard = row.topic.split(":")[0] + ":Project.SomethingUnheardOf"
    opened = unseal(row.state)
    state, _ = seal(
        stream=str(row.originator_id), version=row.originator_version, topic=unheard,
        data=opened.data, meta=opened.meta, prev=opened.prev,
    )  # fmt: skip
    raw_store.update_topic(row.originator_id, row.originator_version, unheard)
    raw_store.update_state(row.originator_id, row.originator_version, state)


def undecodable_state(raw_store: RawStore, row: RawRow) -> None:
    raw_store.update_state(row.originator_id, row.originator_version, b"{undecodable")


@pytest.mark.usefixtures("sqlite_only")
@pytest.mark.parametrize(
    ("damage", "error", "match"),
    [
        (unknown_topic, UnknownEvent, r"Project\.SomethingUnheardOf"),
        (undecodable_state, ValueError, None),
    ],
)
def test_an_event_a_worker_cannot_fold_fails_the_rebuild_and_the_old_namespace_serves(
    ledger: Ledger,
    clock: Clock,
    read_model: ReadModelStore,
    raw_store: RawStore,
    damage: Callable[[RawStore, RawRow], None],
    error: type[Exception],
    match: str | None,
) -> None:
    record_hai_phong(ledger, clock)
    EmbeddedRunner(read_model, ledger.recorder).catch_up()
    before = dump(read_model)
    row = next(row for row in raw_store.rows() if row.position > 20 and ":Project." in row.topic)
    damage(raw_store, row)

    with pytest.raises(error, match=match):
        rebuild(read_model, ledger.recorder, parallel=True, shards=2)

    assert read_model.namespaces() == [read_model.current_namespace()]
    assert dump(read_model) == before
    assert nothing_left(read_model)


@pytest.mark.usefixtures("sqlite_only")
def test_a_worker_that_dies_is_an_error_not_a_hang(
    ledger: Ledger, clock: Clock, read_model: ReadModelStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    record_hai_phong(ledger, clock)
    live = read_model.current_namespace()
    results = shards._results

    def one_killed(workers: list[tuple[Any, Any]], *args: Any) -> list[str]:
        os.kill(workers[0][0].pid, signal.SIGKILL)
        return results(workers, *args)

    monkeypatch.setattr(shards, "_results", one_killed)
    with pytest.raises(RuntimeError, match="shard worker"):
        rebuild(read_model, ledger.recorder, parallel=True, shards=2)

    assert read_model.namespaces() == [live]
    assert nothing_left(read_model)


@pytest.mark.usefixtures("sqlite_only")
def test_a_key_found_in_two_shards_fails_the_merge_and_merges_nothing(
    ledger: Ledger, clock: Clock, read_model: ReadModelStore, tmp_path: Path
) -> None:
    record_hai_phong(ledger, clock)
    shard = ReadModelStore.sqlite(tmp_path / "shard.sqlite3")
    shard.initialise()
    EmbeddedRunner(shard, ledger.recorder).catch_up()
    target = read_model.create_namespace(indexes=False)
    source = (tmp_path / "shard.sqlite3", shard.current_namespace())
    shard.close()

    with pytest.raises(Exception, match="UNIQUE"):
        read_model.merge_sqlite_shards(target, [source, source], 10)

    empty = read_models_dump(read_model, target)
    assert all(rows == [] for rows in empty.values())


def read_models_dump(read_model: ReadModelStore, namespace: str) -> dict[str, list[Any]]:
    import sqlite3

    connection = sqlite3.connect(read_model.dialect.path)  # type: ignore[attr-defined]
    try:
        tables = [
            name
            for (name,) in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE ?",
                (f"{namespace}_%",),
            )
        ]
        return {name: connection.execute(f'SELECT * FROM "{name}"').fetchall() for name in tables}
    finally:
        connection.close()


def test_only_a_large_sqlite_log_into_an_sqlite_read_model_is_sharded_by_default(
    ledger: Ledger,
    clock: Clock,
    store: Settings,
    read_model: ReadModelStore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    record_hai_phong(ledger, clock)
    monkeypatch.setattr(rebuild_module.prefetch, "cpus", lambda: 2)
    sqlite = store.store.persistence is not Persistence.POSTGRES
    choose = rebuild_module._shards
    assert choose(read_model, ledger.recorder, None, None) == 0  # too short to pay
    monkeypatch.setattr(rebuild_module, "PARALLEL_MIN_NOTIFICATIONS", 1)
    monkeypatch.setattr(os, "getloadavg", lambda: (0.9, 0.9, 0.9))
    monkeypatch.setattr(rebuild_module.prefetch, "forks_safely", lambda: True)
    assert choose(read_model, ledger.recorder, None, None) == (2 if sqlite else 0)
    assert choose(read_model, ledger.recorder, True, 3) == (3 if sqlite else 0)
    assert choose(read_model, ledger.recorder, True, 1) == 0
    assert choose(read_model, ledger.recorder, False, None) == 0
    monkeypatch.setattr(os, "getloadavg", lambda: (1.6, 1.6, 1.6))  # no core left idle
    assert choose(read_model, ledger.recorder, None, None) == 0


@pytest.mark.usefixtures("sqlite_only")
def test_an_interrupt_while_the_workers_fold_stops_them_and_leaves_nothing_behind(
    ledger: Ledger, clock: Clock, read_model: ReadModelStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    record_hai_phong(ledger, clock)
    live = read_model.current_namespace()

    def interrupted(*_: Any) -> list[str]:
        assert len(multiprocessing.active_children()) == 2  # the workers run
        raise KeyboardInterrupt

    monkeypatch.setattr(shards, "_results", interrupted)
    with pytest.raises(KeyboardInterrupt):
        rebuild(read_model, ledger.recorder, parallel=True, shards=2)

    assert read_model.namespaces() == [live]
    assert nothing_left(read_model)


@pytest.mark.usefixtures("sqlite_only")
def test_spawned_workers_write_nothing_on_standard_output(
    ledger: Ledger,
    clock: Clock,
    read_model: ReadModelStore,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    record_hai_phong(ledger, clock)
    monkeypatch.setattr(rebuild_module.prefetch, "forks_safely", lambda: False)
    configure_logging(LogSettings(level="INFO", format="json"), stream=sys.stderr)
    capfd.readouterr()
    try:
        rebuild(read_model, ledger.recorder, parallel=True, shards=2)
    finally:
        structlog.reset_defaults()

    captured = capfd.readouterr()
    assert captured.out == ""
    assert '"event": "read_model_rebuilt"' in captured.err  # this process logs as configured
