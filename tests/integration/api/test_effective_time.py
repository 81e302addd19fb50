"""Backdated movements over HTTP: each is judged at its effective date and every later one, so no
state the audit API shows at any date breaks a rule (the cases an inspector found accepted)."""

from __future__ import annotations

from typing import Any

import pytest

from .support import (
    BILLION,
    PLAN,
    PROJECT,
    YEAR,
    Harness,
    allocation_body,
    funded,
    payment_body,
    plan_body,
    project_body,
)

pytestmark = pytest.mark.integration


def allocated_on(api: Harness, on: str, amount: int = 100) -> None:
    api.command("/plans", plan_body())
    api.command("/projects", project_body())
    api.command(f"/projects/{PROJECT}/allocations", allocation_body(amount, on=on))


def state_on(api: Harness, day: str) -> dict[str, Any]:
    response = api.get(f"/projects/{PROJECT}/state", effective_on=day)
    assert response.status_code == 200, response.text
    totals: dict[str, Any] = response.json()["totals"]
    return totals


def refused(api: Harness, path: str, body: dict[str, Any], code: str) -> dict[str, Any]:
    before = api.ctx.ledger_position()
    response = api.command(path, body, expect=422)
    problem: dict[str, Any] = response.json()
    assert problem["code"] == code, problem
    assert api.ctx.ledger_position() == before
    return problem


def test_a_payment_dated_before_the_allocation_it_draws_on_is_refused(api: Harness) -> None:
    allocated_on(api, f"{YEAR}-06-01")

    problem = refused(
        api,
        f"/projects/{PROJECT}/payments",
        payment_body(3, on=f"{YEAR}-05-01"),
        "over-disbursement",
    )

    assert f"on {YEAR}-05-01" in problem["detail"]
    early = state_on(api, f"{YEAR}-05-15")
    assert (early["allocated"], early["disbursed"], early["undisbursed"]) == ("0", "0", "0")


@pytest.mark.parametrize(
    ("on", "why"),
    [
        (f"{YEAR - 1}-11-01", "precedes its fiscal year"),  # before the plan's year
        ("2020-01-01", "precedes project"),  # before the project (and the plan) existed
    ],
)
def test_a_payment_dated_outside_the_project_or_its_plan_year_is_refused(
    api: Harness, on: str, why: str
) -> None:
    funded(api)

    problem = refused(
        api, f"/projects/{PROJECT}/payments", payment_body(3, on=on), "dated-out-of-range"
    )

    assert why in problem["detail"]


def test_an_allocation_dated_before_its_plan_is_in_force_is_refused(api: Harness) -> None:
    api.command("/plans", plan_body())  # in force from 1 January
    api.command("/projects", project_body())

    problem = refused(
        api,
        f"/projects/{PROJECT}/allocations",
        allocation_body(10, on=f"{YEAR - 1}-12-20"),
        "dated-out-of-range",
    )

    assert f"precedes plan {PLAN}" in problem["detail"]


def test_a_reversal_cannot_take_effect_before_the_entry_it_corrects(api: Harness) -> None:
    funded(api)
    paid = api.command(f"/projects/{PROJECT}/payments", payment_body(10, on=f"{YEAR}-07-02"))
    version = paid.json()["streams"][f"project:{PROJECT}"]
    reversal = {"entry_version": version, "reason": "nhập sai", "effective_on": f"{YEAR}-06-01"}

    refused(api, f"/projects/{PROJECT}/reversals", reversal, "dated-out-of-range")

    assert state_on(api, f"{YEAR}-06-15")["disbursed"] == "0"
    assert state_on(api, f"{YEAR}-07-02")["disbursed"] == str(10 * BILLION)
    api.command(f"/projects/{PROJECT}/reversals", {**reversal, "effective_on": f"{YEAR}-07-02"})
    assert state_on(api, f"{YEAR}-07-02")["disbursed"] == "0"


def test_a_backdated_cut_is_refused_when_a_later_payment_drew_on_the_capital(
    api: Harness,
) -> None:
    funded(api, amount=100)
    api.command(f"/projects/{PROJECT}/payments", payment_body(80, on=f"{YEAR}-06-01"))
    # 70 billion is undisbursed today; a cut of 30 in March would leave 1 June 10 short.
    api.command(f"/projects/{PROJECT}/allocations", allocation_body(50, on=f"{YEAR}-09-01"))
    cut = {
        "plan_code": PLAN,
        "source": "central_budget",
        "amount": str(30 * BILLION),
        "reason": "điều chỉnh",
        "effective_on": f"{YEAR}-03-01",
        "decision_no": "9/QĐ-UBND",
        "decision_date": f"{YEAR}-03-01",
        "decision_issuer": "UBND Hà Nội",
    }

    problem = refused(api, f"/projects/{PROJECT}/cuts", cut, "undisbursed-exceeded")

    assert f"on {YEAR}-06-01" in problem["detail"]
