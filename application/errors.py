"""Errors of the application layer (the domain's own errors live in capledger.domain.errors)."""

from __future__ import annotations


class ApplicationError(Exception):
    code = "application-error"


class UnknownProject(ApplicationError):
    code = "unknown-project"


class UnknownPlan(ApplicationError):
    code = "unknown-plan"


class DuplicateProject(ApplicationError):
    code = "duplicate-project"


class DuplicatePlan(ApplicationError):
    code = "duplicate-plan"


class IdempotencyConflict(ApplicationError):
    """A command id was reused for a different command or different content."""

    code = "idempotency-conflict"


class ConcurrencyConflict(ApplicationError):
    """Other writers kept changing the same aggregates; the client may retry."""

    code = "version-conflict"


class InvalidCommand(ApplicationError):
    code = "invalid-command"


class UnknownApiKey(ApplicationError):
    code = "unknown-api-key"


class DuplicateApiKey(ApplicationError):
    code = "duplicate-api-key"
