"""Fixtures of the API's integration tests: an app on the test's store (SQLite, and PostgreSQL
with ``CAPLEDGER_TEST_POSTGRES=1``), keys of every role, a TestClient with the app's lifespan
(so the embedded runner runs in its thread)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import eventsourcing.domain
import pytest

from capledger.settings import Settings

from ..projections.haiphong import record_hai_phong
from ..projections.support import Clock
from .support import Harness, api_settings_for, harness


@pytest.fixture
def api(store: Settings, tmp_path: Path) -> Iterator[Harness]:
    settings, api_settings = api_settings_for(store, tmp_path)
    with harness(settings, api_settings) as found:
        yield found


@pytest.fixture
def hai_phong(api: Harness, monkeypatch: pytest.MonkeyPatch) -> Harness:
    """Hải Phòng 2021 recorded through the ledger on the days it happened (one entry late),
    with the read model caught up."""
    clock = Clock()
    monkeypatch.setattr(eventsourcing.domain, "datetime_now_with_tzinfo", clock)
    recorded = record_hai_phong(api.ctx.ledger, clock)
    assert api.ctx.read_your_writes(recorded.last.position)
    return api
