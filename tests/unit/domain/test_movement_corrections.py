"""A correction for every movement kind: a compensating ``EntryCorrected`` names the entry by
its stream version, is judged by the invariants in effective time, moves the plan's capital or
the transfer's other side in the same unit of work, and never deletes anything."""

from __future__ import annotations

from datetime import date

import pytest

from capledger.application.commands import AdjustPlan, ReverseEntry
from capledger.domain import CapitalPlan, Project, RuleBook
from capledger.domain.errors import (
    DatedOutOfRange,
    DecisionRequired,
    EntryNotReversible,
    EnvelopeBelowAllocated,
    InsufficientUnallocatedCapital,
    InvalidValue,
    TotalInvestmentExceeded,
    UndisbursedExceeded,
)

from ..builders import (
    BILLION,
    CENTRAL,
    PLAN,
    HeldAggregates,
    allocate,
    cut,
    decision,
    pay,
    project,
    refused,
    replay,
    transfer,
)

pytestmark = pytest.mark.unit

ALLOCATED_AT = 2  # the funded project's allocation: registration is version 1
ON = date(2025, 8, 1)


def correct(
    rules: RuleBook,
    target: Project,
    version: int,
    *held: object,
    on: date = ON,
    decided: bool = True,
    reason: str = "ghi sai quyết định",
) -> None:
    """Correct through the ledger's handler, as the API and the CLI do."""
    taken = decision("99/QĐ-UBND", on) if decided else None
    command = ReverseEntry(
        project_code=target.code, entry_version=version, reason=reason, effective_on=on,
        decision_no=None if taken is None else taken.number,
        decision_date=None if taken is None else taken.issued_on,
        decision_issuer=None if taken is None else taken.issuer,
    )  # fmt: skip
    HeldAggregates(rules, target, *held).run(command)  # type: ignore[arg-type]


def last_correction(target: Project) -> Project.EntryCorrected:
    event = target.pending_events[-1]
    assert isinstance(event, Project.EntryCorrected)
    return event


# -- allocations ---------------------------------------------------------------------------


def test_correcting_an_allocation_takes_the_capital_back_to_the_plan(
    funded: Project, plan: CapitalPlan, rules: RuleBook
) -> None:
    correct(rules, funded, ALLOCATED_AT, plan)

    line = funded.line(PLAN, CENTRAL)
    assert (line.allocated, line.undisbursed) == (0, 0)
    assert plan.unallocated(CENTRAL) == 1_000 * BILLION
    corrected = last_correction(funded)
    assert (corrected.entry_version, corrected.corrects, corrected.amount) == (
        ALLOCATED_AT,
        "CapitalAllocated",
        100 * BILLION,
    )
    [returned] = plan.collect_events()
    assert isinstance(returned, CapitalPlan.CapitalReturned)
    assert returned.amount == 100 * BILLION
    assert funded.movements[ALLOCATED_AT].corrected


def test_correcting_an_allocation_already_partly_spent_is_refused_saying_how_much(
    funded: Project, plan: CapitalPlan, rules: RuleBook
) -> None:
    pay(funded, 30 * BILLION, rules, on=date(2025, 9, 1))  # after the correction's date

    error = refused(
        UndisbursedExceeded, lambda: correct(rules, funded, ALLOCATED_AT, plan), funded, plan
    )

    assert f"spent {30 * BILLION} VND" in str(error)
    assert "on 2025-09-01" in str(error)


def test_a_correction_of_an_allocation_needs_a_decision(
    funded: Project, plan: CapitalPlan, rules: RuleBook
) -> None:
    refused(
        DecisionRequired,
        lambda: correct(rules, funded, ALLOCATED_AT, plan, decided=False),
        funded,
        plan,
    )


def test_a_correction_cannot_predate_its_entry(
    funded: Project, plan: CapitalPlan, rules: RuleBook
) -> None:
    refused(
        DatedOutOfRange,
        lambda: correct(rules, funded, ALLOCATED_AT, plan, on=date(2025, 1, 1)),
        funded,
        plan,
    )


def test_an_entry_is_corrected_once_and_a_correction_is_not_corrected(
    funded: Project, plan: CapitalPlan, rules: RuleBook
) -> None:
    correct(rules, funded, ALLOCATED_AT, plan)
    correction_at = funded.version

    refused(EntryNotReversible, lambda: correct(rules, funded, ALLOCATED_AT, plan), funded, plan)
    refused(EntryNotReversible, lambda: correct(rules, funded, correction_at, plan), funded, plan)


def test_a_registration_is_not_a_correctable_movement(
    funded: Project, plan: CapitalPlan, rules: RuleBook
) -> None:
    refused(EntryNotReversible, lambda: correct(rules, funded, 1, plan), funded, plan)


# -- cuts and the plan in effective time ---------------------------------------------------


def test_correcting_a_cut_restores_the_capital_and_takes_it_from_the_plan_again(
    funded: Project, plan: CapitalPlan, rules: RuleBook
) -> None:
    cut(plan, funded, 40 * BILLION, rules=rules)
    cut_at = funded.version

    correct(rules, funded, cut_at, plan)

    assert funded.line(PLAN, CENTRAL).undisbursed == 100 * BILLION
    assert plan.unallocated(CENTRAL) == 900 * BILLION
    assert isinstance(plan.pending_events[-1], CapitalPlan.CapitalAllocated)


def test_correcting_a_cut_is_refused_when_the_plan_has_allocated_the_capital_since(
    funded: Project, plan: CapitalPlan, rules: RuleBook
) -> None:
    cut(plan, funded, 40 * BILLION, rules=rules)
    cut_at = funded.version
    other = project("P-009")
    allocate(plan, other, 940 * BILLION, rules, on=date(2025, 7, 15))

    refused(
        InsufficientUnallocatedCapital,
        lambda: correct(rules, funded, cut_at, plan),
        funded,
        plan,
    )


def test_an_allocation_backdated_before_the_adjustment_that_gave_the_capital_is_refused(
    plan: CapitalPlan, rules: RuleBook
) -> None:
    target = project("P-010")
    HeldAggregates(rules, plan).run(
        AdjustPlan(
            code=PLAN, envelopes={CENTRAL: 1_500 * BILLION}, reason="bổ sung",
            decision_no="1/NQ", decision_date=date(2025, 5, 1), decision_issuer="HĐND",
            effective_on=date(2025, 5, 1),
        )
    )  # fmt: skip

    # 1,500 billion is unallocated today, but only 1,000 billion was on 1 April.
    error = refused(
        InsufficientUnallocatedCapital,
        lambda: allocate(plan, target, 1_200 * BILLION, rules, on=date(2025, 4, 1)),
        plan,
        target,
    )
    assert "on 2025-04-01" in str(error)
    allocate(plan, target, 1_200 * BILLION, rules, on=date(2025, 5, 1))


def test_an_adjustment_backdated_under_later_allocations_is_refused(
    plan: CapitalPlan, rules: RuleBook
) -> None:
    target = project("P-011")
    allocate(plan, target, 600 * BILLION, rules, on=date(2025, 3, 1))

    refused(
        EnvelopeBelowAllocated,
        lambda: plan.adjust(
            envelopes={CENTRAL: 500 * BILLION},
            reason="cắt giảm",
            decision=decision(issued_on=date(2025, 2, 1)),
            effective_on=date(2025, 2, 1),
        ),
        plan,
    )


# -- transfers -----------------------------------------------------------------------------


def test_correcting_a_transfer_corrects_both_projects_from_either_side(
    funded: Project, other: Project, plan: CapitalPlan, rules: RuleBook
) -> None:
    transfer(funded, other, 30 * BILLION, rules)
    out_at, in_at = funded.version, other.version

    correct(rules, other, in_at, funded)

    assert funded.line(PLAN, CENTRAL).undisbursed == 100 * BILLION
    assert other.line(PLAN, CENTRAL).undisbursed == 50 * BILLION
    donor_side, recipient_side = last_correction(funded), last_correction(other)
    assert (donor_side.entry_version, donor_side.counterpart_version) == (out_at, in_at)
    assert (recipient_side.entry_version, recipient_side.counterpart_version) == (in_at, out_at)
    assert (donor_side.counterpart, recipient_side.counterpart) == ("P-002", "P-001")
    refused(EntryNotReversible, lambda: correct(rules, funded, out_at, other), funded, other)


def test_correcting_a_transfer_the_recipient_has_spent_is_refused_on_both_sides(
    funded: Project, other: Project, rules: RuleBook
) -> None:
    transfer(funded, other, 30 * BILLION, rules)
    out_at = funded.version
    pay(other, 70 * BILLION, rules, on=date(2025, 7, 10))

    error = refused(
        UndisbursedExceeded, lambda: correct(rules, funded, out_at, other), funded, other
    )
    assert f"spent {70 * BILLION} VND" in str(error)


# -- extensions and lapses -----------------------------------------------------------------


def _extend(target: Project, rules: RuleBook, amount: int) -> int:
    target.extend_disbursement_period(
        plan_code=PLAN, source=CENTRAL, amount=amount, until=date(2026, 6, 30),
        decision=decision("15/QĐ-TTg", date(2025, 12, 20)), effective_on=date(2025, 12, 20),
        rules=rules,
    )  # fmt: skip
    return target.version


def test_correcting_a_lapse_restores_the_capital(funded: Project, rules: RuleBook) -> None:
    funded.lapse(plan_code=PLAN, source=CENTRAL, as_of=date(2026, 2, 1), rules=rules)
    lapsed_at = funded.version

    correct(rules, funded, lapsed_at, on=date(2026, 2, 10))

    line = funded.line(PLAN, CENTRAL)
    assert (line.lapsed, line.undisbursed) == (0, 100 * BILLION)


def test_correcting_an_extension_withdraws_it(funded: Project, rules: RuleBook) -> None:
    extended_at = _extend(funded, rules, 40 * BILLION)

    correct(rules, funded, extended_at, on=date(2025, 12, 22))

    line = funded.line(PLAN, CENTRAL)
    assert (line.extended, line.extended_until) == (0, None)


def test_an_extension_already_drawn_on_after_the_deadline_cannot_be_corrected(
    funded: Project, rules: RuleBook
) -> None:
    extended_at = _extend(funded, rules, 40 * BILLION)
    pay(funded, 10 * BILLION, rules, on=date(2026, 3, 1))

    refused(
        EntryNotReversible,
        lambda: correct(rules, funded, extended_at, on=date(2026, 3, 2)),
        funded,
    )


# -- changes of the project's record -------------------------------------------------------


def test_correcting_a_change_of_total_investment_puts_the_old_one_back(
    funded: Project, rules: RuleBook
) -> None:
    funded.adjust_total_investment(
        total_investment=1_500 * BILLION, decision=decision(), effective_on=ON
    )
    correct(rules, funded, funded.version)

    assert funded.total_investment == 2_000 * BILLION
    assert last_correction(funded).total_investment == 2_000 * BILLION


def test_a_total_investment_below_what_was_disbursed_is_not_put_back(rules: RuleBook) -> None:
    plan = CapitalPlan.approve(
        code="HN-KHV-2025", title="t", kind="annual", authority="provincial_council",
        jurisdiction="HN", start_year=2025, end_year=2025, envelopes={CENTRAL: 900 * BILLION},
        decision=decision(), effective_on=date(2025, 1, 1),
    )  # fmt: skip
    small = project("P-012", total_investment=50 * BILLION)
    allocate(plan, small, 80 * BILLION, rules)
    small.adjust_total_investment(
        total_investment=80 * BILLION, decision=decision(), effective_on=date(2025, 2, 1)
    )
    raised_at = small.version
    pay(small, 70 * BILLION, rules)

    refused(TotalInvestmentExceeded, lambda: correct(rules, small, raised_at), small)


def test_only_the_latest_change_of_status_is_corrected_and_without_a_decision(
    funded: Project, rules: RuleBook
) -> None:
    funded.change_status(status="slow", reason="chậm GPMB", effective_on=ON)
    first = funded.version
    funded.change_status(status="suspended", reason="dừng", effective_on=ON)

    refused(EntryNotReversible, lambda: correct(rules, funded, first, decided=False), funded)
    correct(rules, funded, funded.version, decided=False)
    correct(rules, funded, first, decided=False)

    assert funded.status == "on_track"


def test_correcting_a_change_of_investor_puts_the_old_investor_back(
    funded: Project, rules: RuleBook
) -> None:
    funded.change_investor(
        investor_code="BQLDA-X", investor_name="Ban X", reason="nhầm", effective_on=ON
    )
    correct(rules, funded, funded.version, decided=False)

    assert (funded.investor_code, funded.investor_name) == (
        "BQLDA-GT",
        "Ban QLDA đầu tư xây dựng công trình giao thông",
    )


def test_a_payment_is_reversed_without_a_decision(funded: Project, rules: RuleBook) -> None:
    paid_at = pay(funded, 10 * BILLION, rules)

    refused(InvalidValue, lambda: correct(rules, funded, paid_at), funded)
    correct(rules, funded, paid_at, decided=False)
    assert isinstance(funded.pending_events[-1], Project.EntryReversed)


def test_a_project_with_corrections_replays_to_the_same_state(
    other: Project, plan: CapitalPlan, rules: RuleBook
) -> None:
    target = project("P-020")
    allocate(plan, target, 100 * BILLION, rules)
    transfer(target, other, 30 * BILLION, rules)
    cut(plan, target, 20 * BILLION, rules=rules)
    cut_at = target.version
    correct(rules, target, cut_at, plan)
    correct(rules, target, cut_at - 1, other)  # the transfer

    replica = replay(list(target.collect_events()), Project)

    assert replica.line(PLAN, CENTRAL) == target.line(PLAN, CENTRAL)
    assert replica.line(PLAN, CENTRAL).undisbursed == 100 * BILLION
    assert replica.movements == target.movements
