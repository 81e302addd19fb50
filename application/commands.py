"""The ledger's commands: one frozen dataclass per thing a user asks the ledger to do.

A command is a value: what was asked, in the domain's words and types (integer VND, ISO dates,
capital sources and statuses by their codes). Who asked and under which idempotency key is the
envelope :meth:`Ledger.execute <capledger.application.ledger.Ledger.execute>` takes beside it,
not part of the command. Each command has one handler (``capledger.application.handlers``).

A command's fields are what its receipt's fingerprint digests, so a field's name is part of the
recorded history: renaming one makes every recorded receipt of that command unrecognisable.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import ClassVar

from capledger.domain import Decision


@dataclass(frozen=True, kw_only=True)
class Command:
    """What every command is: a frozen value its handler is found by (its type)."""

    #: Optional fields added after the command was first recorded: left out of its receipt's
    #: fingerprint while unset, so that a command sent before they existed, sent again with
    #: its id, is still recognised as the same command.
    ADDED_FIELDS: ClassVar[frozenset[str]] = frozenset()


@dataclass(frozen=True, kw_only=True)
class Decided(Command):
    """A command taken by a numbered decision (quyết định, nghị quyết) and effective on a day."""

    decision_no: str
    decision_date: date
    decision_issuer: str
    effective_on: date

    @property
    def decision(self) -> Decision:
        return Decision(
            number=self.decision_no, issued_on=self.decision_date, issuer=self.decision_issuer
        )


@dataclass(frozen=True, kw_only=True)
class MaybeDecided(Command):
    """A command that some cases take by a decision and others need none for."""

    decision_no: str | None = None
    decision_date: date | None = None
    decision_issuer: str | None = None

    @property
    def decision(self) -> Decision | None:
        if self.decision_no is None or self.decision_date is None:
            return None
        return Decision(
            number=self.decision_no, issued_on=self.decision_date, issuer=self.decision_issuer or ""
        )


# -- plans -------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ApprovePlan(Decided):
    """Approve a capital plan (medium-term or annual), with its envelope per capital source."""

    code: str
    title: str
    kind: str
    authority: str
    jurisdiction: str
    start_year: int
    end_year: int
    envelopes: Mapping[str, int]
    implements: str | None = None


@dataclass(frozen=True, kw_only=True)
class AdjustPlan(Decided):
    """Replace a plan's envelopes."""

    code: str
    envelopes: Mapping[str, int]
    reason: str


# -- projects ----------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class RegisterProject(Decided):
    code: str
    name: str
    investor_code: str
    investor_name: str
    program: str
    sector: str
    province: str
    total_investment: int


@dataclass(frozen=True, kw_only=True)
class AdjustTotalInvestment(Decided):
    project_code: str
    total_investment: int


@dataclass(frozen=True, kw_only=True)
class ChangeInvestor(Command):
    project_code: str
    investor_code: str
    investor_name: str
    reason: str
    effective_on: date


@dataclass(frozen=True, kw_only=True)
class ChangeStatus(MaybeDecided):
    """Change a project's status; some changes are taken by a decision, others need none."""

    project_code: str
    status: str
    reason: str
    effective_on: date
    review_class: str | None = None


@dataclass(frozen=True, kw_only=True)
class Settle(Decided):
    """Settle a completed project (quyết toán) at its settled value."""

    project_code: str
    settled_value: int


# -- capital movements -------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Allocate(Decided):
    """Allocate a plan's capital of one source to a project."""

    plan_code: str
    project_code: str
    source: str
    amount: int


@dataclass(frozen=True, kw_only=True)
class Transfer(Decided):
    """Move undisbursed capital between two projects of the same plan and source."""

    plan_code: str
    source: str
    from_project: str
    to_project: str
    amount: int


@dataclass(frozen=True, kw_only=True)
class Cut(Decided):
    """Cut a project's undisbursed allocation back to its plan (all of it when no amount)."""

    plan_code: str
    project_code: str
    source: str
    reason: str
    amount: int | None = None


@dataclass(frozen=True, kw_only=True)
class ExtendDisbursementPeriod(Decided):
    """Let part of an allocation be disbursed until a later day."""

    project_code: str
    plan_code: str
    source: str
    amount: int
    until: date


@dataclass(frozen=True, kw_only=True)
class Lapse(Command):
    """Lapse the capital of an allocation left undisbursed past its deadline."""

    project_code: str
    plan_code: str
    source: str
    as_of: date


# -- contracts and cash ------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class SignContract(Command):
    project_code: str
    contract_no: str
    contractor: str
    value: int
    effective_on: date


@dataclass(frozen=True, kw_only=True)
class PayAdvance(Command):
    """Pay an advance on a works contract."""

    project_code: str
    contract_no: str
    plan_code: str
    source: str
    amount: int
    treasury_ref: str
    effective_on: date


@dataclass(frozen=True, kw_only=True)
class PayCompletedWork(Command):
    """Pay for completed work, recovering part of the contract's advance if any."""

    project_code: str
    plan_code: str
    source: str
    amount: int
    treasury_ref: str
    effective_on: date
    contract_no: str | None = None
    advance_recovered: int = 0


@dataclass(frozen=True, kw_only=True)
class ReverseEntry(MaybeDecided):
    """Correct a wrong entry of any movement kind, named by the stream version it was recorded
    at: a payment or an advance is reversed; an allocation, a transfer (both projects), a cut,
    an extension, a lapse, a change of total investment, of investor or of status is corrected
    (``capledger.domain.corrections``). The decision is required for corrections the law takes
    by decision and refused for cash, which has none."""

    ADDED_FIELDS: ClassVar[frozenset[str]] = frozenset(
        {"decision_no", "decision_date", "decision_issuer"}
    )

    project_code: str
    entry_version: int
    reason: str
    effective_on: date


# -- API keys (their administration on the audit trail) ----------------------------------


@dataclass(frozen=True, kw_only=True)
class IssueApiKey(Command):
    """Record that an API key was issued (by its id; the token is never recorded)."""

    key_id: str
    name: str
    role: str
    investors: tuple[str, ...] = ()
    provinces: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class ChangeApiKeyScope(Command):
    key_id: str
    investors: tuple[str, ...] = ()
    provinces: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class RevokeApiKey(Command):
    key_id: str
