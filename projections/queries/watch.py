"""Watch lists: projects or investors of a scope disbursing below a threshold or the average.

A project's rate is its disbursement over the capital it was given in the scope (allocated and
transferred in, less transferred out and cut). Each entry names the investor accountable *now*,
for the accountability reviews that follow slow disbursement.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction

from ..store import Reader, ReadModelStore
from .sql import Params, capital_sql, line_source, scope_condition
from .types import AsOf, AsOfLike, Ratio, Scope, as_of_point


class WatchLevel(StrEnum):
    PROJECT = "project"
    INVESTOR = "investor"


@dataclass(frozen=True)
class WatchEntry:
    key: str  # project code, or investor code
    label: str  # project name, or investor name
    investor_code: str
    investor_name: str
    projects: int
    status: str | None  # a project's status (None for an investor)
    capital: int
    disbursed: int
    ratio: Ratio
    #: What it would take to reach the reference rate (VND, rounded up).
    shortfall: int


@dataclass(frozen=True)
class WatchList:
    scope: Scope
    level: WatchLevel
    as_of: AsOf | None
    reference: Decimal
    reference_is_scope_average: bool
    scope_ratio: Ratio
    entries: list[WatchEntry]


GROUP_SQL = {
    WatchLevel.PROJECT: (
        "l.project_code, MAX(p.name), MAX(p.investor_code), MAX(p.investor_name), "
        "COUNT(DISTINCT l.project_code), MAX(p.status)",
        "l.project_code",
    ),
    WatchLevel.INVESTOR: (
        "p.investor_code, MAX(p.investor_name), p.investor_code, MAX(p.investor_name), "
        "COUNT(DISTINCT l.project_code), NULL",
        "p.investor_code",
    ),
}


def watch_list(
    store: ReadModelStore,
    scope: Scope,
    *,
    level: WatchLevel | str = WatchLevel.PROJECT,
    threshold: Decimal | None = None,
    as_of: AsOfLike = None,
    limit: int | None = None,
) -> WatchList:
    """Entries below ``threshold`` (a rate such as ``Decimal("0.3")``, or a national average);
    below the scope's own average when no threshold is given. Slowest first."""
    chosen, point = WatchLevel(level), as_of_point(as_of)
    entries = store.read(lambda reader: _grouped(reader, scope, chosen, point))
    capital = sum(entry.capital for entry in entries)
    scope_ratio = Ratio(sum(entry.disbursed for entry in entries), capital)
    reference = Fraction(threshold) if threshold is not None else scope_ratio.fraction
    below: list[WatchEntry] = []
    if reference is not None:
        below = [
            _with_shortfall(entry, reference)
            for entry in entries
            if entry.capital > 0 and Fraction(entry.disbursed, entry.capital) < reference
        ]
    below.sort(
        key=lambda entry: (Fraction(entry.disbursed, entry.capital), -entry.capital, entry.key)
    )
    return WatchList(
        scope=scope,
        level=chosen,
        as_of=point,
        reference=threshold if threshold is not None else (scope_ratio.rate or Decimal(0)),
        reference_is_scope_average=threshold is None,
        scope_ratio=scope_ratio,
        entries=below if limit is None else below[:limit],
    )


def _grouped(
    reader: Reader, scope: Scope, level: WatchLevel, as_of: AsOf | None
) -> list[WatchEntry]:
    columns, key = GROUP_SQL[level]
    params: Params = {}
    sql = (
        f"SELECT {columns}, {capital_sql()}, "
        f"SUM(l.disbursed) FROM {line_source(as_of, params)} l "
        "JOIN {project} p ON p.project_code = l.project_code "
        "JOIN {plan} pl ON pl.plan_code = l.plan_code "
        f"WHERE {scope_condition(scope, params)} GROUP BY {key}"
    )
    return [
        WatchEntry(
            key=str(row[0]),
            label=str(row[1]),
            investor_code=str(row[2]),
            investor_name=str(row[3]),
            projects=int(row[4]),
            status=None if row[5] is None else str(row[5]),
            capital=int(row[6]),
            disbursed=int(row[7]),
            ratio=Ratio(int(row[7]), int(row[6])),
            shortfall=0,
        )
        for row in reader.rows(sql, params)
    ]


def _with_shortfall(entry: WatchEntry, reference: Fraction) -> WatchEntry:
    needed = math.ceil(reference * entry.capital) - entry.disbursed
    return replace(entry, shortfall=max(0, needed))
