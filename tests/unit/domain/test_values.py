"""Value rules: amounts are positive integers of VND; codes, decisions, enums and ids."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest

from capledger.domain import CapitalPlan, Decision, DomainError, Project, RuleBook, errors
from capledger.domain.errors import InvalidAmount, InvalidValue
from capledger.domain.ids import plan_id, project_id
from capledger.domain.values import (
    MAX_VND,
    CapitalSource,
    check_code,
    check_non_negative_vnd,
    check_positive_vnd,
    parse_calendar_date,
    parse_enum,
)

from ..builders import BILLION, CENTRAL, LOCAL, PLAN, annual_plan, decision, project, refused

pytestmark = pytest.mark.unit

NOT_POSITIVE_INTEGERS: list[object] = [0, -1, -5 * BILLION, 1.0, 1.5, True, False, "100", None]


@pytest.mark.parametrize("amount", [1, 100 * BILLION, MAX_VND])
def test_a_positive_integer_is_a_valid_amount(amount: int) -> None:
    check_positive_vnd(amount)


@pytest.mark.parametrize("check", [check_positive_vnd, check_non_negative_vnd])
def test_an_amount_above_ten_million_billion_vnd_is_refused(check: Callable[[int], None]) -> None:
    with pytest.raises(InvalidAmount, match="at most 10000000000000000"):
        check(MAX_VND + 1)


@pytest.mark.parametrize(
    ("text", "day"), [("2021-06-30", date(2021, 6, 30)), ("2024-02-29", date(2024, 2, 29))]
)
def test_a_calendar_date_is_read_from_its_iso_form(text: str, day: date) -> None:
    assert parse_calendar_date(text) == day


@pytest.mark.parametrize(
    "text",
    ["1699228800", "20230703", "2023-W27-1", "2023-07-03T00:00:00", "2023-7-3", " 2023-07-03",
     "2023-02-29", "2023-13-01", "", "２０２３-07-03", 1699228800],
    ids=repr,
)  # fmt: skip
def test_anything_but_a_calendar_date_in_iso_form_is_refused(text: object) -> None:
    with pytest.raises(InvalidValue):
        parse_calendar_date(text)  # type: ignore[arg-type]


@pytest.mark.parametrize("amount", NOT_POSITIVE_INTEGERS, ids=repr)
def test_an_amount_that_is_not_a_positive_integer_is_refused(amount: object) -> None:
    with pytest.raises(InvalidAmount):
        check_positive_vnd(amount)  # type: ignore[arg-type]


def test_zero_is_a_valid_non_negative_amount_but_minus_one_is_not() -> None:
    check_non_negative_vnd(0)
    with pytest.raises(InvalidAmount):
        check_non_negative_vnd(-1)
    with pytest.raises(InvalidAmount):
        check_non_negative_vnd(True)


# Every command that moves money, called with the amount given; run on a fresh plan and a
# project that has 100 billion of the plan's central budget and a contract worth 100 billion.
MoneyCommand = Callable[[CapitalPlan, Project, RuleBook, Any], object]
ON = date(2025, 3, 1)

MONEY_COMMANDS: dict[str, MoneyCommand] = {
    "plan allocation": lambda plan, prj, rules, amount: plan.allocate(
        project_code="P-009", source=CENTRAL, amount=amount, decision=decision(), effective_on=ON
    ),
    "plan take-back": lambda plan, prj, rules, amount: plan.take_back(
        project_code=prj.code, source=CENTRAL, amount=amount, decision=decision(), effective_on=ON
    ),
    "plan adjustment": lambda plan, prj, rules, amount: plan.adjust(
        envelopes={LOCAL: amount}, reason="điều chỉnh", decision=decision(), effective_on=ON
    ),
    "project allocation": lambda plan, prj, rules, amount: prj.receive_allocation(
        plan_code=PLAN,
        plan_kind="annual",
        fiscal_year=2025,
        source=CENTRAL,
        amount=amount,
        decision=decision(),
        effective_on=ON,
        rules=rules,
    ),
    "transfer": lambda plan, prj, rules, amount: prj.transfer_out(
        plan_code=PLAN,
        source=CENTRAL,
        amount=amount,
        to_project="P-002",
        decision=decision(),
        effective_on=ON,
        rules=rules,
    ),
    "cut": lambda plan, prj, rules, amount: prj.cut(
        plan_code=PLAN,
        source=CENTRAL,
        amount=amount,
        reason="cắt giảm",
        decision=decision(),
        effective_on=ON,
        rules=rules,
    ),
    "extension": lambda plan, prj, rules, amount: prj.extend_disbursement_period(
        plan_code=PLAN,
        source=CENTRAL,
        amount=amount,
        until=date(2026, 12, 31),
        decision=decision(),
        effective_on=ON,
        rules=rules,
    ),
    "contract value": lambda plan, prj, rules, amount: prj.sign_contract(
        contract_no="HĐ-99", contractor="Nhà thầu B", value=amount, effective_on=ON
    ),
    "advance": lambda plan, prj, rules, amount: prj.pay_advance(
        contract_no="HĐ-01",
        plan_code=PLAN,
        source=CENTRAL,
        amount=amount,
        treasury_ref="KB-1",
        effective_on=ON,
        rules=rules,
    ),
    "payment": lambda plan, prj, rules, amount: prj.pay_completed_work(
        plan_code=PLAN,
        source=CENTRAL,
        amount=amount,
        treasury_ref="KB-2",
        effective_on=ON,
        rules=rules,
    ),
    "total investment adjustment": lambda plan, prj, rules, amount: prj.adjust_total_investment(
        total_investment=amount, decision=decision(), effective_on=ON
    ),
    "settlement": lambda plan, prj, rules, amount: prj.settle(
        settled_value=amount, decision=decision(), effective_on=ON
    ),
}


def _money_setup(rules: RuleBook) -> tuple[CapitalPlan, Project]:
    plan = annual_plan()
    prj = project("P-001")
    prj.receive_allocation(
        plan_code=PLAN,
        plan_kind="annual",
        fiscal_year=2025,
        source=CENTRAL,
        amount=100 * BILLION,
        decision=decision(),
        effective_on=date(2025, 1, 2),
        rules=rules,
    )
    plan.allocate(
        project_code=prj.code,
        source=CENTRAL,
        amount=100 * BILLION,
        decision=decision(),
        effective_on=date(2025, 1, 2),
    )
    prj.sign_contract(
        contract_no="HĐ-01", contractor="Nhà thầu A", value=100 * BILLION, effective_on=ON
    )
    return plan, prj


@pytest.mark.parametrize("name", sorted(MONEY_COMMANDS))
def test_every_money_command_accepts_a_positive_integer_amount(name: str, rules: RuleBook) -> None:
    plan, prj = _money_setup(rules)
    if name == "settlement":
        prj.change_status(status="completed", reason="hoàn thành", effective_on=ON)
    before = len(plan.pending_events) + len(prj.pending_events)
    MONEY_COMMANDS[name](plan, prj, rules, 10 * BILLION)
    assert len(plan.pending_events) + len(prj.pending_events) == before + 1


# ``cut`` takes None to mean "all that is undisbursed", so None is a valid amount there.
BAD_AMOUNTS = [
    pytest.param(name, amount, id=f"{name}-{amount!r}")
    for name in sorted(MONEY_COMMANDS)
    for amount in [-1, 1.0, 2.5, True, "10", None]
    if not (name == "cut" and amount is None)
]


@pytest.mark.parametrize(("name", "amount"), BAD_AMOUNTS)
def test_every_money_command_refuses_an_amount_that_is_not_a_non_negative_integer(
    name: str, amount: object, rules: RuleBook
) -> None:
    plan, prj = _money_setup(rules)
    if name == "settlement":
        prj.change_status(status="completed", reason="hoàn thành", effective_on=ON)
    refused(InvalidAmount, lambda: MONEY_COMMANDS[name](plan, prj, rules, amount), plan, prj)


@pytest.mark.parametrize("name", sorted(set(MONEY_COMMANDS) - {"plan adjustment", "settlement"}))
def test_every_money_command_but_an_adjustment_or_a_settlement_refuses_a_zero_amount(
    name: str, rules: RuleBook
) -> None:
    plan, prj = _money_setup(rules)
    refused(InvalidAmount, lambda: MONEY_COMMANDS[name](plan, prj, rules, 0), plan, prj)


@pytest.mark.parametrize("envelope", [0, -1, 1.0, True, "1"], ids=repr)
def test_a_plan_envelope_that_is_not_a_positive_integer_is_refused(envelope: object) -> None:
    with pytest.raises(InvalidAmount):
        annual_plan(envelopes={CENTRAL: envelope})  # type: ignore[dict-item]


@pytest.mark.parametrize("total", [0, -1, 1.0, True, "1"], ids=repr)
def test_a_project_total_investment_that_is_not_a_positive_integer_is_refused(
    total: object,
) -> None:
    with pytest.raises(InvalidAmount):
        project(total_investment=total)  # type: ignore[arg-type]


def test_a_decision_needs_a_number_and_an_issuer() -> None:
    valid = Decision("12/QĐ-TTg", date(2025, 1, 3), "Thủ tướng")
    assert valid == Decision("12/QĐ-TTg", date(2025, 1, 3), "Thủ tướng")
    with pytest.raises(InvalidValue):
        Decision("  ", date(2025, 1, 3), "Thủ tướng")
    with pytest.raises(InvalidValue):
        Decision("12/QĐ-TTg", date(2025, 1, 3), "")


def test_an_enum_value_is_parsed_and_an_unknown_one_names_the_allowed_values() -> None:
    assert parse_enum(CapitalSource, "oda", "capital source") is CapitalSource.ODA
    with pytest.raises(InvalidValue, match="central_budget"):
        parse_enum(CapitalSource, "bonds", "capital source")


@pytest.mark.parametrize("code", ["", "   ", " P-1", "P-1 "])
def test_a_code_with_surrounding_spaces_or_nothing_in_it_is_refused(code: str) -> None:
    check_code("P-1", "project code")
    with pytest.raises(InvalidValue):
        check_code(code, "project code")


def test_ids_are_deterministic_per_code_and_differ_between_plans_and_projects() -> None:
    assert plan_id("X") == plan_id("X")
    assert plan_id("X") != plan_id("Y")
    assert plan_id("X") != project_id("X")
    assert annual_plan(code="KH-1").id == plan_id("KH-1")
    assert project("P-7").id == project_id("P-7")


def test_every_domain_error_has_its_own_stable_code() -> None:
    kinds = [
        value
        for value in vars(errors).values()
        if isinstance(value, type) and issubclass(value, DomainError) and value is not DomainError
    ]
    codes = [kind.code for kind in kinds]
    assert len(kinds) >= 20
    assert "domain-error" not in codes
    assert len(set(codes)) == len(codes)
