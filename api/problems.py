"""Errors as ``application/problem+json`` (RFC 9457), one stable ``type`` per error code.

Every domain and application error carries a stable ``code`` (``over-disbursement``,
``deadline-passed``, ``version-conflict``…); its problem ``type`` is ``<problem base><code>``
and the body repeats the ``code`` so clients can branch on it without parsing the URI.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import structlog
from eventsourcing.persistence import PersistenceError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from capledger.application.errors import (
    ApplicationError,
    ConcurrencyConflict,
    DuplicatePlan,
    DuplicateProject,
    IdempotencyConflict,
    UnknownPlan,
    UnknownProject,
)
from capledger.domain import DomainError
from capledger.domain.errors import NoAllocation, UnknownContract
from capledger.domain.jurisdictions import UnknownJurisdiction
from capledger.projections import NotInitialised
from capledger.projections.queries import NotYetKnown, PlanOutsideScope, QueryError

log = structlog.get_logger(__name__)

PROBLEM_JSON = "application/problem+json"
#: Seconds a client should wait before retrying a command that met concurrent writers.
CONFLICT_RETRY_AFTER_S = 1
UNAVAILABLE_RETRY_AFTER_S = 5
#: The read side met an event that fails verification (``api.verification``, status 503): no
#: balance, rate or history is served until the store is restored and the read model rebuilt.
LEDGER_VERIFICATION_FAILED = "ledger-verification-failed"
#: 400: a body sent as JSON that does not parse as JSON (a validation error is 422).
MALFORMED_JSON = "malformed-json"

STATUS_CODES: dict[int, str] = {
    400: "bad-request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    406: "not-acceptable",
    409: "conflict",
    413: "request-too-large",
    415: "unsupported-media-type",
    422: "validation-error",
    429: "rate-limited",
    500: "internal-error",
    503: "unavailable",
}


class FieldProblem(BaseModel):
    field: str = Field(description="Where the value is: `body.amount`, `query.limit`, `header…`.")
    message: str
    type: str


class Problem(BaseModel):
    """An error (RFC 9457). ``code`` is stable; ``detail`` is for people."""

    type: str = Field(description="URI of the problem type: `<base><code>`.")
    title: str
    status: int
    detail: str
    code: str = Field(description="The stable error code, e.g. `over-disbursement`.")
    instance: str | None = Field(default=None, description="The request path.")
    request_id: str | None = None
    errors: list[FieldProblem] | None = Field(
        default=None, description="For validation errors: each field and what is wrong with it."
    )
    known_from: date | None = Field(
        default=None,
        description="For `not-yet-known` (404): the first day (Vietnam time) the ledger knew "
        "what was asked for, i.e. the day it was recorded. Ask again with `known` on or after "
        "this day to see it.",
        examples=["2026-11-30"],
    )


class ApiProblem(Exception):
    """An error the API raises itself (authentication, scope, limits, unknown resources)."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        headers: Mapping[str, str] | None = None,
        errors: Sequence[FieldProblem] | None = None,
        known_from: date | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = dict(headers or {})
        self.errors = list(errors) if errors is not None else None
        self.known_from = known_from


def title_of(code: str) -> str:
    return code.replace("-", " ").capitalize()


def problem_response(
    request: Request,
    status: int,
    code: str,
    detail: str,
    *,
    headers: Mapping[str, str] | None = None,
    errors: Sequence[FieldProblem] | None = None,
    known_from: date | None = None,
) -> JSONResponse:
    app = request.scope.get("app")
    base = getattr(getattr(app, "state", None), "problem_base", "/problems/")
    problem = Problem(
        type=f"{base}{code}",
        title=title_of(code),
        status=status,
        detail=detail,
        code=code,
        instance=request.url.path,
        request_id=request.scope.get("state", {}).get("request_id"),
        errors=list(errors) if errors is not None else None,
        known_from=known_from,
    )
    return JSONResponse(
        problem.model_dump(mode="json", exclude_none=True),
        status_code=status,
        media_type=PROBLEM_JSON,
        headers=dict(headers or {}),
    )


#: Errors naming something the ledger does not hold: a project, a plan, a project's line of
#: capital from a plan and source (``no-allocation``), a contract, or what the read model
#: does not hold (including ``not-yet-known`` at the date asked).
NOT_FOUND_ERRORS = (
    UnknownProject,
    UnknownPlan,
    NoAllocation,
    UnknownContract,
    UnknownJurisdiction,
    QueryError,
)


def status_of(error: Exception) -> tuple[int, dict[str, str]]:
    """The HTTP status (and headers) of a ledger or read-model error."""
    if isinstance(error, NOT_FOUND_ERRORS):
        return 404, {}
    if isinstance(error, DuplicateProject | DuplicatePlan):
        return 409, {}
    if isinstance(error, ConcurrencyConflict):
        return 409, {"Retry-After": str(CONFLICT_RETRY_AFTER_S)}
    if isinstance(error, IdempotencyConflict):
        return 422, {}
    return 422, {}


def _code_of(error: Exception) -> str:
    return str(getattr(error, "code", "domain-error"))


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into problem+json."""

    async def api_problem(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, ApiProblem)
        return problem_response(
            request,
            error.status,
            error.code,
            error.detail,
            headers=error.headers,
            errors=error.errors,
            known_from=error.known_from,
        )

    async def ledger_error(request: Request, error: Exception) -> JSONResponse:
        status, headers = status_of(error)
        known_from = error.known_from if isinstance(error, NotYetKnown) else None
        return problem_response(
            request, status, _code_of(error), str(error), headers=headers, known_from=known_from
        )

    async def validation_error(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, RequestValidationError)
        problems = [field_problem(item) for item in error.errors()]
        if any(problem.type == "json_invalid" for problem in problems):
            # Not JSON at all: a malformed request (400), not an invalid value (422).
            return problem_response(
                request,
                400,
                MALFORMED_JSON,
                "the body is not JSON: " + "; ".join(problem.message for problem in problems),
                errors=problems,
            )
        fields = ", ".join(problem.field for problem in problems)
        return problem_response(
            request,
            422,
            "validation-error",
            f"the request is not valid: {fields}" if fields else "the request is not valid",
            errors=problems,
        )

    async def http_error(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, StarletteHTTPException)
        code = STATUS_CODES.get(error.status_code, "error")
        return problem_response(
            request,
            error.status_code,
            code,
            str(error.detail),
            headers=dict(error.headers or {}),
        )

    async def unavailable(request: Request, error: Exception) -> JSONResponse:
        log.warning("store_unavailable", error=str(error), error_type=type(error).__name__)
        return problem_response(
            request,
            503,
            "store-unavailable",
            "the ledger's store cannot be reached; retry later",
            headers={"Retry-After": str(UNAVAILABLE_RETRY_AFTER_S)},
        )

    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        log.error("unexpected_error", exc_info=error, path=request.url.path)
        return problem_response(
            request, 500, "internal-error", "an unexpected error; it has been logged"
        )

    app.add_exception_handler(ApiProblem, api_problem)
    app.add_exception_handler(DomainError, ledger_error)
    app.add_exception_handler(ApplicationError, ledger_error)
    app.add_exception_handler(QueryError, ledger_error)
    app.add_exception_handler(PlanOutsideScope, ledger_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(PersistenceError, unavailable)
    app.add_exception_handler(NotInitialised, unavailable)
    app.add_exception_handler(Exception, unexpected)


def field_problem(item: Mapping[str, Any]) -> FieldProblem:
    location = [str(part) for part in item.get("loc", ())]
    return FieldProblem(
        field=".".join(location) or "request",
        message=str(item.get("msg", "invalid")),
        type=str(item.get("type", "value_error")),
    )


def problem_responses(
    *statuses: int,
    descriptions: Mapping[int, str] | None = None,
    examples: Mapping[int, Mapping[str, Mapping[str, Any]]] | None = None,
    headers: Mapping[int, Mapping[str, Any]] | None = None,
) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for the given error statuses, each a problem+json body;
    ``descriptions`` replace the default text of a status, ``examples`` (status -> name ->
    problem) show the codes a client meets there, ``headers`` the headers it carries."""
    default = {
        400: "Bad request: the body is not JSON (`malformed-json`)",
        401: "No valid API key",
        403: "The key's role or scope does not allow it",
        404: "Unknown project, plan or resource",
        409: "Conflict (duplicate, or concurrent writers: retry after `Retry-After`)",
        413: "Request body too large",
        415: "A JSON body not in UTF-8 (`not-utf-8`)",
        422: "Invalid request, or refused by a rule of the ledger (see `code`)",
        429: "Too many requests for this key or address: retry after `Retry-After`",
        503: "Store unreachable",
    }
    chosen = {**default, **(descriptions or {})}
    responses: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        media: dict[str, Any] = {"schema": {"$ref": "#/components/schemas/Problem"}}
        named = (examples or {}).get(status)
        if named:
            media["examples"] = {
                name: {"summary": str(problem.get("title", name)), "value": dict(problem)}
                for name, problem in named.items()
            }
        response: dict[str, Any] = {
            "model": Problem,
            "description": chosen.get(status, "Error"),
            "content": {PROBLEM_JSON: media},
        }
        if headers and status in headers:
            response["headers"] = dict(headers[status])
        responses[status] = response
    return responses


#: The ``Retry-After`` of a 409 ``version-conflict``, as the document gives it.
CONFLICT_RETRY_AFTER_HEADER = {
    "Retry-After": {
        "description": "Seconds to wait before sending the same command again after a "
        "`version-conflict` (other writers were changing the same aggregates); absent on "
        "duplicates.",
        "schema": {"type": "integer", "minimum": 0},
    }
}


def example(status: int, code: str, detail: str, **extra: Any) -> dict[str, Any]:
    """A problem as the API writes it, for the document's examples."""
    return {
        "type": f"https://capledger.vn/problems/{code}",
        "title": title_of(code),
        "status": status,
        "detail": detail,
        "code": code,
        **extra,
    }


# -- the verifiable log's codes (routers/log.py; docs/api.md, "The verifiable log") ----------
#: 404: the log process has issued no checkpoint yet.
NO_CHECKPOINT = "no-checkpoint"
#: 404: a tile path that is not canonical, or a tile the tree does not hold yet.
NO_TILE = "no-tile"
#: 404: an entry beyond the tree size, or an event not in the tree yet.
NOT_IN_LOG = "not-in-log"
#: 404: a tree size beyond the stored tree.
TREE_TOO_SMALL = "tree-too-small"
#: 422: neither or both of index and stream+version; a consistency proof to a smaller tree.
BAD_PROOF_REQUEST = "bad-proof-request"
#: 400: a cosignature body that is not a signed checkpoint.
BAD_NOTE = "bad-note"
#: 403: a cosignature by no witness in ``CAPLEDGER_TLOG_WITNESSES``.
UNKNOWN_WITNESS = "unknown-witness"
#: 409: a cosignature of a checkpoint the log did not issue.
UNKNOWN_CHECKPOINT = "unknown-checkpoint"
