"""Done when: issuing, rescoping and revoking an API key — over the API or with
``capledger api-key`` — are events on the ledger (who, when, which key by its id, never the
token), which inspectors read at ``/api-keys/{id}/history`` and which verify like any stream."""

from __future__ import annotations

from typing import Any

import pytest

from capledger.api.roles import Role
from capledger.application.published import publish
from capledger.application.verify import verify_store
from capledger.cli.api import change_api_key_scope, create_api_key, revoke_api_key
from capledger.domain import api_key_id

from .support import INVESTOR, Harness, funded

pytestmark = pytest.mark.integration


def history(api: Harness, key_id: str, headers: dict[str, str] | None = None) -> Any:
    return api.client.get(f"/api-keys/{key_id}/history", headers=headers or api.inspector)


def stored_text(api: Harness, key_id: str) -> str:
    return "".join(
        stored.state.decode() for stored in api.ctx.ledger.stored_stream(api_key_id(key_id))
    )


def test_issue_rescope_and_revoke_over_the_api_are_on_the_audit_trail(api: Harness) -> None:
    created = api.client.post(
        "/admin/keys",
        json={"name": "tuan", "role": "finance_officer", "investors": [INVESTOR]},
        headers=api.admin,
    )
    assert created.status_code == 201, created.text
    key_id, token = created.json()["key_id"], created.json()["token"]
    rescoped = api.client.put(
        f"/admin/keys/{key_id}/scope", json={"provinces": ["HN"]}, headers=api.admin
    )
    assert rescoped.status_code == 200, rescoped.text
    assert rescoped.json()["provinces"] == ["HN"] and rescoped.json()["investors"] == []
    funded(api)
    officer = {"X-API-Key": token}
    assert api.get("/projects", headers=officer, province="HN").status_code == 200
    assert api.client.delete(f"/admin/keys/{key_id}", headers=api.admin).status_code == 200

    found = history(api, key_id)
    assert found.status_code == 200, found.text
    items = found.json()["items"]
    assert [item["event"] for item in items] == [
        "ApiKey.Issued",
        "ApiKey.ScopeChanged",
        "ApiKey.Revoked",
    ]
    assert {item["principal"] for item in items} == {"administrator:admin"}
    assert all(item["recorded_at"] for item in items)
    assert items[0]["data"] == {
        "key_id": key_id,
        "name": "tuan",
        "role": "finance_officer",
        "investors": [INVESTOR],
        "provinces": [],
    }
    assert items[1]["data"] == {"investors": [], "provinces": ["HN"]}
    # Never the token, nor its hash.
    secret = token.rpartition("_")[2]
    assert secret not in found.text and secret not in stored_text(api, key_id)
    # Published and verified like every other stream.
    assert verify_store(api.ctx.ledger.recorder).ok
    subjects = {
        publish(n.id, n.originator_id, n.originator_version, n.topic, n.state).subject
        for n in api.ctx.ledger.recorder.select_notifications(1, 10_000)
    }
    assert f"api-key:{key_id}" in subjects


def test_only_inspectors_and_administrators_read_a_keys_history(api: Harness) -> None:
    issued = api.client.post(
        "/admin/keys", json={"name": "an", "role": "inspector"}, headers=api.admin
    ).json()
    assert history(api, issued["key_id"]).status_code == 200
    assert history(api, issued["key_id"], api.admin).status_code == 200
    assert history(api, issued["key_id"], api.province_officer).status_code == 403
    assert history(api, "ffffffff").status_code == 404


def test_a_revoked_key_cannot_be_rescoped_and_a_second_revocation_records_nothing(
    api: Harness,
) -> None:
    issued = api.client.post(
        "/admin/keys",
        json={"name": "mai", "role": "finance_officer", "provinces": ["HN"]},
        headers=api.admin,
    ).json()
    key_id = issued["key_id"]
    for _ in range(2):
        assert api.client.delete(f"/admin/keys/{key_id}", headers=api.admin).status_code == 200
    refused = api.client.put(
        f"/admin/keys/{key_id}/scope", json={"provinces": ["HP"]}, headers=api.admin
    )
    assert refused.status_code == 422
    assert refused.json()["code"] == "api-key-revoked"
    events = [item["event"] for item in history(api, key_id).json()["items"]]
    assert events == ["ApiKey.Issued", "ApiKey.Revoked"]


def test_a_key_issued_before_the_audit_trail_gets_its_issue_recorded_when_revoked(
    api: Harness,
) -> None:
    older = api.ctx.store.create_key("old", Role.INSPECTOR)  # straight into the key store
    assert history(api, older.key.key_id).status_code == 404
    api.client.delete(f"/admin/keys/{older.key.key_id}", headers=api.admin)
    events = [item["event"] for item in history(api, older.key.key_id).json()["items"]]
    assert events == ["ApiKey.Issued", "ApiKey.Revoked"]


def test_the_command_line_records_key_administration_too(api: Harness) -> None:
    settings = api.settings.model_copy(update={"api": api.api_settings})
    issued = create_api_key("ngoc", "finance_officer", provinces=["HN"], settings=settings)
    change_api_key_scope(issued.key.key_id, provinces=["HN", "HP"], settings=settings)
    revoke_api_key(issued.key.key_id, settings=settings)
    items = history(api, issued.key.key_id).json()["items"]
    assert [item["event"] for item in items] == [
        "ApiKey.Issued",
        "ApiKey.ScopeChanged",
        "ApiKey.Revoked",
    ]
    assert all(item["principal"].startswith("operator:") for item in items)
