"""Corrections: a wrong payment is never edited; a compensating event points at it, with a
reason, and restores every balance the payment moved."""

from __future__ import annotations

from datetime import date

import pytest

from capledger.domain import CapitalPlan, Project, RuleBook
from capledger.domain.errors import (
    EntryNotReversible,
    InvalidValue,
    OverDisbursement,
    TotalInvestmentExceeded,
)

from ..builders import (
    BILLION,
    CENTRAL,
    PLAN,
    allocate,
    decision,
    pay,
    pay_advance,
    project,
    refused,
)

pytestmark = pytest.mark.unit

CONTRACT = "HĐ-07"
ON = date(2025, 8, 1)


def reverse(
    target: Project, version: int, reason: str = "nhập sai số tiền", *, on: date = ON
) -> None:
    target.reverse_entry(entry_version=version, reason=reason, effective_on=on)


def sign(target: Project) -> None:
    target.sign_contract(
        contract_no=CONTRACT, contractor="Nhà thầu C", value=100 * BILLION, effective_on=ON
    )


def test_reversing_a_payment_restores_the_balances_it_moved(
    funded: Project, rules: RuleBook
) -> None:
    pay(funded, 20 * BILLION, rules)
    wrong = pay(funded, 50 * BILLION, rules)

    reverse(funded, wrong)

    line = funded.line(PLAN, CENTRAL)
    assert (line.disbursed, line.undisbursed) == (20 * BILLION, 80 * BILLION)
    assert funded.disbursed == 20 * BILLION
    assert funded.entries[wrong].reversed
    reversal = funded.collect_events()[-1]
    assert isinstance(reversal, Project.EntryReversed)
    assert (reversal.entry_version, reversal.reason) == (wrong, "nhập sai số tiền")


def test_a_reversed_payment_stays_in_the_history(funded: Project, rules: RuleBook) -> None:
    wrong = pay(funded, 50 * BILLION, rules)
    reverse(funded, wrong)
    paid, reversal = funded.collect_events()
    assert isinstance(paid, Project.CompletedWorkPaid)
    assert paid.amount == 50 * BILLION
    assert isinstance(reversal, Project.EntryReversed)


def test_a_reversal_frees_the_allocation_and_total_investment_it_used(
    plan: CapitalPlan, rules: RuleBook
) -> None:
    target = project("P-060", total_investment=100 * BILLION)
    allocate(plan, target, 100 * BILLION, rules)
    wrong = pay(target, 100 * BILLION, rules)
    refused(OverDisbursement, lambda: pay(target, 1, rules), target)

    reverse(target, wrong)
    # Freed from the reversal's date on: until then the wrong payment still stands.
    refused(OverDisbursement, lambda: pay(target, 1, rules), target)
    pay(target, 100 * BILLION, rules, on=ON)
    refused(
        TotalInvestmentExceeded,
        lambda: target.adjust_total_investment(
            total_investment=100 * BILLION - 1, decision=decision(), effective_on=ON
        ),
        target,
    )


def test_reversing_a_contract_payment_restores_the_contract_and_its_advance(
    funded: Project, rules: RuleBook
) -> None:
    sign(funded)
    pay_advance(funded, CONTRACT, 30 * BILLION, rules)
    wrong = pay(funded, 40 * BILLION, rules, contract_no=CONTRACT, advance_recovered=10 * BILLION)

    reverse(funded, wrong)

    contract = funded.contract(CONTRACT)
    assert (contract.completed_paid, contract.advance_outstanding) == (0, 30 * BILLION)
    assert funded.line(PLAN, CENTRAL).disbursed == 30 * BILLION


def test_reversing_an_entry_twice_is_refused(funded: Project, rules: RuleBook) -> None:
    wrong = pay(funded, 50 * BILLION, rules)
    reverse(funded, wrong)
    refused(EntryNotReversible, lambda: reverse(funded, wrong), funded)


@pytest.mark.parametrize("kind", ["registration", "allocation", "contract", "future"])
def test_reversing_a_version_that_is_not_a_payment_is_refused(
    funded: Project, rules: RuleBook, kind: str
) -> None:
    sign(funded)
    pay(funded, 10 * BILLION, rules)
    version = {"registration": 1, "allocation": 2, "contract": 3, "future": 99}[kind]
    refused(EntryNotReversible, lambda: reverse(funded, version), funded)


def test_reversing_a_reversal_is_refused(funded: Project, rules: RuleBook) -> None:
    wrong = pay(funded, 10 * BILLION, rules)
    reverse(funded, wrong)
    refused(EntryNotReversible, lambda: reverse(funded, funded.version), funded)


@pytest.mark.parametrize("reason", ["", "   "])
def test_a_reversal_without_a_reason_is_refused(
    funded: Project, rules: RuleBook, reason: str
) -> None:
    wrong = pay(funded, 10 * BILLION, rules)
    refused(InvalidValue, lambda: reverse(funded, wrong, reason=reason), funded)


def test_reversing_an_advance_still_outstanding_restores_the_contract(
    funded: Project, rules: RuleBook
) -> None:
    sign(funded)
    wrong = pay_advance(funded, CONTRACT, 30 * BILLION, rules)

    reverse(funded, wrong)

    contract = funded.contract(CONTRACT)
    assert (contract.advanced, contract.advance_outstanding) == (0, 0)
    assert funded.line(PLAN, CENTRAL).disbursed == 0
    pay_advance(funded, CONTRACT, 30 * BILLION, rules)


def test_reversing_an_advance_already_partly_recovered_is_refused(
    funded: Project, rules: RuleBook
) -> None:
    sign(funded)
    advance = pay_advance(funded, CONTRACT, 30 * BILLION, rules)
    recovering = pay(funded, 20 * BILLION, rules, contract_no=CONTRACT, advance_recovered=BILLION)

    refused(EntryNotReversible, lambda: reverse(funded, advance), funded)

    reverse(funded, recovering)
    reverse(funded, advance)
    assert funded.disbursed == 0


def test_reversing_a_payment_after_the_deadline_restores_the_extended_capital(
    funded: Project, rules: RuleBook
) -> None:
    funded.extend_disbursement_period(
        plan_code=PLAN,
        source=CENTRAL,
        amount=40 * BILLION,
        until=date(2026, 12, 31),
        decision=decision("15/QĐ-TTg", date(2025, 12, 20), "Thủ tướng"),
        effective_on=date(2025, 12, 20),
        rules=rules,
    )
    wrong = pay(funded, 40 * BILLION, rules, on=date(2026, 3, 1))
    assert funded.line(PLAN, CENTRAL).extended_remaining == 0

    reverse(funded, wrong, on=date(2026, 3, 1))

    line = funded.line(PLAN, CENTRAL)
    assert (line.disbursed_after_deadline, line.extended_remaining) == (0, 40 * BILLION)
    pay(funded, 40 * BILLION, rules, on=date(2026, 3, 2))
