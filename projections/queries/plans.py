"""Plans: envelopes per version, adjustment counts per year, capital allocated per source."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from capledger.domain.capital import unallocated

from ..store import Reader, ReadModelStore
from .sql import Params, in_list, jurisdiction_is
from .types import UnknownPlanCode


@dataclass(frozen=True)
class PlanVersion:
    plan_code: str
    plan_version: int
    effective_on: date
    recorded_on: date
    decision_no: str
    decision_issued_on: date
    decision_issuer: str
    reason: str | None  # None for the approval (version 1)
    envelopes: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.envelopes.values())


@dataclass(frozen=True)
class AdjustmentCount:
    plan_code: str
    jurisdiction: str
    year: int  # of the adjustment's effective date
    adjustments: int


@dataclass(frozen=True)
class PlanCapital:
    """``allocated + unallocated = envelope`` for one plan and source, now."""

    plan_code: str
    source: str
    envelope: int
    allocated: int
    unallocated: int


def plan_versions(store: ReadModelStore, plan_code: str) -> list[PlanVersion]:
    return store.read(lambda reader: _plan_versions(reader, plan_code))


def _plan_versions(reader: Reader, plan_code: str) -> list[PlanVersion]:
    params = {"plan": plan_code}
    versions = reader.rows(
        "SELECT plan_version, effective_on, recorded_on, decision_no, decision_issued_on, "
        "decision_issuer, reason FROM {plan_version} WHERE plan_code = :plan "
        "ORDER BY plan_version",
        params,
    )
    if not versions:
        raise UnknownPlanCode(f"no plan {plan_code} is in the read model")
    envelopes: dict[int, dict[str, int]] = {}
    for version, source, amount in reader.rows(
        "SELECT plan_version, source, amount FROM {plan_envelope} WHERE plan_code = :plan "
        "ORDER BY plan_version, source",
        params,
    ):
        envelopes.setdefault(int(version), {})[str(source)] = int(amount)
    return [
        PlanVersion(
            plan_code=plan_code,
            plan_version=int(row[0]),
            effective_on=date.fromisoformat(row[1]),
            recorded_on=date.fromisoformat(row[2]),
            decision_no=str(row[3]),
            decision_issued_on=date.fromisoformat(row[4]),
            decision_issuer=str(row[5]),
            reason=row[6],
            envelopes=envelopes.get(int(row[0]), {}),
        )
        for row in versions
    ]


def approval_dates(store: ReadModelStore, plan_codes: list[str]) -> dict[str, tuple[date, date]]:
    """``{plan: (decided_on, effective_on)}`` of each plan's approval (its version 1): the day
    its decision was issued and the day the approval took effect, which may differ."""
    if not plan_codes:
        return {}
    params: Params = {}
    sql = (
        "SELECT plan_code, decision_issued_on, effective_on FROM {plan_version} "
        f"WHERE plan_version = 1 AND plan_code IN {in_list('p', plan_codes, params)}"
    )
    rows = store.read(lambda reader: reader.rows(sql, params))
    return {
        str(code): (date.fromisoformat(decided), date.fromisoformat(effective))
        for code, decided, effective in rows
    }


def adjustment_counts(
    store: ReadModelStore,
    *,
    jurisdiction: str | Sequence[str] | None = None,
    year: int | None = None,
    plan_code: str | None = None,
) -> list[AdjustmentCount]:
    """Adjustments (versions after the approval) per plan and year of their effective date."""
    params: Params = {}
    sql = (
        "SELECT v.plan_code, pl.jurisdiction, substr(v.effective_on, 1, 4), COUNT(*) "
        "FROM {plan_version} v JOIN {plan} pl ON pl.plan_code = v.plan_code "
        "WHERE v.plan_version > 1"
    )
    if jurisdiction is not None:
        sql += jurisdiction_is("pl.jurisdiction", jurisdiction, params)
    if year is not None:
        sql += " AND substr(v.effective_on, 1, 4) = :year"
        params["year"] = f"{year:04d}"
    if plan_code is not None:
        sql += " AND v.plan_code = :plan"
        params["plan"] = plan_code
    sql += " GROUP BY v.plan_code, pl.jurisdiction, substr(v.effective_on, 1, 4) ORDER BY 3, 1"
    rows = store.read(lambda reader: reader.rows(sql, params))
    return [AdjustmentCount(str(r[0]), str(r[1]), int(r[2]), int(r[3])) for r in rows]


def plan_capital(store: ReadModelStore, plan_code: str | None = None) -> list[PlanCapital]:
    params: Params = {}
    sql = "SELECT plan_code, source, envelope, allocated FROM {plan_source}"
    if plan_code is not None:
        sql += " WHERE plan_code = :plan"
        params["plan"] = plan_code
    sql += " ORDER BY plan_code, source"
    rows = store.read(lambda reader: reader.rows(sql, params))
    return [
        PlanCapital(
            str(code),
            str(source),
            int(envelope),
            int(allocated),
            unallocated(int(envelope), int(allocated)),
        )
        for code, source, envelope, allocated in rows
    ]
