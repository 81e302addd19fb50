"""Builders of plans, projects and decisions for the domain's unit tests.

They work on aggregates the test holds, with no event store. A movement (an allocation touches
the project and the plan, a transfer two projects) runs the ledger's own handler over a unit of
work of those aggregates (:class:`HeldAggregates`), which keeps every change or none.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any, TypeVar
from uuid import UUID

import pytest
from eventsourcing.domain import Aggregate

from capledger.application.commands import (
    Allocate,
    Command,
    Cut,
    PayAdvance,
    PayCompletedWork,
    Transfer,
)
from capledger.application.errors import UnknownPlan, UnknownProject
from capledger.application.handlers import HANDLERS
from capledger.bootstrap import load_rules
from capledger.domain import (
    CapitalPlan,
    Decision,
    DomainError,
    Project,
    RuleBook,
)
from capledger.domain.ids import plan_id, project_id

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
        decision=decision("123/QĐ-UBND", date(2020, 6, 1)),
        effective_on=date(2020, 6, 1),
    )


class HeldAggregates:
    """A unit of work over the aggregates a test holds, for the ledger's real handlers.

    ``run(command)`` calls the command's handler (``HANDLERS``), which loads the aggregates it
    touches from here. Like the ledger, which discards the aggregates of a refused command
    instead of saving them, a refusal leaves every held aggregate as it was; an aggregate that
    changed without recording an event must be the one that refused, and that is a bug.
    """

    def __init__(self, rules: RuleBook, *aggregates: Aggregate) -> None:
        self._rules = rules
        self._held: dict[UUID, Aggregate] = {each.id: each for each in aggregates}

    @property
    def rules(self) -> RuleBook:
        return self._rules

    def project(self, code: str) -> Project:
        return self._one(Project, project_id(code), f"project {code}", UnknownProject)

    def plan(self, code: str) -> CapitalPlan:
        return self._one(CapitalPlan, plan_id(code), f"plan {code}", UnknownPlan)

    def exists(self, aggregate_id: UUID) -> bool:
        return aggregate_id in self._held

    def add(self, aggregate: A, label: str) -> A:
        self._held[aggregate.id] = aggregate
        return aggregate

    def run(self, command: Command) -> None:
        saved = {
            aggregate_id: (_copy_state(each), list(each.pending_events))
            for aggregate_id, each in self._held.items()
        }
        try:
            HANDLERS[type(command)](command, self)
        except DomainError:
            for aggregate_id, (state, pending) in saved.items():
                each = self._held[aggregate_id]
                if len(each.pending_events) == len(pending):
                    assert _copy_state(each) == state, "a refused command changed its aggregate"
                vars(each).clear()
                vars(each).update(state)
                vars(each)["_pending_events"] = pending
            raise

    def _one(self, kind: type[A], aggregate_id: UUID, label: str, missing: type[Exception]) -> A:
        held = self._held.get(aggregate_id)
        if not isinstance(held, kind):
            raise missing(f"the test holds no {label}")
        return held


def _decided(on: date) -> dict[str, Any]:
    """A command's decision fields: the default decision, issued and effective on ``on``."""
    taken = decision(issued_on=on)
    return {
        "decision_no": taken.number,
        "decision_date": taken.issued_on,
        "decision_issuer": taken.issuer,
        "effective_on": on,
    }


def allocate(
    plan: CapitalPlan,
    target: Project,
    amount: int,
    rules: RuleBook,
    *,
    source: str = CENTRAL,
    on: date = date(YEAR, 1, 2),
) -> None:
    """Allocate capital through the ledger's handler: the project receives it, the plan
    records it."""
    HeldAggregates(rules, plan, target).run(
        Allocate(
            plan_code=plan.code, project_code=target.code, source=source, amount=amount,
            **_decided(on),
        )
    )  # fmt: skip


def transfer(
    donor: Project,
    recipient: Project,
    amount: int,
    rules: RuleBook,
    *,
    plan_code: str = PLAN,
    source: str = CENTRAL,
    on: date = date(YEAR, 7, 1),
    plan: CapitalPlan | None = None,
) -> None:
    """Transfer capital between two projects of one plan and source, through the handler
    (``plan`` held too when given: a line the donor lacks is then not an unknown plan)."""
    held = (donor, recipient) if plan is None else (donor, recipient, plan)
    HeldAggregates(rules, *held).run(
        Transfer(
            plan_code=plan_code, source=source, from_project=donor.code,
            to_project=recipient.code, amount=amount, **_decided(on),
        )
    )  # fmt: skip


def cut(
    plan: CapitalPlan,
    target: Project,
    amount: int | None,
    *,
    source: str = CENTRAL,
    on: date = date(YEAR, 7, 1),
    rules: RuleBook | None = None,
) -> int:
    """Cut a project's undisbursed allocation back to the plan, through the handler; returns
    the amount cut (what the plan took back)."""
    HeldAggregates(rules or load_rules(), plan, target).run(
        Cut(
            plan_code=plan.code, project_code=target.code, source=source,
            reason="không thể triển khai", amount=amount, **_decided(on),
        )
    )  # fmt: skip
    taken_back: int = plan.pending_events[-1].amount  # type: ignore[attr-defined]
    return taken_back


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
    """Pay for completed work through the handler; returns the version of the payment's event."""
    HeldAggregates(rules, target).run(
        PayCompletedWork(
            project_code=target.code, plan_code=plan_code, source=source, amount=amount,
            treasury_ref=f"KBNN-{on.isoformat()}-{amount}", effective_on=on,
            contract_no=contract_no, advance_recovered=advance_recovered,
        )
    )  # fmt: skip
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
    """Pay an advance on a contract through the handler; returns the version of its event."""
    HeldAggregates(rules, target).run(
        PayAdvance(
            project_code=target.code, contract_no=contract_no, plan_code=plan_code,
            source=source, amount=amount, treasury_ref=f"KBNN-TU-{on.isoformat()}-{amount}",
            effective_on=on,
        )
    )  # fmt: skip
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
