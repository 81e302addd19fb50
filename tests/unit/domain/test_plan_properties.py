"""Property: any sequence of movements on a plan and a few projects conserves capital.

Allocations, transfers, cuts, payments, extensions, lapses and reversals are drawn at random
over the plan year and the year after, many of them invalid. After each one the plan still
balances (allocated + unallocated = envelope, nothing negative), the capital the plan counts as
allocated is exactly what its projects hold, no line's undisbursed is negative, and a refused
command has changed nothing. At the end, the events alone rebuild every aggregate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from capledger.domain import CapitalPlan, DomainError, Project, RuleBook
from capledger.domain.errors import (
    DeadlinePassed,
    EntryNotReversible,
    ExtensionNotAllowed,
    InsufficientUnallocatedCapital,
    InvalidAmount,
    InvalidTransfer,
    LapseNotDue,
    NoAllocation,
    OverDisbursement,
    UndisbursedExceeded,
)

from ..builders import (
    BILLION,
    CENTRAL,
    LOCAL,
    annual_plan,
    cut,
    decision,
    pay,
    project,
    replay,
    state_of,
    transfer,
)
from ..builders import allocate as allocate_capital

pytestmark = pytest.mark.unit

SOURCES = (CENTRAL, LOCAL)
PROJECTS = 3
ENVELOPES = {CENTRAL: 150 * BILLION, LOCAL: 60 * BILLION}
#: What a valid-looking command may be refused with; any other error is a bug.
EXPECTED_REFUSALS: tuple[type[DomainError], ...] = (
    DeadlinePassed,
    EntryNotReversible,
    ExtensionNotAllowed,
    InsufficientUnallocatedCapital,
    InvalidAmount,
    InvalidTransfer,
    LapseNotDue,
    NoAllocation,
    OverDisbursement,
    UndisbursedExceeded,
)


@dataclass(frozen=True)
class Move:
    kind: str  # one of KINDS
    source: str
    first: int
    second: int
    amount: int
    day: date


KINDS = ("allocate", "transfer", "cut", "pay", "extend", "lapse", "reverse")

moves = st.builds(
    Move,
    kind=st.sampled_from(KINDS),
    source=st.sampled_from(SOURCES),
    first=st.integers(0, PROJECTS - 1),
    second=st.integers(0, PROJECTS - 1),
    # Mostly whole billions, sometimes odd amounts, now and then zero or negative.
    amount=st.one_of(
        st.integers(-1, 60).map(lambda billions: max(billions, 0) * BILLION),
        st.integers(1, 60 * BILLION),
    ),
    # Mostly within the plan year, the rest up to the extended deadline and past it.
    day=st.one_of(
        st.dates(date(2025, 1, 1), date(2025, 12, 31)),
        st.dates(date(2025, 1, 1), date(2025, 12, 31)),
        st.dates(date(2026, 1, 1), date(2027, 1, 15)),
    ),
)
#: Commands come in the order of their dates, as they do in the ledger.
histories = st.lists(moves, max_size=40).map(lambda drawn: sorted(drawn, key=lambda m: m.day))


def _command(
    move: Move, plan: CapitalPlan, projects: list[Project], rules: RuleBook
) -> Callable[[], object]:
    first, second = projects[move.first], projects[move.second]
    if move.kind == "allocate":
        return lambda: allocate_capital(
            plan, first, move.amount, rules, source=move.source, on=move.day
        )
    if move.kind == "transfer":
        return lambda: transfer(first, second, move.amount, rules, source=move.source, on=move.day)
    if move.kind == "cut":
        return lambda: cut(plan, first, move.amount, source=move.source, on=move.day)
    if move.kind == "pay":
        return lambda: pay(first, move.amount, rules, source=move.source, on=move.day)
    if move.kind == "extend":
        return lambda: first.extend_disbursement_period(
            plan_code=plan.code,
            source=move.source,
            amount=move.amount,
            until=date(2026, 12, 31),
            decision=decision(issued_on=move.day),
            effective_on=move.day,
            rules=rules,
        )
    if move.kind == "lapse":
        return lambda: first.lapse(
            plan_code=plan.code, source=move.source, as_of=move.day, rules=rules
        )
    # reverse: one of the project's payments (or, with none, its registration)
    entries = sorted(first.entries) or [1]
    entry_version = entries[move.second % len(entries)]
    return lambda: first.reverse_entry(
        entry_version=entry_version, reason="nhập sai", effective_on=move.day
    )


def _assert_capital_conserved(plan: CapitalPlan, projects: list[Project]) -> None:
    for source in SOURCES:
        assert plan.allocated[source] + plan.unallocated(source) == plan.envelopes[source]
        assert 0 <= plan.unallocated(source) <= plan.envelopes[source]
        held = 0
        for each in projects:
            for line in each.lines.values():
                assert line.undisbursed >= 0
                assert line.disbursed >= 0
                if line.source == source:
                    held += line.allocated + line.transferred_in - line.transferred_out - line.cut
        assert held == plan.allocated[source]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(moves_drawn=histories)
def test_movements_never_create_or_destroy_capital(
    moves_drawn: list[Move], rules: RuleBook
) -> None:
    plan = annual_plan(envelopes=ENVELOPES)
    projects = [project(f"P-{index}") for index in range(PROJECTS)]
    for each in projects:  # every project starts the year with some capital of each source
        for source in SOURCES:
            allocate_capital(plan, each, 10 * BILLION, rules, source=source, on=date(2025, 1, 2))

    for move in moves_drawn:
        before = [state_of(aggregate) for aggregate in (plan, *projects)]
        try:
            _command(move, plan, projects, rules)()
        except EXPECTED_REFUSALS as refusal:
            event(f"{move.kind} refused: {type(refusal).__name__}")
            assert [state_of(aggregate) for aggregate in (plan, *projects)] == before
        else:
            event(f"{move.kind} accepted")
        _assert_capital_conserved(plan, projects)

    # What was accepted is all in the events: replaying them gives the same plan and projects.
    assert _rebuilt(plan, CapitalPlan) == state_of(plan)["state"]
    for each in projects:
        assert _rebuilt(each, Project) == state_of(each)["state"]


def _rebuilt(aggregate: CapitalPlan | Project, kind: type[CapitalPlan | Project]) -> object:
    return state_of(replay(list(aggregate.pending_events), kind))["state"]
