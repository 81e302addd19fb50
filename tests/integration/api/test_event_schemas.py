"""The API serves the JSON Schema at the address a Kafka message's ``ce_dataschema`` names, so a
subscriber holding only the topic can validate what it reads."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator, FormatChecker

from capledger.api.routers.schemas import SCHEMA_JSON
from capledger.settings import Settings
from capledger.streams import wire

from .support import Harness, api_settings_for, funded, harness, payment_body

pytestmark = pytest.mark.integration

#: The address this deployment's API answers at (the TestClient's), as an operator sets it.
BASE = "http://testserver/schemas/"


@pytest.fixture
def api_at_base(store: Settings, tmp_path: Path) -> Iterator[Harness]:
    settings, api_settings = api_settings_for(store, tmp_path)
    kafka = settings.kafka.model_copy(update={"schema_base_uri": BASE})
    with harness(settings.model_copy(update={"kafka": kafka}), api_settings) as found:
        yield found


def test_the_schema_a_message_names_is_served_at_that_address(api_at_base: Harness) -> None:
    api = api_at_base
    funded(api, amount=100)
    api.command("/projects/DA-001/payments", payment_body(40, on="2025-03-01"))
    settings = api.ctx.settings.kafka
    stamp = wire.WireFormat(settings.ce_source, settings.schema_base_uri)
    recorder = api.ctx.ledger.recorder
    messages = [wire.to_message(n, stamp) for n in recorder.select_notifications(1, 1_000)]
    paid = next(m for m in messages if b"CompletedWorkPaid" in dict(m.headers)[wire.CE_TYPE])
    address = dict(paid.headers)[wire.CE_DATASCHEMA].decode()
    assert address == f"{BASE}Project.CompletedWorkPaid.v1.json"

    for message in messages:
        address = dict(message.headers)[wire.CE_DATASCHEMA].decode()
        served = api.client.get(address)  # no API key: a subscriber may hold none
        assert served.status_code == 200, address
        assert served.headers["content-type"] == SCHEMA_JSON
        schema = served.json()
        assert schema["$id"] == address
        Draft202012Validator(schema, format_checker=FormatChecker()).validate(
            json.loads(message.value)
        )


def test_an_unknown_schema_is_a_404_problem(api: Harness) -> None:
    unknown = ("Project.Nothing.v1.json", "..%2Fsettings.py", "Project.CompletedWorkPaid.v9.json")
    for name in unknown:
        served = api.client.get(f"/schemas/{name}")
        assert served.status_code == 404, name
        assert served.json()["code"] == "not-found"


def test_the_schema_route_is_in_the_openapi_document(api: Harness) -> None:
    document = api.client.get("/openapi.json").json()
    operation = document["paths"]["/schemas/{file_name}"]["get"]
    assert {"200", "404"} <= set(operation["responses"])
    assert SCHEMA_JSON in operation["responses"]["200"]["content"]
    assert operation["security"] == []  # no API key
