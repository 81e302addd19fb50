"""The response cache of GET /balances over HTTP: pages kept per read-model state and caller
scope, never served stale or across scopes; ETag and If-None-Match; no-cache; size 0."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from capledger.api.cache import Entry
from capledger.api.deps import reader
from capledger.api.roles import Caller, Role
from capledger.api.roles import Scope as RoleScope
from capledger.application.commands import Allocate, ApprovePlan, PayCompletedWork, RegisterProject
from capledger.bootstrap import build_embedded_runner
from capledger.projections.rebuild import rebuild
from capledger.settings import Settings

from .support import (
    INVESTOR,
    OTHER,
    OTHER_INVESTOR,
    PROJECT,
    Harness,
    api_settings_for,
    funded,
    harness,
    payment_body,
)

pytestmark = pytest.mark.integration

BN = 10**9
HP = {"by": "project", "jurisdiction": "HP", "fiscal_year": 2021}
HN = {"by": "project", "fiscal_year": 2025}
NO_CACHE = {"Cache-Control": "no-cache"}


def balances(api: Harness, headers: dict[str, str] | None = None, **params: Any) -> Any:
    response = api.client.get("/balances", params=params or HN, headers=headers or api.inspector)
    assert response.status_code == 200, response.text
    return response


def disbursed(response: Any) -> dict[str, str]:
    return {item["key"]: item["disbursed"] for item in response.json()["items"]}


def pay(api: Harness, amount: int = 5, project: str = PROJECT) -> None:
    api.command(f"/projects/{project}/payments", payment_body(amount, on="2025-03-01"))


@pytest.fixture
def two_investors(api: Harness) -> Harness:
    """DA-001 of BQLDA-GT and DA-002 of BQLDA-YT, both in Hà Nội, funded."""
    funded(api, PROJECT, investor=INVESTOR)
    funded(api, OTHER, investor=OTHER_INVESTOR)
    return api


def test_a_cached_page_is_the_uncached_page_byte_for_byte(hai_phong: Harness) -> None:
    cache = hai_phong.ctx.responses
    first = balances(hai_phong, **HP)
    hits = cache.hits
    cached = balances(hai_phong, **HP)
    assert cache.hits == hits + 1
    uncached = balances(hai_phong, NO_CACHE | hai_phong.inspector, **HP)
    assert cached.content == first.content == uncached.content
    assert cached.headers["ETag"] == first.headers["ETag"] == uncached.headers["ETag"]
    assert cached.headers["content-type"] == uncached.headers["content-type"]
    assert len(cached.json()["items"]) == 4


def test_a_payment_makes_the_next_page_fresh(two_investors: Harness) -> None:
    api = two_investors
    before = balances(api)
    assert balances(api).content == before.content  # kept
    pay(api, 7)
    after = balances(api)
    assert disbursed(after)[PROJECT] == str(int(disbursed(before)[PROJECT]) + 7 * BN)
    assert after.headers["ETag"] != before.headers["ETag"]
    pay(api, 1, OTHER)
    assert disbursed(balances(api))[OTHER] == str(int(disbursed(after)[OTHER]) + BN)


def test_a_matching_if_none_match_is_answered_304_until_the_read_model_moves(
    two_investors: Harness,
) -> None:
    api = two_investors
    etag = balances(api).headers["ETag"]
    assert etag.startswith('"') and not etag.startswith("W/")
    for header in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        response = api.client.get(
            "/balances", params=HN, headers={**api.inspector, "If-None-Match": header}
        )
        assert response.status_code == 304, header
        assert response.content == b""
        assert response.headers["ETag"] == etag
    other = api.client.get(
        "/balances", params=HN, headers={**api.inspector, "If-None-Match": '"other"'}
    )
    assert other.status_code == 200
    pay(api)
    changed = api.client.get(
        "/balances", params=HN, headers={**api.inspector, "If-None-Match": etag}
    )
    assert changed.status_code == 200
    assert changed.headers["ETag"] != etag
    assert changed.json()["items"]


def test_the_etag_depends_on_the_query(two_investors: Harness) -> None:
    api = two_investors
    by_project = balances(api).headers["ETag"]
    by_investor = balances(api, by="investor", fiscal_year=2025).headers["ETag"]
    assert by_project != by_investor
    # The same query written differently is the same page: normalised by its model.
    same = balances(api, fiscal_year="2025", by="project", sort="key", order="asc")
    assert same.headers["ETag"] == by_project


def test_a_scoped_page_is_never_served_to_another_scope(two_investors: Harness) -> None:
    api = two_investors
    other_officer = api.key("minh", Role.FINANCE_OFFICER, investors=(OTHER_INVESTOR,))
    same_scope = api.key("lan-2", Role.FINANCE_OFFICER, investors=(INVESTOR,))
    for _ in range(2):  # the second time, every page comes from the cache
        assert set(disbursed(balances(api, api.officer))) == {PROJECT}
        assert set(disbursed(balances(api, other_officer))) == {OTHER}
        assert set(disbursed(balances(api, api.inspector))) == {PROJECT, OTHER}
        assert set(disbursed(balances(api, api.province_officer))) == {PROJECT, OTHER}
        assert set(disbursed(balances(api, same_scope))) == {PROJECT}
    tags = {
        name: balances(api, headers).headers["ETag"]
        for name, headers in [("officer", api.officer), ("other", other_officer),
                              ("inspector", api.inspector), ("admin", api.admin),
                              ("province", api.province_officer)]
    }  # fmt: skip
    assert len(set(tags.values())) == len(tags)
    # A validator of one scope is not a validator of another.
    stale_tag = {**other_officer, "If-None-Match": tags["officer"]}
    response = api.client.get("/balances", params=HN, headers=stale_tag)
    assert response.status_code == 200
    assert set(disbursed(response)) == {OTHER}


def test_an_inspectors_page_is_never_served_to_a_finance_officer(two_investors: Harness) -> None:
    api = two_investors
    assert set(disbursed(balances(api, api.inspector))) == {PROJECT, OTHER}
    assert set(disbursed(balances(api, api.officer))) == {PROJECT}
    assert set(disbursed(balances(api, api.inspector))) == {PROJECT, OTHER}


def test_an_out_of_scope_query_is_refused_even_when_its_page_is_cached(
    two_investors: Harness,
) -> None:
    api = two_investors
    params = {**HN, "investor_code": OTHER_INVESTOR}
    assert balances(api, api.inspector, **params).json()["items"]
    refused = api.client.get("/balances", params=params, headers=api.officer)
    assert refused.status_code == 403


def test_no_cache_renders_the_page_anew(two_investors: Harness) -> None:
    api = two_investors
    cache = api.ctx.responses
    real = balances(api)
    [(key, entry)] = cache.entries()
    cache.put(key, Entry(entry.state, entry.etag, b'{"planted": true}'))
    assert balances(api).content == b'{"planted": true}'  # the cache is used…
    hits = cache.hits
    fresh = balances(api, NO_CACHE | api.inspector)
    assert fresh.content == real.content  # …and bypassed
    assert fresh.headers["ETag"] == real.headers["ETag"]
    assert cache.hits == hits
    assert balances(api).content == real.content  # the fresh page replaced the planted one
    pragma = balances(api, {"Pragma": "no-cache"} | api.inspector)
    assert pragma.content == real.content


def test_no_store_renders_anew_and_keeps_nothing(two_investors: Harness) -> None:
    api = two_investors
    response = balances(api, {"Cache-Control": "no-store"} | api.inspector)
    assert response.headers["ETag"]
    assert api.ctx.responses.entries() == []


def test_the_cache_is_bounded(two_investors: Harness) -> None:
    api = two_investors
    api.ctx.responses.size = 2
    for places in range(5):
        balances(api, **HN, places=places)
    assert len(api.ctx.responses) == 2


@pytest.fixture
def uncached_api(store: Settings, tmp_path: Path) -> Iterator[Harness]:
    settings, api_settings = api_settings_for(store, tmp_path)
    with harness(settings, api_settings.model_copy(update={"response_cache_size": 0})) as found:
        yield found


def test_a_size_of_0_keeps_nothing_and_validators_still_work(uncached_api: Harness) -> None:
    api = uncached_api
    funded(api)
    first = balances(api)
    second = balances(api)
    assert first.content == second.content
    assert len(api.ctx.responses) == 0
    assert api.ctx.responses.hits == 0
    etag = first.headers["ETag"]
    response = api.client.get(
        "/balances", params=HN, headers={**api.inspector, "If-None-Match": etag}
    )
    assert response.status_code == 304
    pay(api)
    assert balances(api).headers["ETag"] != etag


def test_a_switch_of_the_live_namespace_makes_old_pages_unusable(two_investors: Harness) -> None:
    api = two_investors
    before = balances(api)
    assert api.ctx.runner_state() is not None  # the embedded runner's state, from memory
    namespace = api.ctx.read_model.current_namespace()
    rebuild(api.ctx.read_model, api.ctx.ledger.recorder, drop_previous=False)
    rebuilt = api.ctx.read_model.current_namespace()
    assert rebuilt != namespace
    deadline = time.monotonic() + 10
    while (state := api.ctx.runner_state()) is None or state[0] != rebuilt:
        assert time.monotonic() < deadline, "the runner did not follow the switch"
        time.sleep(0.02)
    after = balances(api)
    assert after.content == before.content  # the same facts…
    assert after.headers["ETag"] != before.headers["ETag"]  # …from another namespace


@pytest.fixture
def external_projector(store: Settings, tmp_path: Path) -> Iterator[Harness]:
    """The API without its embedded runner: the read model is kept by another projector."""
    settings, api_settings = api_settings_for(store, tmp_path)
    with harness(settings, api_settings.model_copy(update={"embedded_runner": False})) as found:
        yield found


def test_with_an_external_projector_the_state_is_read_from_the_store(
    external_projector: Harness,
) -> None:
    api = external_projector
    assert api.ctx.runner_state() is None
    runner = build_embedded_runner(api.ctx.ledger, api.ctx.read_model)
    ledger = api.ctx.ledger
    ledger.execute(ApprovePlan(
        code="HN-KHV-2025", title="Kế hoạch", kind="annual", authority="provincial_council",
        jurisdiction="HN", start_year=2025, end_year=2025, envelopes={"central_budget": 1_000 * BN},
        effective_on=_day("2025-01-01"), **_decision(),
    ), command_id="plan")  # fmt: skip
    ledger.execute(RegisterProject(
        code=PROJECT, name="Dự án", investor_code=INVESTOR, investor_name="Ban QLDA", program="",
        sector="transport", province="HN", total_investment=2_000 * BN,
        effective_on=_day("2024-06-01"), **_decision(),
    ), command_id="project")  # fmt: skip
    ledger.execute(Allocate(
        plan_code="HN-KHV-2025", project_code=PROJECT, source="central_budget", amount=100 * BN,
        effective_on=_day("2025-01-02"), **_decision(),
    ), command_id="allocation")  # fmt: skip
    runner.catch_up()
    before = balances(api)
    assert balances(api).content == before.content
    assert api.ctx.responses.hits >= 1
    ledger.execute(PayCompletedWork(
        project_code=PROJECT, plan_code="HN-KHV-2025", source="central_budget", amount=3 * BN,
        treasury_ref="KBNN-1", effective_on=_day("2025-03-01"),
    ), command_id="payment")  # fmt: skip
    assert disbursed(balances(api)) == disbursed(before)  # not projected yet
    runner.catch_up()
    after = balances(api)
    assert disbursed(after)[PROJECT] == str(int(disbursed(before)[PROJECT]) + 3 * BN)
    assert after.headers["ETag"] != before.headers["ETag"]


def _day(text: str) -> Any:
    from datetime import date

    return date.fromisoformat(text)


def _decision() -> dict[str, Any]:
    return {
        "decision_no": "1/QĐ-UBND",
        "decision_date": _day("2024-06-01"),
        "decision_issuer": "UBND Hà Nội",
    }


def test_a_kept_page_is_answered_as_a_rendered_one(two_investors: Harness) -> None:
    api = two_investors
    cache = api.ctx.responses
    full = balances(api)  # rendered
    misses = cache.misses
    kept = balances(api)  # from the cache
    assert cache.misses == misses
    assert kept.content == full.content
    names = ("etag", "cache-control", "vary", "content-type", "content-length")
    assert {name: kept.headers[name] for name in names} == {
        name: full.headers[name] for name in names
    }
    assert kept.headers["x-request-id"]


def test_overridden_dependencies_apply_to_kept_pages(two_investors: Harness) -> None:
    """The cache is used after FastAPI solves the route's dependencies, overrides included:
    it is neither switched off by an override nor answers around one."""
    api = two_investors
    cache = api.ctx.responses
    officer = api.key("thu", Role.FINANCE_OFFICER, investors=(INVESTOR,))
    assert set(disbursed(balances(api, officer))) == {PROJECT}
    hits = cache.hits
    inspector = Caller("k9", "override", Role.INSPECTOR, RoleScope())
    api.app.dependency_overrides[reader] = lambda: inspector
    try:
        assert set(disbursed(balances(api, officer))) == {PROJECT, OTHER}  # the override's
        assert set(disbursed(balances(api, officer))) == {PROJECT, OTHER}
        assert cache.hits == hits + 1  # rendered once, then kept
        assert api.client.get("/balances", params=HN).status_code == 200  # no key needed
    finally:
        api.app.dependency_overrides.clear()
    assert set(disbursed(balances(api, officer))) == {PROJECT}
    assert api.client.get("/balances", params=HN).status_code == 401


def test_refusals_are_unchanged_when_a_page_is_kept(two_investors: Harness) -> None:
    api = two_investors
    balances(api, api.officer)
    balances(api, api.officer)
    bad = api.client.get("/balances", params={**HN, "limit": 0}, headers=api.officer)
    assert bad.status_code == 422
    wrong_scope = {**HN, "investor_code": OTHER_INVESTOR}
    assert api.client.get("/balances", params=wrong_scope, headers=api.officer).status_code == 403
    assert api.client.get("/balances", params=HN).status_code == 401
    unknown = {"X-API-Key": "clk_00000000_nope"}
    assert api.client.get("/balances", params=HN, headers=unknown).status_code == 401


def test_a_revoked_key_gets_no_kept_page(two_investors: Harness) -> None:
    api = two_investors
    officer = api.key("thu", Role.FINANCE_OFFICER, investors=(INVESTOR,))
    assert set(disbursed(balances(api, officer))) == {PROJECT}
    assert set(disbursed(balances(api, officer))) == {PROJECT}
    keys = api.client.get("/admin/keys", headers=api.admin).json()
    [key] = [found for found in keys if found["name"] == "thu"]
    revoked = api.client.delete(f"/admin/keys/{key['key_id']}", headers=api.admin)
    assert revoked.status_code == 200, revoked.text
    assert api.client.get("/balances", params=HN, headers=officer).status_code == 401
