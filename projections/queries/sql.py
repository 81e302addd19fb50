"""SQL fragments shared by the queries: scope conditions, as-of conditions, line sources."""

from __future__ import annotations

from typing import Any

from ..rows import Movement
from .types import AsOf, Scope

ANNUAL = "annual"
#: Balance columns of a line, in the order queries select them.
BALANCES = tuple(kind.value for kind in Movement)
Params = dict[str, Any]


def scope_condition(scope: Scope, params: Params, plan: str = "pl") -> str:
    params.update(jurisdiction=scope.jurisdiction, fiscal_year=scope.fiscal_year, annual=ANNUAL)
    return (
        f"{plan}.jurisdiction = :jurisdiction AND {plan}.start_year = :fiscal_year "
        f"AND {plan}.kind = :annual"
    )


def as_of_condition(as_of: AsOf | None, params: Params, alias: str = "m") -> str:
    """Movements effective by the date and recorded by the end of the known date."""
    if as_of is None:
        return ""
    params.update(effective=as_of.effective.isoformat(), known=as_of.known.isoformat())
    return f" AND {alias}.effective_on <= :effective AND {alias}.recorded_on <= :known"


def line_source(as_of: AsOf | None, params: Params) -> str:
    """Lines with their balances: the line table now, or the movements summed as of a date."""
    if as_of is None:
        return "{line}"
    sums = ", ".join(
        f"SUM(CASE WHEN m.kind = '{kind}' THEN m.amount ELSE 0 END) AS {kind}" for kind in BALANCES
    )
    return (
        f"(SELECT m.project_code, m.plan_code, m.source, m.fiscal_year, {sums} "
        f"FROM {{movement}} m WHERE 1 = 1{as_of_condition(as_of, params)} "
        "GROUP BY m.project_code, m.plan_code, m.source, m.fiscal_year)"
    )


def in_list(name: str, values: list[str], params: Params) -> str:
    """``(:name0, :name1, …)`` for an IN condition (never empty: NULL matches nothing)."""
    if not values:
        return "(NULL)"
    for index, value in enumerate(values):
        params[f"{name}{index}"] = value
    return "(" + ", ".join(f":{name}{index}" for index in range(len(values))) + ")"
