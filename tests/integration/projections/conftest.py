"""Fixtures of the projections' integration tests: a read model beside the ledger, a clock.

``read_model`` sits on the same kind of store as the test's ledger (``store`` is parametrized
over SQLite and, with ``CAPLEDGER_TEST_POSTGRES=1``, PostgreSQL): a SQLite file, or a fresh
PostgreSQL base schema dropped after the test with every namespace schema under it.

``clock`` sets the time events are recorded at, so that "what the ledger knew on 20 June"
can be tested with entries recorded before and after that day.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import eventsourcing.domain
import pytest

from capledger.projections import ReadModelStore
from capledger.settings import Persistence, Settings

from .support import Clock, open_read_model


@pytest.fixture
def read_model(store: Settings, tmp_path: Path) -> Iterator[ReadModelStore]:
    yield from open_read_model(store, tmp_path / "read-model")


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """Events are stamped by this clock instead of the wall clock."""
    fake = Clock()
    monkeypatch.setattr(eventsourcing.domain, "datetime_now_with_tzinfo", fake)
    return fake


@pytest.fixture
def sqlite_only(store: Settings) -> None:
    """Skips the test on PostgreSQL: child processes read only a SQLite log (and a sharded
    rebuild writes SQLite files)."""
    if store.store.persistence is Persistence.POSTGRES:
        pytest.skip("child processes read only a SQLite log")
