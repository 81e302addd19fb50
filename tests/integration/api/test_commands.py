"""Commands over HTTP: idempotent by Idempotency-Key, read-your-writes, principals and
request ids recorded in each event's metadata, amounts that cannot be rounded."""

from __future__ import annotations

import pytest

from capledger.application.errors import ConcurrencyConflict
from capledger.application.ledger import Ledger

from .support import (
    BILLION,
    CENTRAL,
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


def test_a_command_returns_its_stream_versions_and_position(api: Harness) -> None:
    response = api.command("/plans", plan_body())
    body = response.json()
    assert response.status_code == 201
    assert body["command"] == "ApprovePlan"
    assert body["streams"] == {f"plan:{PLAN}": 1}
    assert body["position"] >= 1 and body["replayed"] is False
    assert body["read_model_caught_up"] is True
    assert response.headers["Idempotent-Replayed"] == "false"
    assert response.headers["X-Ledger-Position"] == str(body["position"])


def test_the_same_key_replays_the_first_outcome_and_records_nothing(api: Harness) -> None:
    first = api.command("/plans", plan_body(), key="plan-once")
    recorded = api.ctx.ledger_position()
    again = api.command("/plans", plan_body(), key="plan-once", expect=200)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == {**first.json(), "replayed": True}
    assert api.ctx.ledger_position() == recorded


def test_the_same_key_for_another_command_is_refused(api: Harness) -> None:
    api.command("/plans", plan_body(), key="shared")
    response = api.command("/plans", plan_body("OTHER-PLAN"), key="shared", expect=422)
    problem = response.json()
    assert response.headers["content-type"] == "application/problem+json"
    assert problem["code"] == "idempotency-conflict"
    assert problem["type"] == "https://capledger.vn/problems/idempotency-conflict"


def test_a_query_right_after_a_command_sees_it(api: Harness) -> None:
    funded(api)
    api.command(f"/projects/{PROJECT}/payments", payment_body(30, on=f"{YEAR}-03-01"))
    balances = api.get("/balances", by="project", project_code=PROJECT).json()
    assert balances["items"][0]["disbursed"] == str(30 * BILLION)


def test_every_event_names_the_key_and_the_request_that_recorded_it(api: Harness) -> None:
    funded(api)
    response = api.client.post(
        f"/projects/{PROJECT}/payments",
        json=payment_body(10, on=f"{YEAR}-03-01"),
        headers={**api.officer, "Idempotency-Key": "pay-1", "X-Request-ID": "req-42"},
    )
    assert response.status_code == 201, response.text
    assert response.headers["X-Request-ID"] == "req-42"
    history = api.get(f"/projects/{PROJECT}/history", limit=50).json()
    payment = history["items"][-1]
    assert payment["event"] == "CompletedWorkPaid"
    assert payment["principal"] == "finance_officer:lan"
    assert payment["command_id"] == "pay-1"
    assert payment["correlation_id"] == "req-42"


def test_amounts_beyond_2_to_the_53_go_in_and_out_exactly(api: Harness) -> None:
    huge = 9_007_199_254_740_993  # 2^53 + 1: a JavaScript number would round it
    body = plan_body()
    body["envelopes"] = {CENTRAL: str(huge)}
    api.command("/plans", body)
    capital = api.get(f"/plans/{PLAN}/capital").json()
    assert capital == [
        {
            "plan_code": PLAN,
            "source": CENTRAL,
            "envelope": str(huge),
            "allocated": "0",
            "unallocated": str(huge),
        }
    ]


@pytest.mark.parametrize("amount", [100.0, 1e11, "1e11", "12.5", "-5", True, "", "0x10"])
def test_amounts_that_could_have_been_rounded_are_refused_by_field(
    api: Harness, amount: object
) -> None:
    funded(api)
    body = {**allocation_body(), "amount": amount}
    response = api.command(f"/projects/{PROJECT}/allocations", body, expect=422)
    problem = response.json()
    assert problem["code"] == "validation-error"
    assert any(error["field"].startswith("body.amount") for error in problem["errors"])


def test_a_rule_of_the_ledger_is_a_problem_with_its_code(api: Harness) -> None:
    funded(api, amount=100)
    response = api.command(
        f"/projects/{PROJECT}/payments", payment_body(150, on=f"{YEAR}-03-01"), expect=422
    )
    problem = response.json()
    assert problem["code"] == "over-disbursement"
    assert problem["type"].endswith("/problems/over-disbursement")
    assert problem["status"] == 422 and problem["request_id"]


def test_unknown_and_duplicate(api: Harness) -> None:
    api.command("/plans", plan_body())
    unknown = api.command("/projects/NOPE/allocations", allocation_body(), expect=404)
    assert unknown.json()["code"] == "unknown-project"
    duplicate = api.command("/plans", plan_body(), expect=409)
    assert duplicate.json()["code"] == "duplicate-plan"


def test_concurrent_writers_get_a_conflict_with_retry_advice(
    api: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    def conflicted(self: Ledger, command: object, **envelope: object) -> None:
        raise ConcurrencyConflict("other writers kept changing the plan; retry")

    monkeypatch.setattr(Ledger, "execute", conflicted)
    response = api.command("/plans", plan_body(), expect=409)
    assert response.json()["code"] == "version-conflict"
    assert response.headers["Retry-After"] == "1"


def test_missing_idempotency_key_names_the_header(api: Harness) -> None:
    response = api.client.post("/plans", json=plan_body(), headers=api.admin)
    assert response.status_code == 422
    fields = [error["field"] for error in response.json()["errors"]]
    assert "header.Idempotency-Key" in fields


def test_every_verb_records_through_http(api: Harness) -> None:
    """A year of one project through every command endpoint."""
    api.command("/plans", plan_body())
    api.command(
        f"/plans/{PLAN}/adjustments",
        {
            "envelopes": {CENTRAL: str(1_200 * BILLION), "local_budget": str(500 * BILLION)},
            "reason": "Bổ sung vốn",
            "effective_on": f"{YEAR}-07-01",
            "decision_no": "50/NQ-HĐND",
            "decision_date": f"{YEAR}-06-28",
            "decision_issuer": "HĐND Hà Nội",
        },
    )
    api.command("/projects", project_body())
    api.command("/projects", project_body("DA-002"))
    api.command(f"/projects/{PROJECT}/allocations", allocation_body(300))
    api.command("/projects/DA-002/allocations", allocation_body(100))
    api.command(
        f"/projects/{PROJECT}/contracts",
        {
            "contract_no": "HD-01",
            "contractor": "Cienco 1",
            "value": str(500 * BILLION),
            "effective_on": f"{YEAR}-02-01",
        },
    )
    api.command(
        f"/projects/{PROJECT}/advances",
        {**payment_body(100, on=f"{YEAR}-02-10"), "contract_no": "HD-01"},
    )
    paid = api.command(
        f"/projects/{PROJECT}/payments",
        payment_body(
            60, on=f"{YEAR}-03-10", contract_no="HD-01", advance_recovered=str(20 * BILLION)
        ),
    ).json()
    api.command(
        f"/projects/{PROJECT}/reversals",
        {
            "entry_version": paid["streams"][f"project:{PROJECT}"],
            "reason": "Nhầm số tiền",
            "effective_on": f"{YEAR}-03-11",
        },
    )
    api.command(
        "/transfers",
        {
            "plan_code": PLAN,
            "source": CENTRAL,
            "from_project": "DA-002",
            "to_project": PROJECT,
            "amount": str(50 * BILLION),
            "effective_on": f"{YEAR}-05-01",
            **{
                "decision_no": "7/QĐ",
                "decision_date": f"{YEAR}-04-29",
                "decision_issuer": "UBND Hà Nội",
            },
        },
    )
    api.command(
        "/projects/DA-002/status",
        {"status": "slow", "reason": "Chậm giải phóng mặt bằng", "effective_on": f"{YEAR}-05-02"},
    )
    api.command(
        "/projects/DA-002/cuts",
        {
            "plan_code": PLAN,
            "source": CENTRAL,
            "reason": "Không thể triển khai",
            "effective_on": f"{YEAR}-06-01",
            **{
                "decision_no": "8/QĐ",
                "decision_date": f"{YEAR}-05-30",
                "decision_issuer": "UBND Hà Nội",
            },
        },
    )
    api.command(
        f"/projects/{PROJECT}/investor",
        {
            "investor_code": "BQLDA-HT",
            "investor_name": "Ban QLDA hạ tầng",
            "reason": "Sáp nhập",
            "effective_on": f"{YEAR}-08-01",
        },
    )
    api.command(
        f"/projects/{PROJECT}/total-investment",
        {
            "total_investment": str(2_500 * BILLION),
            "effective_on": f"{YEAR}-08-02",
            **{
                "decision_no": "9/QĐ",
                "decision_date": f"{YEAR}-08-01",
                "decision_issuer": "UBND Hà Nội",
            },
        },
    )
    api.command(
        f"/projects/{PROJECT}/extensions",
        {
            "plan_code": PLAN,
            "source": CENTRAL,
            "amount": str(100 * BILLION),
            "until": f"{YEAR + 1}-12-31",
            "effective_on": f"{YEAR}-12-20",
            **{
                "decision_no": "10/QĐ",
                "decision_date": f"{YEAR}-12-18",
                "decision_issuer": "UBND Hà Nội",
            },
        },
    )
    api.command(
        f"/projects/{PROJECT}/lapses",
        {"plan_code": PLAN, "source": CENTRAL, "as_of": f"{YEAR + 2}-01-01"},
    )
    api.command(
        f"/projects/{PROJECT}/status",
        {"status": "completed", "reason": "Hoàn thành", "effective_on": f"{YEAR + 2}-01-02"},
    )
    api.command(
        f"/projects/{PROJECT}/settlement",
        {
            "settled_value": str(340 * BILLION),
            "effective_on": f"{YEAR + 2}-03-01",
            **{
                "decision_no": "11/QĐ",
                "decision_date": f"{YEAR + 2}-02-28",
                "decision_issuer": "UBND Hà Nội",
            },
        },
    )
    project = api.get(f"/projects/{PROJECT}").json()
    assert project["status"] == "settled"
    assert project["investor_code"] == "BQLDA-HT"
    totals = project["totals"]
    assert totals["capital"] == str(350 * BILLION)
    assert totals["disbursed"] == str(100 * BILLION)
    assert int(totals["lapsed"]) == 250 * BILLION


def test_one_key_from_two_clients_is_two_commands_each_replayed_for_its_client(
    api: Harness,
) -> None:
    funded(api)
    path = f"/projects/{PROJECT}/payments"
    my_body, their_body = payment_body(10, on=f"{YEAR}-03-01"), payment_body(20, on=f"{YEAR}-03-02")
    mine = api.command(path, my_body, key="batch-0001")
    theirs = api.command(path, their_body, key="batch-0001", headers=api.officer)
    recorded = api.ctx.ledger_position()

    again = api.command(path, their_body, key="batch-0001", headers=api.officer, expect=200)
    conflict = api.command(path, my_body, key="batch-0001", headers=api.officer, expect=422)

    assert mine.json()["position"] != theirs.json()["position"]
    assert again.json() == {**theirs.json(), "replayed": True}
    assert conflict.json()["code"] == "idempotency-conflict"
    assert api.ctx.ledger_position() == recorded
