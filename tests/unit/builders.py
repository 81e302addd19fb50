"""Builders of plans, projects and decisions for the domain's unit tests.

They work on aggregates directly, with no event store. A movement that touches two aggregates
(an allocation touches the project and the plan, a transfer two projects) calls their commands
in the ledger's order and, like the ledger's unit of work, keeps both changes or neither.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any, TypeVar

import pytest
from eventsourcing.domain import Aggregate

from capledger.bootstrap import load_rules
from capledger.domain import (
    AllocationLine,
    CapitalPlan,
    Decision,
    DomainError,
    Project,
    RuleBook,
)

CENTRAL = "central_budget"
LOCAL = "local_budget"
LAND = "land_use_revenue"
ODA = "oda"

BILLION = 10**9
YEAR = 2025
PLAN = "HN-KHV-2025"

E = TypeVar("E", bound=DomainError)
A = TypeVar("A", bound=Aggregate)


def decision(
    number: str = "5678/QĐ-UBND", issued_on: date = date(2025, 1, 2), issuer: str = "UBND Hà Nội"
) -> Decision:
    return Decision(number=number, issued_on=issued_on, issuer=issuer)


def annual_plan(
    code: str = PLAN,
    year: int = YEAR,
    envelopes: Mapping[str, int] | None = None,
    authority: str = "provincial_council",
) -> CapitalPlan:
    return CapitalPlan.approve(
        code=code,
        title=f"Kế hoạch vốn năm {year}",
        kind="annual",
        authority=authority,
        jurisdiction="HN",
        start_year=year,
        end_year=year,
        envelopes=dict(envelopes)
        if envelopes is not None
        else {CENTRAL: 1_000 * BILLION, LOCAL: 500 * BILLION},
        decision=decision(issued_on=date(year - 1, 12, 10)),
        effective_on=date(year, 1, 1),
    )


def medium_term_plan(
    code: str = "HN-TH-2021-2025",
    start_year: int = 2021,
    envelopes: Mapping[str, int] | None = None,
) -> CapitalPlan:
    return CapitalPlan.approve(
        code=code,
        title=f"Kế hoạch đầu tư công trung hạn {start_year}-{start_year + 4}",
        kind="medium_term",
        authority="provincial_council",
        jurisdiction="HN",
        start_year=start_year,
        end_year=start_year + 4,
        envelopes=dict(envelopes) if envelopes is not None else {CENTRAL: 5_000 * BILLION},
        decision=decision(issued_on=date(start_year - 1, 12, 10)),
        effective_on=date(start_year, 1, 1),
    )


def project(
    code: str = "P-001",
    total_investment: int = 2_000 * BILLION,
    investor_code: str = "BQLDA-GT",
    investor_name: str = "Ban QLDA đầu tư xây dựng công trình giao thông",
) -> Project:
    return Project.register(
        code=code,
        name=f"Dự án {code}",
        investor_code=investor_code,
        investor_name=investor_name,
        program="breakthrough-transport",
        sector="transport",
        province="HN",
        total_investment=total_investment,
        decision=decision("123/QĐ-UBND", date(2024, 6, 1)),
        effective_on=date(2024, 6, 1),
    )


def atomically(*steps: tuple[Aggregate, Callable[[], object]]) -> None:
    """Run the steps of one movement all or nothing, as the ledger's unit of work does.

    Each step is an aggregate and one of its commands. A command that refuses must leave its own
    aggregate unchanged (checked here); what the earlier steps changed is then discarded, as the
    ledger discards the aggregates of a failed command instead of saving them.
    """
    saved: list[tuple[Aggregate, dict[str, Any], list[Any]]] = []
    for aggregate, command in steps:
        saved.append((aggregate, _copy_state(aggregate), list(aggregate.pending_events)))
        before = state_of(aggregate)
        try:
            command()
        except DomainError:
            assert state_of(aggregate) == before, "a refused command changed its aggregate"
            for earlier, state, pending in saved:
                vars(earlier).clear()
                vars(earlier).update(state)
                vars(earlier)["_pending_events"] = pending
            raise


def allocate(
    plan: CapitalPlan,
    target: Project,
    amount: int,
    rules: RuleBook,
    *,
    source: str = CENTRAL,
    on: date = date(YEAR, 1, 2),
) -> None:
    """Allocate capital as the ledger does: the project receives it, the plan records it."""
    atomically(
        (
            target,
            lambda: target.receive_allocation(
                plan_code=plan.code,
                plan_kind=plan.kind,
                fiscal_year=plan.fiscal_year,
                source=source,
                amount=amount,
                decision=decision(issued_on=on),
                effective_on=on,
                rules=rules,
            ),
        ),
        (
            plan,
            lambda: plan.allocate(
                project_code=target.code,
                source=source,
                amount=amount,
                decision=decision(issued_on=on),
                effective_on=on,
            ),
        ),
    )


def transfer(
    donor: Project,
    recipient: Project,
    amount: int,
    rules: RuleBook,
    *,
    plan_code: str = PLAN,
    source: str = CENTRAL,
    on: date = date(YEAR, 7, 1),
) -> None:
    """Transfer capital between two projects of one plan and source, as the ledger does."""
    moved: list[AllocationLine] = []
    atomically(
        (
            donor,
            lambda: moved.append(
                donor.transfer_out(
                    plan_code=plan_code,
                    source=source,
                    amount=amount,
                    to_project=recipient.code,
                    decision=decision(issued_on=on),
                    effective_on=on,
                    rules=rules,
                )
            ),
        ),
        (
            recipient,
            lambda: recipient.transfer_in(
                from_line=moved[0],
                amount=amount,
                from_project=donor.code,
                decision=decision(issued_on=on),
                effective_on=on,
                rules=rules,
            ),
        ),
    )


def cut(
    plan: CapitalPlan,
    target: Project,
    amount: int | None,
    *,
    source: str = CENTRAL,
    on: date = date(YEAR, 7, 1),
    rules: RuleBook | None = None,
) -> int:
    """Cut a project's undisbursed allocation and return it to the plan, as the ledger does."""
    amounts_cut: list[int] = []
    atomically(
        (
            target,
            lambda: amounts_cut.append(
                target.cut(
                    plan_code=plan.code,
                    source=source,
                    amount=amount,
                    reason="không thể triển khai",
                    decision=decision(issued_on=on),
                    effective_on=on,
                    rules=rules or load_rules(),
                )
            ),
        ),
        (
            plan,
            lambda: plan.take_back(
                project_code=target.code,
                source=source,
                amount=amounts_cut[0],
                decision=decision(issued_on=on),
                effective_on=on,
            ),
        ),
    )
    return amounts_cut[0]


def pay(
    target: Project,
    amount: int,
    rules: RuleBook,
    *,
    on: date = date(YEAR, 6, 1),
    plan_code: str = PLAN,
    source: str = CENTRAL,
    contract_no: str | None = None,
    advance_recovered: int = 0,
) -> int:
    """Pay for completed work; returns the version of the payment's event."""
    target.pay_completed_work(
        plan_code=plan_code,
        source=source,
        amount=amount,
        treasury_ref=f"KBNN-{on.isoformat()}-{amount}",
        effective_on=on,
        rules=rules,
        contract_no=contract_no,
        advance_recovered=advance_recovered,
    )
    return target.version


def pay_advance(
    target: Project,
    contract_no: str,
    amount: int,
    rules: RuleBook,
    *,
    on: date = date(YEAR, 3, 1),
    plan_code: str = PLAN,
    source: str = CENTRAL,
) -> int:
    """Pay an advance on a contract; returns the version of the advance's event."""
    target.pay_advance(
        contract_no=contract_no,
        plan_code=plan_code,
        source=source,
        amount=amount,
        treasury_ref=f"KBNN-TU-{on.isoformat()}-{amount}",
        effective_on=on,
        rules=rules,
    )
    return target.version


def _copy_state(aggregate: Aggregate) -> dict[str, Any]:
    state = {key: value for key, value in vars(aggregate).items() if key != "_pending_events"}
    return copy.deepcopy(state)


def state_of(aggregate: Aggregate) -> dict[str, Any]:
    """A deep copy of everything an aggregate holds, pending events by identity."""
    return {
        "state": _copy_state(aggregate),
        "pending": [id(pending) for pending in aggregate.pending_events],
    }


def refused(error: type[E], command: Callable[[], object], *aggregates: Aggregate) -> E:
    """Run a command that must be refused with ``error``, and check it changed nothing."""
    assert aggregates, "name the aggregates the refused command must leave unchanged"
    before = [state_of(aggregate) for aggregate in aggregates]
    with pytest.raises(error) as raised:
        command()
    assert type(raised.value) is error, f"expected {error.__name__}, got {raised.value!r}"
    assert [state_of(aggregate) for aggregate in aggregates] == before
    return raised.value


def new_events(aggregate: Aggregate, since: int) -> list[Any]:
    """The pending events of ``aggregate`` after the first ``since`` of them."""
    return list(aggregate.pending_events[since:])


def replay(events: list[Any], kind: type[A]) -> A:
    """Rebuild an aggregate by applying its events in order onto nothing."""
    aggregate: A | None = None
    for domain_event in events:
        aggregate = domain_event.mutate(aggregate)
    assert isinstance(aggregate, kind)
    return aggregate
