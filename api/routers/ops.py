"""Operations: liveness, readiness, Prometheus metrics. No API key needed."""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from ..context import ApiContext
from ..deps import Ctx
from ..metrics import CONTENT_TYPE
from ..problems import LEDGER_VERIFICATION_FAILED
from ..routing import ThreadedRoute

log = structlog.get_logger(__name__)
router = APIRouter(tags=["operations"], route_class=ThreadedRoute)


class Health(BaseModel):
    status: str


class Check(BaseModel):
    name: str
    ok: bool
    detail: str | None = None


class Readiness(BaseModel):
    ready: bool
    ledger_position: int | None
    projection_position: int | None
    projection_lag: int | None
    checks: list[Check]


@router.get("/healthz", operation_id="healthz", summary="Liveness", response_model=Health)
async def healthz() -> Health:
    return Health(status="ok")


def readiness(ctx: ApiContext) -> Readiness:
    checks: list[Check] = []
    ledger = projection = lag = None
    try:
        ledger = ctx.ledger_position()
        checks.append(Check(name="event_store", ok=True))
    except Exception as error:
        checks.append(Check(name="event_store", ok=False, detail=_reason(error)))
    try:
        projection = ctx.projection_position()
        checks.append(Check(name="read_model", ok=True))
    except Exception as error:
        checks.append(Check(name="read_model", ok=False, detail=_reason(error)))
    if ctx.settings.read_model.projected_from_kafka:
        projection = None  # it counts Kafka offsets: the kafka_projector check reports its lag
    if ledger is not None and projection is not None:
        lag = max(0, ledger - projection)
        bound = ctx.settings.api.ready_max_lag
        runner_error = None if ctx.runner is None else ctx.runner.last_error
        ok = lag <= bound and runner_error is None
        detail = f"{lag} positions behind (bound {bound})"
        if runner_error is not None:
            detail += f"; runner failing: {_reason(runner_error)}"
        checks.append(Check(name="projection_lag", ok=ok, detail=detail))
    checks.append(_verification(ctx))
    try:
        ctx.store.ping()
        checks.append(Check(name="api_store", ok=True))
    except Exception as error:
        checks.append(Check(name="api_store", ok=False, detail=_reason(error)))
    for hook in ctx.readiness_checks:
        try:
            problem = hook.check()
        except Exception as error:
            problem = _reason(error)
        checks.append(Check(name=hook.name, ok=problem is None, detail=problem))
    return Readiness(
        ready=all(check.ok for check in checks),
        ledger_position=ledger,
        projection_position=projection,
        projection_lag=lag,
        checks=checks,
    )


def _verification(ctx: ApiContext) -> Check:
    """Whether the read side met an event that fails verification (any runner, any process:
    the read model records it); if so, where."""
    try:
        breach = ctx.read_model.breach()
    except Exception as error:
        return Check(name="ledger_verification", ok=False, detail=_reason(error))
    if breach is None:
        return Check(name="ledger_verification", ok=True)
    detail = f"{LEDGER_VERIFICATION_FAILED}: the ledger fails verification: {breach.describe()}"
    return Check(name="ledger_verification", ok=False, detail=detail)


def _reason(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"[:300]


@router.get(
    "/readyz",
    operation_id="readyz",
    summary="Readiness: store reachable, read model caught up within a bound",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "Not ready"}},
)
def readyz(ctx: Ctx) -> Any:
    found = readiness(ctx)
    if not found.ready:
        log.warning("not_ready", checks=[c.model_dump() for c in found.checks if not c.ok])
        return JSONResponse(found.model_dump(), status_code=503)
    return found


@router.get(
    "/metrics",
    operation_id="metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE: {"schema": {"type": "string"}}}}},
)
def metrics(ctx: Ctx) -> Response:
    try:
        ctx.refresh_gauges()
    except Exception as error:
        log.warning("metrics_gauges_failed", error=_reason(error))
    return Response(ctx.metrics.render(), media_type=CONTENT_TYPE)
