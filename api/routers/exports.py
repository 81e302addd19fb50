"""Exports for other systems: CSV for spreadsheets, IATI activities, a Fiscal Data Package."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from capledger.domain.capital import FIGURES
from capledger.projections.queries import plan_versions

from .. import fdp, iati, readmodel
from ..context import ApiContext
from ..deps import Ctx, Reader
from ..routing import ThreadedRoute
from ..scope import check_filter, check_jurisdiction
from ..types import Label, Year
from .audit import auditor
from .jurisdictions import members_of, scoped
from .queries import (
    LISTING_RESPONSES,
    BalanceQuery,
    WatchQuery,
    build_watch_list,
    query_balances,
)

router = APIRouter(prefix="/exports", tags=["exports"], route_class=ThreadedRoute)
#: Exports list what they find (an unknown filter exports nothing), as the listings do: 404 only
#: for a jurisdiction not in the list.
READ_RESPONSES = LISTING_RESPONSES
CSV = "text/csv; charset=utf-8"
BOM = "\ufeff"
MAX_CSV_ROWS = 100_000


def safe_filename(name: str) -> str:
    """An ASCII file name for Content-Disposition (header values are Latin-1)."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)


def csv_response(
    header: Sequence[str], rows: Iterable[Sequence[Any]], filename: str, *, bom: bool
) -> Response:
    buffer = io.StringIO()
    if bom:
        buffer.write(BOM)
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return Response(
        buffer.getvalue(),
        media_type=CSV,
        headers={"Content-Disposition": f'attachment; filename="{safe_filename(filename)}"'},
    )


CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {CSV: {"schema": {"type": "string"}}}, "description": "CSV (RFC 4180)"},
    **READ_RESPONSES,
}
BomQuery = Annotated[
    bool, Query(description="Start with a UTF-8 byte order mark, so Excel reads Vietnamese.")
]


class BalanceCsvQuery(BalanceQuery):
    limit: int = Field(default=MAX_CSV_ROWS, ge=1, le=MAX_CSV_ROWS)


@router.get(
    "/balances.csv",
    operation_id="export_balances_csv",
    summary="Balances as CSV (the same filters as /balances)",
    response_class=Response,
    responses=CSV_RESPONSE,
)
def export_balances(
    query: Annotated[BalanceCsvQuery, Query()], caller: Reader, ctx: Ctx, bom: BomQuery = True
) -> Response:
    items, _ = query_balances(ctx, caller, query, limit=query.limit)
    rows = [
        [
            item.key,
            item.label,
            *item.figures().values(),
            _percent(item.disbursement_rate.percent(query.places)),
        ]
        for item in items
    ]
    header = [query.by.value, "label", *FIGURES, "disbursement_rate_percent"]
    return csv_response(header, rows, f"balances-by-{query.by.value}.csv", bom=bom)


@router.get(
    "/watch-list.csv",
    operation_id="export_watch_list_csv",
    summary="A watch list as CSV",
    response_class=Response,
    responses=CSV_RESPONSE,
)
def export_watch_list(
    query: Annotated[WatchQuery, Query()], caller: Reader, ctx: Ctx, bom: BomQuery = True
) -> Response:
    found = build_watch_list(ctx, caller, query)
    header = [
        "key", "label", "investor_code", "investor_name", "projects", "status", "capital",
        "disbursed", "rate_percent", "shortfall",
    ]  # fmt: skip
    rows = [
        [
            entry.key,
            entry.label,
            entry.investor_code,
            entry.investor_name,
            entry.projects,
            entry.status or "",
            entry.capital,
            entry.disbursed,
            entry.rate.percent or "",
            entry.shortfall,
        ]
        for entry in found.entries
    ]
    filename = f"watch-list-{query.jurisdiction}-{query.fiscal_year}.csv"
    return csv_response(header, rows, filename, bom=bom)


def _percent(value: Any) -> str:
    return "" if value is None else format(value, "f")


# -- IATI ----------------------------------------------------------------------------------


class IatiQuery(BaseModel):
    jurisdiction: Label | None = Field(
        default=None,
        description="Projects with capital from plans of this jurisdiction, at any level (`GET "
        "/jurisdictions`: `VN` counts every province and ministry); an unknown code is 404 "
        "`unknown-jurisdiction`.",
    )
    fiscal_year: Year | None = None
    investor_code: Label | None = None
    province: Label | None = None
    limit: int = Field(default=50, ge=1, le=200, description="Activities (projects) per page.")
    offset: int = Field(default=0, ge=0, le=10**9)
    format: Literal["json", "xml"] = "json"


class IatiPage(BaseModel):
    generated_datetime: datetime
    version: str = iati.IATI_VERSION
    activities: list[dict[str, Any]]
    total: int
    next_offset: int | None


def iati_activities(
    ctx: ApiContext, caller: Any, query: IatiQuery
) -> tuple[list[dict[str, Any]], int]:
    check_filter(caller, investor_code=query.investor_code, province=query.province)
    found, total = readmodel.projects(
        ctx.read_model,
        caller,
        investor_code=query.investor_code,
        province=query.province,
        jurisdiction=None if query.jurisdiction is None else scoped(query.jurisdiction),
        fiscal_year=query.fiscal_year,
        limit=query.limit,
        offset=query.offset,
    )
    authorities = {plan.plan_code: plan.authority for plan in readmodel.plans(ctx.read_model)}
    reader = auditor(ctx)
    activities = []
    for project in found:
        events = reader.events(project.project_code)
        transactions = iati.transactions(project.project_code, events, authorities)
        activities.append(iati.activity_json(project._asdict(), transactions))
    return activities, total


@router.get(
    "/iati/activities",
    operation_id="export_iati",
    summary="IATI-style activities with their transactions (JSON or XML)",
    responses={
        200: {
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/IatiPage"}},
                "application/xml": {"schema": {"type": "string"}},
            },
            "description": "Activities, one per project",
        },
        **READ_RESPONSES,
    },
    response_model=IatiPage,
)
def export_iati(query: Annotated[IatiQuery, Query()], caller: Reader, ctx: Ctx) -> Any:
    activities, total = iati_activities(ctx, caller, query)
    generated = datetime.now(UTC).replace(microsecond=0)
    following = query.offset + len(activities)
    if query.format == "xml":
        return Response(
            iati.activities_xml(activities, generated.isoformat()),
            media_type="application/xml",
            headers={"X-Total-Count": str(total)},
        )
    return IatiPage(
        generated_datetime=generated,
        activities=activities,
        total=total,
        next_offset=following if following < total else None,
    )


# -- Fiscal Data Package -------------------------------------------------------------------

Jurisdiction = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,63}$")]
FiscalYear = Annotated[int, Path(ge=1990, le=2100)]


@router.get(
    "/fdp/{jurisdiction}/{fiscal_year}/datapackage.json",
    operation_id="export_fdp_datapackage",
    summary="Fiscal Data Package descriptor (plans.csv and projects.csv beside it)",
    responses=READ_RESPONSES,
)
def export_fdp_datapackage(
    jurisdiction: Jurisdiction, fiscal_year: FiscalYear, caller: Reader
) -> dict[str, Any]:
    check_jurisdiction(caller, jurisdiction)
    members_of(jurisdiction)  # 404 unknown-jurisdiction
    generated = datetime.now(UTC).replace(microsecond=0).isoformat()
    return fdp.datapackage(jurisdiction, fiscal_year, generated)


def fdp_plan_rows(ctx: ApiContext, jurisdiction: str, fiscal_year: int) -> list[dict[str, Any]]:
    rows = []
    scope = scoped(jurisdiction)
    for plan in readmodel.plans(ctx.read_model, jurisdiction=scope, fiscal_year=fiscal_year):
        for version in plan_versions(ctx.read_model, plan.plan_code):
            phase = "approved" if version.plan_version == 1 else "adjusted"
            for source, amount in sorted(version.envelopes.items()):
                rows.append({
                    "plan_code": plan.plan_code, "plan_title": plan.title,
                    "plan_kind": plan.kind, "authority": plan.authority,
                    "jurisdiction": plan.jurisdiction, "start_year": plan.start_year,
                    "end_year": plan.end_year, "plan_version": version.plan_version,
                    "decision_no": version.decision_no,
                    "date": version.effective_on.isoformat(), "capital_source": source,
                    "phase": phase, "amount": amount, "currency": fdp.CURRENCY,
                })  # fmt: skip
    return rows


def fdp_project_rows(
    ctx: ApiContext, caller: Any, jurisdiction: str, fiscal_year: int
) -> list[dict[str, Any]]:
    scope = scoped(jurisdiction)
    plan_codes = {plan.plan_code for plan in readmodel.plans(ctx.read_model, jurisdiction=scope)}
    rows: list[dict[str, Any]] = []
    offset, page = 0, 500
    while True:
        found, total = readmodel.projects(
            ctx.read_model, caller, jurisdiction=scope, fiscal_year=fiscal_year,
            limit=page, offset=offset,
        )  # fmt: skip
        by_code = {project.project_code: project for project in found}
        for line in readmodel.project_lines(ctx.read_model, list(by_code)):
            if line.plan_code not in plan_codes or line.fiscal_year != fiscal_year:
                continue
            project = by_code[line.project_code]
            base = {
                "project_code": project.project_code, "project_name": project.name,
                "investor_code": project.investor_code, "investor_name": project.investor_name,
                "sector": project.sector, "program": project.program,
                "province": project.province, "plan_code": line.plan_code,
                "fiscal_year": line.fiscal_year, "capital_source": line.source,
                "currency": fdp.CURRENCY,
            }  # fmt: skip
            rows.append({**base, "phase": "approved", "amount": line.allocated})
            if line.capital != line.allocated:
                rows.append({**base, "phase": "adjusted", "amount": line.capital})
            rows.append({**base, "phase": "executed", "amount": line.disbursed})
        offset += len(found)
        if not found or offset >= total:
            return rows


@router.get(
    "/fdp/{jurisdiction}/{fiscal_year}/plans.csv",
    operation_id="export_fdp_plans",
    summary="Fiscal Data Package: plans (approved, adjusted) per source",
    response_class=Response,
    responses=CSV_RESPONSE,
)
def export_fdp_plans(
    jurisdiction: Jurisdiction, fiscal_year: FiscalYear, caller: Reader, ctx: Ctx
) -> Response:
    check_jurisdiction(caller, jurisdiction)
    text = fdp.rows_csv(fdp.PLAN_FIELDS, fdp_plan_rows(ctx, jurisdiction, fiscal_year))
    return Response(text, media_type=CSV)


@router.get(
    "/fdp/{jurisdiction}/{fiscal_year}/projects.csv",
    operation_id="export_fdp_projects",
    summary="Fiscal Data Package: project lines (approved, adjusted, executed)",
    response_class=Response,
    responses=CSV_RESPONSE,
)
def export_fdp_projects(
    jurisdiction: Jurisdiction, fiscal_year: FiscalYear, caller: Reader, ctx: Ctx
) -> Response:
    check_jurisdiction(caller, jurisdiction)
    rows = fdp_project_rows(ctx, caller, jurisdiction, fiscal_year)
    return Response(fdp.rows_csv(fdp.PROJECT_FIELDS, rows), media_type=CSV)
