"""Projects receive, transfer and lose capital; transfers and cuts move at most the undisbursed."""

from __future__ import annotations

from datetime import date

import pytest

from capledger.domain import CapitalPlan, Project, RuleBook
from capledger.domain.errors import (
    DeadlinePassed,
    InvalidAmount,
    InvalidTransfer,
    InvalidValue,
    NoAllocation,
    TotalInvestmentExceeded,
    UndisbursedExceeded,
)

from ..builders import (
    BILLION,
    CENTRAL,
    LOCAL,
    PLAN,
    allocate,
    cut,
    decision,
    medium_term_plan,
    pay,
    project,
    refused,
    replay,
    transfer,
)

pytestmark = pytest.mark.unit


# -- registration --------------------------------------------------------------------------


def test_a_registered_project_is_on_track_with_no_capital() -> None:
    registered = project("P-001", total_investment=2_000 * BILLION)

    assert registered.code == "P-001"
    assert registered.status == "on_track"
    assert registered.total_investment == 2_000 * BILLION
    assert registered.lines == {}
    assert registered.disbursed == 0
    [event] = registered.collect_events()
    assert isinstance(event, Project.Registered)
    assert (event.investor_code, event.province) == ("BQLDA-GT", "HN")


@pytest.mark.parametrize(
    ("field", "value"),
    [("code", ""), ("investor_code", " X"), ("province", ""), ("sector", " "), ("name", "  ")],
)
def test_a_project_with_a_blank_field_is_refused(field: str, value: str) -> None:
    fields: dict[str, object] = {
        "code": "P-001",
        "name": "Đường vành đai 4",
        "investor_code": "BQLDA-GT",
        "investor_name": "Ban QLDA giao thông",
        "program": "vanh-dai-4",
        "sector": "transport",
        "province": "HN",
        "total_investment": BILLION,
        "decision": decision(),
        "effective_on": date(2024, 6, 1),
    }
    Project.register(**fields)  # type: ignore[arg-type]
    fields[field] = value
    with pytest.raises(InvalidValue):
        Project.register(**fields)  # type: ignore[arg-type]


# -- allocation ----------------------------------------------------------------------------


def test_an_allocation_opens_a_line_per_plan_and_source(plan: CapitalPlan, rules: RuleBook) -> None:
    target = project("P-005")
    allocate(plan, target, 100 * BILLION, rules)
    allocate(plan, target, 20 * BILLION, rules)
    allocate(plan, target, 30 * BILLION, rules, source=LOCAL)

    central = target.line(PLAN, CENTRAL)
    assert (central.allocated, central.undisbursed) == (120 * BILLION, 120 * BILLION)
    assert (central.plan_kind, central.fiscal_year) == ("annual", 2025)
    assert target.line(PLAN, LOCAL).allocated == 30 * BILLION
    assert len(target.lines) == 2
    events = target.collect_events()
    assert [type(event) for event in events[1:]] == [Project.CapitalAllocated] * 3


def test_an_allocation_of_an_unknown_source_is_refused(funded: Project, rules: RuleBook) -> None:
    refused(
        InvalidValue,
        lambda: funded.receive_allocation(
            plan_code=PLAN,
            plan_kind="annual",
            fiscal_year=2025,
            source="bonds",
            amount=BILLION,
            decision=decision(),
            effective_on=date(2025, 2, 1),
            rules=rules,
        ),
        funded,
    )


def test_a_project_without_capital_of_a_plan_has_no_line_of_it(funded: Project) -> None:
    with pytest.raises(NoAllocation):
        funded.line(PLAN, LOCAL)
    with pytest.raises(NoAllocation):
        funded.line("OTHER-PLAN", CENTRAL)


# -- transfer ------------------------------------------------------------------------------


def test_a_transfer_moves_undisbursed_capital_between_projects(
    funded: Project, other: Project, rules: RuleBook
) -> None:
    transfer(funded, other, 40 * BILLION, rules)

    donor, recipient = funded.line(PLAN, CENTRAL), other.line(PLAN, CENTRAL)
    assert (donor.transferred_out, donor.undisbursed) == (40 * BILLION, 60 * BILLION)
    assert (recipient.transferred_in, recipient.undisbursed) == (40 * BILLION, 90 * BILLION)
    [out] = funded.collect_events()
    [into] = other.collect_events()
    assert isinstance(out, Project.CapitalTransferredOut)
    assert isinstance(into, Project.CapitalTransferredIn)
    assert (out.to_project, into.from_project, into.amount) == ("P-002", "P-001", 40 * BILLION)


def test_a_transfer_opens_a_line_of_the_same_plan_and_source_at_the_recipient(
    funded: Project, rules: RuleBook
) -> None:
    newcomer = project("P-003")
    transfer(funded, newcomer, 10 * BILLION, rules)
    line = newcomer.line(PLAN, CENTRAL)
    assert (line.plan_kind, line.fiscal_year, line.transferred_in) == ("annual", 2025, 10 * BILLION)


def test_the_whole_undisbursed_allocation_may_be_transferred(
    funded: Project, other: Project, rules: RuleBook
) -> None:
    pay(funded, 30 * BILLION, rules)
    transfer(funded, other, 70 * BILLION, rules)
    assert funded.line(PLAN, CENTRAL).undisbursed == 0
    assert other.line(PLAN, CENTRAL).undisbursed == 120 * BILLION


def test_a_transfer_beyond_the_undisbursed_allocation_is_refused(
    funded: Project, other: Project, rules: RuleBook
) -> None:
    pay(funded, 30 * BILLION, rules)
    refused(
        UndisbursedExceeded,
        lambda: transfer(funded, other, 70 * BILLION + 1, rules),
        funded,
        other,
    )


def test_capital_transferred_in_may_be_transferred_on_but_not_more(
    funded: Project, other: Project, rules: RuleBook
) -> None:
    third = project("P-003")
    transfer(funded, other, 40 * BILLION, rules)
    refused(
        UndisbursedExceeded, lambda: transfer(other, third, 90 * BILLION + 1, rules), other, third
    )
    transfer(other, third, 90 * BILLION, rules)
    assert third.line(PLAN, CENTRAL).undisbursed == 90 * BILLION


def test_a_transfer_to_the_same_project_is_refused(funded: Project, rules: RuleBook) -> None:
    refused(InvalidTransfer, lambda: transfer(funded, funded, BILLION, rules), funded)


def test_a_transfer_from_a_plan_the_project_has_no_capital_of_is_refused(
    funded: Project, other: Project, plan: CapitalPlan, rules: RuleBook
) -> None:
    refused(
        NoAllocation,
        lambda: transfer(funded, other, BILLION, rules, source=LOCAL, plan=plan),
        funded,
        other,
    )


def test_a_transfer_on_the_deadline_is_accepted(
    funded: Project, other: Project, rules: RuleBook
) -> None:
    transfer(funded, other, BILLION, rules, on=date(2026, 1, 31))
    assert other.line(PLAN, CENTRAL).transferred_in == BILLION


def test_a_transfer_after_the_deadline_is_refused(
    funded: Project, other: Project, rules: RuleBook
) -> None:
    refused(
        DeadlinePassed,
        lambda: transfer(funded, other, BILLION, rules, on=date(2026, 2, 1)),
        funded,
        other,
    )


def test_medium_term_capital_is_transferred_without_an_annual_deadline(rules: RuleBook) -> None:
    medium = medium_term_plan()
    donor, recipient = project("P-010"), project("P-011")
    allocate(medium, donor, 100 * BILLION, rules, on=date(2021, 2, 1))
    transfer(donor, recipient, 100 * BILLION, rules, plan_code=medium.code, on=date(2024, 3, 1))
    assert recipient.line(medium.code, CENTRAL).undisbursed == 100 * BILLION


# -- cut -----------------------------------------------------------------------------------


def test_a_cut_returns_the_undisbursed_capital_to_the_plan(
    plan: CapitalPlan, funded: Project, rules: RuleBook
) -> None:
    assert plan.unallocated(CENTRAL) == 900 * BILLION
    pay(funded, 25 * BILLION, rules)

    assert cut(plan, funded, 75 * BILLION) == 75 * BILLION

    line = funded.line(PLAN, CENTRAL)
    assert (line.cut, line.undisbursed, line.disbursed) == (75 * BILLION, 0, 25 * BILLION)
    assert plan.unallocated(CENTRAL) == 975 * BILLION
    assert plan.allocated[CENTRAL] == 25 * BILLION
    cut_event = funded.collect_events()[-1]
    assert isinstance(cut_event, Project.AllocationCut)
    assert cut_event.reason == "không thể triển khai"


def test_a_cut_without_an_amount_cuts_all_that_is_undisbursed(
    plan: CapitalPlan, funded: Project, rules: RuleBook
) -> None:
    pay(funded, 25 * BILLION, rules)
    assert cut(plan, funded, None) == 75 * BILLION
    assert funded.line(PLAN, CENTRAL).undisbursed == 0


def test_a_cut_beyond_the_undisbursed_allocation_is_refused(
    plan: CapitalPlan, funded: Project, rules: RuleBook
) -> None:
    pay(funded, 25 * BILLION, rules)
    refused(UndisbursedExceeded, lambda: cut(plan, funded, 75 * BILLION + 1), funded, plan)


def test_a_cut_of_a_fully_disbursed_line_is_refused(
    plan: CapitalPlan, funded: Project, rules: RuleBook
) -> None:
    pay(funded, 100 * BILLION, rules)
    refused(InvalidAmount, lambda: cut(plan, funded, None), funded, plan)


def test_a_cut_on_the_deadline_day_is_accepted(plan: CapitalPlan, funded: Project) -> None:
    assert cut(plan, funded, BILLION, on=date(2026, 1, 31)) == BILLION


def test_a_cut_after_the_deadline_is_refused_because_the_capital_lapses(
    plan: CapitalPlan, funded: Project
) -> None:
    refused(DeadlinePassed, lambda: cut(plan, funded, BILLION, on=date(2026, 2, 1)), funded, plan)


def test_a_cut_from_a_plan_the_project_has_no_capital_of_is_refused(
    plan: CapitalPlan, funded: Project
) -> None:
    refused(NoAllocation, lambda: cut(plan, funded, BILLION, source=LOCAL), funded, plan)


# -- total investment ----------------------------------------------------------------------


def test_total_investment_may_be_adjusted_down_to_what_is_disbursed(
    funded: Project, rules: RuleBook
) -> None:
    pay(funded, 60 * BILLION, rules)
    funded.adjust_total_investment(
        total_investment=60 * BILLION, decision=decision(), effective_on=date(2025, 7, 1)
    )
    assert funded.total_investment == 60 * BILLION
    assert isinstance(funded.collect_events()[-1], Project.TotalInvestmentAdjusted)


def test_total_investment_below_what_is_disbursed_is_refused(
    funded: Project, rules: RuleBook
) -> None:
    pay(funded, 60 * BILLION, rules)
    refused(
        TotalInvestmentExceeded,
        lambda: funded.adjust_total_investment(
            total_investment=60 * BILLION - 1, decision=decision(), effective_on=date(2025, 7, 1)
        ),
        funded,
    )


# -- reconstruction ------------------------------------------------------------------------


def test_a_project_rebuilt_from_its_events_equals_the_project_that_recorded_them(
    plan: CapitalPlan, rules: RuleBook
) -> None:
    target, recipient = project("P-080"), project("P-081")
    allocate(plan, target, 100 * BILLION, rules)
    allocate(plan, target, 20 * BILLION, rules, source=LOCAL)
    target.sign_contract(
        contract_no="HĐ-1", contractor="Nhà thầu", value=80 * BILLION, effective_on=date(2025, 2, 1)
    )
    target.pay_advance(
        contract_no="HĐ-1",
        plan_code=PLAN,
        source=CENTRAL,
        amount=20 * BILLION,
        treasury_ref="KB-1",
        effective_on=date(2025, 2, 2),
        rules=rules,
    )
    wrong = pay(target, 30 * BILLION, rules, contract_no="HĐ-1", advance_recovered=5 * BILLION)
    target.reverse_entry(entry_version=wrong, reason="nhập sai", effective_on=date(2025, 6, 2))
    transfer(target, recipient, 10 * BILLION, rules)
    cut(plan, target, 5 * BILLION, source=LOCAL)
    target.change_status(status="slow", reason="chậm", effective_on=date(2025, 8, 1))
    events = list(target.collect_events())

    rebuilt = replay(events, Project)

    assert rebuilt == target
    assert rebuilt.lines == target.lines
    assert rebuilt.contracts == target.contracts
    assert rebuilt.entries == target.entries
    assert rebuilt.version == len(events) == 10
