"""SQL fragments shared by the queries: scope conditions, as-of conditions, line sources."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from capledger.domain.capital import capital, undisbursed

from ..rows import Movement, Row, columns, from_values
from .types import AsOf, Scope

ANNUAL = "annual"
#: Balance columns of a line, in the order queries select them.
BALANCES = tuple(kind.value for kind in Movement)
Params = dict[str, Any]
R = TypeVar("R", bound=Row)


@dataclass(frozen=True)
class Sql:
    """An SQL expression that adds and subtracts as text, so the domain's capital formula can
    be rendered as SQL rather than written again."""

    text: str

    def __add__(self, other: Sql) -> Sql:
        return Sql(f"{self.text} + {other.operand}")

    def __sub__(self, other: Sql) -> Sql:
        return Sql(f"{self.text} - {other.operand}")

    @property
    def operand(self) -> str:
        """The expression as the right operand: bracketed unless it is one term."""
        return f"({self.text})" if " " in self.text else self.text


def summed(column: str, alias: str = "l") -> Sql:
    return Sql(f"SUM({alias}.{column})")


def capital_sql(alias: str = "l") -> str:
    """The summed capital of the lines under ``alias``."""
    return _capital(alias).text


def undisbursed_sql(alias: str = "l") -> str:
    """The summed undisbursed capital of the lines under ``alias``."""
    return undisbursed(_capital(alias), summed("disbursed", alias), summed("lapsed", alias)).text


def _capital(alias: str) -> Sql:
    return capital(
        summed("allocated", alias),
        summed("transferred_in", alias),
        summed("transferred_out", alias),
        summed("cut", alias),
    )


def scope_condition(scope: Scope, params: Params, plan: str = "pl") -> str:
    """The scope's annual plans: one jurisdiction's, or those of every member of a scope above
    it (an IN list on the plan table's index on jurisdiction, start year and kind)."""
    params.update(fiscal_year=scope.fiscal_year, annual=ANNUAL)
    if len(scope.codes) == 1:
        params["jurisdiction"] = scope.codes[0]
        jurisdiction = f"{plan}.jurisdiction = :jurisdiction"
    else:
        jurisdiction = (
            f"{plan}.jurisdiction IN {in_list('jurisdiction', list(scope.codes), params)}"
        )
    return f"{jurisdiction} AND {plan}.start_year = :fiscal_year AND {plan}.kind = :annual"


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


def jurisdiction_is(column: str, jurisdiction: str | Sequence[str], params: Params) -> str:
    """`` AND <column> = …`` for one jurisdiction, ``IN (…)`` for a scope's members."""
    if isinstance(jurisdiction, str):
        params["jurisdiction"] = jurisdiction
        return f" AND {column} = :jurisdiction"
    return f" AND {column} IN {in_list('jurisdiction', list(jurisdiction), params)}"


def column_names(kind: type[Row], alias: str = "") -> str:
    """Every column of ``kind``'s table, in its order (each prefixed with ``alias.``)."""
    prefix = f"{alias}." if alias else ""
    return ", ".join(f"{prefix}{column.name}" for column in columns(kind))


def rows_of(kind: type[R], selected: Sequence[Sequence[Any]]) -> list[R]:
    """Rows of the read model's own type from the values a query selected by
    :func:`column_names`."""
    return [from_values(kind, values) for values in selected]  # type: ignore[misc]
