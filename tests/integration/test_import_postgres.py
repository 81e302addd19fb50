"""An import on PostgreSQL keeps its transaction open while it checks the file, however long
the check takes: the library's idle-in-transaction timeout does not end it."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from typing import Any

import pytest
from builders import fresh_postgres_schema, funded_project
from conftest import POSTGRES_ENABLED, POSTGRES_SKIP_REASON

from capledger import exchange
from capledger.bootstrap import build_ledger
from capledger.exchange import export_events, import_events
from capledger.settings import Persistence, Settings, StoreSettings

pytestmark = [
    pytest.mark.integration,
    pytest.mark.postgres,
    pytest.mark.skipif(not POSTGRES_ENABLED, reason=POSTGRES_SKIP_REASON),
]

IDLE_TIMEOUT_S = 1


@pytest.fixture
def postgres() -> Iterator[Settings]:
    with fresh_postgres_schema(
        Settings(store=StoreSettings(persistence=Persistence.POSTGRES))
    ) as settings:
        yield settings


def test_an_import_whose_checks_outlast_the_idle_timeout_is_recorded(
    postgres: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = build_ledger(postgres)
    try:
        funded_project(source)
        exported = io.StringIO()
        count = export_events(source, exported)
    finally:
        source.close()
    monkeypatch.setenv("POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT", str(IDLE_TIMEOUT_S))
    audit = exchange._audit  # the test slows the import's own audit step down

    def slow_audit(*args: Any) -> None:
        time.sleep(IDLE_TIMEOUT_S + 1)
        audit(*args)

    monkeypatch.setattr(exchange, "_audit", slow_audit)
    with fresh_postgres_schema(postgres) as target_settings:
        target = build_ledger(target_settings)
        try:
            assert import_events(target, io.StringIO(exported.getvalue())) == count
            assert (target.recorder.max_notification_id() or 0) >= count
        finally:
            target.close()
