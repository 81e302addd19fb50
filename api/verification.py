"""Reads of the ledger's figures are refused while the read side finds the ledger failing
verification (``projections.verification``): a forged event must not become a balance, a rate
or a line of history served as if nothing happened.

One dependency, :func:`verified_ledger`, given to the routers that serve figures (queries,
exports, audit) where the app includes them; it answers ``503`` with the problem
``ledger-verification-failed`` saying where the read side stopped. The operations that are the
verification itself, or serve no figure of the ledger (:data:`UNGUARDED`), answer as before, so
that an inspector can still see what is wrong.

The verdict is the read model's (``ReadModelStore.breach``: whichever runner met the breach,
in this process or another, embedded or Kafka), read at most once per :data:`VERDICT_TTL_S`
per process rather than on every request.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from fastapi import FastAPI, Request
from starlette.concurrency import run_in_threadpool

from capledger.projections import ReadModelStore
from capledger.projections.verification import ChainBreach

from .deps import context
from .problems import LEDGER_VERIFICATION_FAILED, UNAVAILABLE_RETRY_AFTER_S, ApiProblem

#: Seconds a verdict read from the read model is trusted before it is read again.
VERDICT_TTL_S = 1.0
#: Operations answered whatever the read side found: verification, digests, key history.
UNGUARDED = frozenset(
    {
        "verify_store",
        "verify_project",
        "publish_digest",
        "latest_digest",
        "digests",
        "api_key_history",
    }
)


@dataclass
class LedgerVerdict:
    """The read model's verdict on the ledger, as this process last read it."""

    read_model: ReadModelStore
    ttl_s: float = VERDICT_TTL_S
    breach: ChainBreach | None = None
    read_at: float = float("-inf")
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def fresh(self) -> bool:
        return time.monotonic() - self.read_at < self.ttl_s

    def read(self) -> ChainBreach | None:
        """Read the verdict again (blocking: call it in the thread pool)."""
        with self._lock:
            if not self.fresh:
                self.breach = self.read_model.breach()
                self.read_at = time.monotonic()
            return self.breach


def verdict_of(app: FastAPI, read_model: ReadModelStore) -> LedgerVerdict:
    verdict: LedgerVerdict | None = getattr(app.state, "ledger_verdict", None)
    if verdict is None or verdict.read_model is not read_model:
        verdict = app.state.ledger_verdict = LedgerVerdict(read_model)
    return verdict


async def verified_ledger(request: Request) -> None:
    """Refuse (``503 ledger-verification-failed``) while the ledger fails verification."""
    route = request.scope.get("route")
    if getattr(route, "operation_id", None) in UNGUARDED:
        return
    ctx = await context(request)
    verdict = verdict_of(request.app, ctx.read_model)
    breach = verdict.breach if verdict.fresh else await run_in_threadpool(verdict.read)
    if breach is not None:
        raise ApiProblem(
            503,
            LEDGER_VERIFICATION_FAILED,
            f"the ledger fails verification, so no figure is served: {breach.describe()}; "
            "run `capledger verify`, restore the store, then `capledger projections rebuild`",
            headers={"Retry-After": str(UNAVAILABLE_RETRY_AFTER_S)},
        )
