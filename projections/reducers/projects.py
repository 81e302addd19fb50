"""Reducers of a project's record: registration, investor, status, total investment, settlement."""

from __future__ import annotations

from capledger.application.published import PublishedEvent

from ..context import Context
from ..events import amount, iso_date
from ..rows import ProjectRow
from .common import Reducer, Rows, current_project, project_code

ON_TRACK = "on_track"
SETTLED = "settled"


def registered(event: PublishedEvent, ctx: Context) -> Rows:
    code = project_code(event)
    data = event.data  # upcast to the current version by the published contract
    return [
        ProjectRow(
            project_code=code,
            name=str(data["name"]),
            investor_code=str(data["investor_code"]),
            investor_name=str(data["investor_name"]),
            program=str(data["program"]),
            sector=str(data["sector"]),
            province=str(data["province"]),
            total_investment=amount(data, "total_investment"),
            status=ON_TRACK,
            review_class=None,
            registered_on=iso_date(data["effective_on"]),
            settled_value=None,
        )
    ]


def total_investment_adjusted(event: PublishedEvent, ctx: Context) -> Rows:
    project = current_project(event, ctx)
    return [project.evolve(total_investment=amount(event.data, "total_investment"))]


def investor_changed(event: PublishedEvent, ctx: Context) -> Rows:
    project = current_project(event, ctx)
    return [
        project.evolve(
            investor_code=str(event.data["investor_code"]),
            investor_name=str(event.data["investor_name"]),
        )
    ]


def status_changed(event: PublishedEvent, ctx: Context) -> Rows:
    project = current_project(event, ctx)
    return [
        project.evolve(
            status=str(event.data["status"]), review_class=event.data.get("review_class")
        )
    ]


def settled(event: PublishedEvent, ctx: Context) -> Rows:
    project = current_project(event, ctx)
    return [project.evolve(status=SETTLED, settled_value=amount(event.data, "settled_value"))]


REDUCERS: dict[str, Reducer] = {
    "Project.Registered": registered,
    "Project.TotalInvestmentAdjusted": total_investment_adjusted,
    "Project.InvestorChanged": investor_changed,
    "Project.StatusChanged": status_changed,
    "Project.Settled": settled,
}

#: The newest class version each reducer understands (``published.publish`` upcasts older ones).
VERSIONS: dict[str, int] = {"Project.Registered": 2}
