"""Invariants in effective time, through the ledger on each store: random sequences of backdated
and current movements and corrections (reversals of payments, corrections of allocations, cuts
and transfers, from either side) never leave a line with negative undisbursed capital, a payment
larger than the capital then held, or a plan with negative unallocated capital, at any
effective date.

The oracle is not the aggregate that judged the commands: after each sequence the projects'
state at every effective date is rebuilt by the history service from the published events, and
the plan's unallocated capital is summed from its published events by effective date.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from itertools import count

import pytest
from builders import (
    BILLION,
    CENTRAL,
    YEAR,
    allocate,
    approve_annual_plan,
    cut,
    decision,
    pay,
    register_project,
    transfer,
)
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from capledger.application.commands import ReverseEntry
from capledger.application.errors import ApplicationError
from capledger.application.ledger import Ledger
from capledger.application.published import publish
from capledger.domain import DomainError, plan_id
from capledger.projections.history import ProjectHistory

pytestmark = pytest.mark.integration

FIRST_DAY = date(YEAR - 1, 12, 1)  # a month before the fiscal year: some moves are refused
DAYS = 300
KINDS = ("allocate", "pay", "cut", "transfer", "reverse", "correct")


@dataclass(frozen=True)
class Move:
    kind: str
    amount_bn: int
    day: int  # days after FIRST_DAY


moves = st.lists(
    st.builds(
        Move,
        kind=st.sampled_from(KINDS),
        amount_bn=st.integers(min_value=1, max_value=60),
        day=st.integers(min_value=0, max_value=DAYS),
    ),
    min_size=1,
    max_size=16,
)
projects = count(1)


@pytest.fixture
def planned(ledger: Ledger) -> Ledger:
    approve_annual_plan(ledger)
    return ledger


def play(ledger: Ledger, plan: str, code: str, other: str, sequence: list[Move]) -> int:
    """Run the moves; refusals are expected (that is the point). Returns how many were taken."""
    payments: list[int] = []
    # Capital movements worth correcting, by project and version (a transfer from both sides).
    movements: list[tuple[str, int]] = []
    taken = 0
    for move in sequence:
        on = FIRST_DAY + timedelta(days=move.day)
        amount = move.amount_bn * BILLION
        try:
            if move.kind == "allocate":
                outcome = allocate(ledger, project_code=code, amount=amount, on=on, plan_code=plan)
                movements.append((code, outcome.streams[f"project:{code}"]))
            elif move.kind == "pay":
                outcome = pay(ledger, project_code=code, amount=amount, on=on, plan_code=plan)
                payments.append(outcome.streams[f"project:{code}"])
            elif move.kind == "cut":
                outcome = cut(ledger, project_code=code, amount=amount, on=on, plan_code=plan)
                movements.append((code, outcome.streams[f"project:{code}"]))
            elif move.kind == "transfer":
                outcome = transfer(
                    ledger, from_project=code, to_project=other, amount=amount, on=on,
                    plan_code=plan,
                )  # fmt: skip
                movements.append((code, outcome.streams[f"project:{code}"]))
                movements.append((other, outcome.streams[f"project:{other}"]))
            elif move.kind == "correct" and movements:
                project, entry = movements[move.amount_bn % len(movements)]
                ledger.execute(
                    ReverseEntry(
                        project_code=project, entry_version=entry, reason="ghi sai",
                        effective_on=on, **decision("77/QĐ-UBND", on),
                    ),
                    command_id=f"correct-{project}-{entry}-{on}",
                )  # fmt: skip
            elif move.kind == "reverse" and payments:
                entry = payments[move.amount_bn % len(payments)]
                ledger.execute(
                    ReverseEntry(
                        project_code=code, entry_version=entry, reason="nhập sai", effective_on=on
                    ),
                    command_id=f"reverse-{code}-{entry}-{on}",
                )
            else:
                continue
            taken += 1
        except (DomainError, ApplicationError):
            continue
    return taken


def plan_unallocated_by_date(ledger: Ledger, plan: str) -> list[tuple[date, int]]:
    """The plan's unallocated central-budget capital at the end of each effective date on
    which it changed, summed from its published events (not from the aggregate)."""
    changes: dict[date, int] = {}
    envelope = 0
    for stored in ledger.recorder.select_events(plan_id(plan)):
        event = publish(0, stored.originator_id, stored.originator_version, stored.topic,
                        stored.state)  # fmt: skip
        data, kind = event.data, event.name.rpartition(".")[2]
        day = date.fromisoformat(data["effective_on"])
        if kind in ("Approved", "Adjusted"):
            # An envelope replaces the one before it: the change is the difference.
            new_envelope = int(data["envelopes"].get(CENTRAL, 0))
            changes[day] = changes.get(day, 0) + new_envelope - envelope
            envelope = new_envelope
        elif data.get("source") == CENTRAL:
            sign = -1 if kind == "CapitalAllocated" else 1
            changes[day] = changes.get(day, 0) + sign * int(data["amount"])
    total, result = 0, []
    for day in sorted(changes):
        total += changes[day]
        result.append((day, total))
    return result


@hypothesis_settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(sequence=moves)
def test_no_effective_date_shows_a_negative_balance_or_an_over_disbursement(
    planned: Ledger, sequence: list[Move]
) -> None:
    number = next(projects)
    code, other = f"DA-T{number}", f"DA-T{number}-B"
    for each in (code, other):
        register_project(planned, code=each, total_investment=10_000 * BILLION)
    # A plan of its own, small enough that allocations and corrections of cuts run it dry.
    plan = f"KHV-T{number}"
    approve_annual_plan(planned, code=plan, envelopes={CENTRAL: 300 * BILLION})
    play(planned, plan, code, other, sequence)

    history = ProjectHistory(planned.recorder)
    days = sorted({FIRST_DAY + timedelta(days=move.day) for move in sequence})
    for day in [*days, date(YEAR, 12, 31)]:
        for project in (code, other):
            state = history.state_by_effective_date(project, day)
            assert state is not None
            for line in state.lines:
                figures = line.balance
                assert figures.undisbursed >= 0, (project, day, line)
                assert 0 <= figures.disbursed <= figures.capital, (project, day, line)
                assert figures.capital >= 0, (project, day, line)
    for day, unallocated in plan_unallocated_by_date(planned, plan):
        assert unallocated >= 0, (day, unallocated)


def test_a_payment_dated_before_its_allocation_is_refused_at_that_date(planned: Ledger) -> None:
    register_project(planned)
    allocate(planned, amount=100 * BILLION, on=date(YEAR, 6, 1))

    with pytest.raises(DomainError, match=f"on {YEAR}-05-01") as refused:
        pay(planned, amount=3 * BILLION, on=date(YEAR, 5, 1))

    assert refused.value.code == "over-disbursement"
    history = ProjectHistory(planned.recorder)
    before = history.state_by_effective_date("DA-001", date(YEAR, 5, 15))
    after = history.state_by_effective_date("DA-001", date(YEAR, 6, 1))
    assert before is not None and before.totals.disbursed == 0
    assert after is not None and after.totals.undisbursed == 100 * BILLION
