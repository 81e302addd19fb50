"""Processes that start together on a new PostgreSQL schema all start.

The log service and a CLI run beside it both make the schema when they start: the library's
``CREATE OR REPLACE FUNCTION`` and the tree's ``CREATE TABLE IF NOT EXISTS``. Unguarded,
PostgreSQL refuses one of them ("tuple concurrently updated"); the recorder serialises them.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from builders import fresh_postgres_schema
from conftest import POSTGRES_ENABLED, POSTGRES_SKIP_REASON

from capledger.bootstrap import build_ledger
from capledger.settings import Persistence, Settings, StoreSettings

pytestmark = [
    pytest.mark.integration,
    pytest.mark.postgres,
    pytest.mark.skipif(not POSTGRES_ENABLED, reason=POSTGRES_SKIP_REASON),
]

STARTERS = 6
ROUNDS = 3


@pytest.fixture
def postgres() -> Iterator[Settings]:
    with fresh_postgres_schema(
        Settings(store=StoreSettings(persistence=Persistence.POSTGRES))
    ) as settings:
        yield settings


def start_together(settings: Settings) -> list[BaseException]:
    barrier = threading.Barrier(STARTERS)
    failures: list[BaseException] = []

    def start() -> None:
        try:
            barrier.wait()
            ledger = build_ledger(settings)
            try:
                ledger.recorder.create_log_tree()
                ledger.recorder.create_checkpoint_tables()
            finally:
                ledger.close()
        except BaseException as error:  # collected: the assertion names every failure
            failures.append(error)

    threads = [threading.Thread(target=start) for _ in range(STARTERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return failures


def test_ledgers_started_together_on_a_new_schema_all_start(postgres: Settings) -> None:
    for _ in range(ROUNDS):
        with fresh_postgres_schema(postgres) as settings:
            assert start_together(settings) == []
