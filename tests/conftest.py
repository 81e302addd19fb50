"""Fixtures shared by every tier: a fresh store and ledgers on it.

``store`` is parametrized over the two stores the ledger runs on:

- ``sqlite``: a fresh file under the test's ``tmp_path``;
- ``postgres``: a fresh schema of the server that ``CAPLEDGER_POSTGRES_*`` points at, created
  before the test and dropped after it. It runs only with ``CAPLEDGER_TEST_POSTGRES=1``::

      bash deploy/postgres/pg.sh start
      eval "$(bash deploy/postgres/pg.sh env)"
      CAPLEDGER_TEST_POSTGRES=1 pytest -m integration

``ledger`` is a Ledger on that store; ``open_ledger()`` opens another one on the same store (a
second process, or a restart with an empty cache). Every ledger is closed after the test.

``module_store`` is the same choice made once per module, for set-ups its tests only read.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from builders import fresh_postgres_schema, sqlite_settings

from capledger.application.ledger import Ledger
from capledger.bootstrap import build_ledger
from capledger.settings import Persistence, Settings, StoreSettings

# `eval "$(deploy/postgres/pg.sh env)"` exports CAPLEDGER_PERSISTENCE=postgres for the CLI; a
# test that builds Settings(store=StoreSettings(data_dir=...)) must not silently land in the
# shared public schema.
# Tests pick their store explicitly (the `store` fixture); only connection settings are inherited.
os.environ.pop("CAPLEDGER_PERSISTENCE", None)

POSTGRES_ENABLED = os.environ.get("CAPLEDGER_TEST_POSTGRES") == "1"
POSTGRES_SKIP_REASON = (
    "the PostgreSQL store is tested only with CAPLEDGER_TEST_POSTGRES=1: run "
    '`bash deploy/postgres/pg.sh start` and `eval "$(bash deploy/postgres/pg.sh env)"` first'
)


@pytest.fixture(autouse=True)
def standard_logging_left_as_found() -> Iterator[None]:
    """A test that configures logging (the CLI in-process, ``configure_logging`` into a captured
    stream) leaves the root logger writing to a stream pytest closes after it; the clients'
    background threads of later tests would then fail on every line they log."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in [h for h in root.handlers if h not in handlers]:
        root.removeHandler(handler)
    for handler in handlers:
        if handler not in root.handlers:
            root.addHandler(handler)
    root.setLevel(level)


#: The two stores: every test of a store fixture runs once on each.
STORES = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param(
        "postgres",
        id="postgres",
        marks=[
            pytest.mark.postgres,
            pytest.mark.skipif(not POSTGRES_ENABLED, reason=POSTGRES_SKIP_REASON),
        ],
    ),
]


@contextmanager
def fresh_store(kind: str, directory: Path) -> Iterator[Settings]:
    """Settings of a fresh, empty store of ``kind``: a SQLite file under ``directory``, or a
    PostgreSQL schema dropped on exit."""
    if kind == "sqlite":
        yield sqlite_settings(directory / "store")
        return
    with fresh_postgres_schema(
        Settings(store=StoreSettings(persistence=Persistence.POSTGRES))
    ) as settings:
        yield settings


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    """Settings of a fresh, empty store: a SQLite file, or a PostgreSQL schema."""
    with fresh_store(request.param, tmp_path) as settings:
        yield settings


@pytest.fixture(scope="module", params=STORES)
def module_store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Settings]:
    """Like ``store``, but one per module: for expensive set-ups that the module's tests only
    read (a test that changes what it is given needs ``store``)."""
    with fresh_store(request.param, tmp_path_factory.mktemp("module_store")) as settings:
        yield settings


@pytest.fixture
def open_ledger(store: Settings) -> Iterator[Callable[[], Ledger]]:
    """Opens a new Ledger (own connections, empty cache) on the test's store on each call."""
    opened: list[Ledger] = []

    def open_() -> Ledger:
        ledger = build_ledger(store)
        opened.append(ledger)
        return ledger

    yield open_
    for ledger in reversed(opened):
        ledger.close()


@pytest.fixture
def ledger(open_ledger: Callable[[], Ledger]) -> Ledger:
    """A Ledger on the test's fresh store."""
    return open_ledger()
