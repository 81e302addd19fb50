"""The monthly disbursement series of a scope (the S-curve) and year-end bunching."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from ..rows import Movement
from ..store import Reader, ReadModelStore
from .rates import DisbursementRate, check_scope_known, rate_against
from .sql import Params, as_of_condition, scope_condition
from .types import (
    NO_EXCLUSIONS,
    AsOf,
    AsOfLike,
    Denominator,
    Exclusions,
    Ratio,
    Scope,
    as_of_point,
)

MONTHS = 12
QUARTERS = 4


class Basis(StrEnum):
    """Date a month by when the money moved, or by when the ledger learned of it."""

    EFFECTIVE = "effective"
    RECORDED = "recorded"


DATE_COLUMNS = {Basis.EFFECTIVE: "effective_on", Basis.RECORDED: "recorded_on"}


@dataclass(frozen=True)
class MonthlyPoint:
    month: str  # "YYYY-MM"
    disbursed: int
    cumulative: int
    cumulative_rate: Ratio | None


@dataclass(frozen=True)
class MonthlySeries:
    scope: Scope
    basis: Basis
    as_of: AsOf | None
    denominator: DisbursementRate | None
    points: list[MonthlyPoint]


@dataclass(frozen=True)
class Bunching:
    """How much of a year's disbursement came at its end (effective dates)."""

    scope: Scope
    as_of: AsOf | None
    before_year: int
    quarters: tuple[int, int, int, int]
    december: int
    after_year_end: int
    in_year: int
    last_quarter_share: Ratio
    december_share: Ratio


def monthly_series(
    store: ReadModelStore,
    scope: Scope,
    *,
    basis: Basis | str = Basis.EFFECTIVE,
    denominator: Denominator | None = None,
    exclusions: Exclusions = NO_EXCLUSIONS,
    as_of: AsOfLike = None,
) -> MonthlySeries:
    """Disbursement per month, cumulated; every month of the fiscal year appears, and the
    months around it that saw movements. With a denominator, each point carries the
    cumulative rate against it. A scope with no annual plan is unknown (``NoAnnualPlan``), as
    for rates, not a year of zeros."""
    chosen, point = Basis(basis), as_of_point(as_of)

    def query(reader: Reader) -> MonthlySeries:
        check_scope_known(reader, scope)
        months = monthly_totals(reader, scope, chosen, exclusions, point)
        rate = None
        if denominator is not None:
            total = sum(months.values())
            rate = rate_against(reader, scope, denominator, exclusions, point, total)
        points, cumulative = [], 0
        for month in _months(scope.fiscal_year, months):
            cumulative += months.get(month, 0)
            ratio = None if rate is None else Ratio(cumulative, rate.denominator)
            points.append(MonthlyPoint(month, months.get(month, 0), cumulative, ratio))
        return MonthlySeries(scope, chosen, point, rate, points)

    return store.read(query)


def bunching(store: ReadModelStore, scope: Scope, *, as_of: AsOfLike = None) -> Bunching:
    point = as_of_point(as_of)

    def query(reader: Reader) -> dict[str, int]:
        check_scope_known(reader, scope)
        return monthly_totals(reader, scope, Basis.EFFECTIVE, NO_EXCLUSIONS, point)

    months = store.read(query)
    year = scope.fiscal_year
    in_year = [months.get(_month(year, index), 0) for index in range(1, MONTHS + 1)]
    quarters = tuple(sum(in_year[q * 3 : q * 3 + 3]) for q in range(QUARTERS))
    total = sum(in_year)
    return Bunching(
        scope=scope,
        as_of=point,
        before_year=sum(amount for month, amount in months.items() if month < _month(year, 1)),
        quarters=(quarters[0], quarters[1], quarters[2], quarters[3]),
        december=in_year[-1],
        after_year_end=sum(
            amount for month, amount in months.items() if month > _month(year, MONTHS)
        ),
        in_year=total,
        last_quarter_share=Ratio(quarters[-1], total),
        december_share=Ratio(in_year[-1], total),
    )


def monthly_totals(
    reader: Reader, scope: Scope, basis: Basis, exclusions: Exclusions, as_of: AsOf | None
) -> dict[str, int]:
    column = DATE_COLUMNS[basis]
    params: Params = {"kind": Movement.DISBURSED.value}
    sql = (
        f"SELECT substr(m.{column}, 1, 7), SUM(m.amount) FROM {{movement}} m "
        "JOIN {plan} pl ON pl.plan_code = m.plan_code "
        f"WHERE {scope_condition(scope, params)} AND m.kind = :kind"
        f"{as_of_condition(as_of, params)}"
    )
    if exclusions.extended:
        sql += " AND m.from_extension = 0"
    sql += f" GROUP BY substr(m.{column}, 1, 7)"
    return {str(month): int(total) for month, total in reader.rows(sql, params)}


def _months(year: int, seen: dict[str, int]) -> list[str]:
    return sorted({*(_month(year, index) for index in range(1, MONTHS + 1)), *seen})


def _month(year: int, month: int) -> str:
    return f"{year:04d}-{month:02d}"
