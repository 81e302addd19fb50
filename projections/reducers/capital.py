"""Reducers of capital on a project's allocation lines: allocation, transfer, cut, extension,
lapse. Each returns the line as the domain now holds it and the movement facts of the change."""

from __future__ import annotations

from capledger.application.published import PublishedEvent

from ..context import Context
from ..events import amount, iso_date
from ..rows import Movement
from .common import (
    Reducer,
    Rows,
    current_project,
    existing_line,
    extend,
    line_for,
    movements,
    release_extension,
)


def capital_allocated(event: PublishedEvent, ctx: Context) -> Rows:
    return _capital_received(event, ctx, Movement.ALLOCATED)


def transferred_in(event: PublishedEvent, ctx: Context) -> Rows:
    return _capital_received(event, ctx, Movement.TRANSFERRED_IN)


def _capital_received(event: PublishedEvent, ctx: Context, kind: Movement) -> Rows:
    project = current_project(event, ctx)
    line = line_for(event, ctx, project.project_code)
    received = amount(event.data)
    line = line.evolve(**{kind.value: getattr(line, kind.value) + received})
    changes = [(kind, received)]
    auto_until = event.data.get("auto_extended_until")
    if auto_until is not None:
        line = extend(line, received, iso_date(auto_until))
        changes.append((Movement.EXTENDED, received))
    return [line, *movements(event, project, line, changes)]


def transferred_out(event: PublishedEvent, ctx: Context) -> Rows:
    return _capital_removed(event, ctx, Movement.TRANSFERRED_OUT)


def allocation_cut(event: PublishedEvent, ctx: Context) -> Rows:
    return _capital_removed(event, ctx, Movement.CUT)


def _capital_removed(event: PublishedEvent, ctx: Context, kind: Movement) -> Rows:
    project = current_project(event, ctx)
    line = existing_line(event, ctx, project.project_code)
    removed = amount(event.data)
    line = line.evolve(**{kind.value: getattr(line, kind.value) + removed})
    line, released = release_extension(line)
    changes = [(kind, removed), (Movement.EXTENDED, -released)]
    return [line, *movements(event, project, line, changes)]


def period_extended(event: PublishedEvent, ctx: Context) -> Rows:
    project = current_project(event, ctx)
    extended = amount(event.data)
    line = extend(
        existing_line(event, ctx, project.project_code), extended, iso_date(event.data["until"])
    )
    return [line, *movements(event, project, line, [(Movement.EXTENDED, extended)])]


def capital_lapsed(event: PublishedEvent, ctx: Context) -> Rows:
    project = current_project(event, ctx)
    lapsed = amount(event.data)
    line = existing_line(event, ctx, project.project_code)
    line = line.evolve(lapsed=line.lapsed + lapsed)
    return [line, *movements(event, project, line, [(Movement.LAPSED, lapsed)])]


REDUCERS: dict[str, Reducer] = {
    "Project.CapitalAllocated": capital_allocated,
    "Project.CapitalTransferredIn": transferred_in,
    "Project.CapitalTransferredOut": transferred_out,
    "Project.AllocationCut": allocation_cut,
    "Project.DisbursementPeriodExtended": period_extended,
    "Project.CapitalLapsed": capital_lapsed,
}
