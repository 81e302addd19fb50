"""The same events give the same read model whichever runner folds them.

The Kafka runner sees each project's and each plan's stream in order (one key, one partition)
but streams interleaved in any way; the embedded runner sees the notification log's order. The
reducers read only their own stream's rows, so every interleaving that keeps each stream in order
must fold to the same rows; the SQL stores must hold exactly the rows of an in-memory fold; and
SQLite and PostgreSQL must answer every query alike.
"""

from __future__ import annotations

import os
import random
from collections import defaultdict, deque
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from builders import record_year
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from capledger.application.ledger import Ledger
from capledger.application.published import PublishedEvent, publish
from capledger.projections import EmbeddedRunner, MemoryReadModel, ReadModelStore
from capledger.projections.queries import (
    Denominator,
    Dimension,
    Exclusions,
    adjustment_counts,
    balances,
    bunching,
    disbursement_rates,
    late_entries,
    monthly_series,
    plan_capital,
    watch_list,
)
from capledger.projections.rows import REDUCED_ROWS
from capledger.settings import Persistence, Settings, StoreSettings

from .haiphong import CITY_PLAN, JUNE_20, PM_PLAN, SCOPE, record_hai_phong
from .support import Clock, open_read_model, rows

pytestmark = pytest.mark.integration


@pytest.fixture
def events(ledger: Ledger, clock: Clock) -> list[PublishedEvent]:
    """Hải Phòng 2021 and a year of every movement (2025), as published."""
    record_hai_phong(ledger, clock)
    clock.set(date(2027, 7, 1))
    record_year(ledger)
    return [
        publish(note.id, note.originator_id, note.originator_version, note.topic, note.state)  # type: ignore[arg-type]
        for note in ledger.recorder.select_notifications(1, 100_000)
    ]


def interleave(events: list[PublishedEvent], rng: random.Random) -> list[PublishedEvent]:
    """A random order that keeps each stream's events in their order (as Kafka partitions)."""
    streams: dict[str | None, deque[PublishedEvent]] = defaultdict(deque)
    for event in events:
        streams[event.subject].append(event)
    queues = list(streams.values())
    shuffled = []
    while queues:
        queue = rng.choice(queues)
        shuffled.append(queue.popleft())
        if not queue:
            queues.remove(queue)
    return shuffled


def tables(model: MemoryReadModel) -> dict[str, list[Any]]:
    return {kind.TABLE: model.rows(kind) for kind in REDUCED_ROWS}


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(min_value=0, max_value=2**32 - 1))
def test_every_order_that_keeps_each_stream_in_order_folds_to_the_same_rows(
    events: list[PublishedEvent], seed: int
) -> None:
    reference = tables(MemoryReadModel().fold(events))
    shuffled = interleave(events, random.Random(seed))

    assert shuffled != events
    assert tables(MemoryReadModel().fold(shuffled)) == reference


def test_the_sql_read_model_holds_exactly_the_rows_of_an_in_memory_fold(
    ledger: Ledger, events: list[PublishedEvent], read_model: ReadModelStore
) -> None:
    EmbeddedRunner(read_model, ledger.recorder, batch_size=13).catch_up()

    memory = MemoryReadModel().fold(events)
    for kind in REDUCED_ROWS:
        assert rows(read_model, kind) == memory.rows(kind), kind.TABLE


def answers(read_model: ReadModelStore) -> list[Any]:
    """Every query, with every option that takes a different SQL path."""
    denominators = [Denominator(CITY_PLAN), Denominator(PM_PLAN, plan_version=1)]
    exclusions = Exclusions(extended=True, added_after=date(2021, 9, 30))
    return [
        disbursement_rates(read_model, SCOPE, denominators),
        disbursement_rates(read_model, SCOPE, denominators, exclusions=exclusions, as_of=JUNE_20),
        *(balances(read_model, dimension, limit=None) for dimension in Dimension),
        balances(read_model, Dimension.PROJECT, sort="undisbursed", descending=True, limit=3),
        balances(read_model, Dimension.INVESTOR, sort="rate", as_of=JUNE_20),
        monthly_series(read_model, SCOPE, denominator=Denominator(CITY_PLAN)),
        monthly_series(read_model, SCOPE, basis="recorded", as_of=date(2021, 9, 1)),
        bunching(read_model, SCOPE),
        watch_list(read_model, SCOPE),
        watch_list(read_model, SCOPE, level="investor", as_of=JUNE_20),
        late_entries(read_model, SCOPE),
        adjustment_counts(read_model),
        plan_capital(read_model),
    ]


@pytest.mark.postgres
@pytest.mark.skipif(
    os.environ.get("CAPLEDGER_TEST_POSTGRES") != "1",
    reason="compares with PostgreSQL: set CAPLEDGER_TEST_POSTGRES=1 (see tests/conftest.py)",
)
def test_sqlite_and_postgres_answer_every_query_alike(
    ledger: Ledger, events: list[PublishedEvent], tmp_path: Path
) -> None:
    server = Settings(store=StoreSettings(persistence=Persistence.POSTGRES))
    sqlite_models = open_read_model(
        Settings(store=StoreSettings(persistence=Persistence.SQLITE)), tmp_path / "rm"
    )
    postgres_models = open_read_model(server, tmp_path / "unused")
    on_sqlite, on_postgres = next(sqlite_models), next(postgres_models)
    try:
        for read_model in (on_sqlite, on_postgres):
            EmbeddedRunner(read_model, ledger.recorder, batch_size=50).catch_up()

        assert answers(on_sqlite) == answers(on_postgres)
    finally:
        for generator in (sqlite_models, postgres_models):
            for _ in generator:
                pass
