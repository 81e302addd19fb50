"""The few read-model look-ups the API needs beyond ``capledger.projections.queries``:
plans of a jurisdiction, projects by filters and scope, and a project's lines.

They read the tables documented in projections/README.md (``plan``, ``project``, ``line``)
through the store's read snapshots.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from capledger.projections import ReadModelStore
from capledger.projections.queries.sql import column_names, in_list, jurisdiction_is, rows_of
from capledger.projections.rows import LineRow, PlanRow, ProjectRow

from .roles import Caller

ANNUAL = "annual"


PLAN_COLUMNS = column_names(PlanRow)
LINE_COLUMNS = column_names(LineRow)


def plans(
    store: ReadModelStore,
    *,
    jurisdiction: str | Sequence[str] | None = None,
    fiscal_year: int | None = None,
    kind: str | None = None,
    jurisdictions: Sequence[str] | None = None,
) -> list[PlanRow]:
    """Plans, by code; ``jurisdiction`` is a code or a scope's members; ``fiscal_year`` matches
    plans whose period covers it."""
    params: dict[str, Any] = {}
    sql = f"SELECT {PLAN_COLUMNS} FROM {{plan}} WHERE 1 = 1"
    if jurisdiction is not None:
        sql += jurisdiction_is("jurisdiction", jurisdiction, params)
    if fiscal_year is not None:
        sql += " AND start_year <= :year AND end_year >= :year"
        params["year"] = fiscal_year
    if kind is not None:
        sql += " AND kind = :kind"
        params["kind"] = kind
    if jurisdictions is not None:
        sql += " AND jurisdiction IN " + in_list("j", list(jurisdictions), params)
    sql += " ORDER BY plan_code"
    rows = store.read(lambda reader: reader.rows(sql, params))
    return rows_of(PlanRow, rows)


def annual_plan_codes(store: ReadModelStore, jurisdiction: str, fiscal_year: int) -> list[str]:
    found = plans(store, jurisdiction=jurisdiction, fiscal_year=fiscal_year, kind=ANNUAL)
    return [plan.plan_code for plan in found if plan.start_year == fiscal_year]


def projects(
    store: ReadModelStore,
    caller: Caller,
    *,
    investor_code: str | None = None,
    province: str | None = None,
    sector: str | None = None,
    program: str | None = None,
    status: str | None = None,
    jurisdiction: str | Sequence[str] | None = None,
    fiscal_year: int | None = None,
    limit: int,
    offset: int,
) -> tuple[list[ProjectRow], int]:
    """Projects by code within the caller's scope; ``jurisdiction`` (a code, or a scope's
    members)/``fiscal_year`` keep those with capital from such plans. The page and the total
    count."""
    params: dict[str, Any] = {}
    where = " WHERE 1 = 1"
    for column, value in (
        ("investor_code", investor_code),
        ("province", province),
        ("sector", sector),
        ("program", program),
        ("status", status),
    ):
        if value is not None:
            where += f" AND p.{column} = :{column}"
            params[column] = value
    if jurisdiction is not None or fiscal_year is not None:
        where += (
            " AND EXISTS (SELECT 1 FROM {line} l JOIN {plan} pl ON pl.plan_code = l.plan_code "
            "WHERE l.project_code = p.project_code"
        )
        if jurisdiction is not None:
            where += jurisdiction_is("pl.jurisdiction", jurisdiction, params)
        if fiscal_year is not None:
            where += " AND l.fiscal_year = :fiscal_year"
            params["fiscal_year"] = fiscal_year
        where += ")"
    if caller.scoped:
        where += (
            " AND (p.investor_code IN "
            + in_list("si", sorted(caller.scope.investors), params)
            + " OR p.province IN "
            + in_list("sp", sorted(caller.scope.provinces), params)
            + ")"
        )

    def query(reader: Any) -> tuple[list[tuple[Any, ...]], int]:
        total = int(reader.rows(f"SELECT COUNT(*) FROM {{project}} p{where}", params)[0][0])
        rows = reader.rows(
            f"SELECT {column_names(ProjectRow, 'p')} FROM {{project}} p{where} "
            "ORDER BY p.project_code LIMIT :limit OFFSET :offset",
            {**params, "limit": limit, "offset": offset},
        )
        return rows, total

    rows, total = store.read(query)
    return rows_of(ProjectRow, rows), total


def project_scope(store: ReadModelStore, code: str) -> tuple[str, str] | None:
    """A project's investor (accountable now) and province, if the read model has it."""
    rows = store.read(
        lambda reader: reader.rows(
            "SELECT investor_code, province FROM {project} WHERE project_code = :code",
            {"code": code},
        )
    )
    return None if not rows else (str(rows[0][0]), str(rows[0][1]))


def plan_jurisdiction(store: ReadModelStore, code: str) -> str | None:
    rows = store.read(
        lambda reader: reader.rows(
            "SELECT jurisdiction FROM {plan} WHERE plan_code = :code", {"code": code}
        )
    )
    return None if not rows else str(rows[0][0])


def project_lines(store: ReadModelStore, codes: Sequence[str]) -> list[LineRow]:
    if not codes:
        return []
    params: dict[str, Any] = {}
    sql = (
        f"SELECT {LINE_COLUMNS} FROM {{line}} WHERE project_code IN "
        f"{in_list('c', list(codes), params)} ORDER BY project_code, plan_code, source"
    )
    rows = store.read(lambda reader: reader.rows(sql, params))
    return rows_of(LineRow, rows)
