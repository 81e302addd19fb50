"""Done when: one scope rule (docs/api.md, "Scope"; :mod:`capledger.api.scope`) holds on every
endpoint, for a finance officer scoped to province HN:

- project DN-1 lies in province DN but is funded from HN's plan: it is in none of the officer's
  listings, exports or watch lists, and every read or write of it by code answers exactly as
  for a project never recorded (404 ``unknown-project``);
- plan DN-KH of jurisdiction DN answers as a plan never recorded;
- a query or command naming province or jurisdiction DN is 403 ``out-of-scope``, whatever
  exists there;
- the idempotency conflict says nothing of the command another user sent with the key.

Every route of the app is listed below; a new route without a case fails
:func:`test_every_route_has_a_scope_case`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from capledger.settings import Settings

from .support import (
    BILLION,
    CENTRAL,
    INVESTOR,
    PLAN,
    PROJECT,
    YEAR,
    Harness,
    allocation_body,
    api_settings_for,
    decision,
    funded,
    harness,
    payment_body,
    plan_body,
    project_body,
)

pytestmark = pytest.mark.integration

HIDDEN = "DN-1"  # province DN, funded from HN's plan
MISSING = "ZZ-404"  # never recorded
DN_PLAN = "DN-KH-2025"
MISSING_PLAN = "ZZ-KH-2025"
DN = "DN"
Y = str(YEAR)

#: Listings, exports and aggregates: (path, in-scope params, params naming another scope).
LISTINGS: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("/balances", {"by": "project"}, {"province": DN}),
    ("/balances", {"by": "project", "jurisdiction": "HN", "fiscal_year": Y}, {"province": DN}),
    ("/balances", {"by": "investor"}, {"investor_code": "BQLDA-DN"}),
    ("/balances/changes", {"from": f"{Y}-01-01", "to": f"{Y}-12-31"},
     {"from": f"{Y}-01-01", "to": f"{Y}-12-31", "province": DN}),
    ("/rates", {"jurisdiction": "HN", "fiscal_year": Y}, {"jurisdiction": DN, "fiscal_year": Y}),
    ("/rates/monthly", {"jurisdiction": "HN", "fiscal_year": Y},
     {"jurisdiction": DN, "fiscal_year": Y}),
    ("/rates/bunching", {"jurisdiction": "HN", "fiscal_year": Y},
     {"jurisdiction": DN, "fiscal_year": Y}),
    ("/watch-list", {"jurisdiction": "HN", "fiscal_year": Y},
     {"jurisdiction": DN, "fiscal_year": Y}),
    ("/late-entries", {"jurisdiction": "HN", "fiscal_year": Y},
     {"jurisdiction": DN, "fiscal_year": Y}),
    ("/plans", {}, {"jurisdiction": DN}),
    ("/plans-adjustments", {"jurisdiction": "HN"}, {"jurisdiction": DN}),
    ("/projects", {}, {"province": DN}),
    ("/projects", {"jurisdiction": "HN"}, {"investor_code": "BQLDA-DN"}),
    ("/exports/balances.csv", {"jurisdiction": "HN", "fiscal_year": Y}, {"province": DN}),
    ("/exports/watch-list.csv", {"jurisdiction": "HN", "fiscal_year": Y},
     {"jurisdiction": DN, "fiscal_year": Y}),
    ("/exports/iati/activities", {"jurisdiction": "HN"}, {"province": DN}),
    ("/exports/iati/activities", {}, {"investor_code": "BQLDA-DN"}),
    ("/exports/fdp/{jurisdiction}/{fiscal_year}/datapackage.json",
     {"jurisdiction": "HN", "fiscal_year": Y}, {"jurisdiction": DN, "fiscal_year": Y}),
    ("/exports/fdp/{jurisdiction}/{fiscal_year}/plans.csv",
     {"jurisdiction": "HN", "fiscal_year": Y}, {"jurisdiction": DN, "fiscal_year": Y}),
    ("/exports/fdp/{jurisdiction}/{fiscal_year}/projects.csv",
     {"jurisdiction": "HN", "fiscal_year": Y}, {"jurisdiction": DN, "fiscal_year": Y}),
]  # fmt: skip

#: Single reads by code: (path, visible code, code of another scope, code never recorded).
SINGLE_READS: list[tuple[str, str, str, str]] = [
    ("/projects/{project_code}", PROJECT, HIDDEN, MISSING),
    ("/projects/{project_code}/history", PROJECT, HIDDEN, MISSING),
    ("/projects/{project_code}/state", PROJECT, HIDDEN, MISSING),
    ("/projects/{project_code}/diff", PROJECT, HIDDEN, MISSING),
    ("/projects/{project_code}/verify", PROJECT, HIDDEN, MISSING),
    ("/plans/{plan_code}/versions", PLAN, DN_PLAN, MISSING_PLAN),
    ("/plans/{plan_code}/capital", PLAN, DN_PLAN, MISSING_PLAN),
]


#: Query parameters a single read needs.
READ_PARAMS: dict[str, dict[str, Any]] = {
    "/projects/{project_code}/diff": {"from_version": 1, "to_version": 2},
}


def _decision() -> dict[str, str]:
    return decision("77/QĐ", f"{Y}-06-01")


#: Writes by code: (path, body); ``{code}`` is the hidden and the missing project (or plan).
WRITES: list[tuple[str, dict[str, Any]]] = [
    ("/plans/{code}/adjustments", {"envelopes": {CENTRAL: str(BILLION)}, "reason": "r",
                                   "effective_on": f"{Y}-07-01", **_decision()}),
    ("/projects/{code}/total-investment", {"total_investment": str(3 * BILLION),
                                           "effective_on": f"{Y}-06-02", **_decision()}),
    ("/projects/{code}/investor", {"investor_code": "X", "investor_name": "X", "reason": "r",
                                   "effective_on": f"{Y}-06-02"}),
    ("/projects/{code}/status", {"status": "slow", "reason": "r", "effective_on": f"{Y}-06-02"}),
    ("/projects/{code}/settlement", {"settled_value": str(BILLION),
                                     "effective_on": f"{Y}-06-02", **_decision()}),
    ("/projects/{code}/allocations", allocation_body(1)),
    ("/transfers", {"plan_code": PLAN, "source": CENTRAL, "from_project": PROJECT,
                    "to_project": "{code}", "amount": str(BILLION),
                    "effective_on": f"{Y}-06-02", **_decision()}),
    ("/projects/{code}/cuts", {"plan_code": PLAN, "source": CENTRAL, "reason": "r",
                               "effective_on": f"{Y}-06-02", **_decision()}),
    ("/projects/{code}/extensions", {"plan_code": PLAN, "source": CENTRAL,
                                     "amount": str(BILLION), "until": f"{YEAR + 1}-12-31",
                                     "effective_on": f"{Y}-12-20", **_decision()}),
    ("/projects/{code}/lapses", {"plan_code": PLAN, "source": CENTRAL,
                                 "as_of": f"{YEAR + 2}-01-01"}),
    ("/projects/{code}/contracts", {"contract_no": "HD-9", "contractor": "C",
                                    "value": str(BILLION), "effective_on": f"{Y}-02-01"}),
    ("/projects/{code}/advances", {**payment_body(1, on=f"{Y}-02-10"), "contract_no": "HD-9"}),
    ("/projects/{code}/payments", payment_body(1, on=f"{Y}-03-10")),
    ("/projects/{code}/reversals", {"entry_version": 3, "reason": "r",
                                    "effective_on": f"{Y}-03-11"}),
]  # fmt: skip

#: Commands whose body names a province or jurisdiction: (path, body naming DN).
NAMING_WRITES: list[tuple[str, dict[str, Any]]] = [
    ("/plans", {**plan_body("DN-KH-2026"), "jurisdiction": DN}),
    ("/projects", {**project_body("DN-9"), "province": DN}),
]

#: Routes no finance officer reads (inspectors and administrators only): 403 ``forbidden``.
ROLE_GATED = [("GET", "/verify"), ("GET", "/digests"), ("GET", "/digests/latest"),
              ("POST", "/digests"), ("GET", "/admin/keys"), ("POST", "/admin/keys"),
              ("DELETE", "/admin/keys/{key_id}"), ("PUT", "/admin/keys/{key_id}/scope"),
              ("GET", "/api-keys/{key_id}/history")]  # fmt: skip
#: Routes that read nothing of the ledger's contents.
UNSCOPED = [("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/metrics"), ("GET", "/inspector"),
            ("GET", "/inspector/"), ("GET", "/inspector/{name}")]  # fmt: skip


def _fill(path: str, params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    rest = dict(params)
    for name in ("jurisdiction", "fiscal_year"):
        if "{" + name + "}" in path:
            path = path.replace("{" + name + "}", str(rest.pop(name)))
    return path, rest


@pytest.fixture
def scoped(api: Harness) -> Harness:
    """The scope case on the test's own store, for a test that sends commands."""
    return record_scope_case(api)


@pytest.fixture(scope="module")
def scoped_reads(
    module_store: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Harness]:
    """The scope case once per store for the module's tests that only read it (reads, and
    requests refused as forbidden)."""
    settings, api_settings = api_settings_for(module_store, tmp_path_factory.mktemp("api"))
    with harness(settings, api_settings) as api:
        yield record_scope_case(api)


def record_scope_case(api: Harness) -> Harness:
    """HN's plan funds DA-001 (HN) and DN-1 (DN, paid late and least, so on the watch list);
    DN has a plan of its own."""
    funded(api, PROJECT, investor=INVESTOR, amount=100)
    api.command("/projects", {**project_body(HIDDEN, investor="BQLDA-DN"), "province": DN})
    api.command(f"/projects/{HIDDEN}/allocations", allocation_body(100))
    api.command(f"/projects/{HIDDEN}/payments", payment_body(1, on=f"{Y}-03-01"))
    api.command(f"/projects/{PROJECT}/payments", payment_body(20, on=f"{Y}-03-02"))
    api.command("/plans", {**plan_body(DN_PLAN), "jurisdiction": DN})
    return api


def test_every_route_has_a_scope_case(api: Harness) -> None:
    routes = {
        (method, route.path)
        for route in api.app.routes
        if hasattr(route, "methods") and route.path not in ("/openapi.json", "/docs", "/redoc")
        and not route.path.startswith("/docs")
        for method in route.methods - {"HEAD"}
    }  # fmt: skip
    covered = {
        *(("GET", path) for path, _, _ in LISTINGS),
        *(("GET", path) for path, *_ in SINGLE_READS),
        *(("POST", path.replace("{code}", "{project_code}")) for path, _ in WRITES),
        *(("POST", path) for path, _ in NAMING_WRITES),
        *ROLE_GATED,
        *UNSCOPED,
    }
    covered = {(m, p.replace("/plans/{project_code}", "/plans/{plan_code}")) for m, p in covered}
    assert routes - covered == set()


@pytest.mark.parametrize(("path", "mine", "theirs"), LISTINGS, ids=lambda v: str(v))
def test_listings_hold_visible_projects_and_refuse_other_scopes(
    scoped_reads: Harness, path: str, mine: dict[str, Any], theirs: dict[str, Any]
) -> None:
    officer = scoped_reads.province_officer
    url, params = _fill(path, mine)
    own = scoped_reads.get(url, headers=officer, **params)
    assert own.status_code == 200, own.text
    assert HIDDEN not in own.text and "BQLDA-DN" not in own.text
    url, params = _fill(path, theirs)
    other = scoped_reads.get(url, headers=officer, **params)
    assert other.status_code == 403, other.text
    assert other.json()["code"] == "out-of-scope"


def test_an_inspector_sees_the_hidden_project_in_the_same_listings(scoped_reads: Harness) -> None:
    """The rows the officer does not get are there: the listings above could leak them."""
    for path in ("/balances", "/projects", "/exports/balances.csv"):
        assert HIDDEN in scoped_reads.get(path, jurisdiction="HN", fiscal_year=Y).text
    for path in ("/watch-list", "/late-entries", "/exports/watch-list.csv"):
        assert HIDDEN in scoped_reads.get(path, jurisdiction="HN", fiscal_year=Y).text


def _same_answer(hidden: Any, missing: Any, hidden_code: str, missing_code: str) -> None:
    assert hidden.status_code == missing.status_code == 404, (hidden.text, missing.text)
    one, two = hidden.json(), missing.json()
    assert one["code"] == two["code"]
    assert one["detail"].replace(hidden_code, "?") == two["detail"].replace(missing_code, "?")


@pytest.mark.parametrize(("path", "visible", "hidden", "missing"), SINGLE_READS)
def test_a_single_read_of_another_scope_is_answered_as_never_recorded(
    scoped_reads: Harness, path: str, visible: str, hidden: str, missing: str
) -> None:
    officer = scoped_reads.province_officer
    name = "project_code" if "{project_code}" in path else "plan_code"
    params = READ_PARAMS.get(path, {})
    mine = scoped_reads.get(path.format(**{name: visible}), headers=officer, **params)
    assert mine.status_code == 200, mine.text
    answers = [
        scoped_reads.get(path.format(**{name: code}), headers=officer, **params)
        for code in (hidden, missing)
    ]
    _same_answer(*answers, hidden, missing)
    assert scoped_reads.get(path.format(**{name: hidden}), **params).status_code == 200  # it exists


@pytest.mark.parametrize(("path", "body"), WRITES, ids=[path for path, _ in WRITES])
def test_a_write_to_another_scope_is_answered_as_never_recorded(
    scoped: Harness, path: str, body: dict[str, Any]
) -> None:
    hidden, missing = (DN_PLAN, MISSING_PLAN) if path.startswith("/plans") else (HIDDEN, MISSING)
    answers = []
    for code in (hidden, missing):
        filled = {key: (code if value == "{code}" else value) for key, value in body.items()}
        answers.append(scoped.command(path.format(code=code), filled,
                                      headers=scoped.province_officer, expect=None))  # fmt: skip
    _same_answer(*answers, hidden, missing)


@pytest.mark.parametrize(("path", "body"), NAMING_WRITES, ids=[p for p, _ in NAMING_WRITES])
def test_a_command_naming_another_scope_is_403(
    scoped: Harness, path: str, body: dict[str, Any]
) -> None:
    refused = scoped.command(path, body, headers=scoped.province_officer, expect=403)
    assert refused.json()["code"] == "out-of-scope"


@pytest.mark.parametrize(("method", "path"), ROLE_GATED)
def test_ledger_wide_routes_are_forbidden_to_officers(
    scoped_reads: Harness, method: str, path: str
) -> None:
    response = scoped_reads.client.request(
        method, path.format(key_id="k"), headers=scoped_reads.province_officer
    )
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"


def test_a_key_another_principal_used_is_this_principals_own(scoped: Harness) -> None:
    # Keys are scoped per principal: the administrator's key neither blocks the officer's
    # command nor tells the officer that the administrator used it.
    scoped.command("/plans", plan_body("HN-KH-2026"), key="shared-key")
    recorded = scoped.command(
        f"/projects/{PROJECT}/payments",
        payment_body(1, on=f"{Y}-04-01"),
        headers=scoped.province_officer,
        key="shared-key",
        expect=201,
    )
    assert recorded.json()["command"] == "PayCompletedWork"
    assert recorded.headers["Idempotent-Replayed"] == "false"
