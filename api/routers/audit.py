"""Audit: a project's history from the event store, its state at any point, the difference
between two points, hash-chain verification, published heads digests, and the administration of
API keys."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from capledger.application.errors import UnknownProject
from capledger.application.verify import verify_store
from capledger.domain import Balance, api_key_id
from capledger.projections.history import HistoryEntry, ProjectHistory, ProjectState, published

from ..context import ApiContext
from ..deps import Admin, Ctx, Inspector, Reader
from ..problems import ApiProblem, example, problem_responses
from ..roles import Caller
from ..routing import ThreadedRoute
from ..schemas import BalancesOut, balances_out, money_fields
from ..scope import check_project
from ..types import CODE_PATTERN, MAX_DATE, MIN_DATE, Day, Money, money

router = APIRouter(tags=["audit"], route_class=ThreadedRoute)
#: One project's reads: any role reads, and a project out of a key's scope answers as one never
#: recorded (404), so no 403.
READ_RESPONSES = problem_responses(401, 404, 422, 429, 503)
ProjectCode = Annotated[str, Path(pattern=CODE_PATTERN, description="The project's code.")]
MAX_VERSION = 2**31 - 1
NOTHING = Balance()


def auditor(ctx: ApiContext) -> ProjectHistory:
    assert ctx.auditor is not None
    return ctx.auditor


def _in_scope(ctx: ApiContext, caller: Caller, code: str) -> None:
    check_project(ctx, caller, code, write=False)


# -- history -------------------------------------------------------------------------------


class DecisionOut(BaseModel):
    number: str
    issued_on: str
    issuer: str


class HistoryEntryOut(BaseModel):
    version: int = Field(description="Stream version: the cursor of this history.")
    event: str
    class_version: int
    effective_on: date | None
    recorded_at: datetime | None
    late: bool = Field(description="Recorded (Vietnam time) after the day it took effect.")
    lateness_days: int | None
    principal: str | None = Field(description="Who recorded it (the API key's principal).")
    command: str | None
    command_id: str | None
    correlation_id: str | None
    decision: DecisionOut | None
    amount: Money | None = Field(
        description=(
            "What the event moves in the project's balances, VND; negative when capital or cash "
            "leaves the project. For a payment of completed work this is the net cash "
            "(= `net_amount`), while the event's `data.amount` is the gross value of the work "
            "(= `gross_amount`): the name is kept for existing clients, read the two below."
        )
    )
    gross_amount: Money | None = Field(
        description=(
            "Payments, advances and their reversals: the gross value paid for, VND — for a "
            "payment the value of the completed work (giá trị khối lượng hoàn thành), advance "
            "recovered included; the event's `data.amount`. Negative for a reversal; null for "
            "other events."
        )
    )
    net_amount: Money | None = Field(
        description=(
            "Payments, advances and their reversals: the cash paid out (giải ngân), VND: "
            "`gross_amount` − `data.advance_recovered` (the part of the work's value that "
            "repays an advance is not paid again). Negative for a reversal; null for other "
            "events."
        )
    )
    plan_code: str | None
    source: str | None
    data: dict[str, Any] = Field(description="The event's data (amounts as strings).")
    hash: str
    prev: str
    balances: BalancesOut = Field(description="The project's balances right after the event.")


class HistoryPage(BaseModel):
    project_code: str
    head_version: int
    items: list[HistoryEntryOut]
    next_after: int | None = Field(description="Pass as `after` for the next page.")


def history_out(entry: HistoryEntry) -> HistoryEntryOut:
    decision = entry.decision
    return HistoryEntryOut(
        version=entry.version,
        event=entry.event,
        class_version=entry.class_version,
        effective_on=entry.effective_on,
        recorded_at=entry.recorded_at,
        late=entry.late,
        lateness_days=entry.lateness_days,
        principal=entry.principal,
        command=entry.command,
        command_id=entry.command_id,
        correlation_id=entry.correlation_id,
        decision=None
        if decision is None
        else DecisionOut(
            number=str(decision.get("number", "")),
            issued_on=str(decision.get("issued_on", "")),
            issuer=str(decision.get("issuer", "")),
        ),
        amount=None if entry.amount is None else money(entry.amount),
        gross_amount=None if entry.gross_amount is None else money(entry.gross_amount),
        net_amount=None if entry.net_amount is None else money(entry.net_amount),
        plan_code=entry.plan_code,
        source=entry.source,
        data=money_fields(entry.data),
        hash=entry.hash,
        prev=entry.prev,
        balances=balances_out(entry.balance),
    )


@router.get(
    "/projects/{project_code}/history",
    operation_id="project_history",
    summary="A project's events in order, with the running balance after each",
    response_model=HistoryPage,
    responses=READ_RESPONSES,
)
def get_history(
    project_code: ProjectCode,
    caller: Reader,
    ctx: Ctx,
    request: Request,
    response: Response,
    after: Annotated[int, Query(ge=0, le=MAX_VERSION, description="Stream version cursor.")] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> HistoryPage:
    _in_scope(ctx, caller, project_code)
    reader = auditor(ctx)
    head = reader.head_version(project_code)
    if after > head:
        raise ApiProblem(404, "not-found", f"project {project_code} has no version {after}")
    entries = reader.history(project_code, after=after, limit=limit)
    last = entries[-1].version if entries else after
    following = last if last < head else None
    if following is not None:
        url = request.url.include_query_params(after=following, limit=limit)
        response.headers["Link"] = f'<{url}>; rel="next"'
    return HistoryPage(
        project_code=project_code,
        head_version=head,
        items=[history_out(entry) for entry in entries],
        next_after=following,
    )


# -- states --------------------------------------------------------------------------------


class PointQuery(BaseModel):
    """One point in a project's life: a version, a recording time, or an effective date."""

    model_config = ConfigDict(extra="ignore")

    version: int | None = Field(default=None, ge=0, le=MAX_VERSION)
    recorded_at: datetime | None = Field(
        default=None, description="What the ledger held at this moment (ISO 8601; UTC if naive)."
    )
    effective_on: Day | None = Field(default=None, description="Movements effective by this date…")
    known: Day | None = Field(
        default=None,
        description="With `effective_on`: what the ledger knew, i.e. only what was recorded by "
        "the end of this day (Vietnam time, UTC+7). Absent: everything recorded so far. A project "
        "registered with effect by `effective_on` but recorded after `known` (back-filled "
        "history) answers 404 `not-yet-known` naming the day it became known (`known_from`).",
        examples=["2026-12-07"],
    )

    @model_validator(mode="after")
    def _one_point(self) -> PointQuery:
        chosen = [self.version, self.recorded_at, self.effective_on]
        if sum(value is not None for value in chosen) > 1:
            raise ValueError("choose one of version, recorded_at and effective_on")
        if self.known is not None and self.effective_on is None:
            raise ValueError("known goes with effective_on")
        if self.recorded_at is not None and not (
            MIN_DATE.year <= self.recorded_at.year <= MAX_DATE.year
        ):
            raise ValueError(f"recorded_at must lie between {MIN_DATE} and {MAX_DATE}")
        return self


class LineOut(BaseModel):
    plan_code: str
    source: str
    fiscal_year: int | None
    balances: BalancesOut


class ContractOut(BaseModel):
    contract_no: str
    contractor: str
    value: Money
    advanced: Money
    advance_outstanding: Money
    completed_paid: Money


class PointOut(BaseModel):
    mode: Literal["version", "recorded_at", "effective_on", "now"]
    version: int | None = None
    recorded_at: datetime | None = None
    effective_on: date | None = None
    known: date | None = None


class ProjectStateOut(BaseModel):
    project_code: str
    point: PointOut
    exists: bool = Field(description="False before the project was registered at that point.")
    version: int = Field(description="The last stream version counted.")
    name: str | None = None
    investor_code: str | None = None
    investor_name: str | None = None
    program: str | None = None
    sector: str | None = None
    province: str | None = None
    total_investment: Money | None = None
    status: str | None = None
    review_class: str | None = None
    settled_value: Money | None = None
    totals: BalancesOut | None = None
    lines: list[LineOut] = Field(default_factory=list)
    contracts: list[ContractOut] | None = Field(
        default=None, description="Contracts (not given for an effective-date point)."
    )


def _point_state(
    ctx: ApiContext, code: str, query: PointQuery
) -> tuple[PointOut, ProjectState | None]:
    reader = auditor(ctx)
    head = reader.head_version(code)
    if query.effective_on is not None:
        point = PointOut(mode="effective_on", effective_on=query.effective_on, known=query.known)
        return point, reader.state_by_effective_date(code, query.effective_on, query.known)
    if query.recorded_at is not None:
        version = reader.version_recorded_by(code, query.recorded_at)
        point = PointOut(mode="recorded_at", recorded_at=query.recorded_at, version=version)
        return point, reader.state_by_version(code, version)
    if query.version is not None:
        if query.version > head:
            raise ApiProblem(404, "not-found", f"project {code} has no version {query.version}")
        return PointOut(mode="version", version=query.version), reader.state_by_version(
            code, query.version
        )
    return PointOut(mode="now", version=head), reader.state_by_version(code, head)


def state_out(code: str, point: PointOut, state: ProjectState | None) -> ProjectStateOut:
    if state is None:
        return ProjectStateOut(project_code=code, point=point, exists=False, version=0)
    project = state.project
    return ProjectStateOut(
        project_code=code,
        point=point,
        exists=True,
        version=state.version,
        name=project.name,
        investor_code=project.investor_code,
        investor_name=project.investor_name,
        program=project.program,
        sector=project.sector,
        province=project.province,
        total_investment=money(project.total_investment),
        status=project.status,
        review_class=project.review_class,
        settled_value=None if project.settled_value is None else money(project.settled_value),
        totals=balances_out(state.totals),
        lines=[
            LineOut(
                plan_code=line.plan_code,
                source=line.source,
                fiscal_year=line.fiscal_year,
                balances=balances_out(line.balance),
            )
            for line in state.lines
        ],
        contracts=None
        if state.contracts is None
        else [
            ContractOut(
                contract_no=contract.contract_no,
                contractor=contract.contractor,
                value=money(contract.value),
                advanced=money(contract.advanced),
                advance_outstanding=money(contract.advance_outstanding),
                completed_paid=money(contract.completed_paid),
            )
            for contract in state.contracts
        ],
    )


@router.get(
    "/projects/{project_code}",
    operation_id="project",
    summary="A project now, as the ledger holds it",
    response_model=ProjectStateOut,
    responses=READ_RESPONSES,
)
def get_project(project_code: ProjectCode, caller: Reader, ctx: Ctx) -> ProjectStateOut:
    _in_scope(ctx, caller, project_code)
    point, state = _point_state(ctx, project_code, PointQuery())
    return state_out(project_code, point, state)


STATE_RESPONSES = problem_responses(
    401, 404, 422, 429, 503,
    descriptions={
        404: "No project with that code is recorded (`unknown-project`), a version beyond its "
        "head (`not-found`), or, with `effective_on` and `known`, a project the ledger recorded "
        "only after `known` (`not-yet-known`, with `known_from`)"
    },
    examples={
        404: {
            "not-yet-known": example(
                404, "not-yet-known",
                "project HP-001 was in force on 2021-06-20 but the ledger recorded it on "
                "2026-11-30, after known=2021-06-20: ask with known=2026-11-30 or later to see it",
                known_from="2026-11-30",
            )
        }
    },
)  # fmt: skip


@router.get(
    "/projects/{project_code}/state",
    operation_id="project_state",
    summary="A project as of a version, a recording time or an effective date",
    response_model=ProjectStateOut,
    responses=STATE_RESPONSES,
)
def get_state(
    project_code: ProjectCode,
    query: Annotated[PointQuery, Query()],
    caller: Reader,
    ctx: Ctx,
) -> ProjectStateOut:
    _in_scope(ctx, caller, project_code)
    point, state = _point_state(ctx, project_code, query)
    return state_out(project_code, point, state)


class DiffQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    from_version: int | None = Field(default=None, ge=0, le=MAX_VERSION)
    to_version: int | None = Field(default=None, ge=0, le=MAX_VERSION)
    from_recorded_at: datetime | None = None
    to_recorded_at: datetime | None = None
    from_effective_on: Day | None = None
    to_effective_on: Day | None = None

    @model_validator(mode="after")
    def _pairs(self) -> DiffQuery:
        pairs = [
            (self.from_version, self.to_version),
            (self.from_recorded_at, self.to_recorded_at),
            (self.from_effective_on, self.to_effective_on),
        ]
        given = [pair for pair in pairs if pair != (None, None)]
        if len(given) != 1 or None in given[0]:
            raise ValueError(
                "give one pair: from_version and to_version, from_recorded_at and "
                "to_recorded_at, or from_effective_on and to_effective_on"
            )
        for moment in (self.from_recorded_at, self.to_recorded_at):
            if moment is not None and not MIN_DATE.year <= moment.year <= MAX_DATE.year:
                raise ValueError(f"times must lie between {MIN_DATE} and {MAX_DATE}")
        return self

    def points(self) -> tuple[PointQuery, PointQuery]:
        if self.from_version is not None:
            return PointQuery(version=self.from_version), PointQuery(version=self.to_version)
        if self.from_recorded_at is not None:
            return (
                PointQuery(recorded_at=self.from_recorded_at),
                PointQuery(recorded_at=self.to_recorded_at),
            )
        return (
            PointQuery(effective_on=self.from_effective_on),
            PointQuery(effective_on=self.to_effective_on),
        )


class LineChangeOut(BaseModel):
    plan_code: str
    source: str
    change: BalancesOut


class DiffOut(BaseModel):
    project_code: str
    before: ProjectStateOut
    after: ProjectStateOut
    attributes: dict[str, list[str | None]] = Field(
        description="Attributes that changed: name → [before, after]."
    )
    totals: BalancesOut = Field(description="after − before.")
    lines: list[LineChangeOut]
    versions_between: int | None = Field(
        description="Events recorded between two versions or recording times."
    )


ATTRIBUTES = (
    "name", "investor_code", "investor_name", "program", "sector", "province",
    "total_investment", "status", "review_class", "settled_value",
)  # fmt: skip


@router.get(
    "/projects/{project_code}/diff",
    operation_id="project_diff",
    summary="What changed in a project between two points",
    response_model=DiffOut,
    responses=READ_RESPONSES,
)
def get_diff(
    project_code: ProjectCode,
    query: Annotated[DiffQuery, Query()],
    caller: Reader,
    ctx: Ctx,
) -> DiffOut:
    _in_scope(ctx, caller, project_code)
    first, second = query.points()
    before_point, before = _point_state(ctx, project_code, first)
    after_point, after = _point_state(ctx, project_code, second)
    old, new = (
        state_out(project_code, before_point, before),
        state_out(project_code, after_point, after),
    )
    attributes = {
        name: [getattr(old, name), getattr(new, name)]
        for name in ATTRIBUTES
        if getattr(old, name) != getattr(new, name)
    }
    lines_before = _line_balances(before)
    lines_after = _line_balances(after)
    lines = [
        LineChangeOut(
            plan_code=plan,
            source=source,
            change=balances_out(
                lines_after.get((plan, source), Balance())
                - lines_before.get((plan, source), Balance())
            ),
        )
        for plan, source in sorted(set(lines_before) | set(lines_after))
    ]
    totals = (after.totals if after else NOTHING) - (before.totals if before else NOTHING)
    between = None
    if query.from_effective_on is None:
        between = (after.version if after else 0) - (before.version if before else 0)
    return DiffOut(
        project_code=project_code,
        before=old,
        after=new,
        attributes={name: [_text(a), _text(b)] for name, (a, b) in attributes.items()},
        totals=balances_out(totals),
        lines=lines,
        versions_between=between,
    )


def _line_balances(state: ProjectState | None) -> dict[tuple[str, str], Balance]:
    lines = () if state is None else state.lines
    return {(line.plan_code, line.source): line.balance for line in lines}


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


# -- verification and digests --------------------------------------------------------------


class BrokenLinkOut(BaseModel):
    position: int | None
    stream: str | None
    version: int
    reason: str


class VerifyOut(BaseModel):
    ok: bool
    checked: int
    streams: int
    broken: BrokenLinkOut | None
    heads_digest: str | None = Field(description="SHA-256 over every stream head (when ok).")
    position: int = Field(description="The ledger's last position when the check began.")


@router.get(
    "/verify",
    operation_id="verify_store",
    summary="Recompute every hash chain in the store",
    response_model=VerifyOut,
    responses=problem_responses(401, 403, 429, 503),
)
def get_verify(caller: Inspector, ctx: Ctx) -> VerifyOut:
    position = ctx.ledger_position()
    report = verify_store(ctx.ledger.recorder)
    broken = report.broken
    return VerifyOut(
        ok=report.ok,
        checked=report.checked,
        streams=report.streams,
        broken=None
        if broken is None
        else BrokenLinkOut(
            position=broken.position,
            stream=broken.stream,
            version=broken.version,
            reason=broken.reason,
        ),
        heads_digest=report.heads_digest or None,
        position=position,
    )


class ProjectVerifyOut(BaseModel):
    project_code: str
    ok: bool
    checked: int
    head_version: int
    head_hash: str | None
    broken: BrokenLinkOut | None


@router.get(
    "/projects/{project_code}/verify",
    operation_id="verify_project",
    summary="Recompute one project's hash chain",
    response_model=ProjectVerifyOut,
    responses=READ_RESPONSES,
)
def get_verify_project(project_code: ProjectCode, caller: Reader, ctx: Ctx) -> ProjectVerifyOut:
    _in_scope(ctx, caller, project_code)
    check = auditor(ctx).verify(project_code)
    return ProjectVerifyOut(
        project_code=project_code,
        ok=check.broken_version is None,
        checked=check.checked,
        head_version=check.head_version,
        head_hash=check.head_hash,
        broken=None
        if check.broken_version is None
        else BrokenLinkOut(
            position=None, stream=None, version=check.broken_version, reason=check.reason or ""
        ),
    )


class DigestOut(BaseModel):
    digest_id: int
    heads_digest: str
    position: int = Field(description="The ledger's last position covered by the digest.")
    streams: int
    checked: int
    published_at: datetime
    principal: str


def publish_digest(ctx: ApiContext, principal: str) -> DigestOut:
    """Verify every chain; if intact, keep its heads digest as a published one."""
    position = ctx.ledger_position()
    report = verify_store(ctx.ledger.recorder)
    if not report.ok:
        assert report.broken is not None
        raise ApiProblem(
            409,
            "broken-chain",
            f"not published: the chain breaks at position {report.broken.position} "
            f"({report.broken.reason})",
        )
    digest = ctx.store.publish_digest(
        report.heads_digest,
        position=position,
        streams=report.streams,
        checked=report.checked,
        principal=principal,
    )
    return DigestOut(**vars(digest))


@router.post(
    "/digests",
    operation_id="publish_digest",
    summary="Verify every chain and publish the heads digest",
    status_code=201,
    response_model=DigestOut,
    responses=problem_responses(401, 403, 409, 429, 503),
)
def post_digest(caller: Admin, ctx: Ctx) -> DigestOut:
    return publish_digest(ctx, caller.principal)


@router.get(
    "/digests/latest",
    operation_id="latest_digest",
    summary="The latest published heads digest",
    response_model=DigestOut,
    responses=problem_responses(401, 403, 404, 429, 503),
)
def get_latest_digest(caller: Inspector, ctx: Ctx) -> DigestOut:
    latest = ctx.store.latest_digest()
    if latest is None:
        raise ApiProblem(404, "not-found", "no heads digest has been published yet")
    return DigestOut(**vars(latest))


@router.get(
    "/digests",
    operation_id="digests",
    summary="Published heads digests, newest first",
    response_model=list[DigestOut],
    responses=problem_responses(401, 403, 422, 429, 503),
)
def get_digests(
    caller: Inspector,
    ctx: Ctx,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    before: Annotated[int | None, Query(ge=1, le=2**62)] = None,
) -> list[DigestOut]:
    return [DigestOut(**vars(item)) for item in ctx.store.digests(limit=limit, before=before)]


__all__ = ["UnknownProject", "router"]


# -- key administration ----------------------------------------------------------------------


class KeyEventOut(BaseModel):
    version: int = Field(description="Stream version of the key's administration.")
    event: str = Field(description="`ApiKey.Issued`, `ApiKey.ScopeChanged` or `ApiKey.Revoked`.")
    class_version: int
    recorded_at: datetime | None
    principal: str | None = Field(description="Who did it (a key's principal, or `operator:…`).")
    command_id: str | None
    data: dict[str, Any] = Field(description="The event's data: the key by its id, never a token.")
    hash: str
    prev: str


class KeyHistory(BaseModel):
    key_id: str
    items: list[KeyEventOut]


@router.get(
    "/api-keys/{key_id}/history",
    operation_id="api_key_history",
    summary="Who issued, rescoped and revoked an API key, and when (inspectors, administrators)",
    response_model=KeyHistory,
    responses=problem_responses(401, 403, 404, 422, 429),
)
def get_key_history(
    key_id: Annotated[str, Path(pattern=r"^[0-9a-f]{8}$")], caller: Inspector, ctx: Ctx
) -> KeyHistory:
    items = []
    for stored in auditor(ctx).stored(api_key_id(key_id)):
        event = published(stored)
        recorded = datetime.fromisoformat(event.recorded_at) if event.recorded_at else None
        items.append(
            KeyEventOut(
                version=event.stream_version,
                event=event.name,
                class_version=event.class_version,
                recorded_at=recorded,
                principal=event.meta.get("principal"),
                command_id=event.meta.get("command_id"),
                data=event.data,
                hash=event.hash,
                prev=event.prev,
            )
        )
    if not items:
        raise ApiProblem(404, "not-found", f"no administration of API key {key_id} is recorded")
    return KeyHistory(key_id=key_id, items=items)
