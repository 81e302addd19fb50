"""Deadline 31 January of the following year; extension to 31 December at most; automatic
extension of late capital from 2025; lapse of what is neither disbursed nor extended."""

from __future__ import annotations

from datetime import date

import pytest

from capledger.domain import CapitalPlan, Project, RuleBook
from capledger.domain.errors import (
    DeadlinePassed,
    ExtensionNotAllowed,
    LapseNotDue,
    NotAnAnnualPlan,
)

from ..builders import (
    BILLION,
    CENTRAL,
    PLAN,
    allocate,
    annual_plan,
    cut,
    decision,
    medium_term_plan,
    pay,
    project,
    refused,
    transfer,
)

pytestmark = pytest.mark.unit

DEADLINE = date(2026, 1, 31)  # of the 2025 plan
LATEST_EXTENSION = date(2026, 12, 31)


def extend(
    target: Project,
    amount: int,
    rules: RuleBook,
    *,
    until: date = LATEST_EXTENSION,
    on: date = date(2025, 12, 20),
    plan_code: str = PLAN,
) -> None:
    target.extend_disbursement_period(
        plan_code=plan_code,
        source=CENTRAL,
        amount=amount,
        until=until,
        decision=decision("15/QĐ-TTg", on, "Thủ tướng"),
        effective_on=on,
        rules=rules,
    )


def lapse(target: Project, as_of: date, rules: RuleBook, plan_code: str = PLAN) -> int:
    return target.lapse(plan_code=plan_code, source=CENTRAL, as_of=as_of, rules=rules)


# -- the deadline --------------------------------------------------------------------------


def test_a_payment_on_31_january_of_the_following_year_is_accepted(
    funded: Project, rules: RuleBook
) -> None:
    pay(funded, 10 * BILLION, rules, on=DEADLINE)
    [paid] = funded.collect_events()
    assert isinstance(paid, Project.CompletedWorkPaid)
    assert paid.from_extension is False


def test_a_payment_on_1_february_of_the_following_year_is_refused(
    funded: Project, rules: RuleBook
) -> None:
    refused(DeadlinePassed, lambda: pay(funded, 10 * BILLION, rules, on=date(2026, 2, 1)), funded)


# -- extension -----------------------------------------------------------------------------


def test_an_extension_to_31_december_of_the_following_year_is_accepted(
    funded: Project, rules: RuleBook
) -> None:
    extend(funded, 40 * BILLION, rules)

    line = funded.line(PLAN, CENTRAL)
    assert (line.extended, line.extended_until) == (40 * BILLION, LATEST_EXTENSION)
    [extended] = funded.collect_events()
    assert isinstance(extended, Project.DisbursementPeriodExtended)
    assert extended.until == LATEST_EXTENSION


@pytest.mark.parametrize("until", [date(2027, 1, 1), DEADLINE, date(2025, 12, 31)])
def test_an_extension_ending_outside_the_allowed_window_is_refused(
    funded: Project, rules: RuleBook, until: date
) -> None:
    refused(ExtensionNotAllowed, lambda: extend(funded, 40 * BILLION, rules, until=until), funded)


def test_an_extension_ending_the_day_after_the_deadline_is_accepted(
    funded: Project, rules: RuleBook
) -> None:
    extend(funded, 40 * BILLION, rules, until=date(2026, 2, 1))
    assert funded.line(PLAN, CENTRAL).extended_until == date(2026, 2, 1)


def test_an_extension_beyond_the_undisbursed_capital_not_yet_extended_is_refused(
    funded: Project, rules: RuleBook
) -> None:
    pay(funded, 30 * BILLION, rules)
    refused(ExtensionNotAllowed, lambda: extend(funded, 70 * BILLION + 1, rules), funded)
    extend(funded, 40 * BILLION, rules)
    refused(ExtensionNotAllowed, lambda: extend(funded, 30 * BILLION + 1, rules), funded)
    extend(funded, 30 * BILLION, rules)
    assert funded.line(PLAN, CENTRAL).extended == 70 * BILLION


def test_an_extension_decided_after_the_deadline_of_unextended_capital_is_refused(
    funded: Project, rules: RuleBook
) -> None:
    refused(
        ExtensionNotAllowed, lambda: extend(funded, BILLION, rules, on=date(2026, 2, 1)), funded
    )


def test_extended_capital_may_be_paid_after_the_deadline(funded: Project, rules: RuleBook) -> None:
    extend(funded, 40 * BILLION, rules)
    pay(funded, 25 * BILLION, rules, on=date(2026, 3, 1))
    pay(funded, 15 * BILLION, rules, on=LATEST_EXTENSION)

    line = funded.line(PLAN, CENTRAL)
    assert (line.disbursed, line.disbursed_after_deadline) == (40 * BILLION, 40 * BILLION)
    assert line.extended_remaining == 0
    payments = funded.collect_events()[1:]
    assert len(payments) == 2
    for paid in payments:
        assert isinstance(paid, Project.CompletedWorkPaid)
        assert paid.from_extension is True


def test_a_payment_after_the_deadline_beyond_the_extended_capital_is_refused(
    funded: Project, rules: RuleBook
) -> None:
    extend(funded, 40 * BILLION, rules)
    pay(funded, 25 * BILLION, rules, on=date(2026, 3, 1))
    refused(
        DeadlinePassed, lambda: pay(funded, 15 * BILLION + 1, rules, on=date(2026, 3, 2)), funded
    )
    assert funded.line(PLAN, CENTRAL).undisbursed == 75 * BILLION


def test_a_payment_after_the_extended_date_is_refused(funded: Project, rules: RuleBook) -> None:
    extend(funded, 40 * BILLION, rules, until=date(2026, 6, 30))
    pay(funded, BILLION, rules, on=date(2026, 6, 30))
    refused(DeadlinePassed, lambda: pay(funded, BILLION, rules, on=date(2026, 7, 1)), funded)


def test_the_year_disburses_its_allocation_including_capital_extended_and_no_more(
    funded: Project, rules: RuleBook
) -> None:
    pay(funded, 60 * BILLION, rules, on=date(2025, 11, 1))
    extend(funded, 40 * BILLION, rules)
    pay(funded, 40 * BILLION, rules, on=date(2026, 5, 1))
    assert funded.line(PLAN, CENTRAL).undisbursed == 0
    refused(DeadlinePassed, lambda: pay(funded, 1, rules, on=date(2026, 5, 2)), funded)


# -- allocation around the deadline --------------------------------------------------------


def test_capital_allocated_on_the_deadline_is_accepted_and_extended_automatically(
    plan: CapitalPlan, rules: RuleBook
) -> None:
    late = project("P-045")
    allocate(plan, late, 5 * BILLION, rules, on=DEADLINE)
    assert late.line(PLAN, CENTRAL).extended_until == LATEST_EXTENSION
    assert plan.allocated[CENTRAL] == 5 * BILLION


def test_capital_allocated_after_the_deadline_is_refused(
    plan: CapitalPlan, rules: RuleBook
) -> None:
    late = project("P-046")
    refused(
        DeadlinePassed,
        lambda: allocate(plan, late, 5 * BILLION, rules, on=date(2026, 2, 1)),
        late,
        plan,
    )


def test_medium_term_capital_may_be_allocated_in_any_year_of_the_plan(rules: RuleBook) -> None:
    medium = medium_term_plan()
    target = project("P-047")
    allocate(medium, target, 5 * BILLION, rules, on=date(2025, 11, 1))
    assert target.line(medium.code, CENTRAL).allocated == 5 * BILLION


# -- automatic extension of late capital ---------------------------------------------------


def test_capital_allocated_on_1_october_2025_is_extended_automatically(
    plan: CapitalPlan, rules: RuleBook
) -> None:
    late = project("P-050")
    allocate(plan, late, 30 * BILLION, rules, on=date(2025, 10, 1))

    [_, allocated] = late.collect_events()
    assert isinstance(allocated, Project.CapitalAllocated)
    assert allocated.auto_extended_until == LATEST_EXTENSION
    line = late.line(PLAN, CENTRAL)
    assert (line.extended, line.extended_until) == (30 * BILLION, LATEST_EXTENSION)
    pay(late, 30 * BILLION, rules, on=date(2026, 9, 1))
    assert late.line(PLAN, CENTRAL).disbursed_after_deadline == 30 * BILLION


def test_capital_allocated_on_30_september_2025_is_not_extended_automatically(
    plan: CapitalPlan, rules: RuleBook
) -> None:
    timely = project("P-051")
    allocate(plan, timely, 30 * BILLION, rules, on=date(2025, 9, 30))

    allocated = timely.collect_events()[-1]
    assert isinstance(allocated, Project.CapitalAllocated)
    assert allocated.auto_extended_until is None
    assert timely.line(PLAN, CENTRAL).extended == 0
    refused(DeadlinePassed, lambda: pay(timely, BILLION, rules, on=date(2026, 2, 1)), timely)


def test_capital_allocated_on_1_october_2024_is_not_extended_before_the_rule_was_in_force(
    rules: RuleBook,
) -> None:
    plan_2024 = annual_plan(code="HN-KHV-2024", year=2024)
    late = project("P-052")
    allocate(plan_2024, late, 30 * BILLION, rules, on=date(2024, 10, 1))

    allocated = late.collect_events()[-1]
    assert isinstance(allocated, Project.CapitalAllocated)
    assert allocated.auto_extended_until is None
    assert late.line("HN-KHV-2024", CENTRAL).extended == 0
    refused(
        DeadlinePassed,
        lambda: pay(late, BILLION, rules, plan_code="HN-KHV-2024", on=date(2025, 2, 1)),
        late,
    )


def test_capital_transferred_in_after_30_september_2025_is_extended_automatically(
    funded: Project, rules: RuleBook
) -> None:
    recipient = project("P-053")
    transfer(funded, recipient, 20 * BILLION, rules, on=date(2025, 10, 15))

    transferred = recipient.collect_events()[-1]
    assert isinstance(transferred, Project.CapitalTransferredIn)
    assert transferred.auto_extended_until == LATEST_EXTENSION
    assert recipient.line(PLAN, CENTRAL).extended == 20 * BILLION
    assert funded.line(PLAN, CENTRAL).extended == 0


def test_medium_term_capital_is_never_extended_automatically(rules: RuleBook) -> None:
    medium = medium_term_plan(code="HN-TH-2026-2030", start_year=2026)
    target = project("P-054")
    allocate(medium, target, 30 * BILLION, rules, on=date(2026, 10, 1))
    assert target.line(medium.code, CENTRAL).extended == 0


# -- moving extended capital away ----------------------------------------------------------


def test_a_transfer_releases_the_extension_of_capital_that_left(
    funded: Project, other: Project, rules: RuleBook
) -> None:
    extend(funded, 80 * BILLION, rules)
    transfer(funded, other, 50 * BILLION, rules, on=date(2026, 1, 10))

    line = funded.line(PLAN, CENTRAL)
    assert (line.undisbursed, line.extended) == (50 * BILLION, 50 * BILLION)
    refused(
        DeadlinePassed, lambda: pay(funded, 50 * BILLION + 1, rules, on=date(2026, 3, 1)), funded
    )


def test_a_cut_releases_the_extension_of_capital_that_left(
    plan: CapitalPlan, funded: Project, rules: RuleBook
) -> None:
    extend(funded, 80 * BILLION, rules)
    cut(plan, funded, 70 * BILLION, on=date(2026, 1, 10))
    assert funded.line(PLAN, CENTRAL).extended == 30 * BILLION


# -- lapse ---------------------------------------------------------------------------------


def test_a_lapse_on_or_before_the_deadline_is_refused(funded: Project, rules: RuleBook) -> None:
    refused(LapseNotDue, lambda: lapse(funded, DEADLINE, rules), funded)
    refused(LapseNotDue, lambda: lapse(funded, date(2025, 6, 1), rules), funded)


def test_after_the_deadline_all_undisbursed_unextended_capital_lapses(
    funded: Project, rules: RuleBook
) -> None:
    pay(funded, 35 * BILLION, rules)
    assert lapse(funded, date(2026, 2, 1), rules) == 65 * BILLION

    line = funded.line(PLAN, CENTRAL)
    assert (line.lapsed, line.undisbursed) == (65 * BILLION, 0)
    lapsed = funded.collect_events()[-1]
    assert isinstance(lapsed, Project.CapitalLapsed)
    assert (lapsed.amount, lapsed.effective_on) == (65 * BILLION, date(2026, 2, 1))


def test_after_the_deadline_exactly_the_undisbursed_minus_the_extended_lapses(
    funded: Project, rules: RuleBook
) -> None:
    pay(funded, 30 * BILLION, rules)
    extend(funded, 40 * BILLION, rules)

    assert lapse(funded, date(2026, 2, 1), rules) == 30 * BILLION

    line = funded.line(PLAN, CENTRAL)
    assert (line.lapsed, line.undisbursed, line.extended_remaining) == (
        30 * BILLION,
        40 * BILLION,
        40 * BILLION,
    )
    refused(LapseNotDue, lambda: lapse(funded, date(2026, 2, 2), rules), funded)


def test_after_the_extended_date_the_rest_lapses(funded: Project, rules: RuleBook) -> None:
    pay(funded, 30 * BILLION, rules)
    extend(funded, 40 * BILLION, rules)
    lapse(funded, date(2026, 2, 1), rules)
    pay(funded, 15 * BILLION, rules, on=date(2026, 8, 1))
    refused(LapseNotDue, lambda: lapse(funded, LATEST_EXTENSION, rules), funded)

    assert lapse(funded, date(2027, 1, 1), rules) == 25 * BILLION

    line = funded.line(PLAN, CENTRAL)
    assert (line.disbursed, line.lapsed, line.undisbursed) == (45 * BILLION, 55 * BILLION, 0)
    refused(LapseNotDue, lambda: lapse(funded, date(2027, 1, 2), rules), funded)


def test_a_fully_disbursed_line_has_nothing_to_lapse(funded: Project, rules: RuleBook) -> None:
    pay(funded, 100 * BILLION, rules)
    refused(LapseNotDue, lambda: lapse(funded, date(2026, 2, 1), rules), funded)


def test_medium_term_capital_does_not_lapse_at_an_annual_deadline(rules: RuleBook) -> None:
    medium = medium_term_plan()
    target = project("P-055")
    allocate(medium, target, 30 * BILLION, rules, on=date(2021, 2, 1))
    refused(
        NotAnAnnualPlan,
        lambda: lapse(target, date(2022, 2, 1), rules, plan_code=medium.code),
        target,
    )
