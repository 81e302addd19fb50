"""Reducers of ``CapitalPlan`` events: plans, their envelopes per version, allocated capital."""

from __future__ import annotations

from capledger.application.published import PublishedEvent

from ..context import Context
from ..events import MissingContext, amount, amounts, iso_date, recording
from ..rows import PlanEnvelopeRow, PlanRow, PlanSourceRow, PlanVersionRow
from .common import Reducer, Rows, decision_fields, plan_code


def approved(event: PublishedEvent, ctx: Context) -> Rows:
    data, code = event.data, plan_code(event)
    plan = PlanRow(
        plan_code=code,
        title=str(data["title"]),
        kind=str(data["kind"]),
        authority=str(data["authority"]),
        jurisdiction=str(data["jurisdiction"]),
        start_year=int(data["start_year"]),
        end_year=int(data["end_year"]),
        implements=data.get("implements"),
        plan_version=1,
        approved_on=iso_date(data["effective_on"]),
    )
    return [plan, *_version(event, ctx, code, 1, reason=None)]


def adjusted(event: PublishedEvent, ctx: Context) -> Rows:
    plan = _plan(event, ctx)
    version = plan.plan_version + 1
    reason = str(event.data["reason"])
    return [
        plan.evolve(plan_version=version),
        *_version(event, ctx, plan.plan_code, version, reason=reason),
    ]


def capital_allocated(event: PublishedEvent, ctx: Context) -> Rows:
    return [_allocated_change(event, ctx, amount(event.data))]


def capital_returned(event: PublishedEvent, ctx: Context) -> Rows:
    return [_allocated_change(event, ctx, -amount(event.data))]


def _version(
    event: PublishedEvent, ctx: Context, code: str, version: int, *, reason: str | None
) -> Rows:
    """The version row, its envelope per source, and each source's current envelope."""
    envelopes = amounts(event.data["envelopes"])
    number, issued_on, issuer = decision_fields(event.data)
    recorded_at, recorded_on = recording(event)
    version_row = PlanVersionRow(
        plan_code=code,
        plan_version=version,
        effective_on=iso_date(event.data["effective_on"]),
        recorded_at=recorded_at,
        recorded_on=recorded_on,
        decision_no=number,
        decision_issued_on=issued_on,
        decision_issuer=issuer,
        reason=reason,
        envelope_total=sum(envelopes.values()),
        position=event.position,
    )
    rows: Rows = [version_row]
    for source, envelope in sorted(envelopes.items()):
        rows.append(PlanEnvelopeRow(code, version, source, envelope))
        current = ctx.get(PlanSourceRow, (code, source)) or PlanSourceRow(code, source)
        rows.append(current.evolve(envelope=envelope))
    return rows


def _plan(event: PublishedEvent, ctx: Context) -> PlanRow:
    code = plan_code(event)
    plan = ctx.get(PlanRow, (code,))
    if plan is None:
        raise MissingContext(f"{event.name} at position {event.position}: no plan {code}")
    return plan


def _allocated_change(event: PublishedEvent, ctx: Context, change: int) -> PlanSourceRow:
    code, source = plan_code(event), str(event.data["source"])
    current = ctx.get(PlanSourceRow, (code, source))
    if current is None:
        raise MissingContext(
            f"{event.name} at position {event.position}: plan {code} has no source {source}"
        )
    return current.evolve(allocated=current.allocated + change)


REDUCERS: dict[str, Reducer] = {
    "CapitalPlan.Approved": approved,
    "CapitalPlan.Adjusted": adjusted,
    "CapitalPlan.CapitalAllocated": capital_allocated,
    "CapitalPlan.CapitalReturned": capital_returned,
}
