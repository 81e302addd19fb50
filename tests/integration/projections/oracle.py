"""What the read model must hold, recomputed without the reducers.

Two recomputations: the domain's own aggregates replayed from the store (every balance of every
allocation line, contract and plan), and a plain sum over the raw published events (net cash
per project, every reversal taking back the entry it names).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from capledger.application.ledger import Ledger
from capledger.application.published import publish
from capledger.projections import ReadModelStore
from capledger.projections.rows import ContractRow, LineRow, PlanSourceRow, ProjectRow

from .support import rows


def domain_lines(
    ledger: Ledger, projects: list[str]
) -> dict[tuple[str, str, str], tuple[Any, ...]]:
    found = {}
    for code in projects:
        for line in ledger.project(code).lines.values():
            until = None if line.extended_until is None else line.extended_until.isoformat()
            found[code, line.plan_code, line.source] = (
                line.allocated, line.transferred_in, line.transferred_out, line.cut,
                line.disbursed, line.lapsed, line.extended, line.disbursed_after_deadline, until,
            )  # fmt: skip
    return found


def model_lines(read_model: ReadModelStore) -> dict[tuple[str, str, str], tuple[Any, ...]]:
    return {
        row.key(): (
            row.allocated,
            row.transferred_in,
            row.transferred_out,
            row.cut,
            row.disbursed,
            row.lapsed,
            row.extended,
            row.disbursed_after_deadline,
            row.extended_until,
        )
        for row in rows(read_model, LineRow)
    }


def raw_net_cash(ledger: Ledger) -> Counter[str]:
    """Net cash per project, summed straight from the published events."""
    entries: dict[tuple[str, int], int] = {}
    cash: Counter[str] = Counter()
    for note in ledger.recorder.select_notifications(1, 10**9):
        event = publish(note.id, note.originator_id, note.originator_version, note.topic,
                        note.state)  # type: ignore[arg-type]  # fmt: skip
        code = event.subject_code or ""
        if event.name == "Project.AdvancePaid":
            entries[code, event.stream_version] = event.data["amount"]
        elif event.name == "Project.CompletedWorkPaid":
            net = event.data["amount"] - event.data["advance_recovered"]
            entries[code, event.stream_version] = net
        elif event.name == "Project.EntryReversed":
            cash[code] -= entries[code, event.data["entry_version"]]
            continue
        else:
            continue
        cash[code] += entries[code, event.stream_version]
    return cash


def assert_matches_ledger(
    ledger: Ledger, read_model: ReadModelStore, projects: list[str], plans: list[str]
) -> None:
    assert model_lines(read_model) == domain_lines(ledger, projects)

    model_cash: Counter[str] = Counter()
    for line in rows(read_model, LineRow):
        model_cash[line.project_code] += line.disbursed
    assert +model_cash == +raw_net_cash(ledger)

    contracts = {row.key(): row for row in rows(read_model, ContractRow)}
    outstanding: Counter[str] = Counter()
    for line in rows(read_model, LineRow):
        outstanding[line.project_code] += line.advances_outstanding
    for code in projects:
        project = ledger.project(code)
        record = next(row for row in rows(read_model, ProjectRow) if row.project_code == code)
        assert (record.investor_code, record.total_investment, record.status) == (
            project.investor_code, project.total_investment, project.status
        )  # fmt: skip
        assert record.settled_value == project.settled_value
        for number, contract in project.contracts.items():
            row = contracts[code, number]
            assert (row.advanced, row.advance_outstanding, row.completed_paid) == (
                contract.advanced, contract.advance_outstanding, contract.completed_paid
            )  # fmt: skip
        assert outstanding[code] == sum(c.advance_outstanding for c in project.contracts.values())

    assert_capital_conserved(ledger, read_model, plans)


def assert_capital_conserved(ledger: Ledger, read_model: ReadModelStore, plans: list[str]) -> None:
    """allocated + unallocated = envelope per plan and source, and what a plan counts as
    allocated is what its projects' lines hold (transfers move it, cuts return it)."""
    given: Counter[tuple[str, str]] = Counter()
    for line in rows(read_model, LineRow):
        given[line.plan_code, line.source] += line.capital
    sources = {row.key(): row for row in rows(read_model, PlanSourceRow)}
    for code in plans:
        plan = ledger.plan(code)
        for source, envelope in plan.envelopes.items():
            row = sources[code, source]
            assert (row.envelope, row.allocated) == (envelope, plan.allocated[source])
            assert row.allocated + row.unallocated == row.envelope
            assert row.unallocated == plan.unallocated(source) >= 0
            assert row.allocated == given[code, source]
