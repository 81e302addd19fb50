"""Queries of the read model: balances by any dimension, rates against chosen denominators,
the monthly series, year-end bunching, watch lists, late entries, plans and projects.

Every query can be asked "as of" a point: ``as_of`` (movements effective by that date) and
``known`` (recorded by the end of that day, Vietnam time; ``as_of`` when absent).
"""

from __future__ import annotations

from collections.abc import Hashable
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from capledger.domain.values import Authority, CapitalSource, PlanKind, ProjectStatus
from capledger.projections import ReadModelStore
from capledger.projections.queries import (
    AsOf,
    Basis,
    Denominator,
    Dimension,
    Exclusions,
    GroupBalance,
    NoAnnualPlan,
    NotYetKnown,
    Page,
    Scope,
    SummedRate,
    UnknownPlanCode,
    WatchLevel,
    adjustment_counts,
    balances,
    bunching,
    late_entries,
    monthly_series,
    plan_capital,
    plan_versions,
    scope_rates,
    watch_list,
)
from capledger.projections.queries.balances import SORTS, BalanceFilter
from capledger.projections.queries.plans import approval_dates
from capledger.projections.rows import ProjectRow

from .. import readmodel
from ..cache import cached_read
from ..context import ApiContext
from ..deps import Ctx, Reader
from ..problems import ApiProblem, example, problem_responses
from ..roles import Caller
from ..routing import ThreadedRoute
from ..schemas import (
    AsOfOut,
    BalancesOut,
    PageInfo,
    RateOut,
    as_of_out,
    page_fields,
    page_info,
    rate_fields,
    rate_out,
)
from ..scope import (
    check_filter,
    check_jurisdiction,
    check_jurisdiction_filter,
    check_plan,
    pinned_filter,
    visible_projects,
    visible_watch_entries,
)
from ..types import CODE_PATTERN, Code, Day, Label, Money, OptionalText, Year, money
from .jurisdictions import UNKNOWN_JURISDICTION, scope_of, scoped

router = APIRouter(tags=["queries"], route_class=ThreadedRoute)
#: A listing names nothing that must exist but its jurisdiction, which must be in the list
#: (``GET /jurisdictions``); any other unknown filter value lists nothing.
LISTING_RESPONSES = problem_responses(
    401,
    403,
    404,
    422,
    429,
    503,
    descriptions={404: "The jurisdiction named is not in the list (`unknown-jurisdiction`)"},
    examples={
        404: {
            UNKNOWN_JURISDICTION: example(
                404, UNKNOWN_JURISDICTION, "jurisdiction 'ZZ' is not in the list of jurisdictions"
            )
        }
    },
)
NOT_YET_KNOWN_EXAMPLE = example(
    404,
    NotYetKnown.code,
    "plan HP-KHV-2021-HDND was in force on 2021-06-20 but the ledger recorded it on 2026-11-30, "
    "after known=2021-06-20: ask with known=2026-11-30 or later to see it",
    known_from="2026-11-30",
)
NO_ANNUAL_PLAN_EXAMPLE = example(
    404, NoAnnualPlan.code, "no annual plan of ZZ for 2021 is in the read model"
)
UNKNOWN_PLAN_EXAMPLE = example(404, UnknownPlanCode.code, "no plan NOPE is in the read model")
AS_OF_404 = (
    "Unknown: no annual plan of the jurisdiction and year is recorded (`no-annual-plan`), an "
    "unknown plan or one not yet in force at `as_of` (`unknown-plan`), or a plan in force at "
    "`as_of` that the ledger recorded only after `known` (`not-yet-known`, with `known_from`: "
    "back-filled history; ask again with `known` on or after that day)"
)
#: The statuses of a query that names a scope or a plan that must be recorded.
READ_STATUSES = (401, 403, 404, 422, 429, 503)
#: Rates and the monthly series name a scope and denominator plans, as of a point.
RATE_RESPONSES = problem_responses(
    *READ_STATUSES,
    descriptions={404: AS_OF_404},
    examples={
        404: {
            "not-yet-known": NOT_YET_KNOWN_EXAMPLE,
            "unknown-plan": UNKNOWN_PLAN_EXAMPLE,
            "no-annual-plan": NO_ANNUAL_PLAN_EXAMPLE,
        }
    },
)
SCOPE_RESPONSES = problem_responses(
    *READ_STATUSES,
    descriptions={404: "No annual plan of the jurisdiction and year is recorded"},
    examples={404: {"no-annual-plan": NO_ANNUAL_PLAN_EXAMPLE}},
)
#: A plan named in the path.
READ_RESPONSES = problem_responses(
    *READ_STATUSES,
    descriptions={404: "No plan with that code is recorded, or it is not visible to the key"},
    examples={404: {"unknown-plan": UNKNOWN_PLAN_EXAMPLE}},
)

BalanceSort = StrEnum("BalanceSort", {name: name for name in [*SORTS, "rate"]})  # type: ignore[misc]
DENOMINATOR_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,63}(@[1-9][0-9]{0,8})?$"
MAX_OFFSET = 10**9


class _Query(BaseModel):
    model_config = ConfigDict(extra="ignore")


class AsOfQuery(_Query):
    as_of: Day | None = Field(
        default=None,
        description="Time travel by effective date: count movements effective (có hiệu lực) on "
        "or before this date (ISO date). Absent: everything recorded, now.",
        examples=["2021-06-20"],
    )
    known: Day | None = Field(
        default=None,
        description="What the ledger knew: count only what was recorded by the end of this day "
        "(Vietnam time, UTC+7); defaults to `as_of`, i.e. the answer the ledger gave on that day. "
        "Needs `as_of`. For history recorded after the fact (back-filled, e.g. migrated), send a "
        "later `known` (today's date: everything recorded so far), e.g. "
        "`as_of=2021-06-20&known=2026-12-07`; without it such a plan answers 404 "
        "`not-yet-known` naming the day it became known (`known_from`).",
        examples=["2026-12-07"],
    )

    @model_validator(mode="after")
    def _known_needs_as_of(self) -> AsOfQuery:
        if self.known is not None and self.as_of is None:
            raise ValueError("known needs as_of")
        return self

    def point(self) -> AsOf | None:
        if self.as_of is None:
            return None
        return AsOf(self.as_of, self.known or self.as_of)


class ScopeQuery(AsOfQuery):
    jurisdiction: Label = Field(
        description="Jurisdiction of the plans (`GET /jurisdictions`): a province or "
        "centrally-run city (`HP`), a ministry or central agency (`BTC`), or the country "
        "(`VN`), which counts the plans of every jurisdiction under it; an unknown code is 404 "
        "`unknown-jurisdiction`."
    )
    fiscal_year: Year

    def scope(self) -> Scope:
        return scope_of(self.jurisdiction, self.fiscal_year)


class ExclusionQuery(ScopeQuery):
    exclude_extended: bool = Field(
        default=False, description="Leave out capital extended into the next year."
    )
    added_after: Day | None = Field(
        default=None, description="Leave out envelope added by adjustments after this date."
    )
    places: int = Field(default=1, ge=0, le=6, description="Decimal places of percentages.")

    def exclusions(self) -> Exclusions:
        return Exclusions(extended=self.exclude_extended, added_after=self.added_after)


def denominator(spec: str) -> Denominator:
    code, _, version = spec.partition("@")
    return Denominator(code, int(version) if version else None)


# -- balances ------------------------------------------------------------------------------


class BalanceQuery(AsOfQuery):
    by: Dimension = Dimension.PROJECT
    project_code: Code | None = None
    plan_code: Code | None = None
    source: CapitalSource | None = None
    investor_code: Label | None = None
    program: OptionalText | None = None
    sector: Label | None = None
    province: Label | None = None
    jurisdiction: Label | None = Field(
        default=None,
        description="Only lines of plans of this jurisdiction, at any level (`GET "
        "/jurisdictions`): `VN` keeps the plans of every province and ministry; an unknown code "
        "is 404 `unknown-jurisdiction`.",
    )
    fiscal_year: Year | None = None
    plan_kind: PlanKind | None = None
    authority: Authority | None = None
    status: ProjectStatus | None = None
    sort: BalanceSort = BalanceSort["key"]
    order: Literal["asc", "desc"] = "asc"
    limit: int = Field(default=50, ge=1, le=10_000)
    offset: int = Field(default=0, ge=0, le=MAX_OFFSET)
    places: int = Field(default=1, ge=0, le=6)

    def filters(self, caller: Caller) -> BalanceFilter:
        investor_code, province = pinned_filter(
            caller, investor_code=self.investor_code, province=self.province
        )
        return BalanceFilter(
            project_code=self.project_code,
            plan_code=self.plan_code,
            source=None if self.source is None else self.source.value,
            investor_code=investor_code,
            program=self.program,
            sector=self.sector,
            province=province,
            jurisdiction=None if self.jurisdiction is None else scoped(self.jurisdiction),
            fiscal_year=self.fiscal_year,
            plan_kind=None if self.plan_kind is None else self.plan_kind.value,
            authority=None if self.authority is None else self.authority.value,
            status=None if self.status is None else self.status.value,
        )


class BalanceOut(BalancesOut):
    """The balance of one group."""

    key: str
    label: str
    disbursement_rate: RateOut


class BalancePage(BaseModel):
    by: Dimension
    as_of: AsOfOut | None
    items: list[BalanceOut]
    page: PageInfo


def balance_out(item: GroupBalance, places: int) -> BalanceOut:
    return BalanceOut.model_validate(balance_fields(item, places))


def balance_fields(item: GroupBalance, places: int) -> dict[str, Any]:
    """A :class:`BalanceOut`'s fields as plain values (amounts as ``str`` of their integers, as
    :func:`~capledger.api.types.money` writes them), for a page validated or written at once."""
    fields: dict[str, Any] = {"key": item.key, "label": item.label}
    for name, amount in item.figures().items():
        fields[name] = str(amount)
    fields["disbursement_rate"] = rate_fields(item.disbursement_rate, places)
    return fields


def query_balances(
    ctx: ApiContext,
    caller: Caller,
    query: BalanceQuery,
    *,
    limit: int | None,
    store: ReadModelStore | None = None,
    filters: BalanceFilter | None = None,
) -> tuple[list[GroupBalance], int]:
    page = balances(
        ctx.read_model if store is None else store,
        query.by,
        filters=query.filters(caller) if filters is None else filters,
        sort=str(query.sort.value),
        descending=query.order == "desc",
        limit=limit,
        offset=query.offset if limit is not None else 0,
        as_of=query.point(),
    )
    return page.items, page.total


def balances_key(query: BalanceQuery, caller: Caller) -> Hashable:
    """The page's key in the response cache: the query as validated (the caller's scope is
    added by the cache). A query out of the caller's scope is refused (403) here."""
    query.filters(caller)
    return ("balances", tuple(query.__dict__.values()))


@router.get(
    "/balances",
    operation_id="balances",
    summary="Balances grouped by a dimension",
    response_model=BalancePage,
    responses=LISTING_RESPONSES,
)
async def get_balances(
    query: Annotated[BalanceQuery, Query()], caller: Reader, ctx: Ctx, request: Request
) -> Response:
    # The API's busiest read, answered from the response cache while the read model stays in
    # the state a page was rendered from (capledger.api.cache). A page is
    # built from the query's integers and written out as JSON directly (a BalancePage, as
    # documented), rather than validated field by field into models and serialised from them
    # again: that cost more than the query itself.
    key = balances_key(query, caller)  # out of scope: 403 before anything is read
    filters = query.filters(caller)
    limit = min(query.limit, ctx.settings.api.max_page_size)

    def render(store: ReadModelStore) -> bytes:
        items, total = query_balances(ctx, caller, query, limit=limit, store=store, filters=filters)
        point = query.point()
        return orjson.dumps(
            {
                "by": query.by.value,
                "as_of": None
                if point is None
                else {"effective": point.effective, "known": point.known},
                "items": [balance_fields(item, query.places) for item in items],
                "page": page_fields(total, limit, query.offset, len(items)),
            }
        )

    return await cached_read(request, ctx, caller, key, render)


class ChangesQuery(BalanceQuery):
    from_date: Day = Field(alias="from", description="The earlier point (effective and known).")
    to_date: Day = Field(alias="to", description="The later point (effective and known).")


class ChangeOut(BaseModel):
    key: str
    label: str
    before: BalanceOut
    after: BalanceOut
    change: dict[str, Money] = Field(description="after − before, per balance.")


class ChangePage(BaseModel):
    by: Dimension
    before: AsOfOut
    after: AsOfOut
    items: list[ChangeOut]
    page: PageInfo


@router.get(
    "/balances/changes",
    operation_id="balance_changes",
    summary="What changed in the balances between two dates",
    response_model=ChangePage,
    responses=LISTING_RESPONSES,
)
def get_balance_changes(
    query: Annotated[ChangesQuery, Query()], caller: Reader, ctx: Ctx
) -> ChangePage:
    filters = query.filters(caller)
    points = (AsOf.on(query.from_date), AsOf.on(query.to_date))
    before_page, after_page = (
        balances(ctx.read_model, query.by, filters=filters, limit=None, as_of=point)
        for point in points
    )
    before = {item.key: item for item in before_page.items}
    after = {item.key: item for item in after_page.items}
    keys = sorted(set(before) | set(after))
    limit = min(query.limit, ctx.settings.api.max_page_size)
    chosen = keys[query.offset : query.offset + limit]
    items = []
    for key in chosen:
        label = (after.get(key) or before[key]).label
        old, new = (
            found.get(key) or GroupBalance(key=key, label=label) for found in (before, after)
        )
        change = {name: money(amount) for name, amount in (new - old).figures().items()}
        items.append(
            ChangeOut(
                key=key,
                label=label,
                before=balance_out(old, query.places),
                after=balance_out(new, query.places),
                change=change,
            )
        )
    return ChangePage(
        by=query.by,
        before=AsOfOut(effective=query.from_date, known=query.from_date),
        after=AsOfOut(effective=query.to_date, known=query.to_date),
        items=items,
        page=page_info(len(keys), limit, query.offset, len(items)),
    )


# -- rates ---------------------------------------------------------------------------------


class RateQuery(ExclusionQuery):
    plan: list[Annotated[str, Field(pattern=DENOMINATOR_PATTERN)]] = Field(
        default_factory=list,
        max_length=20,
        description="Denominator plans, `CODE` or `CODE@VERSION` (repeat for several), each a "
        "plan of a jurisdiction within the scope; when absent (and no `authority` is named), "
        "the annual plans recorded under the jurisdiction itself.",
    )
    authority: list[Authority] = Field(
        default_factory=list,
        max_length=len(Authority),
        description="Summed denominators (`by_authority`): for each authority named, the sum "
        "of the envelopes of the annual plans it assigned for the fiscal year across every "
        "jurisdiction of the scope, each at its latest version as of the date (`prime_minister` "
        "with `jurisdiction=VN`: the country-wide rate against the plans the Prime Minister "
        "assigned to provinces and ministries, as the Ministry of Finance reports it). When "
        "neither `plan` nor `authority` is named, every authority that assigned one of the "
        "scope's annual plans.",
    )

    def summed_authorities(self) -> list[str] | None:
        """The authorities whose plans are summed; None: all of the scope's."""
        if self.authority:
            return [authority.value for authority in self.authority]
        return [] if self.plan else None


class RateEntry(BaseModel):
    plan_code: str
    authority: str
    plan_version: int
    envelope: Money
    excluded_extended: Money
    excluded_added_late: Money
    denominator: Money
    rate: RateOut


class SummedRateEntry(BaseModel):
    """The scope's disbursement over the sum of one authority's annual plans across the scope."""

    authority: Authority = Field(
        description="The authority whose plans are summed (the kind of plan: e.g. "
        "`prime_minister`, kế hoạch Thủ tướng Chính phủ giao)."
    )
    plans: list[str] = Field(
        description="The plans summed, `CODE@VERSION` (the version counted); a plan with no "
        "version known as of the date is not counted."
    )
    envelope: Money = Field(description="Sum of the plans' envelopes, VND (tổng kế hoạch vốn).")
    excluded_extended: Money = Field(
        description="Capital of their sources extended into the next year across the scope, "
        "VND (with `exclude_extended`)."
    )
    excluded_added_late: Money = Field(
        description="Envelope added by adjustments after `added_after`, summed over the plans, VND."
    )
    denominator: Money = Field(description="`envelope` less the exclusions, VND.")
    rate: RateOut = Field(description="`disbursed` over `denominator` (tỷ lệ giải ngân).")


class RatesOut(BaseModel):
    jurisdiction: str
    fiscal_year: int
    as_of: AsOfOut | None
    exclude_extended: bool
    added_after: date | None
    disbursed: Money = Field(description="The numerator: net disbursement of the scope.")
    rates: list[RateEntry]
    by_authority: list[SummedRateEntry] = Field(
        description="The same numerator over summed denominators (`authority`)."
    )


def rate_entry(rate: Any, places: int) -> RateEntry:
    return RateEntry(
        plan_code=rate.plan_code,
        authority=rate.authority,
        plan_version=rate.plan_version,
        envelope=money(rate.envelope),
        excluded_extended=money(rate.excluded_extended),
        excluded_added_late=money(rate.excluded_added_late),
        denominator=money(rate.denominator),
        rate=rate_out(rate.ratio, places),
    )


def _denominators(ctx: ApiContext, query: RateQuery) -> list[Denominator]:
    if query.plan:
        return [denominator(spec) for spec in query.plan]
    if query.authority:
        return []  # summed denominators only
    # None when the scope has no annual plan: the rate query then says the scope is unknown.
    codes = readmodel.annual_plan_codes(ctx.read_model, query.jurisdiction, query.fiscal_year)
    return [Denominator(code) for code in codes]


def _scope_reader(query: ScopeQuery, caller: Caller) -> None:
    check_jurisdiction(caller, query.jurisdiction)


@router.get(
    "/rates",
    operation_id="disbursement_rates",
    summary="Disbursement rates of a jurisdiction and year against chosen plans",
    response_model=RatesOut,
    responses=RATE_RESPONSES,
)
def get_rates(query: Annotated[RateQuery, Query()], caller: Reader, ctx: Ctx) -> RatesOut:
    scope = query.scope()  # unknown jurisdiction: 404 before anything is read
    _scope_reader(query, caller)
    found = scope_rates(
        ctx.read_model,
        scope,
        _denominators(ctx, query),
        authorities=query.summed_authorities(),
        exclusions=query.exclusions(),
        as_of=query.point(),
    )
    return RatesOut(
        jurisdiction=query.jurisdiction,
        fiscal_year=query.fiscal_year,
        as_of=as_of_out(query.point()),
        exclude_extended=query.exclude_extended,
        added_after=query.added_after,
        disbursed=money(found.disbursed),
        rates=[rate_entry(rate, query.places) for rate in found.rates],
        by_authority=[summed_entry(rate, query.places) for rate in found.summed],
    )


def summed_entry(rate: SummedRate, places: int) -> SummedRateEntry:
    return SummedRateEntry(
        authority=Authority(rate.authority),
        plans=[f"{code}@{version}" for code, version in rate.plans],
        envelope=money(rate.envelope),
        excluded_extended=money(rate.excluded_extended),
        excluded_added_late=money(rate.excluded_added_late),
        denominator=money(rate.denominator),
        rate=rate_out(rate.ratio, places),
    )


class SeriesQuery(ExclusionQuery):
    basis: Basis = Basis.EFFECTIVE
    plan: Annotated[str, Field(pattern=DENOMINATOR_PATTERN)] | None = Field(
        default=None, description="Denominator for the cumulative rate, `CODE[@VERSION]`."
    )


class PointOut(BaseModel):
    month: str
    disbursed: Money
    cumulative: Money
    cumulative_rate: RateOut | None


class SeriesOut(BaseModel):
    jurisdiction: str
    fiscal_year: int
    basis: Basis
    as_of: AsOfOut | None
    denominator: RateEntry | None
    points: list[PointOut]


@router.get(
    "/rates/monthly",
    operation_id="monthly_series",
    summary="Monthly disbursement, cumulated (the S-curve)",
    response_model=SeriesOut,
    responses=RATE_RESPONSES,
)
def get_series(query: Annotated[SeriesQuery, Query()], caller: Reader, ctx: Ctx) -> SeriesOut:
    _scope_reader(query, caller)
    series = monthly_series(
        ctx.read_model,
        query.scope(),
        basis=query.basis,
        denominator=None if query.plan is None else denominator(query.plan),
        exclusions=query.exclusions(),
        as_of=query.point(),
    )
    return SeriesOut(
        jurisdiction=query.jurisdiction,
        fiscal_year=query.fiscal_year,
        basis=series.basis,
        as_of=as_of_out(series.as_of),
        denominator=None
        if series.denominator is None
        else rate_entry(series.denominator, query.places),
        points=[
            PointOut(
                month=point.month,
                disbursed=money(point.disbursed),
                cumulative=money(point.cumulative),
                cumulative_rate=None
                if point.cumulative_rate is None
                else rate_out(point.cumulative_rate, query.places),
            )
            for point in series.points
        ],
    )


class BunchingOut(BaseModel):
    jurisdiction: str
    fiscal_year: int
    as_of: AsOfOut | None
    before_year: Money
    quarters: list[Money]
    december: Money
    after_year_end: Money
    in_year: Money
    last_quarter_share: RateOut
    december_share: RateOut


class BunchingQuery(ScopeQuery):
    places: int = Field(default=1, ge=0, le=6)


@router.get(
    "/rates/bunching",
    operation_id="bunching",
    summary="Year-end bunching: quarters, December, shares",
    response_model=BunchingOut,
    responses=SCOPE_RESPONSES,
)
def get_bunching(query: Annotated[BunchingQuery, Query()], caller: Reader, ctx: Ctx) -> BunchingOut:
    _scope_reader(query, caller)
    found = bunching(ctx.read_model, query.scope(), as_of=query.point())
    return BunchingOut(
        jurisdiction=query.jurisdiction,
        fiscal_year=query.fiscal_year,
        as_of=as_of_out(found.as_of),
        before_year=money(found.before_year),
        quarters=[money(amount) for amount in found.quarters],
        december=money(found.december),
        after_year_end=money(found.after_year_end),
        in_year=money(found.in_year),
        last_quarter_share=rate_out(found.last_quarter_share, query.places),
        december_share=rate_out(found.december_share, query.places),
    )


# -- watch lists and late entries ----------------------------------------------------------


class WatchQuery(ScopeQuery):
    level: WatchLevel = WatchLevel.PROJECT
    threshold_percent: Decimal | None = Field(
        default=None,
        ge=0,
        le=100,
        max_digits=9,
        decimal_places=4,
        description="List those below this rate (e.g. the national average, 45.5); "
        "below the scope's own average when absent.",
    )
    limit: int = Field(default=100, ge=1, le=10_000)
    places: int = Field(default=1, ge=0, le=6)


class WatchEntryOut(BaseModel):
    key: str
    label: str
    investor_code: str
    investor_name: str
    projects: int
    status: str | None
    capital: Money
    disbursed: Money
    rate: RateOut
    shortfall: Money = Field(description="What it would take to reach the reference rate.")


class WatchListOut(BaseModel):
    jurisdiction: str
    fiscal_year: int
    level: WatchLevel
    as_of: AsOfOut | None
    reference_rate: str
    reference_is_scope_average: bool
    scope_rate: RateOut
    entries: list[WatchEntryOut]


def build_watch_list(ctx: ApiContext, caller: Caller, query: WatchQuery) -> WatchListOut:
    # Officers scoped by investor see their own entries of the jurisdiction's list.
    if not caller.covers_jurisdiction(query.jurisdiction) and not caller.scope.investors:
        check_jurisdiction(caller, query.jurisdiction)
    threshold = None
    if query.threshold_percent is not None:
        threshold = query.threshold_percent / Decimal(100)
    found = watch_list(
        ctx.read_model,
        query.scope(),
        level=query.level,
        threshold=threshold,
        as_of=query.point(),
        limit=None,
    )
    entries = visible_watch_entries(
        ctx, caller, query.jurisdiction, found.level is WatchLevel.PROJECT, found.entries
    )[: query.limit]
    return WatchListOut(
        jurisdiction=query.jurisdiction,
        fiscal_year=query.fiscal_year,
        level=found.level,
        as_of=as_of_out(found.as_of),
        reference_rate=format(found.reference, "f"),
        reference_is_scope_average=found.reference_is_scope_average,
        scope_rate=rate_out(found.scope_ratio, query.places),
        entries=[
            WatchEntryOut(
                key=entry.key,
                label=entry.label,
                investor_code=entry.investor_code,
                investor_name=entry.investor_name,
                projects=entry.projects,
                status=entry.status,
                capital=money(entry.capital),
                disbursed=money(entry.disbursed),
                rate=rate_out(entry.ratio, query.places),
                shortfall=money(entry.shortfall),
            )
            for entry in entries
        ],
    )


@router.get(
    "/watch-list",
    operation_id="watch_list",
    summary="Projects or investors disbursing below a threshold or the average",
    response_model=WatchListOut,
    responses=LISTING_RESPONSES,
)
def get_watch_list(query: Annotated[WatchQuery, Query()], caller: Reader, ctx: Ctx) -> WatchListOut:
    return build_watch_list(ctx, caller, query)


class LateQuery(ScopeQuery):
    min_days: int = Field(default=1, ge=0, le=100_000)
    limit: int = Field(default=100, ge=1, le=1_000)
    offset: int = Field(default=0, ge=0, le=MAX_OFFSET)


#: The late entries of a jurisdiction and year a finance officer's query reads before keeping
#: those of its visible projects.
MAX_SCOPED_LATE_ENTRIES = 100_000


class LateEntryOut(BaseModel):
    position: int
    project_code: str
    plan_code: str
    source: str
    amount: Money
    effective_on: date
    recorded_on: date
    lateness_days: int
    correction: bool
    investor_code: str


class LatePage(BaseModel):
    jurisdiction: str
    fiscal_year: int
    items: list[LateEntryOut]
    page: PageInfo


@router.get(
    "/late-entries",
    operation_id="late_entries",
    summary="Disbursements recorded late (after their effective date)",
    response_model=LatePage,
    responses=LISTING_RESPONSES,
)
def get_late_entries(query: Annotated[LateQuery, Query()], caller: Reader, ctx: Ctx) -> LatePage:
    _scope_reader(query, caller)
    page = late_entries(
        ctx.read_model,
        query.scope(),
        min_days=query.min_days,
        as_of=query.point(),
        limit=query.limit if not caller.scoped else MAX_SCOPED_LATE_ENTRIES,
        offset=query.offset if not caller.scoped else 0,
    )
    if caller.scoped:
        # Rows of visible projects only (the scope rule), paged after they are chosen.
        visible = visible_projects(ctx, caller, [item.project_code for item in page.items])
        mine = [item for item in page.items if item.project_code in visible]
        page = Page(mine[query.offset : query.offset + query.limit], len(mine), query.limit,
                    query.offset)  # fmt: skip
    return LatePage(
        jurisdiction=query.jurisdiction,
        fiscal_year=query.fiscal_year,
        items=[
            LateEntryOut(
                position=item.position,
                project_code=item.project_code,
                plan_code=item.plan_code,
                source=item.source,
                amount=money(item.amount),
                effective_on=item.effective_on,
                recorded_on=item.recorded_on,
                lateness_days=item.lateness_days,
                correction=item.correction,
                investor_code=item.investor_code,
            )
            for item in page.items
        ],
        page=page_info(page.total, query.limit, query.offset, len(page.items)),
    )


# -- plans ---------------------------------------------------------------------------------

PlanCode = Annotated[str, Path(pattern=CODE_PATTERN)]
ProjectCode = Annotated[str, Path(pattern=CODE_PATTERN)]


class PlanOut(BaseModel):
    plan_code: str
    title: str
    kind: str
    authority: str
    jurisdiction: str
    start_year: int
    end_year: int
    implements: str | None
    plan_version: int
    approved_on: str = Field(
        description=(
            "The day the approval took effect (= `effective_on`), not the day it was decided: "
            "the name is kept for existing clients; read `effective_on` and `decided_on`."
        )
    )
    effective_on: date = Field(
        description="The day the plan's approval took effect (ngày hiệu lực)."
    )
    decided_on: date = Field(
        description=(
            "The day the approving decision was issued (ngày ban hành quyết định/nghị quyết): "
            "its `decision_issued_on`, which may precede `effective_on`."
        )
    )


class PlansQuery(_Query):
    jurisdiction: Label | None = Field(
        default=None,
        description="Plans of this jurisdiction, at any level (`GET /jurisdictions`: `VN` lists "
        "every province's and ministry's); an unknown code is 404 `unknown-jurisdiction`.",
    )
    fiscal_year: Year | None = None
    kind: PlanKind | None = None


@router.get(
    "/plans",
    operation_id="plans",
    summary="Plans in the read model",
    response_model=list[PlanOut],
    responses=LISTING_RESPONSES,
)
def get_plans(query: Annotated[PlansQuery, Query()], caller: Reader, ctx: Ctx) -> list[PlanOut]:
    check_jurisdiction_filter(caller, query.jurisdiction)
    found = readmodel.plans(
        ctx.read_model,
        jurisdiction=None if query.jurisdiction is None else scoped(query.jurisdiction),
        fiscal_year=query.fiscal_year,
        kind=None if query.kind is None else query.kind.value,
        jurisdictions=sorted(caller.scope.provinces) if caller.scoped else None,
    )
    dates = approval_dates(ctx.read_model, [plan.plan_code for plan in found])
    return [
        PlanOut(
            **plan._asdict(),
            decided_on=dates[plan.plan_code][0],
            effective_on=dates[plan.plan_code][1],
        )
        for plan in found
    ]


class PlanVersionOut(BaseModel):
    plan_code: str
    plan_version: int
    effective_on: date
    recorded_on: date
    decision_no: str
    decision_issued_on: date
    decision_issuer: str
    reason: str | None
    envelopes: dict[str, Money]
    total: Money


@router.get(
    "/plans/{plan_code}/versions",
    operation_id="plan_versions",
    summary="A plan's versions: the approval and each adjustment, with envelopes",
    response_model=list[PlanVersionOut],
    responses=READ_RESPONSES,
)
def get_plan_versions(plan_code: PlanCode, caller: Reader, ctx: Ctx) -> list[PlanVersionOut]:
    check_plan(ctx, caller, plan_code, write=False)
    return [
        PlanVersionOut(
            plan_code=version.plan_code,
            plan_version=version.plan_version,
            effective_on=version.effective_on,
            recorded_on=version.recorded_on,
            decision_no=version.decision_no,
            decision_issued_on=version.decision_issued_on,
            decision_issuer=version.decision_issuer,
            reason=version.reason,
            envelopes={source: money(amount) for source, amount in version.envelopes.items()},
            total=money(version.total),
        )
        for version in plan_versions(ctx.read_model, plan_code)
    ]


class PlanCapitalOut(BaseModel):
    plan_code: str
    source: str
    envelope: Money
    allocated: Money
    unallocated: Money


@router.get(
    "/plans/{plan_code}/capital",
    operation_id="plan_capital",
    summary="A plan's envelope, allocated and unallocated capital per source",
    response_model=list[PlanCapitalOut],
    responses=READ_RESPONSES,
)
def get_plan_capital(plan_code: PlanCode, caller: Reader, ctx: Ctx) -> list[PlanCapitalOut]:
    check_plan(ctx, caller, plan_code, write=False)
    found = plan_capital(ctx.read_model, plan_code)
    if not found:
        raise UnknownPlanCode(f"no plan {plan_code} is in the read model")
    return [
        PlanCapitalOut(
            plan_code=item.plan_code,
            source=item.source,
            envelope=money(item.envelope),
            allocated=money(item.allocated),
            unallocated=money(item.unallocated),
        )
        for item in found
    ]


class AdjustmentQuery(_Query):
    jurisdiction: Label | None = Field(
        default=None,
        description="Plans of this jurisdiction, at any level (`GET /jurisdictions`); an "
        "unknown code is 404 `unknown-jurisdiction`.",
    )
    year: Year | None = None
    plan_code: Code | None = None


class AdjustmentCountOut(BaseModel):
    plan_code: str
    jurisdiction: str
    year: int
    adjustments: int


@router.get(
    "/plans-adjustments",
    operation_id="adjustment_counts",
    summary="How many times plans were adjusted, per plan and year",
    response_model=list[AdjustmentCountOut],
    responses=LISTING_RESPONSES,
)
def get_adjustment_counts(
    query: Annotated[AdjustmentQuery, Query()], caller: Reader, ctx: Ctx
) -> list[AdjustmentCountOut]:
    if caller.scoped:
        if query.jurisdiction is None:
            raise ApiProblem(403, "scope-filter-required", "filter by one of this key's provinces")
        check_jurisdiction(caller, query.jurisdiction)
    found = adjustment_counts(
        ctx.read_model,
        jurisdiction=None if query.jurisdiction is None else scoped(query.jurisdiction),
        year=query.year,
        plan_code=query.plan_code,
    )
    return [AdjustmentCountOut(**vars(item)) for item in found]


# -- projects ------------------------------------------------------------------------------


class ProjectsQuery(_Query):
    investor_code: Label | None = None
    province: Label | None = None
    sector: Label | None = None
    program: OptionalText | None = None
    status: ProjectStatus | None = None
    jurisdiction: Label | None = Field(
        default=None,
        description="Projects with capital from plans of this jurisdiction, at any level (`GET "
        "/jurisdictions`: `VN` counts every province and ministry); an unknown code is 404 "
        "`unknown-jurisdiction`.",
    )
    fiscal_year: Year | None = None
    limit: int = Field(default=50, ge=1, le=10_000)
    offset: int = Field(default=0, ge=0, le=MAX_OFFSET)


class ProjectOut(BaseModel):
    project_code: str
    name: str
    investor_code: str
    investor_name: str
    program: str
    sector: str
    province: str
    total_investment: Money
    status: str
    review_class: str | None
    registered_on: str
    settled_value: Money | None


class ProjectPage(BaseModel):
    items: list[ProjectOut]
    page: PageInfo


def project_out(record: ProjectRow) -> ProjectOut:
    values: dict[str, Any] = record._asdict()
    values["total_investment"] = money(record.total_investment)
    values["settled_value"] = None if record.settled_value is None else money(record.settled_value)
    return ProjectOut(**values)


@router.get(
    "/projects",
    operation_id="projects",
    summary="Projects in the read model (within the key's scope)",
    response_model=ProjectPage,
    responses=LISTING_RESPONSES,
)
def get_projects(query: Annotated[ProjectsQuery, Query()], caller: Reader, ctx: Ctx) -> ProjectPage:
    check_filter(caller, investor_code=query.investor_code, province=query.province)
    limit = min(query.limit, ctx.settings.api.max_page_size)
    found, total = readmodel.projects(
        ctx.read_model,
        caller,
        investor_code=query.investor_code,
        province=query.province,
        sector=query.sector,
        program=query.program,
        status=None if query.status is None else query.status.value,
        jurisdiction=None if query.jurisdiction is None else scoped(query.jurisdiction),
        fiscal_year=query.fiscal_year,
        limit=limit,
        offset=query.offset,
    )
    return ProjectPage(
        items=[project_out(item) for item in found],
        page=page_info(total, limit, query.offset, len(found)),
    )
