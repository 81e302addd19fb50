"""The app factory: ``create_app(settings, ledger=…, read_model=…, store=…)`` puts the ledger,
the read model, the embedded runner and the API's own store behind a FastAPI app. The
composition root (``capledger.bootstrap.build_app``) builds those pieces from the settings.

Routers are plain ``APIRouter`` objects included here; another router (an inspector page, a
benchmark's helpers) is added with ``app.include_router(...)`` after ``create_app``, and static
files with ``app.mount("/inspector", StaticFiles(...))`` — the context they need is
``app.state.ctx`` (see :mod:`capledger.api.deps`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import structlog
from fastapi import Depends, FastAPI

from capledger import __version__
from capledger.application.ledger import Ledger
from capledger.projections import EmbeddedRunner, ReadModelStore
from capledger.settings import Settings

from . import openapi, problems
from .context import ApiContext
from .kafka import kafka_checks
from .middleware import BodyLimit, RequestContext, StrictJson
from .routers import (
    admin,
    audit,
    commands,
    docs,
    exports,
    inspector,
    jurisdictions,
    ops,
    queries,
    schemas,
)
from .routers.log import router as log_router
from .store import ApiStore
from .throttle import RateLimitHeaders
from .verification import verified_ledger

log = structlog.get_logger(__name__)

DESCRIPTION = """\
The HTTP API of capledger, the event-sourced ledger of Vietnam's public investment capital
(đầu tư công): capital plans (kế hoạch vốn), their allocation to projects (giao kế hoạch vốn),
transfers (điều chuyển), cuts (cắt giảm), advances (tạm ứng) and their recovery (thu hồi tạm
ứng), payments through the State Treasury (Kho bạc Nhà nước), extensions, lapses, corrections
and settlement (quyết toán). This document is the whole contract.

* **Authentication**: an API key as `X-API-Key: <token>` or `Authorization: Bearer <token>`.
  Each operation's `x-roles` names the roles that may call it (`inspector` reads everything;
  `finance_officer` reads and writes within its scope of investors and provinces;
  `administrator` everything); `security` is empty where no key is needed.
* **Rate limits**: each operation's `x-rate-limit` lists the token buckets it is counted
  against; responses carry `RateLimit` and `RateLimit-Policy` (IETF
  draft-ietf-httpapi-ratelimit-headers); beyond the limit 429 `rate-limited` with
  `Retry-After` (seconds).
* **Commands** record movements. Each carries a client-chosen `Idempotency-Key` (its command
  id): sent again with the same command it records nothing and answers 200 with the first
  outcome (`Idempotent-Replayed: true`); with a different command 422 `idempotency-conflict`.
  A command answers once the read model holds it (`X-Read-Model-Caught-Up`).
* **Queries** read the projections: balances, disbursement rates (tỷ lệ giải ngân) against
  chosen plans, monthly series, watch lists. **As of**: `as_of=D` counts movements effective
  by D *and recorded by the end of D* (Vietnam time): what the ledger knew then. For history
  recorded later than it took effect (back-filled or migrated data), also send `known` (e.g.
  today) to count what is known now about movements effective by D.
* **Audit** reads the event store: a project's history with each event's typed `data`, its
  state at any point, hash-chain verification, published digests. **Exports**: CSV, IATI,
  Fiscal Data Package.

Amounts are whole VND (đồng): send a JSON integer or a string of digits, read strings of
digits (sums exceed 2^53). Dates are `YYYY-MM-DD`. Errors are `application/problem+json`
(RFC 9457) with a stable `code`: the `Problem` schema lists every code with its status and
meaning, and each response lists the codes it may carry. The server itself may answer 408
`request-timeout` or 431 `request-header-too-large` and close the connection.
"""

TAGS = [
    {"name": "commands", "description": "Record movements (idempotent, read-your-writes)."},
    {"name": "queries", "description": "Balances, rates, series, watch lists, plans."},
    {"name": "audit", "description": "Histories, past states, chain verification, digests."},
    {"name": "exports", "description": "CSV, IATI, Fiscal Data Package."},
    {"name": "administration", "description": "API keys."},
    {"name": "operations", "description": "Health, readiness, metrics."},
    {"name": "events", "description": "The JSON Schemas of the Kafka events' data."},
    {
        "name": "jurisdictions",
        "description": "The country, its provinces and central bodies: the scopes of plans.",
    },
    {
        "name": "verifiable log",
        "description": "The Merkle tree of every event: checkpoints, tiles, proofs, cosignatures.",
    },
]


def create_app(
    settings: Settings,
    *,
    ledger: Ledger,
    read_model: ReadModelStore,
    store: ApiStore,
    runner: EmbeddedRunner | None,
    closers: list[Callable[[], Any]] | None = None,
) -> FastAPI:
    """The app over these pieces. ``closers`` run when the app shuts down (the root passes the
    closing of what it opened for the app); the rest is left open."""
    api_settings = settings.api
    store.initialise()
    ctx = ApiContext(
        settings=settings,
        ledger=ledger,
        read_model=read_model,
        runner=runner,
        store=store,
        closers=list(closers or ()),
    )

    ctx.readiness_checks.extend(kafka_checks(settings, ledger, read_model))

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # Lifespans may overlap (a test client and a fuzzer's): the last one closes.
        ctx.enter()
        log.info("api_started", embedded_runner=runner is not None)
        try:
            yield
        finally:
            ctx.leave()
            log.info("api_stopped")

    app = FastAPI(
        title="capledger",
        version=__version__,
        description=DESCRIPTION,
        openapi_tags=TAGS,
        lifespan=lifespan,
        root_path=api_settings.root_path,
        # Swagger UI is served from the package, under a CSP (routers/docs.py); no ReDoc.
        docs_url=None,
        redoc_url=None,
    )
    app.state.ctx = ctx
    app.state.problem_base = api_settings.problem_base
    problems.install(app)
    # A request is matched route by route in this order: the queries, the busiest, first. No
    # two routers share a method and path, so the order changes no answer, only its cost.
    # The routers serving the ledger's figures refuse them while it fails verification.
    serves_figures = (queries.router, audit.router, exports.router)
    for router in (
        queries.router,
        log_router,  # few routes, each read many times over by the log's clients (proofs, tiles)
        commands.router,
        audit.router,
        exports.router,
        admin.router,
        ops.router,
        inspector.router,
        jurisdictions.router,
        schemas.router,
    ):
        guarded = router in serves_figures
        app.include_router(router, dependencies=[Depends(verified_ledger)] if guarded else None)
    if api_settings.docs:
        app.include_router(docs.router)
    # Outermost first: request ids and access logs see every response, the 413 included; a
    # JSON body is judged once BodyLimit has bounded it.
    app.add_middleware(StrictJson)
    app.add_middleware(RateLimitHeaders)
    app.add_middleware(BodyLimit, max_bytes=api_settings.max_body_bytes)
    app.add_middleware(RequestContext, metrics=ctx.metrics)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema is None:
        ctx: ApiContext = app.state.ctx
        app.openapi_schema = openapi.document(app, ctx.settings.api)
    return app.openapi_schema
