"""Disbursement facts recorded late: how many days after their effective date they reached
the ledger (recording date in the reporting time zone minus effective date)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from ..rows import Movement
from ..store import Reader, ReadModelStore
from .sql import Params, as_of_condition, scope_condition
from .types import AsOfLike, Page, Scope, as_of_point


@dataclass(frozen=True)
class LateEntry:
    position: int
    project_code: str
    plan_code: str
    source: str
    amount: int  # net cash; negative for a reversal
    effective_on: date
    recorded_on: date
    lateness_days: int
    correction: bool
    investor_code: str  # as recorded at the time


def late_entries(
    store: ReadModelStore,
    scope: Scope,
    *,
    min_days: int = 1,
    as_of: AsOfLike = None,
    limit: int = 100,
    offset: int = 0,
) -> Page[LateEntry]:
    """Disbursements of the scope recorded at least ``min_days`` late, latest first."""
    params: Params = {"kind": Movement.DISBURSED.value, "min_days": min_days}
    where = (
        "FROM {movement} m JOIN {plan} pl ON pl.plan_code = m.plan_code "
        f"WHERE {scope_condition(scope, params)} AND m.kind = :kind "
        f"AND m.lateness_days >= :min_days{as_of_condition(as_of_point(as_of), params)}"
    )

    def query(reader: Reader) -> Page[LateEntry]:
        total = int(reader.rows(f"SELECT COUNT(*) {where}", params)[0][0])
        rows = reader.rows(
            "SELECT m.position, m.project_code, m.plan_code, m.source, m.amount, m.effective_on, "
            f"m.recorded_on, m.lateness_days, m.correction, m.investor_code {where} "
            "ORDER BY m.lateness_days DESC, m.position LIMIT :limit OFFSET :offset",
            {**params, "limit": limit, "offset": offset},
        )
        items = [
            LateEntry(
                position=int(row[0]),
                project_code=str(row[1]),
                plan_code=str(row[2]),
                source=str(row[3]),
                amount=int(row[4]),
                effective_on=date.fromisoformat(row[5]),
                recorded_on=date.fromisoformat(row[6]),
                lateness_days=int(row[7]),
                correction=bool(row[8]),
                investor_code=str(row[9]),
            )
            for row in rows
        ]
        return Page(items, total, limit, offset)

    return store.read(query)
