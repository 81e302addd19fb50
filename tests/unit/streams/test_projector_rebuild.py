"""How many projector processes a rebuild through Kafka replays the topic in."""

from __future__ import annotations

import os
from types import SimpleNamespace
from typing import cast

import pytest

from capledger.projections import ReadModelStore
from capledger.streams.projector_rebuild import worker_count
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
