"""Rate limits shared by every API process and node: token buckets kept in the API's store.

Three policies (the ``api`` settings): **writes** and **reads** per API key, and **failed
authentications** per client address. Each bucket is one row of the ``rate_limit`` table in the
store the API keys live in (the SQLite file beside the ledger, or the PostgreSQL schema), so N
workers on M nodes share one limit instead of having N×M of them.

A bucket is kept as its *theoretical arrival time* (GCRA, the generic cell rate algorithm): the
time at which it would be full again, in microseconds. Taking tokens is one ``INSERT … ON
CONFLICT DO UPDATE … RETURNING`` statement, the same SQL in both dialects, committed on its own,
so that two processes taking from one bucket at once are serialised by the store's row (or
file) lock.

**The lease.** A process takes up to ``rate_limit_lease`` tokens at a time from the store and
spends them locally, so only one request in ``lease`` pays the round trip. Leased tokens are
already debited from the shared bucket: over any interval the tokens spent never exceed those
the store granted (the policy's burst plus its rate times the interval), except that a lease
is spent for up to :data:`LEASE_TTL_S` after it was taken, so across ``P`` processes a burst may
exceed the quota by at most ``P × (lease − 1)`` tokens. Tokens of a lease that expires unspent
are lost (the key then gets fewer, never more, than its quota). ``rate_limit_lease = 1`` makes
every request ask the store: exact, and one statement per request.

When the store refuses, the process remembers until when (the bucket's next token cannot come
sooner, since no one can put tokens back), and refuses locally until then without asking again:
a flood costs the store one statement per ``Retry-After`` period per process.

The HTTP edge (which bucket a request takes from, the 429, the headers) is
:mod:`capledger.api.throttle`. The headers follow the IETF httpapi draft "RateLimit header
fields for HTTP" (draft-ietf-httpapi-ratelimit-headers):
``RateLimit-Policy: "reads";q=<burst>;w=<seconds to refill the burst>`` and
``RateLimit: "reads";r=<remaining>;t=<seconds until full>`` on every limited response,
``Retry-After`` on a 429. ``r`` is what this process knows (its lease plus what the store had
left when it took it), not a count across processes.

Clocks: the buckets are judged by the clock of the process asking (wall time), so the nodes of
a deployment keep their clocks synchronised (NTP); a node whose clock runs ``d`` seconds ahead
could spend up to ``d × rate`` tokens early.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cached_property

from capledger.projections.dialects import Connections, Dialect, PostgresDialect, SqliteDialect

from .settings import ApiSettings

#: Seconds a leased token may be spent after the lease was taken from the store.
LEASE_TTL_S = 1.0
#: Seconds between removals of the rows of full buckets (a full bucket is no row).
PRUNE_EVERY_S = 60.0
MICROS = 1_000_000


@dataclass(frozen=True)
class Policy:
    """``burst`` tokens, refilled at ``rate_per_s`` tokens a second; one request takes one."""

    name: str
    rate_per_s: float
    burst: int

    def __post_init__(self) -> None:
        if self.rate_per_s <= 0 or self.burst < 1:
            raise ValueError("a rate limit needs a positive rate and a burst of at least 1")

    @property
    def interval_us(self) -> int:
        """Microseconds per token."""
        return max(1, round(MICROS / self.rate_per_s))

    @property
    def window_s(self) -> int:
        """Seconds an empty bucket takes to fill up (the draft's ``w``)."""
        return max(1, math.ceil(self.burst / self.rate_per_s))

    @cached_property
    def header(self) -> str:
        """The ``RateLimit-Policy`` field value."""
        return f'"{self.name}";q={self.burst};w={self.window_s}'


@dataclass(frozen=True)
class Decision:
    """What a bucket answered: allowed or not, and the ``RateLimit`` values."""

    policy: Policy
    allowed: bool
    remaining: int
    reset_s: int
    retry_after_s: int = 0

    @property
    def state(self) -> str:
        """The ``RateLimit`` field value."""
        return f'"{self.policy.name}";r={self.remaining};t={self.reset_s}'

    @property
    def headers(self) -> dict[str, str]:
        headers = {"RateLimit-Policy": self.policy.header, "RateLimit": self.state}
        if not self.allowed:
            headers["Retry-After"] = str(self.retry_after_s)
        return headers


@dataclass(frozen=True)
class Policies:
    writes: Policy
    reads: Policy
    failed_authentications: Policy

    @classmethod
    def from_settings(cls, api: ApiSettings) -> Policies:
        return cls(
            writes=Policy("writes", api.write_rate_per_s, api.write_burst),
            reads=Policy("reads", api.read_rate_per_s, api.read_burst),
            failed_authentications=Policy(
                "failed-authentications", api.failed_auth_rate_per_s, api.failed_auth_burst
            ),
        )


def ddl(dialect: Dialect) -> list[str]:
    """The bucket table, if missing: a bucket's theoretical arrival time and the tokens its
    last statement granted (read back by ``RETURNING``)."""
    return [
        *dialect.create_control(),
        f"CREATE TABLE IF NOT EXISTS {dialect.control('rate_limit')} (bucket TEXT PRIMARY KEY, "
        f"tat {dialect.integer} NOT NULL, granted {dialect.integer} NOT NULL)",
    ]


def _take_sql(table: str, integer: str) -> str:
    """Grant up to ``:want`` tokens of a bucket in one statement.

    The bucket is full again at ``tat`` (never earlier than now: ``base``); it holds
    ``(now + tau - base) / interval`` whole tokens; the statement grants the lesser of that and
    ``:want`` and moves ``tat`` on by as many intervals. A new bucket is full (``:first`` is
    the lesser of ``:want`` and the burst). Every ``SET`` expression sees the row as it was.
    The parameters are cast to 64-bit integers (PostgreSQL would type a small one ``int4``
    and overflow a product of two).
    """
    now, tau, interval, want, first = (
        f"CAST(:{name} AS {integer})" for name in ("now", "tau", "interval", "want", "first")
    )
    base = f"(CASE WHEN {table}.tat > {now} THEN {table}.tat ELSE {now} END)"
    available = f"(({now} + {tau} - {base}) / {interval})"
    granted = f"(CASE WHEN {available} < {want} THEN {available} ELSE {want} END)"
    return (
        f"INSERT INTO {table} (bucket, tat, granted) "
        f"VALUES (:bucket, {now} + {first} * {interval}, {first}) "
        f"ON CONFLICT (bucket) DO UPDATE SET tat = {base} + {granted} * {interval}, "
        f"granted = {granted} RETURNING tat, granted"
    )


@dataclass
class _Local:
    """A bucket as this process knows it: its lease, or until when the store refuses."""

    tokens: int = 0
    expires: float = 0.0
    refused_until: float = 0.0
    tat_us: int = 0


class RateLimits:
    """The shared buckets of one store, with this process's leases.

    ``check(bucket, policy)`` answers from the lease (no I/O) or returns None: then
    ``take(bucket, policy)`` (blocking: in the thread pool) asks the store. The clock (seconds,
    wall time) is injectable so that tests need no sleeping.
    """

    def __init__(
        self,
        dialect: Dialect,
        policies: Policies,
        *,
        lease: int = 1,
        clock: Callable[[], float] = time.time,
        max_local: int = 100_000,
        pool_size: int = 4,
    ) -> None:
        if lease < 1:
            raise ValueError("a lease is at least one token")
        self.dialect = _undurable(dialect)
        self.policies = policies
        self.lease = lease
        self.clock = clock
        self.max_local = max_local
        self.connections = Connections(self.dialect, size=pool_size)
        self._sql = self.dialect.params(
            _take_sql(self.dialect.control("rate_limit"), self.dialect.integer)
        )
        self._prune_sql = self.dialect.params(
            f"DELETE FROM {self.dialect.control('rate_limit')} "
            f"WHERE tat < CAST(:now AS {self.dialect.integer})"
        )
        self._local: dict[str, _Local] = {}
        self._lock = threading.Lock()
        self._pruned = 0.0

    @classmethod
    def from_settings(cls, dialect: Dialect, api: ApiSettings) -> RateLimits:
        return cls(dialect, Policies.from_settings(api), lease=api.rate_limit_lease)

    def initialise(self) -> RateLimits:
        with self.connections.transaction(self.dialect.begin_write) as cursor:
            for statement in [*self.dialect.serialise_setup(), *ddl(self.dialect)]:
                cursor.execute(statement)
        return self

    def close(self) -> None:
        self.connections.close()

    # -- taking tokens ---------------------------------------------------------------------

    def check(self, bucket: str, policy: Policy) -> Decision | None:
        """A decision from this process's lease or refusal, or None (ask :meth:`take`)."""
        now = self.clock()
        with self._lock:
            local = self._local.get(bucket)
            if local is None:
                return None
            if now < local.refused_until:
                return self._refused(policy, local, now)
            if local.tokens > 0 and now < local.expires:
                local.tokens -= 1
                return self._allowed(policy, local, now)
        return None

    def refusing(self, bucket: str, policy: Policy) -> Decision | None:
        """The refusal this process remembers for a bucket, if any (takes no token)."""
        now = self.clock()
        with self._lock:
            local = self._local.get(bucket)
            if local is None or now >= local.refused_until:
                return None
            return self._refused(policy, local, now)

    def take(self, bucket: str, policy: Policy) -> Decision:
        """Take one token (a lease of up to ``lease``) from the store's bucket."""
        found = self.check(bucket, policy)
        if found is not None:
            return found
        now = self.clock()
        now_us = int(now * MICROS)
        want = min(self.lease, policy.burst)
        interval = policy.interval_us
        params = {
            "bucket": bucket,
            "now": now_us,
            "interval": interval,
            "tau": policy.burst * interval,
            "want": want,
            "first": want,
        }
        # One statement, atomic on its own: no transaction around it.
        with self.connections.statements() as cursor:
            cursor.execute(self._sql, params)
            row = cursor.fetchone()
            if now - self._pruned >= PRUNE_EVERY_S:
                self._pruned = now
                cursor.execute(self._prune_sql, {"now": now_us})
        assert row is not None
        tat_us, granted = int(row[0]), int(row[1])
        with self._lock:
            if len(self._local) >= self.max_local:
                self._local.clear()
            local = self._local.setdefault(bucket, _Local())
            local.tat_us = tat_us
            if granted > 0:
                local.tokens = granted - 1
                local.expires = now + LEASE_TTL_S
                local.refused_until = 0.0
                return self._allowed(policy, local, now)
            local.tokens = 0
            # The next token comes when the bucket's tat is within tau of now.
            ready_us = tat_us + interval - policy.burst * interval
            local.refused_until = ready_us / MICROS
            return self._refused(policy, local, now)

    # -- answers ---------------------------------------------------------------------------

    def _allowed(self, policy: Policy, local: _Local, now: float) -> Decision:
        tau = policy.burst * policy.interval_us
        in_store = max(0, (int(now * MICROS) + tau - local.tat_us) // policy.interval_us)
        return Decision(
            policy,
            allowed=True,
            remaining=min(policy.burst, in_store + local.tokens),
            reset_s=_seconds(local.tat_us / MICROS - now),
        )

    def _refused(self, policy: Policy, local: _Local, now: float) -> Decision:
        return Decision(
            policy,
            allowed=False,
            remaining=0,
            reset_s=_seconds(local.tat_us / MICROS - now),
            retry_after_s=max(1, _seconds(local.refused_until - now)),
        )


def _seconds(delta: float) -> int:
    return max(0, math.ceil(delta))


def _undurable(dialect: Dialect) -> Dialect:
    """The store's dialect, its commits not waiting for the disk: SQLite's WAL ``NORMAL`` sync,
    PostgreSQL's ``synchronous_commit=off`` for the limiter's own connections (a libpq
    option). Losing the last counts to a crash gives clients a fresh burst, nothing worse; the
    keys keep their own, durable, connections. Waiting for the disk would cost every request
    that asks the store a flush of the write-ahead log."""
    if isinstance(dialect, SqliteDialect):
        return replace(dialect, durable=False)
    if isinstance(dialect, PostgresDialect):
        options = str(dialect.conninfo.get("options", ""))
        relaxed = f"{options} -c synchronous_commit=off".strip()
        return replace(dialect, conninfo={**dialect.conninfo, "options": relaxed})
    return dialect
