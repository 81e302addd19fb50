"""Dependencies of the routes: the context, the authenticated caller, roles and write limits.

A key is sent as ``X-API-Key: <token>`` or ``Authorization: Bearer <token>``.

Routes take them as the ``Annotated`` aliases at the end (``ctx: Ctx``, ``caller: Reader``…),
solved by FastAPI on every request, overrides included. They are ``async``: FastAPI would run
plain functions in the thread pool, one hop each per request (see :mod:`capledger.api.routing`).
None of them waits on anything but the key, which is looked up in the store (in the thread pool)
on every request, so that a revocation holds at once in every process (docs/security.md).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from . import throttle
from .context import ApiContext
from .problems import ApiProblem
from .roles import Access, Caller
from .store import ApiKey

API_KEY_HEADER = "X-API-Key"

api_key_header = APIKeyHeader(
    name=API_KEY_HEADER,
    auto_error=False,
    scheme_name="ApiKey",
    description="An API key (`clk_…`), created with `capledger api-key create`.",
)
bearer = HTTPBearer(
    auto_error=False, scheme_name="Bearer", description="The same API key as a bearer token."
)


async def context(request: Request) -> ApiContext:
    ctx: ApiContext = request.app.state.ctx
    return ctx


Ctx = Annotated[ApiContext, Depends(context)]


async def authenticated(
    request: Request,
    api_key: Annotated[str | None, Security(api_key_header)] = None,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)] = None,
) -> Caller:
    token = _token(api_key, credentials)
    # The context from the request rather than as a sub-dependency: FastAPI solves each
    # sub-dependency anew on every request, and every read and write passes here.
    ctx = await context(request)
    assert ctx.limits is not None
    if not token:
        await throttle.failed_authentication(request, ctx.limits)
        raise ApiProblem(
            401,
            "unauthenticated",
            f"send an API key in the {API_KEY_HEADER} header or as a bearer token",
            headers={"WWW-Authenticate": 'Bearer realm="capledger"'},
        )
    token = token.strip()
    # An address this process knows to be flooding is refused before the store is asked.
    throttle.refuse_flooding_address(request, ctx.limits)
    key = await run_in_threadpool(ctx.authenticate, token)
    if key is None:
        await throttle.failed_authentication(request, ctx.limits)
        raise ApiProblem(
            401,
            "unauthenticated",
            "the API key is unknown or revoked",
            headers={"WWW-Authenticate": 'Bearer realm="capledger", error="invalid_token"'},
        )
    return _caller(request, key)


def _token(api_key: str | None, credentials: HTTPAuthorizationCredentials | None) -> str | None:
    return api_key or (credentials.credentials if credentials is not None else None)


def _caller(request: Request, key: ApiKey) -> Caller:
    caller = Caller(key.key_id, key.name, key.role, key.scope)
    # The access log (middleware) names the principal of every request.
    request.state.principal = caller.principal
    return caller


async def writer(
    request: Request, caller: Annotated[Caller, Depends(authenticated)], ctx: Ctx
) -> Caller:
    """Finance officers and administrators write; each key's writes are rate limited."""
    if not caller.can_write:
        raise ApiProblem(403, "forbidden", f"the {caller.role.value} role cannot record commands")
    assert ctx.limits is not None
    await throttle.limit_key(request, ctx.limits, ctx.limits.policies.writes, caller.key_id)
    return caller


async def reader(
    request: Request,
    api_key: Annotated[str | None, Security(api_key_header)] = None,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)] = None,
) -> Caller:
    """Every role reads (finance officers within their scope); each key's reads and
    administration requests are rate limited. It authenticates itself rather than depend on
    :func:`authenticated`: every read would pay FastAPI's solving of one more level."""
    caller = await authenticated(request, api_key, credentials)
    limits = (await context(request)).limits
    assert limits is not None
    await throttle.limit_key(request, limits, limits.policies.reads, caller.key_id)
    return caller


async def administrator(caller: Annotated[Caller, Depends(reader)]) -> Caller:
    if not caller.may(Access.ADMINISTER):
        raise ApiProblem(403, "forbidden", "only an administrator may do this")
    return caller


async def inspector_or_admin(caller: Annotated[Caller, Depends(reader)]) -> Caller:
    """Ledger-wide reads that are not split by scope (whole-store verification, digests)."""
    if not caller.may(Access.LEDGER_WIDE):
        raise ApiProblem(
            403, "forbidden", "ledger-wide checks are for inspectors and administrators"
        )
    return caller


#: Any role reads (finance officers within their scope): being authenticated is enough.
Reader = Annotated[Caller, Depends(reader)]
Writer = Annotated[Caller, Depends(writer)]
Admin = Annotated[Caller, Depends(administrator)]
Inspector = Annotated[Caller, Depends(inspector_or_admin)]
