"""Balances by any dimension, with filters, sorting and pagination, now or as of a date.

Projects are grouped under the investor accountable *now*; movements keep the investor recorded
at the time they happened.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from enum import StrEnum
from fractions import Fraction
from typing import Any

from capledger.domain.capital import BALANCE_FIELDS, Balance

from ..store import Reader, ReadModelStore
from .sql import BALANCES, Params, capital_sql, in_list, line_source, undisbursed_sql
from .types import AsOfLike, Page, Ratio, as_of_point


class Dimension(StrEnum):
    PROJECT = "project"
    PLAN = "plan"
    SOURCE = "source"
    INVESTOR = "investor"
    PROGRAM = "program"
    SECTOR = "sector"
    PROVINCE = "province"
    JURISDICTION = "jurisdiction"


#: (group key, label) expressions per dimension.
GROUPS: dict[Dimension, tuple[str, str]] = {
    Dimension.PROJECT: ("l.project_code", "MAX(p.name)"),
    Dimension.PLAN: ("l.plan_code", "MAX(COALESCE(pl.title, l.plan_code))"),
    Dimension.SOURCE: ("l.source", "l.source"),
    Dimension.INVESTOR: ("p.investor_code", "MAX(p.investor_name)"),
    Dimension.PROGRAM: ("p.program", "p.program"),
    Dimension.SECTOR: ("p.sector", "p.sector"),
    Dimension.PROVINCE: ("p.province", "p.province"),
    Dimension.JURISDICTION: ("COALESCE(pl.jurisdiction, '')", "COALESCE(pl.jurisdiction, '')"),
}

SORTS: dict[str, str] = {
    "key": "group_key",
    **{column: f"SUM(l.{column})" for column in BALANCES},
    "capital": capital_sql(),
    "undisbursed": undisbursed_sql(),
}
#: Sorting by rate is exact (fractions of integers), so it is done after the sums.
RATE = "rate"


@dataclass(frozen=True)
class BalanceFilter:
    project_code: str | None = None
    plan_code: str | None = None
    source: str | None = None
    investor_code: str | None = None
    program: str | None = None
    sector: str | None = None
    province: str | None = None
    #: One jurisdiction's plans, or (a tuple) the plans of each member of a scope above them.
    jurisdiction: str | tuple[str, ...] | None = None
    fiscal_year: int | None = None
    plan_kind: str | None = None
    authority: str | None = None
    status: str | None = None


FILTER_COLUMNS: dict[str, str] = {
    "project_code": "l.project_code",
    "plan_code": "l.plan_code",
    "source": "l.source",
    "investor_code": "p.investor_code",
    "program": "p.program",
    "sector": "p.sector",
    "province": "p.province",
    "jurisdiction": "pl.jurisdiction",
    "fiscal_year": "l.fiscal_year",
    "plan_kind": "pl.kind",
    "authority": "pl.authority",
    "status": "p.status",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class GroupBalance(Balance):
    """The :class:`~capledger.domain.capital.Balance` of one group: its amounts are given by
    position, in the balance's order, the group by name."""

    key: str
    label: str

    @property
    def disbursement_rate(self) -> Ratio:
        return Ratio(self.disbursed, self.capital)


def balances(
    store: ReadModelStore,
    by: Dimension | str,
    *,
    filters: BalanceFilter | None = None,
    sort: str = "key",
    descending: bool = False,
    limit: int | None = 50,
    offset: int = 0,
    as_of: AsOfLike = None,
) -> Page[GroupBalance]:
    """Balances grouped by ``by``; ``sort`` is "key", a balance column, "capital",
    "undisbursed" or "rate"."""
    dimension = Dimension(by)
    if offset and limit is None:
        raise ValueError("an offset needs a limit")
    if sort not in SORTS and sort != RATE:
        raise ValueError(f"cannot sort by {sort!r}; choose one of {[*SORTS, RATE]}")
    return store.read(
        lambda reader: _balances(
            reader, dimension, filters or BalanceFilter(), sort, descending, limit, offset, as_of
        )
    )


def _balances(
    reader: Reader,
    dimension: Dimension,
    filters: BalanceFilter,
    sort: str,
    descending: bool,
    limit: int | None,
    offset: int,
    as_of: AsOfLike,
) -> Page[GroupBalance]:
    params: Params = {}
    grouped = _grouped_sql(dimension, filters, as_of, params)
    if sort == RATE:
        everything = sorted(_fetch(reader, grouped, params), key=_rate_order(descending))
        end = None if limit is None else offset + limit
        return Page(everything[offset:end], len(everything), limit, offset)
    direction = "DESC" if descending else "ASC"
    sql = f"{grouped} ORDER BY {SORTS[sort]} {direction}, group_key ASC"
    page_params = dict(params)
    if limit is not None:
        sql += " LIMIT :limit OFFSET :offset"
        page_params.update(limit=limit, offset=offset)
    items = _fetch(reader, sql, page_params)
    total = _total(reader, grouped, params, items, limit, offset)
    return Page(items, total, limit, offset)


def _total(
    reader: Reader,
    grouped: str,
    params: Params,
    items: list[GroupBalance],
    limit: int | None,
    offset: int,
) -> int:
    """The number of groups. A page that is not full and not empty is the last one, so the
    total follows from it; only a full or an empty page (past the end) needs counting again."""
    if limit is None or 0 < len(items) < limit or (not items and not offset):
        return offset + len(items)
    return int(reader.rows(f"SELECT COUNT(*) FROM ({grouped}) g", params)[0][0])


def _grouped_sql(
    dimension: Dimension, filters: BalanceFilter, as_of: AsOfLike, params: Params
) -> str:
    key, label = GROUPS[dimension]
    sums = ", ".join(f"SUM(l.{column})" for column in BALANCES)
    source = line_source(as_of_point(as_of), params)
    return (
        f"SELECT {key} AS group_key, {label} AS label, {sums} "
        f"FROM {source} l JOIN {{project}} p ON p.project_code = l.project_code "
        "LEFT JOIN {plan} pl ON pl.plan_code = l.plan_code "
        f"WHERE 1 = 1{_filter_sql(filters, params)} GROUP BY {key}"
    )


def _filter_sql(filters: BalanceFilter, params: Params) -> str:
    conditions = []
    for field in fields(filters):
        value = getattr(filters, field.name)
        if isinstance(value, tuple):
            listed = in_list(f"f_{field.name}", list(value), params)
            conditions.append(f" AND {FILTER_COLUMNS[field.name]} IN {listed}")
        elif value is not None:
            params[f"f_{field.name}"] = value
            conditions.append(f" AND {FILTER_COLUMNS[field.name]} = :f_{field.name}")
    return "".join(conditions)


def _fetch(reader: Reader, sql: str, params: Params) -> list[GroupBalance]:
    return [_from_row(*row) for row in reader.rows(sql, params)]


#: A row is the group key, its label, then the sums in the order of the balance's fields:
#: ``_from_row`` passes them as they come.
if BALANCES != BALANCE_FIELDS:
    raise AssertionError("the kinds of movement and Balance's fields must keep one order")


def _from_row(key: Any, label: Any, *sums: Any) -> GroupBalance:
    return GroupBalance(*map(int, sums), key=str(key), label=str(label))


def _rate_order(descending: bool) -> Any:
    """Exact rate order; groups with no capital last either way."""

    def order(balance: GroupBalance) -> tuple[int, Fraction, str]:
        fraction = balance.disbursement_rate.fraction
        if fraction is None:
            return (1, Fraction(0), balance.key)
        return (0, -fraction if descending else fraction, balance.key)

    return order
