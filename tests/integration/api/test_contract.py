"""``/openapi.json`` is a contract an outside client can build on alone: it validates, every
operation, parameter and field says what it means, every problem code is an enum value with its
status and meaning, every status has a schema, roles and rate limits are stated per operation
and hold, and a history entry's ``data`` is typed by its event.

The document's checks read one app's document (module scope); the behavioural ones drive the
harness of the API's integration tests.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from builders import sqlite_settings
from fastapi.testclient import TestClient
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from capledger.api.glossary import GENERIC
from capledger.api.problem_codes import CATALOG
from capledger.api.roles import Role, access_table
from capledger.api.settings import ApiSettings
from capledger.bootstrap import build_app

from .support import (
    BILLION,
    PLAN,
    PROJECT,
    Harness,
    allocation_body,
    funded,
    payment_body,
)

pytestmark = pytest.mark.integration

DOCS = Path(__file__).resolve().parents[3] / "docs" / "api.md"
Document = dict[str, Any]


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> Document:
    directory = tmp_path_factory.mktemp("contract")
    settings = sqlite_settings(directory / "store")
    api = ApiSettings(store_file=directory / "api.sqlite3", read_burst=1_234)
    app = build_app(settings.model_copy(update={"api": api}))
    with TestClient(app) as client:
        found: Document = client.get("/openapi.json").json()
    return found


def operations(document: Document) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


def test_the_document_validates_as_openapi_3_1(document: Document) -> None:
    validate(document)

    assert document["openapi"].startswith("3.1")


def undescribed(document: Document) -> list[str]:
    """Every operation, parameter, schema and property without a meaning of its own."""
    missing = []
    for path, method, operation in operations(document):
        where = f"{method.upper()} {path}"
        if not operation.get("summary") or not operation.get("description"):
            missing.append(f"operation {where}")
        for parameter in operation.get("parameters", []):
            if parameter.get("description") in (None, "", *GENERIC):
                missing.append(f"parameter {parameter['name']} of {where}")
        body = operation.get("requestBody")
        if body is not None and not (body.get("description") or "$ref" in str(body)):
            missing.append(f"request body of {where}")
        for status, response in operation["responses"].items():
            if not response.get("description"):
                missing.append(f"response {status} of {where}")
    for name, schema in document["components"]["schemas"].items():
        if not schema.get("description"):
            missing.append(f"schema {name}")
        for field, value in schema.get("properties", {}).items():
            if value.get("description") in (None, "", *GENERIC):
                missing.append(f"field {name}.{field}")
    for name, header in document["components"].get("headers", {}).items():
        if not header.get("description"):
            missing.append(f"header {name}")
    return missing


def test_every_operation_parameter_schema_and_field_says_what_it_means(
    document: Document,
) -> None:
    # A name here needs a `description` of its own or a line in capledger.api.glossary.
    assert undescribed(document) == []


def test_the_check_of_descriptions_finds_a_field_without_one(document: Document) -> None:
    schemas = document["components"]["schemas"]
    stripped = {
        **document,
        "components": {
            **document["components"],
            "schemas": {**schemas, "Extra": {"description": "x", "properties": {"a": {}}}},
        },
    }

    assert undescribed(stripped) == ["field Extra.a"]


def test_amounts_say_what_they_hold_beyond_their_unit(document: Document) -> None:
    payment = document["components"]["schemas"]["PayCompletedWork"]["properties"]

    assert "Gross value" in payment["amount"]["description"]
    assert "amount − advance_recovered" in payment["amount"]["description"]
    assert "whole VND" in payment["advance_recovered"]["description"]


def test_the_problem_code_is_an_enum_of_the_catalog_with_status_and_meaning(
    document: Document,
) -> None:
    problem = document["components"]["schemas"]["Problem"]
    code = problem["properties"]["code"]

    assert code["enum"] == sorted(CATALOG)
    assert code["x-problem-codes"]["over-disbursement"] == {
        "status": 422,
        "meaning": CATALOG["over-disbursement"].meaning,
    }
    assert "| `version-conflict` | 409 |" in problem["description"]


def test_every_status_of_every_operation_has_a_schema_and_errors_name_their_codes(
    document: Document,
) -> None:
    for path, method, operation in operations(document):
        for status, response in operation["responses"].items():
            where = f"{method.upper()} {path} {status}"
            content = response.get("content")
            assert content, f"{where} has no schema"
            assert all("schema" in media for media in content.values()), where
            if int(status) >= 400 and (path, status) != ("/readyz", "503"):
                assert list(content) == ["application/problem+json"], where
                for listed in response["x-problem-codes"]:
                    assert CATALOG[listed].status == int(status), f"{where}: {listed}"


def test_a_commands_replayed_200_is_its_result_with_the_command_headers(
    document: Document,
) -> None:
    responses = document["paths"]["/projects/{project_code}/payments"]["post"]["responses"]

    replayed, recorded = responses["200"], responses["201"]
    assert replayed["content"] == recorded["content"]
    assert replayed["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/CommandResult"
    }
    assert {"Idempotent-Replayed", "X-Ledger-Position"} <= set(replayed["headers"])
    assert "idempotency-conflict" in responses["422"]["x-problem-codes"]
    assert "version-conflict" in responses["409"]["x-problem-codes"]
    assert "Retry-After" in responses["409"]["headers"]


def test_roles_per_operation_follow_the_one_role_table(document: Document) -> None:
    def roles(path: str, method: str = "get") -> list[str]:
        found: list[str] = document["paths"][path][method]["x-roles"]
        return found

    everyone = ["inspector", "finance_officer", "administrator"]
    assert roles("/balances") == everyone
    assert roles("/projects/{project_code}/payments", "post") == [
        "finance_officer",
        "administrator",
    ]
    assert roles("/verify") == ["inspector", "administrator"]
    assert roles("/admin/keys", "post") == ["administrator"]
    assert roles("/digests", "post") == ["administrator"]
    assert roles("/healthz") == []
    assert document["paths"]["/healthz"]["get"]["security"] == []
    assert {"ApiKey": []} in document["paths"]["/balances"]["get"]["security"]
    assert access_table() in DOCS.read_text(encoding="utf-8")


def test_rate_limits_are_stated_per_operation_from_the_settings(document: Document) -> None:
    reads = document["paths"]["/rates"]["get"]
    writes = document["paths"]["/transfers"]["post"]

    assert [limit["policy"] for limit in reads["x-rate-limit"]] == [
        "reads",
        "failed-authentications",
    ]
    assert reads["x-rate-limit"][0]["burst"] == 1_234  # the app's own settings
    assert writes["x-rate-limit"][0]["policy"] == "writes"
    assert "**Rate limit** `reads`: 1234 requests per API key" in reads["description"]
    assert {"RateLimit", "RateLimit-Policy"} <= set(reads["responses"]["200"]["headers"])
    assert "Retry-After" in reads["responses"]["429"]["headers"]
    assert document["paths"]["/healthz"]["get"]["x-rate-limit"] == []


def test_nothing_a_client_needs_is_left_to_docs_it_cannot_read(document: Document) -> None:
    texts = [document["info"]["description"]]
    texts += [str(operation) for _, _, operation in operations(document)]

    assert not [text for text in texts if re.search(r"docs/|\.md\b", text)]
    assert "known" in document["info"]["description"]


def test_a_history_entrys_data_is_the_published_schema_of_its_event(document: Document) -> None:
    schemas = document["components"]["schemas"]
    entry = schemas["HistoryEntry"]

    assert entry["discriminator"]["propertyName"] == "event"
    paid = schemas["HistoryEntryCompletedWorkPaid"]["properties"]
    assert paid["event"]["enum"] == ["CompletedWorkPaid"]
    assert paid["class_version"]["enum"] == [1]
    data = schemas[paid["data"]["$ref"].rpartition("/")[2]]
    assert data["properties"]["amount"] == {
        "type": "string",
        "pattern": "^-?[0-9]+$",
        "description": data["properties"]["amount"]["description"],
    }
    assert data["additionalProperties"] is False
    assert "Project.CompletedWorkPaid.v1.json" in paid["data"]["description"]
    history = document["paths"]["/projects/{project_code}/history"]["get"]["responses"]["200"]
    assert "Link" in history["headers"]


# -- the document against the running API -----------------------------------------------------


def validator(document: Document, name: str) -> Draft202012Validator:
    root = {"components": document["components"], "$ref": f"#/components/schemas/{name}"}
    return Draft202012Validator(root)


def test_every_history_entry_the_api_serves_matches_its_event_schema(api: Harness) -> None:
    funded(api)
    api.command(f"/projects/{PROJECT}/contracts", {
        "contract_no": "HD-01", "contractor": "Công ty Xây dựng Sông Hồng",
        "value": str(50 * BILLION), "effective_on": "2025-01-05",
    })  # fmt: skip
    api.command(f"/projects/{PROJECT}/advances", {
        "contract_no": "HD-01", "plan_code": PLAN, "source": "central_budget",
        "amount": str(5 * BILLION), "treasury_ref": "KB-A1", "effective_on": "2025-01-06",
    })  # fmt: skip
    paid = api.command(
        f"/projects/{PROJECT}/payments",
        payment_body(20, on="2025-02-01", contract_no="HD-01", advance_recovered=str(BILLION)),
    ).json()
    api.command(
        f"/projects/{PROJECT}/reversals",
        {"entry_version": paid["streams"][f"project:{PROJECT}"], "reason": "nhầm",
         "effective_on": "2025-02-02"},
    )  # fmt: skip
    api.command(f"/projects/{PROJECT}/allocations", allocation_body(10, on="2025-03-01"))
    document = api.client.get("/openapi.json").json()
    check = validator(document, "HistoryPage")

    page = api.get(f"/projects/{PROJECT}/history").json()

    assert len(page["items"]) == 7
    errors = [error.message for error in check.iter_errors(page)]
    assert errors == []
    broken = {**page, "items": [{**page["items"][0], "event": "CompletedWorkPaid"}]}
    assert list(check.iter_errors(broken))


def test_every_key_history_entry_matches_its_event_schema(api: Harness) -> None:
    created = api.client.post(
        "/admin/keys",
        json={"name": "mai", "role": "finance_officer", "provinces": ["HN"]},
        headers=api.admin,
    ).json()
    key_id = created["key_id"]
    api.client.put(f"/admin/keys/{key_id}/scope", json={"provinces": ["HP"]}, headers=api.admin)
    api.client.delete(f"/admin/keys/{key_id}", headers=api.admin)
    document = api.client.get("/openapi.json").json()

    history = api.get(f"/api-keys/{key_id}/history").json()

    assert [item["event"] for item in history["items"]] == [
        "ApiKey.Issued",
        "ApiKey.ScopeChanged",
        "ApiKey.Revoked",
    ]
    assert [error.message for error in validator(document, "KeyHistory").iter_errors(history)] == []


@pytest.mark.parametrize(
    ("path", "method"),
    [
        ("/balances?by=plan", "get"),
        ("/verify", "get"),
        ("/admin/keys", "get"),
        (f"/projects/{PROJECT}/payments", "post"),
    ],
)
def test_a_role_outside_an_operations_x_roles_is_refused_and_one_inside_is_not(
    api: Harness, path: str, method: str
) -> None:
    document = api.client.get("/openapi.json").json()
    allowed = document["paths"][path.partition("?")[0].replace(PROJECT, "{project_code}")][method][
        "x-roles"
    ]
    keys = {
        Role.ADMINISTRATOR.value: api.admin,
        Role.INSPECTOR.value: api.inspector,
        Role.FINANCE_OFFICER.value: api.province_officer,
    }
    funded(api)

    for role, headers in keys.items():
        headers = {**headers, "Idempotency-Key": f"role-{role}"}
        body = payment_body(1, on="2025-02-01") if method == "post" else None
        answer = api.client.request(method.upper(), path, headers=headers, json=body)
        refused = answer.status_code == 403 and answer.json()["code"] == "forbidden"
        assert refused == (role not in allowed), (role, answer.status_code, answer.text)


def test_responses_carry_the_rate_limit_headers_the_document_declares(api: Harness) -> None:
    document = api.client.get("/openapi.json").json()
    burst = document["paths"]["/plans"]["get"]["x-rate-limit"][0]["burst"]

    answer = api.get("/plans")

    assert answer.headers["RateLimit-Policy"].startswith(f'"reads";q={burst};')
    assert re.fullmatch(r'"reads";r=\d+;t=\d+', answer.headers["RateLimit"])
