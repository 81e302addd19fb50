"""A revoked key is refused at once by every server process sharing the store: two real
``capledger serve`` processes on one SQLite file or one PostgreSQL schema; a key revoked through
one is refused (401) by the other's very next request, a write included."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from capledger.api.roles import Role
from capledger.api.store import ApiStore
from capledger.settings import Settings

from .served import Served, drop_schemas, serve, shared_settings

pytestmark = pytest.mark.e2e

PLAN = {
    "code": "HN-KHV-2025",
    "title": "Kế hoạch năm 2025",
    "kind": "annual",
    "authority": "provincial_council",
    "jurisdiction": "HN",
    "start_year": 2025,
    "end_year": 2025,
    "envelopes": {"central_budget": "1000000000"},
    "effective_on": "2025-01-01",
    "decision_no": "99/NQ-HĐND",
    "decision_date": "2024-12-10",
    "decision_issuer": "HĐND Hà Nội",
}


@pytest.fixture
def two_servers(store: Settings, tmp_path: Path) -> Iterator[tuple[Settings, Served, Served]]:
    settings = shared_settings(store, tmp_path)
    try:
        with (
            serve(settings, tmp_path / "first.log") as first,
            serve(settings, tmp_path / "second.log", embedded_runner=False) as second,
        ):
            yield settings, first, second
    finally:
        drop_schemas(settings)


def test_a_key_revoked_through_one_process_is_refused_by_the_other_at_once(
    two_servers: tuple[Settings, Served, Served],
) -> None:
    settings, first, second = two_servers
    keys = ApiStore.from_settings(settings).initialise()
    try:
        chief = keys.create_key("chief", Role.ADMINISTRATOR).token
        deputy = keys.create_key("deputy", Role.ADMINISTRATOR)
    finally:
        keys.close()
    revoked = {"X-API-Key": deputy.token}
    with httpx.Client(timeout=30) as client:
        # The second process has just accepted the key (it would have been cached).
        assert client.get(f"{second.url}/admin/keys", headers=revoked).status_code == 200
        answer = client.delete(
            f"{first.url}/admin/keys/{deputy.key.key_id}", headers={"X-API-Key": chief}
        )
        assert answer.status_code == 200, answer.text
        answered = time.perf_counter()
        write = client.post(
            f"{second.url}/plans", json=PLAN, headers={**revoked, "Idempotency-Key": "after"}
        )
        delay_ms = (time.perf_counter() - answered) * 1000
        read = client.get(f"{second.url}/admin/keys", headers=revoked)
    assert write.status_code == 401, write.text
    assert write.json()["code"] == "unauthenticated"
    assert read.status_code == 401
    print(f"revoked key refused by the other process {delay_ms:.1f} ms after the revocation")
