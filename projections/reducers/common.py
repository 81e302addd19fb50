"""Helpers shared by the reducers: finding a stream's rows and writing movement facts."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from capledger.application.published import PublishedEvent
from capledger.domain.capital import extension_released

from ..context import Context
from ..events import MissingContext, days_between, iso_date, recording, subject_code
from ..rows import LineRow, Movement, MovementRow, ProjectRow, Row

Rows = list[Row]
Reducer = Callable[[PublishedEvent, Context], Rows]


def project_code(event: PublishedEvent) -> str:
    code = _PROJECT_CODES.get(event.subject)  # type: ignore[arg-type]
    if code is None:
        code = subject_code(event, "project")  # checked (or the error)
        if len(_PROJECT_CODES) >= _MAX_CACHED:
            _PROJECT_CODES.clear()
        _PROJECT_CODES[event.subject] = code  # type: ignore[index]
    return code


#: ``project:<code>`` → code: a plain lookup on the hot path, emptied when it grows too big.
_PROJECT_CODES: dict[str, str] = {}
_MAX_CACHED = 65_536


def plan_code(event: PublishedEvent) -> str:
    return subject_code(event, "plan")


def current_project(event: PublishedEvent, ctx: Context) -> ProjectRow:
    code = project_code(event)
    project = ctx.get(ProjectRow, (code,))
    if project is None:
        raise MissingContext(
            f"{event.name} at position {event.position}: project {code} was never registered"
        )
    return project


def existing_line(event: PublishedEvent, ctx: Context, code: str) -> LineRow:
    plan, source = event.data["plan_code"], event.data["source"]
    line = ctx.get(LineRow, (code, plan, source))
    if line is None:
        raise MissingContext(
            f"{event.name} at position {event.position}: project {code} has no allocation "
            f"from plan {plan} ({source})"
        )
    return line


def line_for(event: PublishedEvent, ctx: Context, code: str) -> LineRow:
    """The line an allocation or a transfer in lands on, opened if it is new."""
    data = event.data
    line = ctx.get(LineRow, (code, data["plan_code"], data["source"]))
    if line is not None:
        return line
    return LineRow(
        project_code=code,
        plan_code=data["plan_code"],
        source=data["source"],
        plan_kind=data["plan_kind"],
        fiscal_year=int(data["fiscal_year"]),
    )


def extend(line: LineRow, amount: int, until: str) -> LineRow:
    latest = until if line.extended_until is None else max(line.extended_until, until)
    return line.evolve(extended=line.extended + amount, extended_until=latest)


def release_extension(line: LineRow) -> tuple[LineRow, int]:
    """Capital moved away cannot stay earmarked for the extended period (as the domain does)."""
    excess = extension_released(line.extended_remaining, line.undisbursed)
    if not excess:
        return line, 0
    return line.evolve(extended=line.extended - excess), excess


def movements(
    event: PublishedEvent,
    project: ProjectRow,
    line: LineRow,
    changes: Iterable[tuple[Movement, int]],
    *,
    from_extension: bool = False,
    correction: bool = False,
    entry_version: int | None = None,
) -> list[MovementRow]:
    """Movement facts of one event on one line; zero changes are left out."""
    effective_on = iso_date(event.data["effective_on"])
    recorded_at, recorded_on = recording(event)
    lateness_days = days_between(effective_on, recorded_on)
    facts: list[MovementRow] = []
    for kind, amount in changes:
        if amount:
            # The most numerous rows (one or two per payment): built without the class call.
            facts.append(
                MovementRow(
                    position=event.position,
                    seq=len(facts),
                    project_code=line.project_code,
                    plan_code=line.plan_code,
                    source=line.source,
                    fiscal_year=line.fiscal_year,
                    kind=_KIND_TEXT[kind],
                    amount=amount,
                    effective_on=effective_on,
                    recorded_at=recorded_at,
                    recorded_on=recorded_on,
                    lateness_days=lateness_days,
                    from_extension=from_extension,
                    correction=correction,
                    entry_version=entry_version,
                    investor_code=project.investor_code,
                )
            )
    return facts


#: The plain text of each kind of movement (what a row holds), without the enum's lookup.
_KIND_TEXT: dict[Movement, str] = {kind: kind.value for kind in Movement}


def decision_fields(data: dict[str, Any]) -> tuple[str, str, str]:
    decision = data["decision"]
    return str(decision["number"]), iso_date(decision["issued_on"]), str(decision["issuer"])
