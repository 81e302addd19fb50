"""Reducers of cash: contracts, advances, payments for completed work and their reversals.

``disbursed`` is net cash, as in the domain: advances plus work payments minus the advance they
recover. ``advances_outstanding`` moves with the line that pays: up by an advance, down by the
recovery a later payment makes (which may draw on another plan's line, so one plan's figure can
be negative while the project's total is right).
"""

from __future__ import annotations

from capledger.application.published import PublishedEvent

from ..context import Context
from ..events import MissingContext, ProjectionError, amount, iso_date
from ..rows import ContractRow, EntryRow, LineRow, Movement, ProjectRow
from .common import Reducer, Rows, current_project, existing_line, movements

ADVANCE = "advance"
COMPLETED_WORK = "completed_work"


def contract_signed(event: PublishedEvent, ctx: Context) -> Rows:
    project = current_project(event, ctx)
    return [
        ContractRow(
            project_code=project.project_code,
            contract_no=str(event.data["contract_no"]),
            contractor=str(event.data["contractor"]),
            value=amount(event.data, "value"),
            signed_on=iso_date(event.data["effective_on"]),
        )
    ]


def advance_paid(event: PublishedEvent, ctx: Context) -> Rows:
    project = current_project(event, ctx)
    entry = _entry(event, project, ADVANCE, recovered=0)
    contract = _contract(event, ctx, project, entry.contract_no)
    if contract is None:
        raise ProjectionError(f"the advance at position {event.position} names no contract")
    contract = contract.evolve(
        advanced=contract.advanced + entry.amount,
        advance_outstanding=contract.advance_outstanding + entry.amount,
    )
    line = existing_line(event, ctx, project.project_code)
    return _book(event, project, line, entry, contract, sign=1)


def completed_work_paid(event: PublishedEvent, ctx: Context) -> Rows:
    project = current_project(event, ctx)
    entry = _entry(event, project, COMPLETED_WORK, amount(event.data, "advance_recovered"))
    contract = _contract(event, ctx, project, entry.contract_no)
    if contract is not None:
        contract = contract.evolve(
            completed_paid=contract.completed_paid + entry.amount,
            advance_outstanding=contract.advance_outstanding - entry.advance_recovered,
        )
    line = existing_line(event, ctx, project.project_code)
    return _book(event, project, line, entry, contract, sign=1)


def entry_reversed(event: PublishedEvent, ctx: Context) -> Rows:
    project = current_project(event, ctx)
    version = int(event.data["entry_version"])
    entry = ctx.get(EntryRow, (project.project_code, version))
    if entry is None or entry.reversed_by is not None:
        raise MissingContext(
            f"{event.name} at position {event.position}: project {project.project_code} has "
            f"no unreversed entry at version {version}"
        )
    contract = _contract(event, ctx, project, entry.contract_no)
    if contract is not None and entry.kind == ADVANCE:
        contract = contract.evolve(
            advanced=contract.advanced - entry.amount,
            advance_outstanding=contract.advance_outstanding - entry.amount,
        )
    elif contract is not None:
        contract = contract.evolve(
            completed_paid=contract.completed_paid - entry.amount,
            advance_outstanding=contract.advance_outstanding + entry.advance_recovered,
        )
    line = ctx.get(LineRow, (project.project_code, entry.plan_code, entry.source))
    if line is None:
        raise MissingContext(f"the entry at version {version} points at a missing line")
    reversed_entry = entry.evolve(reversed_by=event.stream_version)
    return _book(event, project, line, reversed_entry, contract, sign=-1)


def _entry(event: PublishedEvent, project: ProjectRow, kind: str, recovered: int) -> EntryRow:
    data = event.data
    return EntryRow(
        project_code=project.project_code,
        stream_version=event.stream_version,
        position=event.position,
        kind=kind,
        plan_code=str(data["plan_code"]),
        source=str(data["source"]),
        contract_no=data.get("contract_no"),
        amount=amount(data),
        advance_recovered=recovered,
        from_extension=bool(data["from_extension"]),
        effective_on=iso_date(data["effective_on"]),
    )


def _contract(
    event: PublishedEvent, ctx: Context, project: ProjectRow, contract_no: str | None
) -> ContractRow | None:
    if contract_no is None:
        return None
    contract = ctx.get(ContractRow, (project.project_code, contract_no))
    if contract is None:
        raise MissingContext(
            f"{event.name} at position {event.position}: project {project.project_code} has "
            f"no contract {contract_no}"
        )
    return contract


def _book(
    event: PublishedEvent,
    project: ProjectRow,
    line: LineRow,
    entry: EntryRow,
    contract: ContractRow | None,
    *,
    sign: int,
) -> Rows:
    """Apply an entry (sign 1) or its reversal (sign -1) to its line, with movement facts."""
    net = sign * entry.net
    advances = sign * (entry.amount if entry.kind == ADVANCE else -entry.advance_recovered)
    line = line.evolve(
        disbursed=line.disbursed + net,
        advances_outstanding=line.advances_outstanding + advances,
        disbursed_after_deadline=line.disbursed_after_deadline
        + (net if entry.from_extension else 0),
    )
    facts = movements(
        event,
        project,
        line,
        [(Movement.DISBURSED, net), (Movement.ADVANCES_OUTSTANDING, advances)],
        from_extension=entry.from_extension,
        correction=sign < 0,
        entry_version=entry.stream_version,
    )
    rows: Rows = [line, entry, *facts]
    if contract is not None:
        rows.append(contract)
    return rows


REDUCERS: dict[str, Reducer] = {
    "Project.ContractSigned": contract_signed,
    "Project.AdvancePaid": advance_paid,
    "Project.CompletedWorkPaid": completed_work_paid,
    "Project.EntryReversed": entry_reversed,
}
