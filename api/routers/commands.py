"""Commands: one POST per command, its body mapped onto the ledger's command (``to_command``).

The client chooses each command's id and sends it as the ``Idempotency-Key`` header. Sending the
same command again with the same key records nothing and returns the first outcome, marked
``Idempotent-Replayed: true`` (status 200 instead of 201); the same key with a different
command is refused (422 ``idempotency-conflict``). Keys are scoped per principal (the ledger's
receipts, ``capledger.application.receipts``). The response waits (bounded) until the read
model holds the command's position, so a query that follows sees it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from enum import Enum
from typing import Annotated, Any, ClassVar

from fastapi import APIRouter, Header, Path, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from capledger.application import commands
from capledger.application.commands import Command
from capledger.application.errors import (
    ApplicationError,
    ConcurrencyConflict,
    IdempotencyConflict,
)
from capledger.domain import DomainError
from capledger.domain.errors import NoAllocation
from capledger.domain.values import Authority, CapitalSource, PlanKind, ProjectStatus

from ..context import ApiContext
from ..deps import Ctx, Writer
from ..problems import CONFLICT_RETRY_AFTER_HEADER, MALFORMED_JSON, example, problem_responses
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
        "Repeating it repeats nothing: the first outcome comes back (200, "
        "`Idempotent-Replayed: true`); reused for another body it is refused (422 "
        "`idempotency-conflict`). Scoped per principal (the API key's `role:name`): the same "
        "key from another client is that client's own command. Replay window: unlimited; a "
        "key is remembered for as long as the ledger keeps its log (never expires).",
    ),
]
ProjectCode = Annotated[str, Path(pattern=CODE_PATTERN, description="The project's code.")]
PlanCode = Annotated[str, Path(pattern=CODE_PATTERN, description="The plan's code.")]

#: The statuses every command answers besides 201; 404 only where the command names something
#: recorded (a path's project or plan, a plan, contract or line in the body): not a
#: registration of a project, which names nothing else.
COMMAND_STATUSES = (400, 401, 403, 404, 409, 413, 415, 422, 429, 503)
COMMAND_EXAMPLES = {
    400: {
        "malformed-json": example(
            400, MALFORMED_JSON, "the body is not JSON: JSON decode error",
            errors=[{"field": "body.1", "message": "JSON decode error", "type": "json_invalid"}],
        ),
    },
    404: {
        "unknown-project": example(404, "unknown-project", "no project DA-404 is recorded"),
        "unknown-plan": example(404, "unknown-plan", "no plan HN-KHV-2099 is recorded"),
        "no-allocation": example(
            404, "no-allocation",
            "project DA-001 has no allocation from plan HN-KHV-2025 (local_budget)",
        ),
    },
    409: {
        "version-conflict": example(
            409, "version-conflict", "other writers kept changing the same aggregates; retry"
        ),
        "duplicate-plan": example(409, "duplicate-plan", "plan HN-KHV-2025 is already recorded"),
    },
    422: {
        "validation-error": example(
            422, "validation-error", "the request is not valid: body.amount",
            errors=[{"field": "body.amount", "message": "Input should be greater than 0",
                     "type": "greater_than"}],
        ),
        "idempotency-conflict": example(
            422, IdempotencyConflict.code,
            "the Idempotency-Key 7f7c… was already used for a different command",
        ),
        "over-disbursement": example(
            422, "over-disbursement", "the payment exceeds the line's undisbursed capital"
        ),
    },
}  # fmt: skip
COMMAND_DESCRIPTIONS = {
    404: "A project, plan, contract or line (`no-allocation`: the project has no capital from "
    "that plan and source) that is not recorded, or not visible to the key",
    409: "`version-conflict`: other writers were changing the same aggregates, nothing was "
    "recorded, retry after `Retry-After`; or a duplicate (`duplicate-plan`, `duplicate-project`)",
    422: "The body or a header is not valid (`validation-error`); the `Idempotency-Key` was "
    "already used for a different command (`idempotency-conflict`: choose a new key); or a rule "
    "of the ledger refuses the command (its `code`, e.g. `over-disbursement`)",
}


def command_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """A command's documented responses: the replay (200) and its problem statuses."""
    return {
        200: {"description": "Replayed: this key's first outcome (nothing new was recorded)"},
        **problem_responses(
            *statuses,
            descriptions=COMMAND_DESCRIPTIONS,
            examples=COMMAND_EXAMPLES,
            headers={409: CONFLICT_RETRY_AFTER_HEADER},
        ),
    }


COMMAND_RESPONSES = command_responses(*COMMAND_STATUSES)


class CommandResult(BaseModel):
    command_id: str
    command: str = Field(description="The command's type, e.g. `Allocate`.")
    streams: dict[str, int] = Field(
        description="The new version of each stream recorded in (`project:HP-001`, `plan:…`). "
        "An entry's version is what a correction names as `entry_version`."
    )
    position: int | None = Field(description="Global position of the command's last event.")
    replayed: bool
    read_model_caught_up: bool = Field(
        description="Whether queries already see this command (read-your-writes)."
    )


class _Body(BaseModel):
    """A command's request body: the command's fields, less those the path carries.

    The body's field names are the command's, so one mapping serves every command: the
    validated fields (codes of enums as their text) and the path's codes make the command.
    """

    model_config = ConfigDict(extra="forbid")
    command: ClassVar[type[Command]]

    def to_command(self, **path: str) -> Command:
        fields = {name: _plain(getattr(self, name)) for name in type(self).model_fields}
        return self.command(**fields, **path)


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {_plain(key): _plain(each) for key, each in value.items()}
    return value


class _Decided(_Body):
    decision_no: Label = Field(description="Number of the decision, e.g. `80/NQ-HĐND`.")
    decision_date: Day
    decision_issuer: Text
    effective_on: Day


Envelopes = Annotated[dict[CapitalSource, Envelope], Field(min_length=1)]


class ApprovePlan(_Decided):
    command = commands.ApprovePlan
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
    command = commands.AdjustPlan
    envelopes: Envelopes
    reason: Text


class RegisterProject(_Decided):
    command = commands.RegisterProject
    code: Code
    name: Text
    investor_code: Label
    investor_name: Text
    program: OptionalText = Field(description="The program, or an empty string for none.")
    sector: Label
    province: Label
    total_investment: Amount


class AdjustTotalInvestment(_Decided):
    command = commands.AdjustTotalInvestment
    total_investment: Amount


class ChangeInvestor(_Body):
    command = commands.ChangeInvestor
    investor_code: Label
    investor_name: Text
    reason: Text
    effective_on: Day


class ChangeStatus(_Body):
    command = commands.ChangeStatus
    status: ProjectStatus
    reason: Text
    effective_on: Day
    review_class: Text | None = None
    decision_no: Label | None = None
    decision_date: Day | None = None
    decision_issuer: Text | None = None

    @model_validator(mode="after")
    def _decision_whole(self) -> ChangeStatus:
        _check_optional_decision(self.decision_no, self.decision_date, self.decision_issuer)
        return self


def _check_optional_decision(number: str | None, issued: date | None, issuer: str | None) -> None:
    """A decision a command may be taken without is given whole or not at all."""
    if (number is None) != (issued is None):
        raise ValueError("decision_no and decision_date go together")
    if issuer is not None and number is None:
        raise ValueError("decision_issuer needs decision_no and decision_date")


class Settle(_Decided):
    command = commands.Settle
    settled_value: Envelope


class Allocate(_Decided):
    command = commands.Allocate
    plan_code: Code
    source: CapitalSource
    amount: Amount


class Transfer(_Decided):
    command = commands.Transfer
    plan_code: Code
    source: CapitalSource
    from_project: Code
    to_project: Code
    amount: Amount


class Cut(_Decided):
    command = commands.Cut
    plan_code: Code
    source: CapitalSource
    reason: Text
    amount: Amount | None = Field(
        default=None, description="How much to cut; all the undisbursed allocation if absent."
    )


class Extend(_Decided):
    command = commands.ExtendDisbursementPeriod
    plan_code: Code
    source: CapitalSource
    amount: Amount
    until: Day


class Lapse(_Body):
    command = commands.Lapse
    plan_code: Code
    source: CapitalSource
    as_of: Day


class SignContract(_Body):
    command = commands.SignContract
    contract_no: Label
    contractor: Text
    value: Amount
    effective_on: Day


class PayAdvance(_Body):
    command = commands.PayAdvance
    contract_no: Label
    plan_code: Code
    source: CapitalSource
    amount: Amount
    treasury_ref: Label
    effective_on: Day


class PayCompletedWork(_Body):
    command = commands.PayCompletedWork
    plan_code: Code
    source: CapitalSource
    amount: Amount
    treasury_ref: Label
    effective_on: Day
    contract_no: Label | None = None
    advance_recovered: Envelope = 0


class ReverseEntry(_Body):
    command = commands.ReverseEntry
    entry_version: int = Field(
        ge=1,
        le=2**31 - 1,
        description="Stream version of the entry to correct: a payment or advance (reversed), "
        "an allocation, a transfer (either side: both are corrected), a cut, an extension, a "
        "lapse, or a change of total investment, investor or status.",
    )
    reason: Text
    effective_on: Day
    decision_no: Label | None = Field(
        default=None,
        description="The decision that takes the correction: required for allocations, "
        "transfers, cuts, extensions, lapses and total investment; optional for status and "
        "investor; not given for payments and advances.",
    )
    decision_date: Day | None = None
    decision_issuer: Text | None = None

    @model_validator(mode="after")
    def _decision_whole(self) -> ReverseEntry:
        _check_optional_decision(self.decision_no, self.decision_date, self.decision_issuer)
        return self


# -- running a command ---------------------------------------------------------------------


def execute(
    ctx: ApiContext, caller: Caller, response: Response, command_id: str, command: Command
) -> CommandResult:
    """Run one command as ``caller``; wait for the read model; count the outcome."""
    counter = ctx.metrics.commands
    name = type(command).__name__
    try:
        outcome = ctx.ledger.execute(command, command_id=command_id, principal=caller.principal)
    except ConcurrencyConflict:
        counter.labels(name, "conflict", ConcurrencyConflict.code).inc()
        raise
    except IdempotencyConflict as error:
        # Keys are scoped per principal, so the key is the caller's own; the ledger's detail
        # still names stored content, which the answer has no need to repeat.
        counter.labels(name, "refused", error.code).inc()
        raise IdempotencyConflict(
            f"the Idempotency-Key {command_id} was already used for a different command"
        ) from None
    except (DomainError, ApplicationError) as error:
        counter.labels(name, "refused", error.code).inc()
        if isinstance(error, NoAllocation) and caller.scoped:
            # A plan outside the key's scope answers as one never recorded (unknown-plan), so
            # that no-allocation does not tell the key which other plans exist.
            check_plan(ctx, caller, str(getattr(command, "plan_code", "")), write=True)
        raise
    except Exception:
        counter.labels(name, "error", "").inc()
        raise
    counter.labels(name, "replayed" if outcome.replayed else "recorded", "").inc()
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


def _route(
    path: str,
    operation_id: str,
    command: type[Command],
    summary: str,
    responses: dict[int | str, dict[str, Any]] = COMMAND_RESPONSES,
) -> Callable[[Callable[..., Any]], Any]:
    """A command's route; ``x-capledger-command`` names the command type it sends."""
    return router.post(
        path,
        operation_id=operation_id,
        summary=summary,
        status_code=201,
        response_model=CommandResult,
        responses=responses,
        openapi_extra={"x-capledger-command": command.__name__},
    )


# -- plans ---------------------------------------------------------------------------------


@_route("/plans", "approve_plan", commands.ApprovePlan, "Approve a capital plan")
def approve_plan(
    body: ApprovePlan, key: IdempotencyKey, caller: Writer, ctx: Ctx, response: Response
) -> CommandResult:
    check_jurisdiction(caller, body.jurisdiction)
    return execute(ctx, caller, response, key, body.to_command())


@_route(
    "/plans/{plan_code}/adjustments",
    "adjust_plan",
    commands.AdjustPlan,
    "Adjust a plan's envelopes",
)
def adjust_plan(
    plan_code: PlanCode,
    body: AdjustPlan,
    key: IdempotencyKey,
    caller: Writer,
    ctx: Ctx,
    response: Response,
) -> CommandResult:
    check_plan(ctx, caller, plan_code, write=True)
    return execute(ctx, caller, response, key, body.to_command(code=plan_code))


# -- projects ------------------------------------------------------------------------------


@_route(
    "/projects",
    "register_project",
    commands.RegisterProject,
    "Register a project",
    command_responses(*(status for status in COMMAND_STATUSES if status != 404)),
)
def register_project(
    body: RegisterProject, key: IdempotencyKey, caller: Writer, ctx: Ctx, response: Response
) -> CommandResult:
    check_new_project(caller, body.investor_code, body.province)
    return execute(ctx, caller, response, key, body.to_command())


@_route(
    "/projects/{project_code}/total-investment",
    "adjust_total_investment",
    commands.AdjustTotalInvestment,
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
    return execute(ctx, caller, response, key, body.to_command(project_code=project_code))


@_route(
    "/projects/{project_code}/investor",
    "change_investor",
    commands.ChangeInvestor,
    "Change a project's investor",
)
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
    return execute(ctx, caller, response, key, body.to_command(project_code=project_code))


@_route(
    "/projects/{project_code}/status",
    "change_status",
    commands.ChangeStatus,
    "Change a project's status",
)
def change_status(
    project_code: ProjectCode,
    body: ChangeStatus,
    key: IdempotencyKey,
    caller: Writer,
    ctx: Ctx,
    response: Response,
) -> CommandResult:
    check_project(ctx, caller, project_code, write=True)
    return execute(ctx, caller, response, key, body.to_command(project_code=project_code))


@_route(
    "/projects/{project_code}/settlement",
    "settle",
    commands.Settle,
    "Settle a project (quyết toán)",
)
def settle(
    project_code: ProjectCode,
    body: Settle,
    key: IdempotencyKey,
    caller: Writer,
    ctx: Ctx,
    response: Response,
) -> CommandResult:
    check_project(ctx, caller, project_code, write=True)
    return execute(ctx, caller, response, key, body.to_command(project_code=project_code))


# -- capital -------------------------------------------------------------------------------


@_route(
    "/projects/{project_code}/allocations",
    "allocate",
    commands.Allocate,
    "Allocate plan capital to a project",
)
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
    return execute(ctx, caller, response, key, body.to_command(project_code=project_code))


@_route(
    "/transfers", "transfer", commands.Transfer, "Transfer undisbursed capital between projects"
)
def transfer(
    body: Transfer, key: IdempotencyKey, caller: Writer, ctx: Ctx, response: Response
) -> CommandResult:
    check_project(ctx, caller, body.from_project, write=True)
    check_project(ctx, caller, body.to_project, write=True)
    return execute(ctx, caller, response, key, body.to_command())


@_route(
    "/projects/{project_code}/cuts", "cut", commands.Cut, "Cut a project's undisbursed allocation"
)
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
    return execute(ctx, caller, response, key, body.to_command(project_code=project_code))


@_route(
    "/projects/{project_code}/extensions",
    "extend_disbursement_period",
    commands.ExtendDisbursementPeriod,
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
    return execute(ctx, caller, response, key, body.to_command(project_code=project_code))


@_route(
    "/projects/{project_code}/lapses", "lapse", commands.Lapse, "Lapse capital past its deadline"
)
def lapse(
    project_code: ProjectCode,
    body: Lapse,
    key: IdempotencyKey,
    caller: Writer,
    ctx: Ctx,
    response: Response,
) -> CommandResult:
    check_project(ctx, caller, project_code, write=True)
    return execute(ctx, caller, response, key, body.to_command(project_code=project_code))


# -- contracts and cash --------------------------------------------------------------------


@_route(
    "/projects/{project_code}/contracts",
    "sign_contract",
    commands.SignContract,
    "Record a signed works contract",
)
def sign_contract(
    project_code: ProjectCode,
    body: SignContract,
    key: IdempotencyKey,
    caller: Writer,
    ctx: Ctx,
    response: Response,
) -> CommandResult:
    check_project(ctx, caller, project_code, write=True)
    return execute(ctx, caller, response, key, body.to_command(project_code=project_code))


@_route(
    "/projects/{project_code}/advances",
    "pay_advance",
    commands.PayAdvance,
    "Pay an advance on a contract",
)
def pay_advance(
    project_code: ProjectCode,
    body: PayAdvance,
    key: IdempotencyKey,
    caller: Writer,
    ctx: Ctx,
    response: Response,
) -> CommandResult:
    check_project(ctx, caller, project_code, write=True)
    return execute(ctx, caller, response, key, body.to_command(project_code=project_code))


@_route(
    "/projects/{project_code}/payments",
    "pay_completed_work",
    commands.PayCompletedWork,
    "Pay for completed work",
)
def pay_completed_work(
    project_code: ProjectCode,
    body: PayCompletedWork,
    key: IdempotencyKey,
    caller: Writer,
    ctx: Ctx,
    response: Response,
) -> CommandResult:
    check_project(ctx, caller, project_code, write=True)
    return execute(ctx, caller, response, key, body.to_command(project_code=project_code))


@_route(
    "/projects/{project_code}/reversals",
    "reverse_entry",
    commands.ReverseEntry,
    "Correct a wrong entry of any movement kind (reversal of a payment, correction of the rest)",
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
    if caller.scoped:
        # A correction also writes to a transfer's other project, or an allocation's or a cut's
        # plan: the caller's scope must cover them as it would the movement itself.
        version = body.entry_version
        other, plan = ctx.ledger.peek_project(project_code, lambda p: p.correction_reach(version))
        if other is not None:
            check_project(ctx, caller, other, write=True)
        if plan is not None:
            check_plan(ctx, caller, plan, write=True)
    return execute(ctx, caller, response, key, body.to_command(project_code=project_code))


# -- the bodies as a contract --------------------------------------------------------------


def request_bodies() -> dict[str, type[_Body]]:
    """Every command's request body model by its command's type name (``PayCompletedWork``,
    the ``x-capledger-command`` of its route): the one schema of what a client sends for a
    command, which ``capledger record`` also reads its JSON lines with."""
    found: dict[str, type[_Body]] = {}
    kinds: list[type[_Body]] = [_Body]
    while kinds:
        kind = kinds.pop()
        kinds.extend(kind.__subclasses__())
        command = kind.__dict__.get("command")
        if isinstance(command, type) and issubclass(command, Command):
            found[command.__name__] = kind
    return found
