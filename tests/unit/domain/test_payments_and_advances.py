"""Payments and advances: within the year's allocation, the total investment and the contract;
advances capped and recovered by the rule in force on their effective date."""

from __future__ import annotations

from datetime import date

import pytest

from capledger.application.commands import PayCompletedWork
from capledger.application.errors import UnknownPlan
from capledger.domain import CapitalPlan, Project, RuleBook
from capledger.domain.errors import (
    AdvanceCapExceeded,
    AdvanceNotFullyRecovered,
    AdvanceOverRecovered,
    DuplicateContract,
    NoAllocation,
    NoRuleInForce,
    NotAnAnnualPlan,
    OverDisbursement,
    TotalInvestmentExceeded,
    UnknownContract,
)

from ..builders import (
    BILLION,
    CENTRAL,
    LOCAL,
    PLAN,
    YEAR,
    HeldAggregates,
    allocate,
    annual_plan,
    decision,
    medium_term_plan,
    pay,
    pay_advance,
    project,
    refused,
    transfer,
)

pytestmark = pytest.mark.unit

CONTRACT = "HĐ-01/2025"
VALUE = 100 * BILLION  # contract value; the funded project has 100 billion allocated


def sign(target: Project, contract_no: str = CONTRACT, value: int = VALUE) -> None:
    target.sign_contract(
        contract_no=contract_no,
        contractor="Công ty CP Xây dựng Số 1",
        value=value,
        effective_on=date(2025, 2, 1),
    )


# -- payments against the allocation -------------------------------------------------------


def test_a_payment_for_completed_work_is_disbursed_from_its_line(
    funded: Project, rules: RuleBook
) -> None:
    version = pay(funded, 30 * BILLION, rules)

    line = funded.line(PLAN, CENTRAL)
    assert (line.disbursed, line.undisbursed) == (30 * BILLION, 70 * BILLION)
    assert funded.disbursed == 30 * BILLION
    [paid] = funded.collect_events()
    assert isinstance(paid, Project.CompletedWorkPaid)
    assert (paid.amount, paid.advance_recovered, paid.from_extension) == (30 * BILLION, 0, False)
    assert paid.originator_version == version
    assert funded.entries[version].kind == "completed_work"


def test_the_whole_allocation_of_the_year_may_be_disbursed(
    funded: Project, rules: RuleBook
) -> None:
    pay(funded, 60 * BILLION, rules)
    pay(funded, 40 * BILLION, rules)
    assert funded.line(PLAN, CENTRAL).undisbursed == 0


def test_a_payment_beyond_the_allocation_is_refused(funded: Project, rules: RuleBook) -> None:
    pay(funded, 60 * BILLION, rules)
    refused(OverDisbursement, lambda: pay(funded, 40 * BILLION + 1, rules), funded)


def test_capital_transferred_in_may_be_disbursed_and_capital_transferred_out_may_not(
    funded: Project, other: Project, rules: RuleBook
) -> None:
    transfer(funded, other, 30 * BILLION, rules)  # effective 1 July
    refused(OverDisbursement, lambda: pay(other, 80 * BILLION, rules, on=date(YEAR, 6, 30)), other)
    pay(other, 80 * BILLION, rules, on=date(YEAR, 7, 1))
    # Paid in June, before the transfer left: what stayed must still cover it from July on.
    refused(OverDisbursement, lambda: pay(funded, 70 * BILLION + 1, rules), funded)
    pay(funded, 70 * BILLION, rules)


def test_capital_of_one_source_is_not_paid_out_of_another(
    plan: CapitalPlan, funded: Project, rules: RuleBook
) -> None:
    allocate(plan, funded, 10 * BILLION, rules, source=LOCAL)
    refused(OverDisbursement, lambda: pay(funded, 10 * BILLION + 1, rules, source=LOCAL), funded)
    pay(funded, 10 * BILLION, rules, source=LOCAL)
    assert funded.line(PLAN, CENTRAL).disbursed == 0


def test_a_payment_from_a_plan_the_project_has_no_capital_of_is_refused(
    funded: Project, rules: RuleBook
) -> None:
    other = annual_plan("HN-KHV-2026", 2026)
    command = PayCompletedWork(
        project_code=funded.code, plan_code=other.code, source=CENTRAL, amount=BILLION,
        treasury_ref="KBNN-1", effective_on=date(YEAR, 6, 1),
    )  # fmt: skip
    refused(NoAllocation, lambda: HeldAggregates(rules, funded, other).run(command), funded)


def test_a_payment_from_a_plan_never_recorded_is_refused_as_an_unknown_plan(
    funded: Project, rules: RuleBook
) -> None:
    # Not a missing allocation: the plan itself is unknown (404 unknown-plan over HTTP).
    refused(UnknownPlan, lambda: pay(funded, BILLION, rules, plan_code="KH-KHONG-CO"), funded)


def test_capital_is_paid_from_annual_plans_not_from_the_medium_term_plan(
    rules: RuleBook,
) -> None:
    medium = medium_term_plan()
    target = project("P-020")
    allocate(medium, target, 100 * BILLION, rules, on=date(2021, 2, 1))
    refused(
        NotAnAnnualPlan,
        lambda: pay(target, BILLION, rules, plan_code=medium.code, on=date(2022, 3, 1)),
        target,
    )


def test_cumulative_disbursement_up_to_the_total_investment_is_accepted(
    rules: RuleBook,
) -> None:
    plan_2025, plan_2026 = annual_plan(), annual_plan(code="HN-KHV-2026", year=2026)
    target = project("P-030", total_investment=150 * BILLION)
    allocate(plan_2025, target, 100 * BILLION, rules)
    allocate(plan_2026, target, 100 * BILLION, rules, on=date(2026, 1, 5))
    pay(target, 100 * BILLION, rules)
    pay(target, 50 * BILLION, rules, plan_code="HN-KHV-2026", on=date(2026, 3, 1))
    assert target.disbursed == 150 * BILLION


def test_cumulative_disbursement_beyond_the_total_investment_is_refused(
    rules: RuleBook,
) -> None:
    plan_2025, plan_2026 = annual_plan(), annual_plan(code="HN-KHV-2026", year=2026)
    target = project("P-030", total_investment=150 * BILLION)
    allocate(plan_2025, target, 100 * BILLION, rules)
    allocate(plan_2026, target, 100 * BILLION, rules, on=date(2026, 1, 5))
    pay(target, 100 * BILLION, rules)
    refused(
        TotalInvestmentExceeded,
        lambda: pay(target, 50 * BILLION + 1, rules, plan_code="HN-KHV-2026", on=date(2026, 3, 1)),
        target,
    )


def test_after_the_total_investment_is_cut_to_what_is_disbursed_no_more_is_paid(
    funded: Project, rules: RuleBook
) -> None:
    pay(funded, 40 * BILLION, rules)
    funded.adjust_total_investment(
        total_investment=40 * BILLION, decision=decision(), effective_on=date(2025, 7, 1)
    )
    refused(TotalInvestmentExceeded, lambda: pay(funded, 1, rules), funded)
    assert funded.line(PLAN, CENTRAL).undisbursed == 60 * BILLION


# -- contracts -----------------------------------------------------------------------------


def test_a_signed_contract_starts_with_nothing_advanced_or_paid(funded: Project) -> None:
    sign(funded)
    contract = funded.contract(CONTRACT)
    assert (contract.value, contract.advanced, contract.completed_paid) == (VALUE, 0, 0)
    assert isinstance(funded.collect_events()[-1], Project.ContractSigned)


def test_a_contract_number_signed_twice_is_refused(funded: Project) -> None:
    sign(funded)
    refused(DuplicateContract, lambda: sign(funded, value=VALUE // 2), funded)


def test_an_advance_on_an_unknown_contract_is_refused(funded: Project, rules: RuleBook) -> None:
    sign(funded)
    refused(UnknownContract, lambda: pay_advance(funded, "HĐ-404", BILLION, rules), funded)


def test_a_payment_on_an_unknown_contract_is_refused(funded: Project, rules: RuleBook) -> None:
    sign(funded)
    refused(UnknownContract, lambda: pay(funded, BILLION, rules, contract_no="HĐ-404"), funded)


def test_payments_up_to_the_contract_value_are_accepted(
    plan: CapitalPlan, funded: Project, rules: RuleBook
) -> None:
    sign(funded, value=60 * BILLION)
    pay(funded, 50 * BILLION, rules, contract_no=CONTRACT)
    pay(funded, 10 * BILLION, rules, contract_no=CONTRACT)
    assert funded.contract(CONTRACT).completed_paid == 60 * BILLION


def test_payments_above_the_contract_value_are_refused(funded: Project, rules: RuleBook) -> None:
    sign(funded, value=60 * BILLION)
    pay(funded, 50 * BILLION, rules, contract_no=CONTRACT)
    refused(
        OverDisbursement, lambda: pay(funded, 10 * BILLION + 1, rules, contract_no=CONTRACT), funded
    )


# -- advances ------------------------------------------------------------------------------


def test_an_advance_of_thirty_percent_of_the_contract_value_is_accepted(
    funded: Project, rules: RuleBook
) -> None:
    sign(funded)
    version = pay_advance(funded, CONTRACT, 30 * BILLION, rules)

    contract = funded.contract(CONTRACT)
    assert (contract.advanced, contract.advance_outstanding) == (30 * BILLION, 30 * BILLION)
    assert funded.line(PLAN, CENTRAL).disbursed == 30 * BILLION
    advance = funded.collect_events()[-1]
    assert isinstance(advance, Project.AdvancePaid)
    assert advance.originator_version == version
    assert funded.entries[version].kind == "advance"


def test_an_advance_above_thirty_percent_of_the_contract_value_is_refused(
    funded: Project, rules: RuleBook
) -> None:
    sign(funded)
    refused(
        AdvanceCapExceeded, lambda: pay_advance(funded, CONTRACT, 30 * BILLION + 1, rules), funded
    )


def test_advances_are_capped_together(funded: Project, rules: RuleBook) -> None:
    sign(funded)
    pay_advance(funded, CONTRACT, 20 * BILLION, rules)
    refused(
        AdvanceCapExceeded, lambda: pay_advance(funded, CONTRACT, 10 * BILLION + 1, rules), funded
    )
    pay_advance(funded, CONTRACT, 10 * BILLION, rules)


def test_the_advance_cap_rounds_down_to_a_whole_dong(funded: Project, rules: RuleBook) -> None:
    sign(funded, value=1_001)  # 30% is 300.3 VND
    refused(AdvanceCapExceeded, lambda: pay_advance(funded, CONTRACT, 301, rules), funded)
    pay_advance(funded, CONTRACT, 300, rules)


def test_an_advance_is_still_a_disbursement_within_the_allocation(
    plan: CapitalPlan, rules: RuleBook
) -> None:
    small = project("P-040")
    allocate(plan, small, 10 * BILLION, rules)
    sign(small)
    refused(OverDisbursement, lambda: pay_advance(small, CONTRACT, 10 * BILLION + 1, rules), small)
    pay_advance(small, CONTRACT, 10 * BILLION, rules)


def test_a_payment_recovering_part_of_the_advance_disburses_only_the_net(
    funded: Project, rules: RuleBook
) -> None:
    sign(funded)
    pay_advance(funded, CONTRACT, 30 * BILLION, rules)
    pay(funded, 40 * BILLION, rules, contract_no=CONTRACT, advance_recovered=12 * BILLION)

    contract = funded.contract(CONTRACT)
    assert contract.advance_outstanding == 18 * BILLION
    assert contract.completed_paid == 40 * BILLION
    assert funded.line(PLAN, CENTRAL).disbursed == (30 + 40 - 12) * BILLION


def test_recovering_more_than_the_advance_outstanding_is_refused(
    funded: Project, rules: RuleBook
) -> None:
    sign(funded)
    pay_advance(funded, CONTRACT, 10 * BILLION, rules)
    pay(funded, 20 * BILLION, rules, contract_no=CONTRACT, advance_recovered=6 * BILLION)
    refused(
        AdvanceOverRecovered,
        lambda: pay(
            funded, 20 * BILLION, rules, contract_no=CONTRACT, advance_recovered=4 * BILLION + 1
        ),
        funded,
    )
    pay(funded, 20 * BILLION, rules, contract_no=CONTRACT, advance_recovered=4 * BILLION)
    assert funded.contract(CONTRACT).advance_outstanding == 0


def test_recovering_more_than_the_payment_is_refused(funded: Project, rules: RuleBook) -> None:
    sign(funded)
    pay_advance(funded, CONTRACT, 30 * BILLION, rules)
    refused(
        AdvanceOverRecovered,
        lambda: pay(funded, BILLION, rules, contract_no=CONTRACT, advance_recovered=BILLION + 1),
        funded,
    )


def test_recovering_an_advance_without_a_contract_is_refused(
    funded: Project, rules: RuleBook
) -> None:
    sign(funded)
    pay_advance(funded, CONTRACT, 30 * BILLION, rules)
    refused(
        AdvanceOverRecovered, lambda: pay(funded, BILLION, rules, advance_recovered=BILLION), funded
    )


def _advanced_and_half_paid(funded: Project, rules: RuleBook) -> None:
    """Contract of 100 billion, advance 30 billion, 50 billion paid recovering 10 billion."""
    sign(funded)
    pay_advance(funded, CONTRACT, 30 * BILLION, rules)
    pay(funded, 50 * BILLION, rules, contract_no=CONTRACT, advance_recovered=10 * BILLION)


def test_payments_reaching_eighty_percent_must_recover_the_advance_in_full(
    funded: Project, rules: RuleBook
) -> None:
    _advanced_and_half_paid(funded, rules)
    refused(
        AdvanceNotFullyRecovered,
        lambda: pay(
            funded, 30 * BILLION, rules, contract_no=CONTRACT, advance_recovered=20 * BILLION - 1
        ),
        funded,
    )


def test_payments_reaching_eighty_percent_with_full_recovery_are_accepted(
    funded: Project, rules: RuleBook
) -> None:
    _advanced_and_half_paid(funded, rules)
    pay(funded, 30 * BILLION, rules, contract_no=CONTRACT, advance_recovered=20 * BILLION)

    contract = funded.contract(CONTRACT)
    assert (contract.completed_paid, contract.advance_outstanding) == (80 * BILLION, 0)
    pay(funded, 10 * BILLION, rules, contract_no=CONTRACT)
    assert contract.completed_paid == 90 * BILLION


def test_payments_below_eighty_percent_may_leave_the_advance_outstanding(
    funded: Project, rules: RuleBook
) -> None:
    _advanced_and_half_paid(funded, rules)
    pay(funded, 30 * BILLION - 1, rules, contract_no=CONTRACT)
    assert funded.contract(CONTRACT).advance_outstanding == 20 * BILLION


def test_an_advance_once_payments_reached_eighty_percent_is_refused(
    funded: Project, rules: RuleBook
) -> None:
    sign(funded)
    pay(funded, 80 * BILLION, rules, contract_no=CONTRACT)
    refused(AdvanceNotFullyRecovered, lambda: pay_advance(funded, CONTRACT, BILLION, rules), funded)


def test_an_advance_while_payments_are_below_eighty_percent_is_accepted(
    funded: Project, rules: RuleBook
) -> None:
    sign(funded)
    pay(funded, 80 * BILLION - 1, rules, contract_no=CONTRACT)
    pay_advance(funded, CONTRACT, 20 * BILLION + 1, rules)
    assert funded.contract(CONTRACT).advance_outstanding == 20 * BILLION + 1


# -- rules judged by the effective date ----------------------------------------------------


def _rules_with_two_advance_regimes() -> RuleBook:
    """Cap 30% / recovery at 80% until the end of 2025, then cap 50% / recovery at 90%."""
    return RuleBook.from_records(
        [
            {"rule": "disbursement_deadline", "effective_from": "2015-01-01", "month": 1,
             "day": 31},
            {"rule": "extension_limit", "effective_from": "2015-01-01", "month": 12, "day": 31},
            {"rule": "advance", "effective_from": "2021-01-01", "effective_to": "2026-01-01",
             "cap_bp": 3000, "full_recovery_bp": 8000},
            {"rule": "advance", "effective_from": "2026-01-01", "cap_bp": 5000,
             "full_recovery_bp": 9000},
        ]
    )  # fmt: skip


def test_an_advance_is_judged_by_the_cap_in_force_on_its_effective_date(
    plan: CapitalPlan, funded: Project
) -> None:
    rules = _rules_with_two_advance_regimes()
    sign(funded)

    refused(
        AdvanceCapExceeded,
        lambda: pay_advance(funded, CONTRACT, 40 * BILLION, rules, on=date(2025, 12, 31)),
        funded,
    )
    pay_advance(funded, CONTRACT, 40 * BILLION, rules, on=date(2026, 1, 1))
    assert funded.contract(CONTRACT).advanced == 40 * BILLION
    refused(
        AdvanceCapExceeded,
        lambda: pay_advance(funded, CONTRACT, 10 * BILLION + 1, rules, on=date(2026, 1, 2)),
        funded,
    )


def test_full_recovery_is_judged_by_the_threshold_in_force_on_the_payment_date(
    funded: Project,
) -> None:
    rules = _rules_with_two_advance_regimes()
    sign(funded)
    pay_advance(funded, CONTRACT, 20 * BILLION, rules, on=date(2025, 3, 1))

    # 85% paid: in 2025 (80% rule) the advance must be recovered in full; not in 2026 (90%).
    refused(
        AdvanceNotFullyRecovered,
        lambda: pay(funded, 80 * BILLION, rules, contract_no=CONTRACT, on=date(2025, 12, 31)),
        funded,
    )
    pay(funded, 80 * BILLION, rules, contract_no=CONTRACT, on=date(2026, 1, 2))
    assert funded.contract(CONTRACT).advance_outstanding == 20 * BILLION


def test_an_advance_dated_before_any_advance_rule_is_refused(funded: Project) -> None:
    rules = RuleBook.from_records(
        [
            {"rule": "disbursement_deadline", "effective_from": "2015-01-01", "month": 1,
             "day": 31},
            {"rule": "extension_limit", "effective_from": "2015-01-01", "month": 12, "day": 31},
            {"rule": "advance", "effective_from": "2025-06-01", "cap_bp": 3000,
             "full_recovery_bp": 8000},
        ]
    )  # fmt: skip
    sign(funded)
    refused(
        NoRuleInForce,
        lambda: pay_advance(funded, CONTRACT, BILLION, rules, on=date(2025, 5, 31)),
        funded,
    )
