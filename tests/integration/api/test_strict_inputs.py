"""Inputs read strictly at the edge: a date is a calendar date written YYYY-MM-DD, an amount is
whole VND as the published schema says (one limit for integers and digit strings); anything else
is a 422 that names the field and records nothing."""

from __future__ import annotations

from typing import Any

import pytest
from jsonschema import Draft202012Validator

from capledger.domain.values import MAX_VND

from .support import CENTRAL, PLAN, PROJECT, YEAR, Harness, funded, payment_body, plan_body

pytestmark = pytest.mark.integration

NOT_CALENDAR_DATES: list[Any] = [
    1699228800,  # a Unix time: once read as a payment of 2023-11-06
    "1699228800",
    f"{YEAR}-03-01T00:00:00",
    f"{YEAR}0301",
    f"{YEAR}-W09-1",
    f"{YEAR}-3-1",
    f"{YEAR}-02-30",
]


def refused_field(response: Any, field: str) -> None:
    problem = response.json()
    assert problem["code"] == "validation-error"
    assert any(error["field"] == field for error in problem["errors"]), problem


@pytest.mark.parametrize("on", NOT_CALENDAR_DATES, ids=repr)
def test_a_payment_dated_other_than_yyyy_mm_dd_is_refused_and_records_nothing(
    api: Harness, on: Any
) -> None:
    funded(api)
    before = api.ctx.ledger_position()
    body = {**payment_body(10, on=f"{YEAR}-03-01"), "effective_on": on}
    response = api.command(f"/projects/{PROJECT}/payments", body, expect=422)
    refused_field(response, "body.effective_on")
    assert api.ctx.ledger_position() == before


@pytest.mark.parametrize("on", ["20210620", "1699228800", "2021-06-20T00:00:00"])
def test_a_query_date_other_than_yyyy_mm_dd_is_refused(api: Harness, on: str) -> None:
    funded(api)
    response = api.client.get("/balances", params={"as_of": on}, headers=api.admin)
    assert response.status_code == 422
    refused_field(response, "query.as_of")


@pytest.mark.parametrize("amount", ["0001000", " 1000", "1000 ", "+1000", str(MAX_VND + 1)])
def test_an_amount_string_outside_the_published_pattern_is_refused(
    api: Harness, amount: str
) -> None:
    funded(api)
    body = {**payment_body(10, on=f"{YEAR}-03-01"), "amount": amount}
    response = api.command(f"/projects/{PROJECT}/payments", body, expect=422)
    refused_field(response, "body.amount")


@pytest.mark.parametrize("as_text", [False, True], ids=["integer", "digits"])
def test_a_plan_of_the_largest_amount_is_recorded_and_one_more_is_refused(
    api: Harness, as_text: bool
) -> None:
    def plan_of(code: str, amount: int) -> dict[str, Any]:
        body = plan_body(code)
        body["envelopes"] = {**body["envelopes"], CENTRAL: str(amount) if as_text else amount}
        return body

    api.command("/plans", plan_of(f"{PLAN}-LARGEST", MAX_VND), expect=201)
    refused = api.command("/plans", plan_of(f"{PLAN}-BEYOND", MAX_VND + 1), expect=422)
    assert refused.json()["code"] == "validation-error"


def test_the_published_amount_schema_agrees_with_the_code_at_its_edges(api: Harness) -> None:
    """The integer maximum and the string pattern of the document say the same limit."""
    document = api.client.get("/openapi.json").json()
    body = document["components"]["schemas"]["PayCompletedWork"]["properties"]["amount"]
    validator = Draft202012Validator(body)
    for amount, valid in [(1, True), (MAX_VND, True), (MAX_VND + 1, False), (0, False)]:
        assert validator.is_valid(amount) is valid, amount
        assert validator.is_valid(str(amount)) is valid, amount
    for text in ["0001000", "01", " 1", "1e3", "10000000000000001", "99999999999999999"]:
        assert not validator.is_valid(text), text


HP_2021 = {"jurisdiction": "HP", "fiscal_year": 2021}


def other_plan(api: Harness, code: str, *, jurisdiction: str, year: int) -> str:
    body = {**plan_body(code), "jurisdiction": jurisdiction, "start_year": year, "end_year": year}
    api.command("/plans", body)
    return code


@pytest.mark.parametrize(
    ("jurisdiction", "year", "why"),
    [("DN", 2021, "is a plan of DN, not of HP"), ("HP", 2024, "covers 2024, not the fiscal year")],
)
def test_a_rate_over_a_plan_of_another_province_or_year_is_refused(
    hai_phong: Harness, jurisdiction: str, year: int, why: str
) -> None:
    plan = other_plan(hai_phong, f"{jurisdiction}-{year}-X", jurisdiction=jurisdiction, year=year)
    response = hai_phong.get("/rates", **HP_2021, plan=plan)
    assert response.status_code == 422
    problem = response.json()
    assert problem["code"] == "plan-outside-scope"
    assert why in problem["detail"]


def test_a_rate_of_a_jurisdiction_or_year_never_seen_is_not_found_not_zero(
    hai_phong: Harness,
) -> None:
    for scope, code in (
        ({"jurisdiction": "ZZ", "fiscal_year": 2021}, "unknown-jurisdiction"),
        ({**HP_2021, "fiscal_year": 2030}, "no-annual-plan"),
    ):
        response = hai_phong.get("/rates", **scope, plan="HP-2021-HDND")
        assert response.status_code == 404, scope
        assert response.json()["code"] == code
    assert hai_phong.get("/rates", jurisdiction="HP", fiscal_year=1800).status_code == 422
