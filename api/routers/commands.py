"""Commands: one POST per movement, each mapped explicitly onto a Ledger verb.

The client chooses each command's id and sends it as the ``Idempotency-Key`` header. Sending the
same command again with the same key records nothing and returns the first outcome, marked
``Idempotent-Replayed: true`` (status 200 instead of 201); the same key with a different
command is refused (422 ``idempotency-conflict``). The response waits (bounded) until the read
model holds the command's position, so a query that follows sees it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from capledger.application.errors import ApplicationError, ConcurrencyConflict
from capledger.application.ledger import CommandOutcome
from capledger.domain import DomainError
from capledger.domain.values import Authority, CapitalSource, PlanKind, ProjectStatus

from ..context import ApiContext
from ..deps import Ctx, Writer
from ..problems import problem_responses
from ..roles import Caller
from ..routing import ThreadedRoute
from ..scope import check_jurisdiction, check_new_project, check_plan, check_project
from ..types import CODE_PATTERN, Amount, Code, Day, Envelope, Label, OptionalText, Text, Year

router = APIRouter(tags=["commands"], route_class=ThreadedRoute)

IDEMPOTENCY_KEY = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
POSITION = "X-Ledger-Position"
CAUGHT_UP = "X-Read-Model-Caught-Up"
KEY_PATTERN = r"^[\x21-\x7e]{1,200}$"

IdempotencyKey = Annotated[
    str,
    Header(
        alias=IDEMPOTENCY_KEY,
        pattern=KEY_PATTERN,
        description="The client-chosen command id (1–200 visible ASCII characters, e.g. a UUID). "
        "Repeating it repeats nothing: the first outcome comes back.",
    ),
]
ProjectCode = Annotated[str, Path(pattern=CODE_PATTERN, description="The project's code.")]
PlanCode = Annotated[str, Path(pattern=CODE_PATTERN, description="The plan's code.")]

COMMAND_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "Replayed: this key's first outcome (nothing new was recorded)"},
    **problem_responses(400, 401, 403, 404, 409, 413, 422, 429, 503),
}


class CommandResult(BaseModel):
    command_id: str
    command: str = Field(description="The Ledger verb, e.g. `allocate`.")
    streams: dict[str, int] = Field(
        description="The new version of each stream recorded in (`project:HP-001`, `plan:…`). "
        "A payment's version is what a reversal names as `entry_version`."
    )
    position: int | None = Field(description="Global position of the command's last event.")
    replayed: bool
    read_model_caught_up: bool = Field(
        description="Whether queries already see this command (read-your-writes)."
    )


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Decided(_Body):
    decision_no: Label = Field(description="Number of the decision, e.g. `80/NQ-HĐND`.")
    decision_date: Day
    decision_issuer: Text
    effective_on: Day

    def decision(self) -> dict[str, Any]:
        return {
            "decision_no": self.decision_no,
            "decision_date": self.decision_date,
            "decision_issuer": self.decision_issuer,
            "effective_on": self.effective_on,
        }


Envelopes = Annotated[dict[CapitalSource, Envelope], Field(min_length=1)]


def _envelopes(envelopes: dict[CapitalSource, int]) -> dict[str, int]:
    return {source.value: amount for source, amount in envelopes.items()}


class ApprovePlan(_Decided):
    code: Code
    title: Text
    kind: PlanKind
    authority: Authority
    jurisdiction: Label
    start_year: Year
    end_year: Year
    envelopes: Envelopes
    implements: Code | None = Field(
        default=None, description="The plan this one implements (a PM-assigned plan)."
    )


class AdjustPlan(_Decided):
    envelopes: Envelopes
    reason: Text


class RegisterProject(_Decided):
    code: Code
    name: Text
    investor_code: Label
    investor_name: Text
    program: OptionalText = Field(description="The program, or an empty string for none.")
    sector: Label
    province: Label
    total_investment: Amount


class AdjustTotalInvestment(_Decided):
    total_investment: Amount


class ChangeInvestor(_Body):
    investor_code: Label
    investor_name: Text
    reason: Text
    effective_on: Day


class ChangeStatus(_Body):
    status: ProjectStatus
    reason: Text
    effective_on: Day
    review_class: Text | None = None
    decision_no: Label | None = None
    decision_date: Day | None = None
    decision_issuer: Text | None = None

    @model_validator(mode="after")
    def _decision_whole(self) -> ChangeStatus:
        if (self.decision_no is None) != (self.decision_date is None):
            raise ValueError("decision_no and decision_date go together")
        if self.decision_issuer is not None and self.decision_no is None:
            raise ValueError("decision_issuer needs decision_no and decision_date")
        return self


class Settle(_Decided):
    settled_value: Envelope


class Allocate(_Decided):
    plan_code: Code
    source: CapitalSource
    amount: Amount


class Transfer(_Decided):
    plan_code: Code
    source: CapitalSource
    from_project: Code
    to_project: Code
    amount: Amount


class Cut(_Decided):
    plan_code: Code
    source: CapitalSource
    reason: Text
    amount: Amount | None = Field(
        default=None, description="How much to cut; all the undisbursed allocation if absent."
    )


class Extend(_Decided):
    plan_code: Code
    source: CapitalSource
    amount: Amount
    until: Day


class Lapse(_Body):
    plan_code: Code
    source: CapitalSource
    as_of: Day


class SignContract(_Body):
    contract_no: Label
    contractor: Text
    value: Amount
    effective_on: Day


class PayAdvance(_Body):
    contract_no: Label
    plan_code: Code
    source: CapitalSource
    amount: Amount
    treasury_ref: Label
    effective_on: Day


class PayCompletedWork(_Body):
    plan_code: Code
    source: CapitalSource
    amount: Amount
    treasury_ref: Label
    effective_on: Day
    contract_no: Label | None = None
    advance_recovered: Envelope = 0


class ReverseEntry(_Body):
    entry_version: int = Field(
        ge=1, le=2**31 - 1, description="Stream version of the advance or payment to reverse."
    )
    reason: Text
    effective_on: Day


# -- running a command ---------------------------------------------------------------------


def execute(
    ctx: ApiContext,
    caller: Caller,
    response: Response,
    verb: str,
    command_id: str,
    args: dict[str, Any],
) -> CommandResult:
    """Run one Ledger verb as ``caller``; wait for the read model; count the outcome."""
    call: Callable[..., CommandOutcome] = getattr(ctx.ledger, verb)
    counter = ctx.metrics.commands
    try:
        outcome = call(command_id=command_id, principal=caller.principal, **args)
    except ConcurrencyConflict:
        counter.labels(verb, "conflict", ConcurrencyConflict.code).inc()
        raise
    except (DomainError, ApplicationError) as error:
        counter.labels(verb, "refused", error.code).inc()
        raise
    except Exception:
        counter.labels(verb, "error", "").inc()
        raise
    counter.labels(verb, "replayed" if outcome.replayed else "recorded", "").inc()
    caught_up = ctx.read_your_writes(outcome.position)
    if not caught_up:
        ctx.metrics.read_your_writes_timeouts.inc()
    response.status_code = 200 if outcome.replayed else 201
    response.headers[REPLAYED] = "true" if outcome.replayed else "false"
    response.headers[CAUGHT_UP] = "true" if caught_up else "false"
    if outcome.position is not None:
        response.headers[POSITION] = str(outcome.position)
    return CommandResult(
        command_id=outcome.command_id,
        command=outcome.command,
        streams=dict(outcome.streams),
        position=outcome.position,
        replayed=outcome.replayed,
        read_model_caught_up=caught_up,
    )


def _route(path: str, verb: str, summary: str) -> Callable[[Callable[..., Any]], Any]:
    return router.post(
        path,
        operation_id=verb,
        summary=summary,
        status_code=201,
        response_model=CommandResult,
        responses=COMMAND_RESPONSES,
        openapi_extra={"x-capledger-verb": verb},
    )


# -- plans ---------------------------------------------------------------------------------


@_route("/plans", "approve_plan", "Approve a capital plan")
def approve_plan(
    body: ApprovePlan, key: IdempotencyKey, caller: Writer, ctx: Ctx, response: Response
) -> CommandResult:
    check_jurisdiction(caller, body.jurisdiction)
    args = {
        "code": body.code,
        "title": body.title,
        "kind": body.kind.value,
        "authority": body.authority.value,
        "jurisdiction": body.jurisdiction,
        "start_year": body.start_year,
        "end_year": body.end_year,
        "envelopes": _envelopes(body.envelopes),
        "implements": body.implements,
        **body.decision(),
    }
    return execute(ctx, caller, response, "approve_plan", key, args)


@_route("/plans/{plan_code}/adjustments", "adjust_plan", "Adjust a plan's envelopes")
def adjust_plan(
    plan_code: PlanCode,
    body: AdjustPlan,
    key: IdempotencyKey,
    caller: Writer,
    ctx: Ctx,
    response: Response,
) -> CommandResult:
    check_plan(ctx, caller, plan_code, write=True)
    args = {
        "code": plan_code,
        "envelopes": _envelopes(body.envelopes),
        "reason": body.reason,
        **body.decision(),
    }
    return execute(ctx, caller, response, "adjust_plan", key, args)


# -- projects ------------------------------------------------------------------------------


@_route("/projects", "register_project", "Register a project")
def register_project(
    body: RegisterProject, key: IdempotencyKey, caller: Writer, ctx: Ctx, response: Response
) -> CommandResult:
    check_new_project(caller, body.investor_code, body.province)
    args = {
        "code": body.code,
        "name": body.name,
        "investor_code": body.investor_code,
        "investor_name": body.investor_name,
        "program": body.program,
        "sector": body.sector,
        "province": body.province,
        "total_investment": body.total_investment,
        **body.decision(),
    }
    return execute(ctx, caller, response, "register_project", key, args)


@_route(
    "/projects/{project_code}/total-investment",
    "adjust_total_investment",
    "Adjust a project's total investment",
)
def adjust_total_investment(
    project_code: ProjectCode,
    body: AdjustTotalInvestment,
    key: IdempotencyKey,
    caller: Writer,
    ctx: Ctx,
    response: Response,
) -> CommandResult:
    check_project(ctx, caller, project_code, write=True)
    args = {
        "project_code": project_code,
        "total_investment": body.total_investment,
        **body.decision(),
    }
    return execute(ctx, caller, response, "adjust_total_investment", key, args)


@_route("/projects/{project_code}/investor", "change_investor", "Change a project's investor")
def change_investor(
    project_code: ProjectCode,
    body: ChangeInvestor,
    key: IdempotencyKey,
    caller: Writer,
    ctx: Ctx,
    response: Response,
) -> CommandResult:
    check_project(ctx, caller, project_code, write=True)
    if caller.scoped:
        province = ctx.ledger.peek_project(project_code, lambda project: project.province)
        check_new_project(caller, body.investor_code, province)
    args = {
        "project_code": project_code,
        "investor_code": body.investor_code,
        "investor_name": body.investor_name,
        "reason": body.reason,
        "effective_on": body.effective_on,
    }
    return execute(ctx, caller, response, "change_investor", key, args)


@_route("/projects/{project_code}/status", "change_status", "Change a project's status")
def change_status(
    project_code: ProjectCode,
    body: ChangeStatus,
    key: IdempotencyKey,
    caller: Writer,
    ctx: Ctx,
    response: Response,
) -> CommandResult:
    check_project(ctx, caller, project_code, write=True)
    args = {
        "project_code": project_code,
        "status": body.status.value,
        "reason": body.reason,
        "effective_on": body.effective_on,
        "review_class": body.review_class,
        "decision_no": body.decision_no,
        "decision_date": body.decision_date,
        "decision_issuer": body.decision_issuer,
    }
    return execute(ctx, caller, response, "change_status", key, args)


@_route("/projects/{project_code}/settlement", "settle", "Settle a project (quyết toán)")
def settle(
    project_code: ProjectCode,
    body: Settle,
    key: IdempotencyKey,
    caller: Writer,
    ctx: Ctx,
    response: Response,
) -> CommandResult:
    check_project(ctx, caller, project_code, write=True)
    args = {"project_code": project_code, "settled_value": body.settled_value, **body.decision()}
    return execute(ctx, caller, response, "settle", key, args)


# -- capital -------------------------------------------------------------------------------


@_route("/projects/{project_code}/allocations", "allocate", "Allocate plan capital to a project")
def allocate(
    project_code: ProjectCode,
    body: Allocate,
    key: IdempotencyKey,
    caller: Writer,
    ctx: Ctx,
    response: Response,
) -> CommandResult:
    check_project(ctx, caller, project_code, write=True)
    check_plan(ctx, caller, body.plan_code, write=True)
    args = {
        "plan_code": body.plan_code,
        "project_code": project_code,
        "source": body.source.value,
        "amount": body.amount,
        **body.decision(),
    }
    return execute(ctx, caller, response, "allocate", key, args)


@_route("/transfers", "transfer", "Transfer undisbursed capital between projects")
def transfer(
    body: Transfer, key: IdempotencyKey, caller: Writer, ctx: Ctx, response: Response
) -> CommandResult:
    check_project(ctx, caller, body.from_project, write=True)
    check_project(ctx, caller, body.to_project, write=True)
    args = {
        "plan_code": body.plan_code,
        "source": body.source.value,
        "from_project": body.from_project,
        "to_project": body.to_project,
        "amount": body.amount,
        **body.decision(),
    }
    return execute(ctx, caller, response, "transfer", key, args)


@_route("/projects/{project_code}/cuts", "cut", "Cut a project's undisbursed allocation")
def cut(
    project_code: ProjectCode,
    body: Cut,
    key: IdempotencyKey,
    caller: Writer,
    ctx: Ctx,
    response: Response,
) -> CommandResult:
    check_project(ctx, caller, project_code, write=True)
    check_plan(ctx, caller, body.plan_code, write=True)
    args = {
        "plan_code": body.plan_code,
        "project_code": project_code,
        "source": body.source.value,
        "reason": body.reason,
        "amount": body.amount,
        **body.decision(),
    }
    return execute(ctx, caller, response, "cut", key, args)


@_route(
    "/projects/{project_code}/extensions",
    "extend_disbursement_period",
    "Extend the disbursement period of a plan's capital",
)
def extend_disbursement_period(
    project_code: ProjectCode,
    body: Extend,
    key: IdempotencyKey,
    caller: Writer,
    ctx: Ctx,
    response: Response,
) -> CommandResult:
    check_project(ctx, caller, project_code, write=True)
    args = {
        "project_code": project_code,
        "plan_code": body.plan_code,
        "source": body.source.value,
        "amount": body.amount,
        "until": body.until,
        **body.decision(),
    }
    return execute(ctx, caller, response, "extend_disbursement_period", key, args)


@_route("/projects/{project_code}/lapses", "lapse", "Lapse capital past its deadline")
def lapse(
    project_code: ProjectCode,
    body: Lapse,
    key: IdempotencyKey,
    caller: Writer,
    ctx: Ctx,
    response: Response,
) -> CommandResult:
    check_project(ctx, caller, project_code, write=True)
    args = {
        "project_code": project_code,
        "plan_code": body.plan_code,
        "source": body.source.value,
        "as_of": body.as_of,
    }
    return execute(ctx, caller, response, "lapse", key, args)


# -- contracts and cash --------------------------------------------------------------------


@_route("/projects/{project_code}/contracts", "sign_contract", "Record a signed works contract")
def sign_contract(
    project_code: ProjectCode,
    body: SignContract,
    key: IdempotencyKey,
    caller: Writer,
    ctx: Ctx,
    response: Response,
) -> CommandResult:
    check_project(ctx, caller, project_code, write=True)
    args = {
        "project_code": project_code,
        "contract_no": body.contract_no,
        "contractor": body.contractor,
        "value": body.value,
        "effective_on": body.effective_on,
    }
    return execute(ctx, caller, response, "sign_contract", key, args)


@_route("/projects/{project_code}/advances", "pay_advance", "Pay an advance on a contract")
def pay_advance(
    project_code: ProjectCode,
    body: PayAdvance,
    key: IdempotencyKey,
    caller: Writer,
    ctx: Ctx,
    response: Response,
) -> CommandResult:
    check_project(ctx, caller, project_code, write=True)
    args = {
        "project_code": project_code,
        "contract_no": body.contract_no,
        "plan_code": body.plan_code,
        "source": body.source.value,
        "amount": body.amount,
        "treasury_ref": body.treasury_ref,
        "effective_on": body.effective_on,
    }
    return execute(ctx, caller, response, "pay_advance", key, args)


@_route("/projects/{project_code}/payments", "pay_completed_work", "Pay for completed work")
def pay_completed_work(
    project_code: ProjectCode,
    body: PayCompletedWork,
    key: IdempotencyKey,
    caller: Writer,
    ctx: Ctx,
    response: Response,
) -> CommandResult:
    check_project(ctx, caller, project_code, write=True)
    args = {
        "project_code": project_code,
        "plan_code": body.plan_code,
        "source": body.source.value,
        "amount": body.amount,
        "treasury_ref": body.treasury_ref,
        "effective_on": body.effective_on,
        "contract_no": body.contract_no,
        "advance_recovered": body.advance_recovered,
    }
    return execute(ctx, caller, response, "pay_completed_work", key, args)


@_route(
    "/projects/{project_code}/reversals",
    "reverse_entry",
    "Reverse a wrong advance or payment (correction)",
)
def reverse_entry(
    project_code: ProjectCode,
    body: ReverseEntry,
    key: IdempotencyKey,
    caller: Writer,
    ctx: Ctx,
    response: Response,
) -> CommandResult:
    check_project(ctx, caller, project_code, write=True)
    args = {
        "project_code": project_code,
        "entry_version": body.entry_version,
        "reason": body.reason,
        "effective_on": body.effective_on,
    }
    return execute(ctx, caller, response, "reverse_entry", key, args)
