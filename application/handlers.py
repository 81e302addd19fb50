"""The handlers of the ledger's commands: one function per command type, in ``HANDLERS``.

A handler loads the aggregates its command touches from the unit of work, lets them check their
invariants and change, and adds the aggregates it creates; it never saves. The application runs
every handler the same way (``Ledger.execute``): idempotency receipt, fingerprint, retry on a
concurrency conflict, one atomic ``save`` of everything the unit of work touched. A handler that
raises leaves nothing recorded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol, TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate

from capledger.domain import ApiKey, CapitalPlan, Project, RuleBook
from capledger.domain.corrections import PLAN_ALLOCATES, PLAN_RETURNS
from capledger.domain.errors import NoAllocation
from capledger.domain.ids import api_key_id, plan_id, project_id

from .commands import (
    AdjustPlan,
    AdjustTotalInvestment,
    Allocate,
    ApprovePlan,
    ChangeApiKeyScope,
    ChangeInvestor,
    ChangeStatus,
    Command,
    Cut,
    ExtendDisbursementPeriod,
    IssueApiKey,
    Lapse,
    PayAdvance,
    PayCompletedWork,
    RegisterProject,
    ReverseEntry,
    RevokeApiKey,
    Settle,
    SignContract,
    Transfer,
)
from .errors import DuplicateApiKey, DuplicatePlan, DuplicateProject, UnknownPlan

A = TypeVar("A", bound=Aggregate)


class UnitOfWork(Protocol):
    """The aggregates one command loads or creates, and the rules it is judged by."""

    @property
    def rules(self) -> RuleBook: ...

    def project(self, code: str) -> Project:
        """The recorded project (``UnknownProject`` if none)."""
        ...

    def plan(self, code: str) -> CapitalPlan:
        """The recorded plan (``UnknownPlan`` if none)."""
        ...

    def api_key(self, key_id: str) -> ApiKey:
        """The recorded API key (``UnknownApiKey`` if none)."""
        ...

    def exists(self, aggregate_id: UUID) -> bool: ...

    def add(self, aggregate: A, label: str) -> A:
        """A new aggregate to record, under its stream label (``project:DA-001``)."""
        ...


@contextmanager
def naming_plan(uow: UnitOfWork, plan_code: str) -> Iterator[None]:
    """A movement on a project's line from a plan that no one recorded is refused as an unknown
    plan (``UnknownPlan``), not as a missing allocation: the plan is looked up only when the
    project has no such line, so a movement on an existing line loads no plan."""
    try:
        yield
    except NoAllocation:
        if not uow.exists(plan_id(plan_code)):
            raise UnknownPlan(f"no plan {plan_code} is recorded") from None
        raise


# -- plans -------------------------------------------------------------------------------


def approve_plan(cmd: ApprovePlan, uow: UnitOfWork) -> None:
    if uow.exists(plan_id(cmd.code)):
        raise DuplicatePlan(f"plan {cmd.code} is already recorded")
    if cmd.implements is not None:
        uow.plan(cmd.implements)
    plan = CapitalPlan.approve(
        code=cmd.code, title=cmd.title, kind=cmd.kind, authority=cmd.authority,
        jurisdiction=cmd.jurisdiction, start_year=cmd.start_year, end_year=cmd.end_year,
        envelopes=cmd.envelopes, decision=cmd.decision, effective_on=cmd.effective_on,
        implements=cmd.implements,
    )  # fmt: skip
    uow.add(plan, f"plan:{cmd.code}")


def adjust_plan(cmd: AdjustPlan, uow: UnitOfWork) -> None:
    uow.plan(cmd.code).adjust(
        envelopes=cmd.envelopes,
        reason=cmd.reason,
        decision=cmd.decision,
        effective_on=cmd.effective_on,
    )


# -- projects ----------------------------------------------------------------------------


def register_project(cmd: RegisterProject, uow: UnitOfWork) -> None:
    if uow.exists(project_id(cmd.code)):
        raise DuplicateProject(f"project {cmd.code} is already recorded")
    project = Project.register(
        code=cmd.code, name=cmd.name, investor_code=cmd.investor_code,
        investor_name=cmd.investor_name, program=cmd.program, sector=cmd.sector,
        province=cmd.province, total_investment=cmd.total_investment, decision=cmd.decision,
        effective_on=cmd.effective_on,
    )  # fmt: skip
    uow.add(project, f"project:{cmd.code}")


def adjust_total_investment(cmd: AdjustTotalInvestment, uow: UnitOfWork) -> None:
    uow.project(cmd.project_code).adjust_total_investment(
        total_investment=cmd.total_investment,
        decision=cmd.decision,
        effective_on=cmd.effective_on,
    )


def change_investor(cmd: ChangeInvestor, uow: UnitOfWork) -> None:
    uow.project(cmd.project_code).change_investor(
        investor_code=cmd.investor_code,
        investor_name=cmd.investor_name,
        reason=cmd.reason,
        effective_on=cmd.effective_on,
    )


def change_status(cmd: ChangeStatus, uow: UnitOfWork) -> None:
    uow.project(cmd.project_code).change_status(
        status=cmd.status,
        reason=cmd.reason,
        effective_on=cmd.effective_on,
        review_class=cmd.review_class,
        decision=cmd.decision,
    )


def settle(cmd: Settle, uow: UnitOfWork) -> None:
    uow.project(cmd.project_code).settle(
        settled_value=cmd.settled_value,
        decision=cmd.decision,
        effective_on=cmd.effective_on,
    )


# -- capital movements -------------------------------------------------------------------


def allocate(cmd: Allocate, uow: UnitOfWork) -> None:
    """The project receives the capital (its rules judge it first), the plan records it."""
    plan, project = uow.plan(cmd.plan_code), uow.project(cmd.project_code)
    project.receive_allocation(
        plan_code=cmd.plan_code, plan_kind=plan.kind, fiscal_year=plan.fiscal_year,
        source=cmd.source, amount=cmd.amount, decision=cmd.decision,
        effective_on=cmd.effective_on, rules=uow.rules,
    )  # fmt: skip
    plan.allocate(
        project_code=cmd.project_code, source=cmd.source, amount=cmd.amount,
        decision=cmd.decision, effective_on=cmd.effective_on,
    )  # fmt: skip


def transfer(cmd: Transfer, uow: UnitOfWork) -> None:
    """The donor gives up a share of its line; the recipient takes it with the line's terms."""
    donor, recipient = uow.project(cmd.from_project), uow.project(cmd.to_project)
    with naming_plan(uow, cmd.plan_code):
        line = donor.transfer_out(
            plan_code=cmd.plan_code, source=cmd.source, amount=cmd.amount,
            to_project=cmd.to_project, decision=cmd.decision, effective_on=cmd.effective_on,
            rules=uow.rules,
        )  # fmt: skip
    recipient.transfer_in(
        from_line=line, amount=cmd.amount, from_project=cmd.from_project,
        decision=cmd.decision, effective_on=cmd.effective_on, rules=uow.rules,
    )  # fmt: skip


def cut(cmd: Cut, uow: UnitOfWork) -> None:
    """The project gives up the capital; the plan takes back exactly what was cut."""
    plan, project = uow.plan(cmd.plan_code), uow.project(cmd.project_code)
    amount_cut = project.cut(
        plan_code=cmd.plan_code, source=cmd.source, amount=cmd.amount, reason=cmd.reason,
        decision=cmd.decision, effective_on=cmd.effective_on, rules=uow.rules,
    )  # fmt: skip
    plan.take_back(
        project_code=cmd.project_code, source=cmd.source, amount=amount_cut,
        decision=cmd.decision, effective_on=cmd.effective_on,
    )  # fmt: skip


def extend_disbursement_period(cmd: ExtendDisbursementPeriod, uow: UnitOfWork) -> None:
    project = uow.project(cmd.project_code)
    with naming_plan(uow, cmd.plan_code):
        project.extend_disbursement_period(
            plan_code=cmd.plan_code, source=cmd.source, amount=cmd.amount, until=cmd.until,
            decision=cmd.decision, effective_on=cmd.effective_on, rules=uow.rules,
        )  # fmt: skip


def lapse(cmd: Lapse, uow: UnitOfWork) -> None:
    project = uow.project(cmd.project_code)
    with naming_plan(uow, cmd.plan_code):
        project.lapse(plan_code=cmd.plan_code, source=cmd.source, as_of=cmd.as_of, rules=uow.rules)


# -- contracts and cash ------------------------------------------------------------------


def sign_contract(cmd: SignContract, uow: UnitOfWork) -> None:
    uow.project(cmd.project_code).sign_contract(
        contract_no=cmd.contract_no, contractor=cmd.contractor, value=cmd.value,
        effective_on=cmd.effective_on,
    )  # fmt: skip


def pay_advance(cmd: PayAdvance, uow: UnitOfWork) -> None:
    project = uow.project(cmd.project_code)
    with naming_plan(uow, cmd.plan_code):
        project.pay_advance(
            contract_no=cmd.contract_no, plan_code=cmd.plan_code, source=cmd.source,
            amount=cmd.amount, treasury_ref=cmd.treasury_ref, effective_on=cmd.effective_on,
            rules=uow.rules,
        )  # fmt: skip


def pay_completed_work(cmd: PayCompletedWork, uow: UnitOfWork) -> None:
    project = uow.project(cmd.project_code)
    with naming_plan(uow, cmd.plan_code):
        project.pay_completed_work(
            plan_code=cmd.plan_code, source=cmd.source, amount=cmd.amount,
            treasury_ref=cmd.treasury_ref, effective_on=cmd.effective_on, rules=uow.rules,
            contract_no=cmd.contract_no, advance_recovered=cmd.advance_recovered,
        )  # fmt: skip


def reverse_entry(cmd: ReverseEntry, uow: UnitOfWork) -> None:
    """Correct the entry; a transfer on both its projects, an allocation or a cut on its plan
    too, all in this one unit of work (any refusal records nothing)."""
    project = uow.project(cmd.project_code)
    counterpart, _ = project.correction_reach(cmd.entry_version)
    other = None if counterpart is None else uow.project(counterpart)
    other_version = None if other is None else project.transfer_side(cmd.entry_version, other)
    corrected = project.correct_entry(
        entry_version=cmd.entry_version, reason=cmd.reason, effective_on=cmd.effective_on,
        decision=cmd.decision, counterpart_version=other_version,
    )  # fmt: skip
    if other is not None and other_version is not None:
        other.correct_entry(
            entry_version=other_version, reason=cmd.reason, effective_on=cmd.effective_on,
            decision=cmd.decision, counterpart_version=cmd.entry_version,
        )  # fmt: skip
    if corrected is None or cmd.decision is None:
        return
    if corrected.kind == PLAN_RETURNS:
        uow.plan(str(corrected.plan_code)).take_back(
            project_code=cmd.project_code, source=str(corrected.source),
            amount=corrected.amount, decision=cmd.decision, effective_on=cmd.effective_on,
        )  # fmt: skip
    elif corrected.kind == PLAN_ALLOCATES:
        uow.plan(str(corrected.plan_code)).allocate(
            project_code=cmd.project_code, source=str(corrected.source),
            amount=corrected.amount, decision=cmd.decision, effective_on=cmd.effective_on,
        )  # fmt: skip


# -- API keys ----------------------------------------------------------------------------


def issue_api_key(cmd: IssueApiKey, uow: UnitOfWork) -> None:
    if uow.exists(api_key_id(cmd.key_id)):
        raise DuplicateApiKey(f"API key {cmd.key_id} is already recorded")
    key = ApiKey.issue(
        key_id=cmd.key_id, name=cmd.name, role=cmd.role, investors=cmd.investors,
        provinces=cmd.provinces,
    )  # fmt: skip
    uow.add(key, f"api-key:{cmd.key_id}")


def change_api_key_scope(cmd: ChangeApiKeyScope, uow: UnitOfWork) -> None:
    uow.api_key(cmd.key_id).change_scope(investors=cmd.investors, provinces=cmd.provinces)


def revoke_api_key(cmd: RevokeApiKey, uow: UnitOfWork) -> None:
    uow.api_key(cmd.key_id).revoke()


# A handler takes its own command type; the mapping below pairs each type with its handler.
Handler = Callable[[Any, UnitOfWork], None]

HANDLERS: dict[type[Command], Handler] = {
    ApprovePlan: approve_plan,
    AdjustPlan: adjust_plan,
    RegisterProject: register_project,
    AdjustTotalInvestment: adjust_total_investment,
    ChangeInvestor: change_investor,
    ChangeStatus: change_status,
    Settle: settle,
    Allocate: allocate,
    Transfer: transfer,
    Cut: cut,
    ExtendDisbursementPeriod: extend_disbursement_period,
    Lapse: lapse,
    SignContract: sign_contract,
    PayAdvance: pay_advance,
    PayCompletedWork: pay_completed_work,
    ReverseEntry: reverse_entry,
    IssueApiKey: issue_api_key,
    ChangeApiKeyScope: change_api_key_scope,
    RevokeApiKey: revoke_api_key,
}
