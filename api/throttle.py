"""The HTTP edge of the rate limits (:mod:`capledger.api.ratelimit`): which bucket a request
takes a token from, the 429 when there is none, and the ``RateLimit-Policy``/``RateLimit``
fields on every limited response.

Reads and writes take from their API key's bucket (:func:`limit_key`, called by the
dependencies of :mod:`capledger.api.deps`); a request without a valid key takes from its
client address's failed-authentication bucket (:func:`failed_authentication`), and an address
this process knows to be over that limit is refused before its token is even looked up
(:func:`refuse_flooding_address`).
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .problems import ApiProblem
from .ratelimit import Decision, Policy, RateLimits


def client_bucket(request: Request) -> str:
    """The bucket of a request's client address (the peer, or the address a trusted proxy
    forwarded: uvicorn's ``--forwarded-allow-ips``)."""
    client = request.client
    return f"address:{client.host if client is not None else 'unknown'}"


async def enforce(request: Request, limits: RateLimits, bucket: str, policy: Policy) -> Decision:
    """Take a token for this request (429 ``rate-limited`` when there is none); the decision is
    kept on the request for :class:`RateLimitHeaders`. From the lease on the event loop, else
    from the store in the thread pool."""
    decision = limits.check(bucket, policy)
    if decision is None:
        decision = await run_in_threadpool(limits.take, bucket, policy)
    request.state.rate_limit = decision
    if not decision.allowed:
        raise _too_many(decision, "address" if bucket.startswith("address:") else "key")
    return decision


def _too_many(decision: Decision, whose: str) -> ApiProblem:
    return ApiProblem(
        429,
        "rate-limited",
        f"too many {decision.policy.name} for this {whose}; retry in {decision.retry_after_s} s",
        # The RateLimit fields are added by RateLimitHeaders, as on every limited response.
        headers={"Retry-After": str(decision.retry_after_s)},
    )


async def failed_authentication(request: Request, limits: RateLimits) -> None:
    """Count a request without a valid key against its client address (429 beyond)."""
    policy = limits.policies.failed_authentications
    await enforce(request, limits, client_bucket(request), policy)


def refuse_flooding_address(request: Request, limits: RateLimits) -> None:
    """429 at once, before a token is looked up in the store, for an address this process
    knows to be over its failed-authentication limit (no I/O)."""
    policy = limits.policies.failed_authentications
    decision = limits.refusing(client_bucket(request), policy)
    if decision is not None:
        request.state.rate_limit = decision
        raise _too_many(decision, "address")


async def limit_key(request: Request, limits: RateLimits, policy: Policy, key_id: str) -> None:
    await enforce(request, limits, f"{policy.name}:{key_id}", policy)


class RateLimitHeaders:
    """ASGI middleware: the ``RateLimit-Policy`` and ``RateLimit`` fields of the decision a
    request's dependencies took, on its response (whatever made it: a model, a ``Response``
    of an endpoint's own, a problem)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state: dict[str, Any] = scope.setdefault("state", {})

        async def send_with_limits(message: Message) -> None:
            decision = state.get("rate_limit")
            if message["type"] == "http.response.start" and isinstance(decision, Decision):
                headers = message.setdefault("headers", [])
                headers = message["headers"] = [*headers]  # a response's own list, not shared
                headers.append((b"ratelimit-policy", decision.policy.header.encode()))
                headers.append((b"ratelimit", decision.state.encode()))
            await send(message)

        await self.app(scope, receive, send_with_limits)
