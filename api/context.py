"""What every request needs: the ledger, the read model, the runner, keys, limits, metrics.

One :class:`ApiContext` per app, built by :func:`capledger.api.app.create_app` and kept on
``app.state.ctx``. Routers reach it through :func:`capledger.api.deps.context`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import structlog

from capledger.application.ledger import Ledger
from capledger.projections import EmbeddedRunner, ReadModelStore
from capledger.projections.history import ProjectHistory
from capledger.settings import Settings

from .cache import ReadState, ResponseCache, RunnerState, read_state
from .metrics import Metrics
from .ratelimit import RateLimits
from .store import ApiKey, ApiStore

log = structlog.get_logger(__name__)

EXTERNAL_POLL_S = 0.05


@dataclass(frozen=True)
class ReadinessCheck:
    """A named check for /readyz: returns None when ready, or what is wrong. The Kafka relay's
    lag check plugs in here (``ctx.readiness_checks.append(...)``)."""

    name: str
    check: Callable[[], str | None]


@dataclass
class ApiContext:
    settings: Settings
    ledger: Ledger
    read_model: ReadModelStore
    runner: EmbeddedRunner | None
    store: ApiStore
    metrics: Metrics = field(default_factory=Metrics)
    #: The shared rate limits (in the store, see :mod:`capledger.api.ratelimit`).
    limits: RateLimits | None = None
    readiness_checks: list[ReadinessCheck] = field(default_factory=list)
    closers: list[Callable[[], None]] = field(default_factory=list)
    auditor: ProjectHistory | None = None
    #: Rendered pages of the hottest reads (see :mod:`capledger.api.cache`).
    responses: ResponseCache = field(init=False)
    _users: int = 0
    _users_lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.responses = ResponseCache(self.settings.api.response_cache_size)
        if self.auditor is None:
            self.auditor = ProjectHistory(self.ledger.recorder)
        if self.limits is None:
            self.limits = RateLimits.from_settings(self.store.dialect, self.settings.api)
            self.limits.initialise()
            self.closers.append(self.limits.close)

    # -- keys ----------------------------------------------------------------------------

    def authenticate(self, token: str) -> ApiKey | None:
        """The active key of ``token``, read from the store on every request (blocking: call
        it in the thread pool). Nothing is cached: a key revoked by any process of any node
        is refused by the very next request (see docs/security.md)."""
        return self.store.authenticate(token)

    # -- positions -----------------------------------------------------------------------

    def ledger_position(self) -> int:
        return int(self.ledger.recorder.max_notification_id() or 0)

    def projection_position(self) -> int:
        if self.runner is not None and self.runner.running:
            return max(self.runner.position, 0)
        return self.read_model.position()

    def runner_state(self) -> RunnerState | None:
        """The read model's live namespace and position from memory, when the embedded runner
        runs in this process and follows the live namespace (it is then the only writer of the
        read model, and notices a switch of the live namespace at its next batch, within its
        poll interval); None otherwise (ask :meth:`read_state`)."""
        runner = self.runner
        if runner is None or runner.namespace is not None or not runner.running:
            return None
        namespace = runner.live_namespace
        if namespace is None:
            return None
        return namespace, runner.position

    def read_state(self) -> ReadState:
        """The read model's live namespace and every consumed position, in one small read
        (blocking: call it in the thread pool)."""
        return self.read_model.read(read_state)

    def read_your_writes(self, position: int | None) -> bool:
        """Wait (bounded) until the read model holds ``position``; whether it does."""
        if position is None:
            return True
        if self.settings.read_model.projected_from_kafka:
            # The projector folds Kafka offsets, not store positions, in another process:
            # the read model follows within its lag (see /readyz), it is not awaited here.
            return False
        timeout = self.settings.api.read_your_writes_timeout_s
        if self.runner is not None:
            if self.runner.position >= position:
                return True
            try:
                # Apply it now rather than wait for the runner's next poll.
                self.runner.step()
            except Exception:
                log.warning("projection_step_failed", exc_info=True, position=position)
                return False
            if self.runner.position >= position:
                return True
            try:
                return self.runner.wait_for(position, timeout)
            except Exception:
                log.warning("projection_wait_failed", exc_info=True, position=position)
                return False
        deadline = time.monotonic() + timeout
        while self.read_model.position() < position:
            if time.monotonic() >= deadline:
                return False
            time.sleep(EXTERNAL_POLL_S)
        return True

    def refresh_gauges(self) -> None:
        ledger, projection = self.ledger_position(), self.projection_position()
        self.metrics.ledger_position.set(ledger)
        self.metrics.projection_position.set(projection)
        self.metrics.projection_lag.set(max(0, ledger - projection))

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        if self.runner is not None and self.settings.api.embedded_runner:
            self.runner.start()

    def enter(self) -> None:
        """A lifespan begins (a server, a test client): start the runner on the first."""
        with self._users_lock:
            self._users += 1
            if self._users == 1:
                self.start()

    def leave(self) -> None:
        """A lifespan ends: close everything when the last one does."""
        with self._users_lock:
            self._users -= 1
            if self._users > 0:
                return
        self.close()

    def stop(self) -> None:
        if self.runner is not None:
            self.runner.stop()

    def close(self) -> None:
        self.stop()
        for closer in reversed(self.closers):
            try:
                closer()
            except Exception:
                log.warning("close_failed", exc_info=True)
        self.closers.clear()
