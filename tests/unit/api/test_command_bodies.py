"""Each command route's request body maps onto the ledger's command in one place."""

from __future__ import annotations

from dataclasses import fields
from datetime import date
from typing import get_type_hints

import pytest
from fastapi.routing import APIRoute

from capledger.api.routers import commands as routes
from capledger.application import commands
from capledger.application.handlers import HANDLERS

pytestmark = pytest.mark.unit

COMMAND_ROUTES = [
    route
    for route in routes.router.routes
    if isinstance(route, APIRoute) and "x-capledger-command" in (route.openapi_extra or {})
]


#: Recorded by the key administration (``/admin/keys``, ``capledger api-key``), not sent.
KEY_ADMINISTRATION = {commands.IssueApiKey, commands.ChangeApiKeyScope, commands.RevokeApiKey}


def test_every_command_has_one_route() -> None:
    named = sorted(route.openapi_extra["x-capledger-command"] for route in COMMAND_ROUTES)
    assert named == sorted(kind.__name__ for kind in HANDLERS if kind not in KEY_ADMINISTRATION)


@pytest.mark.parametrize("route", COMMAND_ROUTES, ids=lambda route: route.name)
def test_a_route_body_and_its_path_carry_exactly_the_fields_of_its_command(
    route: APIRoute,
) -> None:
    body = get_type_hints(route.endpoint)["body"]
    command = body.command
    expected = {field.name for field in fields(command)}
    # A plan's own code travels in the path as `plan_code`; its command calls it `code`.
    path = {
        "code" if name == "plan_code" and name not in expected else name
        for name in (param.name for param in route.dependant.path_params)
    }

    assert route.openapi_extra["x-capledger-command"] == command.__name__
    assert set(body.model_fields) | path == expected
    assert not set(body.model_fields) & path


def test_a_body_becomes_its_command_with_codes_as_text() -> None:
    body = routes.AdjustPlan.model_validate(
        {
            "envelopes": {"central_budget": 1_200},
            "reason": "bổ sung",
            "decision_no": "45/NQ-HĐND",
            "decision_date": "2025-03-28",
            "decision_issuer": "HĐND Hà Nội",
            "effective_on": "2025-04-01",
        }
    )

    command = body.to_command(code="HN-KHV-2025")

    assert command == commands.AdjustPlan(
        code="HN-KHV-2025",
        envelopes={"central_budget": 1_200},
        reason="bổ sung",
        decision_no="45/NQ-HĐND",
        decision_date=date(2025, 3, 28),
        decision_issuer="HĐND Hà Nội",
        effective_on=date(2025, 4, 1),
    )
    assert isinstance(command, commands.AdjustPlan)
    (source,) = command.envelopes
    assert type(source) is str
