"""How many projector processes a rebuild through Kafka replays the topic in."""

from __future__ import annotations

import os
from multiprocessing.connection import Connection
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import pytest

from capledger.projections import ReadModelStore
from capledger.streams.projector_rebuild import worker_context, worker_count
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
