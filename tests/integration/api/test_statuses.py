"""Statuses that match the document (issue #16, items 2 and 3), over HTTP in process.

A body that is not JSON is a 400 (``malformed-json``), an invalid value a 422; whatever a
request names that the ledger does not hold is a 404 with its own code, in commands (a plan, a
project's line, a contract) as in queries (a plan, a jurisdiction and year with no annual
plan); a plan or project that exists but that the ledger recorded after the ``known`` date
asked about is a 404 ``not-yet-known`` naming the day it became known (``known_from``), never
a Python repr. Each answer is checked against the operation's documented responses with
schemathesis (status documented, problem+json body matching its schema).

One app on SQLite for the module: statuses do not depend on the store, and the history here is
back-filled by construction (2025 recorded today, as after a migration).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from schemathesis.specs.openapi.schemas import OpenApiSchema

from capledger.api.roles import Role
from capledger.api.settings import ApiSettings
from capledger.bootstrap import build_app
from capledger.settings import Persistence, Settings, StoreSettings

from .support import (
    CENTRAL,
    INVESTOR,
    LOCAL,
    OTHER,
    PLAN,
    PROJECT,
    YEAR,
    Harness,
    funded,
    payment_body,
    plan_body,
    project_body,
)

pytestmark = pytest.mark.integration

PROBLEM = "application/problem+json"
HN_2025 = {"jurisdiction": "HN", "fiscal_year": YEAR}
#: 30 June 2025: the plan was in force (since 1 January) but recorded only today.
MID_YEAR = f"{YEAR}-06-30"


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    tmp = tmp_path_factory.mktemp("statuses")
    settings = Settings(store=StoreSettings(persistence=Persistence.SQLITE, data_dir=tmp))
    api_settings = ApiSettings(
        store_file=tmp / "api.sqlite3",
        write_rate_per_s=1_000_000,
        write_burst=1_000_000,
        read_rate_per_s=1_000_000,
        read_burst=1_000_000,
        read_your_writes_timeout_s=10,
    )
    app = build_app(settings.model_copy(update={"api": api_settings}))
    admin = {"X-API-Key": app.state.ctx.store.create_key("admin", Role.ADMINISTRATOR).token}
    with TestClient(app) as client:
        harness = Harness(client, app, settings, api_settings, admin, admin, admin, admin)
        funded(harness)  # plan HN-KHV-2025 (effective 1 January 2025), DA-001 with capital
        harness.command("/projects", project_body(OTHER))
        harness.command(f"/projects/{PROJECT}/contracts", {
            "contract_no": "HĐ-01", "contractor": "Công ty A", "value": str(50 * 10**9),
            "effective_on": f"{YEAR}-02-01",
        })  # fmt: skip
        yield harness


@pytest.fixture(scope="module")
def document(api: Harness) -> OpenApiSchema:
    schema = schemathesis.openapi.from_asgi("/openapi.json", api.app)
    assert isinstance(schema, OpenApiSchema)
    return schema


def conforms(document: OpenApiSchema, method: str, path: str, response: Any) -> None:
    """The answer is one the operation documents: its status listed, its body (problem+json
    for an error) valid against the schema given for that status."""
    operation = document[path][method]
    assert str(response.status_code) in operation.definition.raw["responses"], response.text
    operation.validate_response(response)
    if response.status_code >= 400:
        assert response.headers["content-type"] == PROBLEM


def problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    assert body["type"].endswith(f"/problems/{code}")
    # No Python internals in what a client reads.
    assert "AsOf(" not in body["detail"] and "datetime." not in body["detail"], body["detail"]
    return body


def recorded_on(api: Harness, plan: str = PLAN) -> date:
    versions = api.get(f"/plans/{plan}/versions", headers=api.admin).json()
    return date.fromisoformat(versions[0]["recorded_on"])


# -- item 2: 400 for what is not JSON, 422 for invalid values ---------------------------------


def test_a_body_that_is_not_json_answers_400_malformed_json(
    api: Harness, document: OpenApiSchema
) -> None:
    path = f"/projects/{PROJECT}/payments"
    response = api.client.post(
        path,
        content=b'{"plan_code": "HN-KHV-2025", "amount": ',
        headers={**api.admin, "Idempotency-Key": "not-json", "Content-Type": "application/json"},
    )
    problem(response, 400, "malformed-json")  # was 422 validation-error
    conforms(document, "POST", "/projects/{project_code}/payments", response)

    invalid = api.command(path, {**payment_body(1, on=f"{YEAR}-03-01"), "amount": "-1"},
                          expect=None)  # fmt: skip
    problem(invalid, 422, "validation-error")  # JSON with an invalid value stays a 422
    conforms(document, "POST", "/projects/{project_code}/payments", invalid)


# -- item 2: 404 for what a command names that is not recorded -------------------------------


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/projects/{project_code}/payments", payment_body(1, on=f"{YEAR}-03-01")),
        (
            "/projects/{project_code}/advances",
            {**payment_body(1, on=f"{YEAR}-03-01"), "contract_no": "HĐ-01"},
        ),
        (
            "/projects/{project_code}/extensions",
            {"plan_code": PLAN, "source": CENTRAL, "amount": str(10**9),
             "until": f"{YEAR + 1}-06-30", "effective_on": f"{YEAR}-12-20", "decision_no": "1/QĐ",
             "decision_date": f"{YEAR}-12-20", "decision_issuer": "UBND Hà Nội"},
        ),
        (
            "/projects/{project_code}/lapses",
            {"plan_code": PLAN, "source": CENTRAL, "as_of": f"{YEAR + 2}-02-01"},
        ),
        (
            "/transfers",
            {"plan_code": PLAN, "source": CENTRAL, "from_project": PROJECT, "to_project": OTHER,
             "amount": str(10**9), "effective_on": f"{YEAR}-03-01", "decision_no": "2/QĐ",
             "decision_date": f"{YEAR}-03-01", "decision_issuer": "UBND Hà Nội"},
        ),
    ],
    ids=["payment", "advance", "extension", "lapse", "transfer"],
)  # fmt: skip
def test_a_movement_from_a_plan_never_recorded_answers_404_unknown_plan(
    api: Harness, document: OpenApiSchema, path: str, body: dict[str, Any]
) -> None:
    response = api.command(
        path.replace("{project_code}", PROJECT), {**body, "plan_code": "KH-KHONG-CO"}, expect=None
    )
    body = problem(response, 404, "unknown-plan")  # was 422 no-allocation
    assert "KH-KHONG-CO" in body["detail"]
    conforms(document, "POST", path, response)


def test_a_payment_on_a_line_the_project_does_not_have_answers_404_no_allocation(
    api: Harness, document: OpenApiSchema
) -> None:
    # The plan is recorded, but the project has no capital from its local budget envelope.
    response = api.command(
        f"/projects/{PROJECT}/payments", payment_body(1, on=f"{YEAR}-03-01", source=LOCAL),
        expect=None,
    )  # fmt: skip
    problem(response, 404, "no-allocation")  # was 422
    conforms(document, "POST", "/projects/{project_code}/payments", response)


def test_a_plan_outside_a_keys_scope_answers_as_one_never_recorded(api: Harness) -> None:
    api.command("/plans", {**plan_body("HP-KHV-2025"), "jurisdiction": "HP"})
    officer = api.key("lan-statuses", Role.FINANCE_OFFICER, investors=(INVESTOR,))
    path, body = f"/projects/{PROJECT}/payments", payment_body(1, on=f"{YEAR}-03-01")
    answers = [
        api.command(path, {**body, "plan_code": code}, headers=officer, expect=None).json()
        for code in ("HP-KHV-2025", "KH-KHONG-CO")
    ]
    # Recorded but in another province, or never recorded: the officer cannot tell them apart.
    assert [answer["code"] for answer in answers] == ["unknown-plan", "unknown-plan"]
    admin = api.command(path, {**body, "plan_code": "HP-KHV-2025"}, expect=None)
    problem(admin, 404, "no-allocation")


def test_an_advance_on_a_contract_never_signed_answers_404_unknown_contract(
    api: Harness, document: OpenApiSchema
) -> None:
    response = api.command(
        f"/projects/{PROJECT}/advances",
        {**payment_body(1, on=f"{YEAR}-03-01"), "contract_no": "HĐ-99"},
        expect=None,
    )
    problem(response, 404, "unknown-contract")  # was 422
    conforms(document, "POST", "/projects/{project_code}/advances", response)


def test_the_idempotency_and_version_conflicts_answer_as_documented(
    api: Harness, document: OpenApiSchema
) -> None:
    api.command("/projects", project_body("DA-IDEM"), key="idem-shared")
    reused = api.command("/projects", project_body("DA-IDEM-2"), key="idem-shared", expect=None)
    problem(reused, 422, "idempotency-conflict")
    conforms(document, "POST", "/projects", reused)
    duplicate = api.command("/projects", project_body("DA-IDEM"), expect=None)
    problem(duplicate, 409, "duplicate-project")
    conforms(document, "POST", "/projects", duplicate)


# -- item 2: 404 for what a query names that is not recorded ---------------------------------


@pytest.mark.parametrize("path", ["/rates", "/rates/monthly", "/rates/bunching"])
def test_a_rate_of_a_jurisdiction_and_year_without_annual_plan_answers_404(
    api: Harness, document: OpenApiSchema, path: str
) -> None:
    for scope, code in (
        ({"jurisdiction": "ZZ", "fiscal_year": YEAR}, "unknown-jurisdiction"),
        ({**HN_2025, "fiscal_year": 2030}, "no-annual-plan"),
    ):
        response = api.get(path, **scope)
        problem(response, 404, code)  # the series and bunching: 200 with zeros
        conforms(document, "GET", path, response)


@pytest.mark.parametrize("path", ["/rates", "/rates/monthly"])
def test_a_rate_against_a_plan_never_recorded_answers_404_unknown_plan(
    api: Harness, document: OpenApiSchema, path: str
) -> None:
    response = api.get(path, **HN_2025, plan="KH-KHONG-CO")
    problem(response, 404, "unknown-plan")  # was not-found
    conforms(document, "GET", path, response)


def test_the_capital_of_a_plan_never_recorded_answers_404_unknown_plan(
    api: Harness, document: OpenApiSchema
) -> None:
    for path in ("/plans/{plan_code}/capital", "/plans/{plan_code}/versions"):
        response = api.get(path.replace("{plan_code}", "KH-KHONG-CO"), headers=api.admin)
        problem(response, 404, "unknown-plan")  # was not-found
        conforms(document, "GET", path, response)


# -- item 3: time travel a client can discover ----------------------------------------------


@pytest.mark.parametrize("path", ["/rates", "/rates/monthly"])
def test_a_rate_over_back_filled_history_answers_not_yet_known_naming_the_day(
    api: Harness, document: OpenApiSchema, path: str
) -> None:
    learnt = recorded_on(api)
    response = api.get(path, **HN_2025, plan=PLAN, as_of=MID_YEAR)  # known defaults to as_of
    body = problem(response, 404, "not-yet-known")  # was not-found, with AsOf(…) in its text
    assert body["known_from"] == learnt.isoformat()
    assert f"known={learnt.isoformat()}" in body["detail"] and MID_YEAR in body["detail"]
    conforms(document, "GET", path, response)

    # Asked as the problem says, the same point answers.
    answered = api.get(path, **HN_2025, plan=PLAN, as_of=MID_YEAR, known=body["known_from"])
    assert answered.status_code == 200, answered.text
    conforms(document, "GET", path, answered)


def test_a_rate_without_named_plans_over_back_filled_history_is_not_yet_known(
    api: Harness,
) -> None:
    response = api.get("/rates", **HN_2025, as_of=MID_YEAR)
    assert problem(response, 404, "not-yet-known")["known_from"] == recorded_on(api).isoformat()


def test_a_plan_not_yet_in_force_at_as_of_is_unknown_then_not_yet_known(api: Harness) -> None:
    # Before 1 January 2025 the plan did not exist at all, whatever the ledger knew later.
    response = api.get("/rates", **HN_2025, plan=PLAN, as_of=f"{YEAR - 1}-06-30",
                       known="2100-01-01")  # fmt: skip
    body = problem(response, 404, "unknown-plan")
    assert "known_from" not in body


def test_a_project_state_over_back_filled_history_is_not_yet_known_naming_the_day(
    api: Harness, document: OpenApiSchema
) -> None:
    path = "/projects/{project_code}/state"
    learnt = recorded_on(api)  # the project was registered the same day as the plan
    response = api.get(
        path.replace("{project_code}", PROJECT), headers=api.admin,
        effective_on=MID_YEAR, known=MID_YEAR,
    )  # fmt: skip
    body = problem(response, 404, "not-yet-known")  # was 200 with exists: false
    assert body["known_from"] >= learnt.isoformat()
    conforms(document, "GET", path, response)

    # Before its registration took effect (1 June 2024) the project is absent, as before.
    absent = api.get(path.replace("{project_code}", PROJECT), headers=api.admin,
                     effective_on="2024-01-01", known="2024-01-01")  # fmt: skip
    assert absent.status_code == 200 and absent.json()["exists"] is False
    known = api.get(path.replace("{project_code}", PROJECT), headers=api.admin,
                    effective_on=MID_YEAR, known=body["known_from"])  # fmt: skip
    assert known.status_code == 200 and known.json()["exists"] is True


# -- the document says so --------------------------------------------------------------------


def operations(api: Harness) -> list[tuple[str, str, dict[str, Any]]]:
    paths: dict[str, dict[str, dict[str, Any]]] = api.app.openapi()["paths"]
    return [(method.upper(), path, operation) for path, item in paths.items()
            for method, operation in item.items()]  # fmt: skip


def test_every_error_status_of_every_operation_is_a_documented_problem(api: Harness) -> None:
    for method, path, operation in operations(api):
        for status, response in operation["responses"].items():
            if int(status) < 400 or (path, status) == ("/readyz", "503"):
                continue  # a probe's 503 is its readiness report, not a problem
            schema = response.get("content", {}).get(PROBLEM, {}).get("schema")
            assert schema == {"$ref": "#/components/schemas/Problem"}, (method, path, status)


def test_every_command_documents_its_malformed_json_idempotency_and_version_conflicts(
    api: Harness,
) -> None:
    commands = [(path, op) for _, path, op in operations(api) if "x-capledger-command" in op]
    assert len(commands) == 16
    for path, operation in commands:
        responses = operation["responses"]
        examples = {
            status: set(responses[status]["content"][PROBLEM].get("examples", {}))
            for status in ("400", "409", "422")
        }
        assert "malformed-json" in examples["400"], path
        assert "idempotency-conflict" in examples["422"], path
        assert "idempotency-conflict" in responses["422"]["description"], path
        assert "version-conflict" in examples["409"], path
        assert "Retry-After" in responses["409"]["headers"], path
    # A registration names nothing else recorded: it cannot answer 404.
    assert "404" not in dict(commands)["/projects"]["responses"]


def test_every_as_of_operation_documents_known_and_the_not_yet_known_problem(
    api: Harness,
) -> None:
    as_of = [
        (path, op) for _, path, op in operations(api)
        if "as_of" in {parameter["name"] for parameter in op.get("parameters", [])}
    ]  # fmt: skip
    assert {"/balances", "/rates", "/rates/monthly", "/watch-list"} <= dict(as_of).keys()
    for path, operation in as_of:
        known = {p["name"]: p for p in operation["parameters"]}["known"]
        assert "defaults to `as_of`" in known["description"], path
        assert "not-yet-known" in known["description"], path
        assert known["schema"].get("examples") or known.get("examples"), path
    for path in ("/rates", "/rates/monthly", "/projects/{project_code}/state"):
        operation = api.app.openapi()["paths"][path]["get"]
        found = operation["responses"]["404"]["content"][PROBLEM]["examples"]["not-yet-known"]
        assert found["value"]["known_from"], path
    problem_schema = api.app.openapi()["components"]["schemas"]["Problem"]
    assert "known_from" in problem_schema["properties"]
