"""Named domain errors.

Each error carries a stable ``code``: the API turns it into a problem+json ``type`` and the CLI
prints it, so clients can branch on the code rather than on the wording.
"""

from __future__ import annotations


class DomainError(Exception):
    """A command would break a rule of the ledger; nothing was recorded."""

    code = "domain-error"


class InvalidAmount(DomainError):
    code = "invalid-amount"


class InvalidValue(DomainError):
    code = "invalid-value"


class SourceNotInPlan(DomainError):
    code = "source-not-in-plan"


class EnvelopeBelowAllocated(DomainError):
    code = "envelope-below-allocated"


class InsufficientUnallocatedCapital(DomainError):
    code = "insufficient-unallocated-capital"


class NoAllocation(DomainError):
    code = "no-allocation"


class NotAnAnnualPlan(DomainError):
    code = "not-annual-plan"


class UndisbursedExceeded(DomainError):
    """A transfer or cut would move more than the project's undisbursed allocation."""

    code = "undisbursed-exceeded"


class OverDisbursement(DomainError):
    """A payment would exceed the year's allocation (including capital extended into it)."""

    code = "over-disbursement"


class TotalInvestmentExceeded(DomainError):
    code = "total-investment-exceeded"


class DatedOutOfRange(DomainError):
    """A movement dated before what it depends on existed: the project's registration, its plan's
    approval or first fiscal day, or the entry a correction corrects."""

    code = "dated-out-of-range"


class DeadlinePassed(DomainError):
    code = "deadline-passed"


class ExtensionNotAllowed(DomainError):
    code = "extension-not-allowed"


class LapseNotDue(DomainError):
    code = "lapse-not-due"


class AdvanceCapExceeded(DomainError):
    code = "advance-cap-exceeded"


class AdvanceOverRecovered(DomainError):
    code = "advance-over-recovered"


class AdvanceNotFullyRecovered(DomainError):
    code = "advance-not-fully-recovered"


class UnknownContract(DomainError):
    code = "unknown-contract"


class DuplicateContract(DomainError):
    code = "duplicate-contract"


class EntryNotReversible(DomainError):
    """No such entry to correct, already corrected, a correction itself, or a later change
    of the same kind stands in the way."""

    code = "entry-not-reversible"


class DecisionRequired(DomainError):
    """The law takes this correction by a decision, and none was given."""

    code = "decision-required"


class ProjectClosed(DomainError):
    code = "project-closed"


class InvalidTransfer(DomainError):
    code = "invalid-transfer"


class InvalidStatusChange(DomainError):
    code = "invalid-status-change"


class NoRuleInForce(DomainError):
    code = "no-rule-in-force"


class ApiKeyRevoked(DomainError):
    code = "api-key-revoked"
