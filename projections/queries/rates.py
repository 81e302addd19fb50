"""Disbursement rates: the scope's disbursement over a chosen plan's envelope.

The numerator is all disbursement (net cash) of the annual-plan capital of the scope's plans:
Hải Phòng's report quotes the same 4,600 billion against the city's plan and the Prime
Minister's. The denominator is one plan's envelope at a version (the latest one known as of the
date unless named), less the chosen exclusions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from ..rows import Movement
from ..store import Reader, ReadModelStore
from .sql import Params, as_of_condition, in_list, scope_condition
from .types import (
    NO_EXCLUSIONS,
    AsOf,
    AsOfLike,
    Denominator,
    Exclusions,
    NoAnnualPlan,
    NotYetKnown,
    PlanOutsideScope,
    QueryError,
    Ratio,
    Scope,
    UnknownPlanCode,
    as_of_point,
)


@dataclass(frozen=True)
class PlanEnvelope:
    plan_code: str
    authority: str
    plan_version: int
    envelopes: dict[str, int]
    jurisdiction: str
    start_year: int
    end_year: int

    @property
    def total(self) -> int:
        return sum(self.envelopes.values())


@dataclass(frozen=True)
class RateFigures:
    """What every rate of a scope holds: the disbursement, the envelope it is measured
    against, what the exclusions took off it, and their ratio."""

    scope: Scope
    as_of: AsOf | None
    exclusions: Exclusions
    disbursed: int
    envelope: int
    excluded_extended: int
    excluded_added_late: int
    ratio: Ratio

    @property
    def denominator(self) -> int:
        return self.ratio.denominator


@dataclass(frozen=True)
class DisbursementRate(RateFigures):
    """The rate against one plan, at the version counted."""

    plan_code: str
    authority: str
    plan_version: int


def disbursement_rate(
    store: ReadModelStore,
    scope: Scope,
    denominator: Denominator,
    *,
    exclusions: Exclusions = NO_EXCLUSIONS,
    as_of: AsOfLike = None,
) -> DisbursementRate:
    return disbursement_rates(store, scope, [denominator], exclusions=exclusions, as_of=as_of)[0]


@dataclass(frozen=True)
class SummedRate(RateFigures):
    """The scope's disbursement over the sum of one kind of plan across the scope: the annual
    plans of its fiscal year assigned by one authority in every jurisdiction the scope holds
    (the country-wide rate against what the Prime Minister assigned, as the Ministry of Finance
    reports it). ``plans``: each summed plan and the version counted; a plan with no version
    known as of the date is not counted."""

    authority: str
    plans: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class ScopeRates:
    """One numerator, against chosen plans (``rates``) and against sums of a kind of plan over
    the scope (``summed``), from one snapshot."""

    scope: Scope
    disbursed: int
    rates: list[DisbursementRate]
    summed: list[SummedRate]


def disbursement_rates(
    store: ReadModelStore,
    scope: Scope,
    denominators: Sequence[Denominator],
    *,
    exclusions: Exclusions = NO_EXCLUSIONS,
    as_of: AsOfLike = None,
) -> list[DisbursementRate]:
    """One numerator against several denominators, from one snapshot (as reports quote them).

    A scope with no annual plan in the read model is unknown (``QueryError``), not a rate of 0;
    a denominator of another jurisdiction or of other years is ``PlanOutsideScope``.
    """
    return scope_rates(
        store, scope, denominators, authorities=(), exclusions=exclusions, as_of=as_of
    ).rates


def scope_rates(
    store: ReadModelStore,
    scope: Scope,
    denominators: Sequence[Denominator],
    *,
    authorities: Sequence[str] | None,
    exclusions: Exclusions = NO_EXCLUSIONS,
    as_of: AsOfLike = None,
) -> ScopeRates:
    """The scope's disbursement against each chosen plan and against the sum of each chosen
    authority's annual plans over the scope (``authorities=None``: every authority that
    assigned one of them, in order of its code), from one snapshot."""
    point = as_of_point(as_of)

    def query(reader: Reader) -> ScopeRates:
        check_scope_known(reader, scope)
        disbursed = scope_disbursed(reader, scope, point, exclusions)
        rates = [
            rate_against(reader, scope, denominator, exclusions, point, disbursed)
            for denominator in denominators
        ]
        asked_none = authorities is not None and not authorities
        plans = {} if asked_none else scope_plans(reader, scope)
        chosen = sorted(set(plans)) if authorities is None else list(authorities)
        summed = [
            summed_against(reader, scope, authority, plans.get(authority, []), exclusions, point,
                           disbursed)
            for authority in chosen
        ]  # fmt: skip
        return ScopeRates(scope, disbursed, rates, summed)

    return store.read(query)


def scope_plans(reader: Reader, scope: Scope) -> dict[str, list[str]]:
    """The scope's annual plans by the authority that assigned them (an index lookup)."""
    params: Params = {}
    where = scope_condition(scope, params)
    rows = reader.rows(
        f"SELECT pl.authority, pl.plan_code FROM {{plan}} pl WHERE {where} "
        "ORDER BY pl.authority, pl.plan_code",
        params,
    )
    found: dict[str, list[str]] = {}
    for authority, plan_code in rows:
        found.setdefault(str(authority), []).append(str(plan_code))
    return found


def summed_against(
    reader: Reader,
    scope: Scope,
    authority: str,
    plan_codes: Sequence[str],
    exclusions: Exclusions,
    as_of: AsOf | None,
    disbursed: int,
) -> SummedRate:
    """The sum of the given plans' envelopes (each at its latest version as of the date) as one
    denominator, less the exclusions: each plan's late additions, and the capital of their
    sources extended across the scope."""
    envelopes: list[PlanEnvelope] = []
    late = 0
    for plan_code in plan_codes:
        version = latest_version(reader, plan_code, as_of)
        if version is None:
            continue  # approved after the date asked about
        plan = envelope_of(reader, Denominator(plan_code, version), as_of)
        envelopes.append(plan)
        if exclusions.added_after is not None:
            late += added_after(reader, plan, exclusions.added_after, as_of)
    sources = sorted({source for plan in envelopes for source in plan.envelopes})
    extended = scope_extended(reader, scope, sources, as_of) if exclusions.extended else 0
    envelope = sum(plan.total for plan in envelopes)
    return SummedRate(
        scope=scope,
        authority=authority,
        plans=tuple((plan.plan_code, plan.plan_version) for plan in envelopes),
        as_of=as_of,
        exclusions=exclusions,
        disbursed=disbursed,
        envelope=envelope,
        excluded_extended=extended,
        excluded_added_late=late,
        ratio=Ratio(disbursed, max(0, envelope - extended - late)),
    )


def scope_disbursed(
    reader: Reader, scope: Scope, as_of: AsOf | None, exclusions: Exclusions
) -> int:
    params: Params = {"kind": Movement.DISBURSED.value}
    sql = (
        "SELECT COALESCE(SUM(m.amount), 0) FROM {movement} m "
        "JOIN {plan} pl ON pl.plan_code = m.plan_code "
        f"WHERE {scope_condition(scope, params)} AND m.kind = :kind"
        f"{as_of_condition(as_of, params)}"
    )
    if exclusions.extended:
        sql += " AND m.from_extension = 0"
    return int(reader.rows(sql, params)[0][0])


def rate_against(
    reader: Reader,
    scope: Scope,
    denominator: Denominator,
    exclusions: Exclusions,
    as_of: AsOf | None,
    disbursed: int,
) -> DisbursementRate:
    plan = envelope_of(reader, denominator, as_of)
    check_plan_in_scope(plan, scope)
    extended = (
        scope_extended(reader, scope, sorted(plan.envelopes), as_of) if exclusions.extended else 0
    )
    late = 0
    if exclusions.added_after is not None:
        late = added_after(reader, plan, exclusions.added_after, as_of)
    return DisbursementRate(
        scope=scope,
        plan_code=plan.plan_code,
        authority=plan.authority,
        plan_version=plan.plan_version,
        as_of=as_of,
        exclusions=exclusions,
        disbursed=disbursed,
        envelope=plan.total,
        excluded_extended=extended,
        excluded_added_late=late,
        ratio=Ratio(disbursed, max(0, plan.total - extended - late)),
    )


def envelope_of(reader: Reader, denominator: Denominator, as_of: AsOf | None) -> PlanEnvelope:
    rows = reader.rows(
        "SELECT authority, jurisdiction, start_year, end_year FROM {plan} WHERE plan_code = :plan",
        {"plan": denominator.plan_code},
    )
    if not rows:
        raise UnknownPlanCode(f"no plan {denominator.plan_code} is in the read model")
    version = denominator.plan_version
    if version is None:
        version = latest_version(reader, denominator.plan_code, as_of)
    if version is None:
        assert as_of is not None  # a recorded plan has a version now
        raise plan_not_in_force(reader, denominator.plan_code, as_of)
    envelopes = envelopes_at(reader, denominator.plan_code, version)
    authority, jurisdiction, start_year, end_year = rows[0]
    return PlanEnvelope(
        denominator.plan_code,
        str(authority),
        version,
        envelopes,
        str(jurisdiction),
        int(start_year),
        int(end_year),
    )


def plan_not_in_force(reader: Reader, plan_code: str, as_of: AsOf) -> QueryError:
    """Why a recorded plan has no version as of the point: in force by the effective date but
    recorded after ``known`` (:class:`NotYetKnown`, naming the day the ledger learnt it), or
    approved effective after that date (absent then: unknown)."""
    found = reader.rows(
        "SELECT MIN(v.recorded_on) FROM {plan_version} v "
        "WHERE v.plan_code = :plan AND v.effective_on <= :effective",
        {"plan": plan_code, "effective": as_of.effective.isoformat()},
    )[0][0]
    if found is not None:
        return NotYetKnown(f"plan {plan_code}", as_of, date.fromisoformat(str(found)))
    return UnknownPlanCode(
        f"plan {plan_code} was not yet in force on {as_of.effective.isoformat()}"
    )


def check_scope_known(reader: Reader, scope: Scope) -> None:
    params: Params = {}
    sql = f"SELECT 1 FROM {{plan}} pl WHERE {scope_condition(scope, params)} LIMIT 1"
    if not reader.rows(sql, params):
        raise NoAnnualPlan(
            f"no annual plan of {scope.jurisdiction} for {scope.fiscal_year} is in the read model"
        )


def check_plan_in_scope(plan: PlanEnvelope, scope: Scope) -> None:
    if not scope.holds(plan.jurisdiction):
        within = "of" if len(scope.codes) == 1 else "within"
        raise PlanOutsideScope(
            f"plan {plan.plan_code} is a plan of {plan.jurisdiction}, "
            f"not {within} {scope.jurisdiction}"
        )
    if not plan.start_year <= scope.fiscal_year <= plan.end_year:
        years = (
            str(plan.start_year)
            if plan.start_year == plan.end_year
            else f"{plan.start_year}–{plan.end_year}"
        )
        raise PlanOutsideScope(
            f"plan {plan.plan_code} covers {years}, not the fiscal year {scope.fiscal_year}"
        )


def latest_version(
    reader: Reader,
    plan_code: str,
    as_of: AsOf | None,
    *,
    effective_by: date | None = None,
    upto: int | None = None,
) -> int | None:
    """The newest version known as of the date, effective by ``effective_by`` and no newer
    than ``upto`` when given; None if there is none."""
    params: Params = {"plan": plan_code}
    sql = "SELECT MAX(v.plan_version) FROM {plan_version} v WHERE v.plan_code = :plan"
    sql += as_of_condition(as_of, params, alias="v")
    if effective_by is not None:
        sql += " AND v.effective_on <= :effective_by"
        params["effective_by"] = effective_by.isoformat()
    if upto is not None:
        sql += " AND v.plan_version <= :upto"
        params["upto"] = upto
    found = reader.rows(sql, params)[0][0]
    return None if found is None else int(found)


def envelopes_at(reader: Reader, plan_code: str, version: int) -> dict[str, int]:
    rows = reader.rows(
        "SELECT source, amount FROM {plan_envelope} WHERE plan_code = :plan "
        "AND plan_version = :version ORDER BY source",
        {"plan": plan_code, "version": version},
    )
    if not rows:
        raise QueryError(f"plan {plan_code} has no version {version}")
    return {str(source): int(amount) for source, amount in rows}


def scope_extended(reader: Reader, scope: Scope, sources: list[str], as_of: AsOf | None) -> int:
    """Capital of the given sources extended into the next year across the scope."""
    params: Params = {"kind": Movement.EXTENDED.value}
    sql = (
        "SELECT COALESCE(SUM(m.amount), 0) FROM {movement} m "
        "JOIN {plan} pl ON pl.plan_code = m.plan_code "
        f"WHERE {scope_condition(scope, params)} AND m.kind = :kind "
        f"AND m.source IN {in_list('source', sources, params)}{as_of_condition(as_of, params)}"
    )
    return int(reader.rows(sql, params)[0][0])


def added_after(reader: Reader, plan: PlanEnvelope, cutoff: date, as_of: AsOf | None) -> int:
    """Envelope added, per source, between the version in force on the cut-off and ``plan``."""
    before = latest_version(
        reader, plan.plan_code, as_of, effective_by=cutoff, upto=plan.plan_version
    )
    earlier = {} if before is None else envelopes_at(reader, plan.plan_code, before)
    return sum(max(0, amount - earlier.get(source, 0)) for source, amount in plan.envelopes.items())
