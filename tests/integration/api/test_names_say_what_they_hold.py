"""Names that say what they hold: a payment's gross value of work and its net cash are told
apart in a project's history, a plan's decision date from its effective date, and a line's
advances outstanding is filled (never null)."""

from __future__ import annotations

from typing import Any

import pytest

from .support import (
    BILLION,
    PLAN,
    PROJECT,
    YEAR,
    Harness,
    funded,
    payment_body,
)

pytestmark = pytest.mark.integration


def record_cash(api: Harness) -> None:
    """An advance of 100, a payment of work worth 60 that recovers 20 of it, and the reversal
    of that payment."""
    funded(api, amount=300)
    contract = {"contract_no": "HD-01", "contractor": "Cienco 1", "value": str(500 * BILLION),
                "effective_on": f"{YEAR}-02-01"}  # fmt: skip
    api.command(f"/projects/{PROJECT}/contracts", contract)
    api.command(
        f"/projects/{PROJECT}/advances",
        {**payment_body(100, on=f"{YEAR}-02-10"), "contract_no": "HD-01"},
    )
    paid = api.command(
        f"/projects/{PROJECT}/payments",
        payment_body(60, on=f"{YEAR}-03-10", contract_no="HD-01",
                     advance_recovered=str(20 * BILLION)),
    ).json()  # fmt: skip
    api.command(
        f"/projects/{PROJECT}/reversals",
        {"entry_version": paid["streams"][f"project:{PROJECT}"], "reason": "Nhầm số tiền",
         "effective_on": f"{YEAR}-03-11"},
    )  # fmt: skip


def history(api: Harness) -> dict[str, dict[str, Any]]:
    page = api.client.get(f"/projects/{PROJECT}/history", headers=api.admin).json()
    return {item["event"]: item for item in page["items"]}


def test_history_names_a_payment_s_gross_value_and_its_net_cash(api: Harness) -> None:
    record_cash(api)
    found = history(api)

    paid = found["CompletedWorkPaid"]
    assert paid["data"]["amount"] == paid["gross_amount"] == str(60 * BILLION)
    assert paid["data"]["advance_recovered"] == str(20 * BILLION)
    assert paid["net_amount"] == str(40 * BILLION)
    assert paid["amount"] == paid["net_amount"]  # the published name keeps its meaning

    advance = found["AdvancePaid"]
    assert advance["gross_amount"] == advance["net_amount"] == str(100 * BILLION)

    reversal = found["EntryReversed"]
    assert reversal["gross_amount"] == str(-60 * BILLION)
    assert reversal["net_amount"] == reversal["amount"] == str(-40 * BILLION)

    allocated = found["CapitalAllocated"]
    assert allocated["gross_amount"] is None and allocated["net_amount"] is None


def test_a_plan_tells_its_decision_date_from_its_effective_date(api: Harness) -> None:
    funded(api)
    (plan,) = [p for p in api.client.get("/plans", headers=api.admin).json()
               if p["plan_code"] == PLAN]  # fmt: skip
    # support.plan_body: decided 10 December of the year before, effective 1 January.
    assert plan["decided_on"] == f"{YEAR - 1}-12-10"
    assert plan["effective_on"] == f"{YEAR}-01-01"
    assert plan["approved_on"] == plan["effective_on"]  # the published name keeps its meaning


def test_the_history_and_plan_fields_are_described_in_the_document(api: Harness) -> None:
    schemas = api.client.get("/openapi.json").json()["components"]["schemas"]
    entry = schemas["HistoryEntryCompletedWorkPaid"]["properties"]
    for name in ("amount", "gross_amount", "net_amount"):
        assert entry[name]["description"], name
    assert "gross" in entry["amount"]["description"]
    plan = schemas["PlanOut"]["properties"]
    for name in ("approved_on", "effective_on", "decided_on"):
        assert plan[name]["description"], name


def test_a_line_s_advances_outstanding_is_filled_at_every_point(api: Harness) -> None:
    record_cash(api)
    api.command(
        f"/projects/{PROJECT}/payments",
        payment_body(50, on=f"{YEAR}-04-10", contract_no="HD-01",
                     advance_recovered=str(30 * BILLION)),
    )  # fmt: skip
    outstanding = str(70 * BILLION)  # advanced 100, recovered 30 (the reversed 20 put back)
    for query in ("", f"?effective_on={YEAR}-12-31", "?recorded_at=2100-01-01T00:00:00Z"):
        path = f"/projects/{PROJECT}/state{query}" if query else f"/projects/{PROJECT}"
        state = api.client.get(path, headers=api.admin).json()
        (line,) = state["lines"]
        assert line["balances"]["advances_outstanding"] == outstanding, query
        assert state["totals"]["advances_outstanding"] == outstanding, query
    balances = api.client.get("/balances?by=project", headers=api.admin).json()
    assert balances["items"][0]["advances_outstanding"] == outstanding
