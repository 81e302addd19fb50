"""A correction for every movement kind over HTTP (``POST /projects/{code}/reversals``): each
kind corrected, what it moves back seen by the read side, and each refusal with its problem
code, recording nothing."""

from __future__ import annotations

from typing import Any

import pytest

from .support import (
    BILLION,
    CENTRAL,
    PLAN,
    PROJECT,
    YEAR,
    Harness,
    allocation_body,
    decision,
    funded,
    payment_body,
    project_body,
)

pytestmark = pytest.mark.integration

OTHER = "DA-002"
ON = f"{YEAR}-08-01"


def version_of(response: Any, code: str = PROJECT) -> int:
    return int(response.json()["streams"][f"project:{code}"])


def correction(version: int, *, on: str = ON, decided: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {"entry_version": version, "reason": "ghi sai", "effective_on": on}
    return {**body, **decision("901/QĐ-UBND", on)} if decided else body


def correct(api: Harness, version: int, code: str = PROJECT, **options: Any) -> Any:
    return api.command(f"/projects/{code}/reversals", correction(version, **options))


def refused(api: Harness, version: int, code: str, problem_code: str, **options: Any) -> str:
    before = api.ctx.ledger_position()
    response = api.command(
        f"/projects/{code}/reversals", correction(version, **options), expect=422
    )
    problem: dict[str, Any] = response.json()
    assert problem["code"] == problem_code, problem
    assert api.ctx.ledger_position() == before
    return str(problem["detail"])


def project_now(api: Harness, code: str = PROJECT) -> dict[str, Any]:
    response = api.get(f"/projects/{code}")
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def totals_on(api: Harness, day: str, code: str = PROJECT) -> dict[str, Any]:
    response = api.get(f"/projects/{code}/state", effective_on=day)
    assert response.status_code == 200, response.text
    totals: dict[str, Any] = response.json()["totals"]
    return totals


def allocated(api: Harness, amount: int, *, on: str = f"{YEAR}-03-01") -> int:
    return version_of(
        api.command(f"/projects/{PROJECT}/allocations", allocation_body(amount, on=on))
    )


def test_an_allocation_is_corrected_and_its_capital_returns_to_the_plan(api: Harness) -> None:
    funded(api)
    wrong = allocated(api, 30)

    corrected = correct(api, wrong)

    assert corrected.json()["streams"] == {
        f"project:{PROJECT}": wrong + 1,
        f"plan:{PLAN}": corrected.json()["streams"][f"plan:{PLAN}"],
    }
    assert totals_on(api, f"{YEAR}-07-01")["allocated"] == str(130 * BILLION)  # it stood then
    assert totals_on(api, ON)["allocated"] == str(100 * BILLION)
    items = api.get(f"/projects/{PROJECT}/history").json()["items"]
    assert [item["event"] for item in items].count("CapitalAllocated") == 2  # the original stays
    last = items[-1]
    assert (last["event"], last["amount"]) == ("EntryCorrected", str(-30 * BILLION))
    assert last["data"]["entry_version"] == wrong


def test_an_allocation_already_partly_spent_is_refused_saying_how_much(api: Harness) -> None:
    funded(api)
    api.command(f"/projects/{PROJECT}/payments", payment_body(40, on=f"{YEAR}-09-01"))

    detail = refused(api, 2, PROJECT, "undisbursed-exceeded")

    assert f"spent {40 * BILLION} VND" in detail


def test_a_correction_without_the_decision_the_law_requires_is_refused(api: Harness) -> None:
    funded(api)

    refused(api, 2, PROJECT, "decision-required", decided=False)


def test_a_correction_dated_before_its_entry_is_refused(api: Harness) -> None:
    funded(api)

    refused(api, 2, PROJECT, "dated-out-of-range", on=f"{YEAR}-01-01")


def test_an_entry_is_corrected_once(api: Harness) -> None:
    funded(api)
    wrong = allocated(api, 30)
    correct(api, wrong)

    refused(api, wrong, PROJECT, "entry-not-reversible")
    refused(api, wrong + 1, PROJECT, "entry-not-reversible")  # the correction itself


def test_a_transfer_is_corrected_on_both_projects_at_once(api: Harness) -> None:
    funded(api)
    api.command("/projects", project_body(OTHER))
    moved = api.command(
        "/transfers",
        {
            "plan_code": PLAN, "source": CENTRAL, "from_project": PROJECT,
            "to_project": OTHER, "amount": str(30 * BILLION), "effective_on": f"{YEAR}-07-01",
            **decision(on=f"{YEAR}-07-01"),
        },
    )  # fmt: skip

    corrected = correct(api, version_of(moved, OTHER), OTHER)  # named from the recipient

    assert set(corrected.json()["streams"]) == {f"project:{PROJECT}", f"project:{OTHER}"}
    assert totals_on(api, ON)["undisbursed"] == str(100 * BILLION)
    assert totals_on(api, ON, OTHER)["undisbursed"] == "0"
    assert totals_on(api, f"{YEAR}-07-15", OTHER)["undisbursed"] == str(30 * BILLION)


def test_a_transfer_the_recipient_spent_is_not_corrected(api: Harness) -> None:
    funded(api)
    api.command("/projects", project_body(OTHER))
    moved = api.command(
        "/transfers",
        {
            "plan_code": PLAN, "source": CENTRAL, "from_project": PROJECT,
            "to_project": OTHER, "amount": str(30 * BILLION), "effective_on": f"{YEAR}-07-01",
            **decision(on=f"{YEAR}-07-01"),
        },
    )  # fmt: skip
    api.command(f"/projects/{OTHER}/payments", payment_body(10, on=f"{YEAR}-07-10"))

    detail = refused(api, version_of(moved), PROJECT, "undisbursed-exceeded")

    assert f"spent {10 * BILLION} VND" in detail


def test_a_cut_is_corrected_and_takes_its_capital_from_the_plan_again(api: Harness) -> None:
    funded(api)
    cut = api.command(
        f"/projects/{PROJECT}/cuts",
        {
            "plan_code": PLAN, "source": CENTRAL, "reason": "chậm", "amount": str(40 * BILLION),
            "effective_on": f"{YEAR}-07-01", **decision(on=f"{YEAR}-07-01"),
        },
    )  # fmt: skip
    capital_before = api.get(f"/plans/{PLAN}/capital").json()

    correct(api, version_of(cut))

    assert totals_on(api, ON)["undisbursed"] == str(100 * BILLION)
    assert api.get(f"/plans/{PLAN}/capital").json() != capital_before


def test_a_lapse_and_an_extension_are_corrected(api: Harness) -> None:
    funded(api)
    extended = api.command(
        f"/projects/{PROJECT}/extensions",
        {
            "plan_code": PLAN, "source": CENTRAL, "amount": str(40 * BILLION),
            "until": f"{YEAR + 1}-06-30", "effective_on": f"{YEAR}-12-20",
            **decision(on=f"{YEAR}-12-20"),
        },
    )  # fmt: skip
    correct(api, version_of(extended), on=f"{YEAR}-12-22")
    assert totals_on(api, f"{YEAR}-12-31")["extended"] == "0"

    lapsed = api.command(
        f"/projects/{PROJECT}/lapses",
        {"plan_code": PLAN, "source": CENTRAL, "as_of": f"{YEAR + 1}-02-01"},
    )
    assert totals_on(api, f"{YEAR + 1}-02-01")["lapsed"] == str(100 * BILLION)

    correct(api, version_of(lapsed), on=f"{YEAR + 1}-02-10")

    assert totals_on(api, f"{YEAR + 1}-02-10")["lapsed"] == "0"
    assert totals_on(api, f"{YEAR + 1}-02-10")["undisbursed"] == str(100 * BILLION)


def test_changes_of_the_record_are_corrected_latest_first(api: Harness) -> None:
    funded(api)
    total = api.command(
        f"/projects/{PROJECT}/total-investment",
        {"total_investment": str(1_500 * BILLION), "effective_on": ON, **decision(on=ON)},
    )
    investor = api.command(
        f"/projects/{PROJECT}/investor",
        {
            "investor_code": "BQLDA-X",
            "investor_name": "Ban X",
            "reason": "nhầm",
            "effective_on": ON,
        },
    )
    slow = api.command(
        f"/projects/{PROJECT}/status", {"status": "slow", "reason": "chậm", "effective_on": ON}
    )
    suspended = api.command(
        f"/projects/{PROJECT}/status", {"status": "suspended", "reason": "dừng", "effective_on": ON}
    )

    refused(api, version_of(slow), PROJECT, "entry-not-reversible", decided=False)
    for each in (suspended, slow, investor):
        correct(api, version_of(each), decided=False)
    correct(api, version_of(total))

    now = project_now(api)
    assert (now["status"], now["investor_code"]) == ("on_track", "BQLDA-GT")
    assert now["total_investment"] == str(2_000 * BILLION)


def test_a_payment_reversal_sent_as_before_still_works(api: Harness) -> None:
    funded(api)
    paid = api.command(f"/projects/{PROJECT}/payments", payment_body(10, on=f"{YEAR}-07-02"))

    refused(api, version_of(paid), PROJECT, "invalid-value")  # a payment has no decision
    correct(api, version_of(paid), decided=False)

    assert totals_on(api, ON)["disbursed"] == "0"


def test_a_half_given_decision_is_a_validation_error(api: Harness) -> None:
    funded(api)
    body = {**correction(2), "decision_date": None}

    response = api.command(f"/projects/{PROJECT}/reversals", body, expect=422)

    assert response.json()["code"] == "validation-error"


def test_iati_shows_the_cut_and_its_correction_and_still_reconciles(api: Harness) -> None:
    funded(api)
    cut = api.command(
        f"/projects/{PROJECT}/cuts",
        {
            "plan_code": PLAN, "source": CENTRAL, "reason": "chậm", "amount": str(40 * BILLION),
            "effective_on": f"{YEAR}-07-01", **decision(on=f"{YEAR}-07-01"),
        },
    )  # fmt: skip
    correct(api, version_of(cut))

    page = api.get("/exports/iati/activities", jurisdiction="HN", fiscal_year=YEAR).json()

    [activity] = page["activities"]
    commitments = [t for t in activity["transactions"] if t["transaction_type"]["code"] == "11"]
    assert [int(t["value"]["amount"]) for t in commitments] == [
        100 * BILLION, -40 * BILLION, 40 * BILLION,
    ]  # fmt: skip
    assert commitments[-1]["capledger"]["correction"] is True
    assert commitments[-1]["transaction_date"]["iso_date"] == ON
    totals = project_now(api)["totals"]
    assert sum(int(t["value"]["amount"]) for t in commitments) == int(totals["capital"])


def test_an_officer_cannot_correct_a_transfer_whose_other_side_is_out_of_scope(
    api: Harness,
) -> None:
    funded(api)  # DA-001 of investor BQLDA-GT, the officer's
    api.command("/projects", project_body(OTHER, investor="BQLDA-KHAC"))
    moved = api.command(
        "/transfers",
        {
            "plan_code": PLAN, "source": CENTRAL, "from_project": PROJECT,
            "to_project": OTHER, "amount": str(30 * BILLION), "effective_on": f"{YEAR}-07-01",
            **decision(on=f"{YEAR}-07-01"),
        },
    )  # fmt: skip
    before = api.ctx.ledger_position()

    response = api.command(
        f"/projects/{PROJECT}/reversals", correction(version_of(moved)),
        headers=api.officer, expect=404,
    )  # fmt: skip

    assert response.json()["code"] == "unknown-project"
    assert api.ctx.ledger_position() == before


def test_a_cut_whose_capital_the_plan_has_allocated_since_is_not_corrected(api: Harness) -> None:
    funded(api)
    cut = api.command(
        f"/projects/{PROJECT}/cuts",
        {
            "plan_code": PLAN, "source": CENTRAL, "reason": "chậm", "amount": str(40 * BILLION),
            "effective_on": f"{YEAR}-07-01", **decision(on=f"{YEAR}-07-01"),
        },
    )  # fmt: skip
    api.command("/projects", project_body(OTHER))
    api.command(f"/projects/{OTHER}/allocations", allocation_body(940, on=f"{YEAR}-07-10"))

    detail = refused(api, version_of(cut), PROJECT, "insufficient-unallocated-capital")

    assert "central_budget" in detail
