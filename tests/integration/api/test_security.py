"""Keys, roles and scopes: 401 without a valid key, 403 beyond a role or scope, nothing of
another scope in a finance officer's answers; write rate limits and request size limits."""

from __future__ import annotations

import pytest

from capledger.api.ratelimit import Policies, Policy, RateLimits
from capledger.api.roles import Role
from capledger.api.store import hash_token
from capledger.projections.dialects import SqliteDialect

from .support import (
    BILLION,
    INVESTOR,
    OTHER,
    OTHER_INVESTOR,
    PLAN,
    PROJECT,
    YEAR,
    Harness,
    funded,
    payment_body,
    plan_body,
)

pytestmark = pytest.mark.integration


def two_investors(api: Harness) -> None:
    funded(api, PROJECT, investor=INVESTOR, amount=100)
    funded(api, OTHER, investor=OTHER_INVESTOR, amount=200)
    api.command(f"/projects/{OTHER}/payments", payment_body(50, on=f"{YEAR}-03-01"))


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-API-Key": "clk_00000000_not-a-real-token"},
        {"Authorization": "Bearer nonsense"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
    ],
)
def test_no_valid_key_is_401(api: Harness, headers: dict[str, str]) -> None:
    for response in (
        api.client.get("/balances", headers=headers),
        api.client.post("/plans", json=plan_body(), headers={**headers, "Idempotency-Key": "k"}),
    ):
        assert response.status_code == 401
        assert response.json()["code"] == "unauthenticated"
        assert "WWW-Authenticate" in response.headers


def test_health_and_schema_need_no_key(api: Harness) -> None:
    assert api.client.get("/healthz").status_code == 200
    assert api.client.get("/openapi.json").status_code == 200


def test_an_inspector_reads_everything_and_writes_nothing(api: Harness) -> None:
    two_investors(api)
    response = api.command("/plans", plan_body("X-PLAN"), headers=api.inspector, expect=403)
    assert response.json()["code"] == "forbidden"
    keys = {item["key"] for item in api.get("/balances", by="project").json()["items"]}
    assert keys == {PROJECT, OTHER}


def test_a_finance_officer_writes_only_to_visible_projects(api: Harness) -> None:
    two_investors(api)
    mine = api.command(
        f"/projects/{PROJECT}/payments",
        payment_body(10, on=f"{YEAR}-03-01"),
        headers=api.officer,
    )
    assert mine.status_code == 201
    theirs = api.command(
        f"/projects/{OTHER}/payments",
        payment_body(10, on=f"{YEAR}-03-01"),
        headers=api.officer,
        expect=404,
    )
    # Not visible: answered as for a project never recorded (the scope rule, docs/api.md).
    assert theirs.json()["code"] == "unknown-project"
    plan = api.command("/plans", plan_body("HN-2"), headers=api.officer, expect=403)
    assert plan.json()["code"] == "out-of-scope"


def test_a_finance_officer_sees_nothing_of_another_scope(api: Harness) -> None:
    two_investors(api)
    officer = api.officer
    balances = api.get("/balances", headers=officer, by="project").json()
    assert [item["key"] for item in balances["items"]] == [PROJECT]
    by_investor = api.get("/balances", headers=officer, by="investor").json()
    assert [item["key"] for item in by_investor["items"]] == [INVESTOR]
    other = api.get("/balances", headers=officer, investor_code=OTHER_INVESTOR)
    assert other.status_code == 403
    for path in (f"/projects/{OTHER}", f"/projects/{OTHER}/history", f"/projects/{OTHER}/state"):
        assert api.get(path, headers=officer).status_code == 404
    projects = api.get("/projects", headers=officer).json()
    assert [item["project_code"] for item in projects["items"]] == [PROJECT]
    iati = api.get("/exports/iati/activities", headers=officer).json()
    assert [activity["capledger"]["project_code"] for activity in iati["activities"]] == [PROJECT]
    csv_text = api.get("/exports/balances.csv", headers=officer).text
    assert OTHER not in csv_text and PROJECT in csv_text
    assert (
        api.get("/rates", headers=officer, jurisdiction="HN", fiscal_year=YEAR).status_code == 403
    )
    watch = api.get(
        "/watch-list", headers=officer, jurisdiction="HN", fiscal_year=YEAR, threshold_percent=90
    ).json()
    assert {entry["investor_code"] for entry in watch["entries"]} <= {INVESTOR}
    assert api.get("/verify", headers=officer).status_code == 403


def test_a_province_officer_reads_the_province(api: Harness) -> None:
    two_investors(api)
    rates = api.get("/rates", headers=api.province_officer, jurisdiction="HN", fiscal_year=YEAR)
    assert rates.status_code == 200
    assert rates.json()["disbursed"] == str(50 * BILLION)
    balances = api.get("/balances", headers=api.province_officer).json()
    assert {item["key"] for item in balances["items"]} == {PROJECT, OTHER}
    assert api.get("/rates", headers=api.province_officer, jurisdiction="HP",
                   fiscal_year=YEAR).status_code == 403  # fmt: skip


def test_an_officer_of_several_scopes_must_choose_one(api: Harness) -> None:
    two_investors(api)
    both = api.key("minh", Role.FINANCE_OFFICER, investors=(INVESTOR, OTHER_INVESTOR))
    response = api.get("/balances", headers=both)
    assert response.status_code == 403
    assert response.json()["code"] == "scope-filter-required"
    chosen = api.get("/balances", headers=both, investor_code=OTHER_INVESTOR).json()
    assert [item["key"] for item in chosen["items"]] == [OTHER]


def test_administrators_manage_keys_and_revoked_keys_stop_working(api: Harness) -> None:
    created = api.client.post(
        "/admin/keys",
        json={"name": "tuan", "role": "finance_officer", "investors": [INVESTOR]},
        headers=api.admin,
    )
    assert created.status_code == 201, created.text
    key = created.json()
    assert key["principal"] == "finance_officer:tuan"
    headers = {"X-API-Key": key["token"]}
    assert api.get("/balances", headers=headers).status_code == 200
    listed = api.client.get("/admin/keys", headers=api.admin).json()
    assert "token" not in listed[0] and {k["name"] for k in listed} >= {"tuan", "admin"}
    assert api.client.get("/admin/keys", headers=api.inspector).status_code == 403
    revoked = api.client.delete(f"/admin/keys/{key['key_id']}", headers=api.admin)
    assert revoked.json()["revoked_at"] is not None
    assert api.get("/balances", headers=headers).status_code == 401


def test_the_last_active_administrator_key_cannot_be_revoked_over_the_api(api: Harness) -> None:
    other = api.client.post(
        "/admin/keys", json={"name": "deputy", "role": "administrator"}, headers=api.admin
    ).json()
    own_id = api.ctx.store.authenticate(api.admin["X-API-Key"]).key_id  # type: ignore[union-attr]
    deputy = {"X-API-Key": other["token"]}
    assert api.client.delete(f"/admin/keys/{own_id}", headers=deputy).status_code == 200
    refused = api.client.delete(f"/admin/keys/{other['key_id']}", headers=deputy)
    assert refused.status_code == 409
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["code"] == "last-administrator"
    assert api.client.get("/admin/keys", headers=deputy).status_code == 200


def test_keys_are_stored_hashed(api: Harness) -> None:
    issued = api.ctx.store.create_key("audit", Role.INSPECTOR)
    dialect = api.ctx.store.dialect
    if not isinstance(dialect, SqliteDialect):
        pytest.skip("the SQLite file is read here")
    files = [dialect.path, dialect.path.with_name(f"{dialect.path.name}-wal")]
    raw = b"".join(file.read_bytes() for file in files if file.exists())
    assert hash_token(issued.token).encode() in raw
    assert issued.token.encode() not in raw


def test_writes_beyond_the_rate_get_429_with_retry_after(api: Harness) -> None:
    now = [1_000_000.0]
    policies = Policies(
        writes=Policy("writes", 1.0, 2),
        reads=Policy("reads", 1_000.0, 1_000),
        failed_authentications=Policy("failed-authentications", 1_000.0, 1_000),
    )
    api.ctx.limits = RateLimits(api.ctx.store.dialect, policies, clock=lambda: now[0])
    api.ctx.limits.initialise()
    first = api.command("/plans", plan_body("P-1"))
    assert first.headers["RateLimit-Policy"] == '"writes";q=2;w=2'
    assert first.headers["RateLimit"] == '"writes";r=1;t=1'
    api.command("/plans", plan_body("P-2"))
    limited = api.command("/plans", plan_body("P-3"), expect=429)
    assert limited.headers["Retry-After"] == "1"
    assert limited.headers["RateLimit"] == '"writes";r=0;t=2'
    assert limited.json()["code"] == "rate-limited"
    read = api.get("/balances")
    assert read.status_code == 200  # reads have a policy of their own
    assert read.headers["RateLimit-Policy"] == '"reads";q=1000;w=1'
    now[0] += 1.0
    api.command("/plans", plan_body("P-3"))


def test_bodies_beyond_the_limit_get_413(api: Harness) -> None:
    body = {**plan_body(), "title": "x" * (api.api_settings.max_body_bytes + 1)}
    response = api.command("/plans", body, expect=413)
    assert response.json()["code"] == "request-too-large"

    def chunks() -> object:
        yield b'{"title": "'
        for _ in range(100):
            yield b"x" * 1_000
        yield b'"}'

    streamed = api.client.post(
        "/plans",
        content=chunks(),  # type: ignore[arg-type]
        headers={**api.admin, "Idempotency-Key": "big", "Content-Type": "application/json"},
    )
    assert streamed.status_code == 413
    assert api.get(f"/plans/{PLAN}/versions").status_code == 404
