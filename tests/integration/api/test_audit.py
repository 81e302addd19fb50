"""Audit over HTTP: histories paged by stream version with running balances, who acted and
late entries flagged; states as of a version, a recording time or an effective date; diffs;
chain verification; published heads digests."""

from __future__ import annotations

import json
from typing import Any

import pytest

from capledger.domain import project_id
from capledger.projections.history import ProjectHistory

from ..conftest import RawStore
from .support import Harness

pytestmark = pytest.mark.integration

BN = 10**9


def all_pages(api: Harness, code: str, limit: int) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    after = 0
    while True:
        response = api.get(f"/projects/{code}/history", after=after, limit=limit)
        page = response.json()
        items.extend(page["items"])
        if page["next_after"] is None:
            assert "Link" not in response.headers
            return items
        assert f"after={page['next_after']}" in response.headers["Link"]
        after = page["next_after"]


def test_history_in_pages_is_the_history_in_one(hai_phong: Harness) -> None:
    whole = hai_phong.get("/projects/HP-001/history", limit=500).json()
    assert whole["next_after"] is None
    paged = all_pages(hai_phong, "HP-001", limit=2)
    assert paged == whole["items"]
    assert [item["version"] for item in paged] == list(range(1, whole["head_version"] + 1))


def test_each_entry_has_its_running_balance_principal_decision_and_dates(
    hai_phong: Harness,
) -> None:
    items = hai_phong.get("/projects/HP-003/history").json()["items"]
    events = [item["event"] for item in items]
    assert events == [
        "Registered",
        "CapitalAllocated",
        "CompletedWorkPaid",
        "CompletedWorkPaid",
        "CapitalLapsed",
    ]
    registered, allocated, paid, late, lapsed = items
    assert registered["decision"]["number"] == "QĐ-HP-003"
    assert registered["principal"] == "system"
    assert allocated["balances"]["capital"] == str(800 * BN)
    assert paid["balances"]["disbursed"] == str(400 * BN)
    assert late["amount"] == str(200 * BN)
    assert (late["late"], late["lateness_days"]) == (True, 35)
    assert late["effective_on"] == "2021-05-28"
    assert late["recorded_at"].startswith("2021-07-02")
    assert paid["late"] is False
    assert lapsed["amount"] == str(-200 * BN)
    assert lapsed["balances"]["undisbursed"] == "0"
    assert isinstance(paid["data"]["amount"], str)


def test_a_reversal_shows_the_negative_of_what_it_reverses(hai_phong: Harness) -> None:
    items = hai_phong.get("/projects/HP-002/history").json()["items"]
    reversal = next(item for item in items if item["event"] == "EntryReversed")
    assert reversal["amount"] == str(-300 * BN)
    assert reversal["plan_code"] == "HP-2021-TTg"


def test_cursor_beyond_the_head_is_404(hai_phong: Harness) -> None:
    assert hai_phong.get("/projects/HP-003/history", after=99).status_code == 404
    assert hai_phong.get("/projects/NOPE/history").status_code == 404


def test_history_reads_the_store_a_page_at_a_time(hai_phong: Harness) -> None:
    reader = ProjectHistory(hai_phong.ctx.ledger.recorder, page=2)
    calls: list[tuple[int | None, int | None]] = []
    recorder = hai_phong.ctx.ledger.recorder
    original = recorder.select_events

    def spy(originator_id: Any, **kwargs: Any) -> Any:
        calls.append((kwargs.get("gt"), kwargs.get("limit")))
        return original(originator_id, **kwargs)

    recorder.select_events = spy  # type: ignore[method-assign]
    try:
        entries = reader.history("HP-001", after=0, limit=4)
        calls.clear()
        again = reader.history("HP-001", after=4, limit=2)
        whole = reader.history("HP-001", after=0, limit=100)
    finally:
        recorder.select_events = original  # type: ignore[method-assign]
    assert all(limit == 2 for _, limit in calls)
    # The first page left the state after version 4 cached: the next page starts from it.
    assert [gt for gt, _ in calls][:1] == [4]
    assert [entry.version for entry in entries] == [1, 2, 3, 4]
    assert [entry.balance for entry in again] == [entry.balance for entry in whole[4:6]]


def test_state_as_of_a_version_a_recording_time_and_an_effective_date(
    hai_phong: Harness,
) -> None:
    by_version = hai_phong.get("/projects/HP-003/state", version=3).json()
    assert by_version["point"]["mode"] == "version"
    assert by_version["totals"]["disbursed"] == str(400 * BN)
    recorded = hai_phong.get(
        "/projects/HP-003/state", recorded_at="2021-06-30T23:59:59+07:00"
    ).json()
    assert recorded["version"] == 3
    assert recorded["totals"]["disbursed"] == str(400 * BN)
    effective = hai_phong.get("/projects/HP-003/state", effective_on="2021-06-20").json()
    assert effective["totals"]["disbursed"] == str(600 * BN)
    known_then = hai_phong.get(
        "/projects/HP-003/state", effective_on="2021-06-20", known="2021-06-20"
    ).json()
    assert known_then["totals"]["disbursed"] == str(400 * BN)
    before = hai_phong.get("/projects/HP-003/state", recorded_at="2020-01-01T00:00:00Z").json()
    assert before["exists"] is False
    investor = hai_phong.get("/projects/HP-004/state", effective_on="2021-07-31").json()
    assert investor["investor_code"] == "SYT"
    assert hai_phong.get("/projects/HP-004").json()["investor_code"] == "BQL-YT"


def test_one_point_at_a_time(hai_phong: Harness) -> None:
    response = hai_phong.get("/projects/HP-003/state", version=1, effective_on="2021-06-20")
    assert response.status_code == 422


def test_diff_between_two_points(hai_phong: Harness) -> None:
    diff = hai_phong.get("/projects/HP-004/diff", from_version=1, to_version=99)
    assert diff.status_code == 404
    head = hai_phong.get("/projects/HP-004").json()["version"]
    found = hai_phong.get("/projects/HP-004/diff", from_version=1, to_version=head).json()
    assert found["attributes"]["investor_code"] == ["SYT", "BQL-YT"]
    assert found["versions_between"] == head - 1
    assert found["totals"]["cut"] == str(1_200 * BN)
    by_date = hai_phong.get(
        "/projects/HP-001/diff", from_effective_on="2021-06-20", to_effective_on="2021-12-31"
    ).json()
    assert by_date["totals"]["disbursed"] == str(700 * BN)
    assert by_date["totals"]["transferred_in"] == str(200 * BN)


def test_verification_of_one_project_and_of_the_store(hai_phong: Harness) -> None:
    project = hai_phong.get("/projects/HP-001/verify").json()
    assert project["ok"] is True and project["checked"] == project["head_version"]
    store = hai_phong.get("/verify").json()
    assert store["ok"] is True and len(store["heads_digest"]) == 64


def test_digests_are_published_and_the_latest_served(hai_phong: Harness) -> None:
    assert hai_phong.get("/digests/latest").status_code == 404
    assert hai_phong.client.post("/digests", headers=hai_phong.inspector).status_code == 403
    published = hai_phong.client.post("/digests", headers=hai_phong.admin)
    assert published.status_code == 201
    digest = published.json()
    assert digest["heads_digest"] == hai_phong.get("/verify").json()["heads_digest"]
    assert digest["principal"] == "administrator:admin"
    assert hai_phong.get("/digests/latest").json() == digest
    assert hai_phong.get("/digests").json() == [digest]


def test_tampering_is_found_by_verification(hai_phong: Harness) -> None:
    if hai_phong.settings.store.persistence.value != "sqlite":
        pytest.skip("the raw edit is written for the SQLite file")
    raw = RawStore(hai_phong.settings, hai_phong.ctx.ledger.recorder.events_table_name)  # type: ignore[attr-defined]
    stream = project_id("HP-003")
    row = raw.row(stream, 3)
    state = json.loads(row.state)
    state["amount"] = 1
    raw.update_state(stream, 3, json.dumps(state).encode())
    project = hai_phong.get("/projects/HP-003/verify").json()
    assert project["ok"] is False and project["broken"]["version"] == 3
    store = hai_phong.get("/verify").json()
    assert store["ok"] is False and store["broken"]["version"] == 3
    refused = hai_phong.client.post("/digests", headers=hai_phong.admin)
    assert refused.status_code == 409 and refused.json()["code"] == "broken-chain"
