"""Rate-limit benchmark: what the shared limiter costs a request, on each store.

    python bench/ratelimit.py [--requests N]

For SQLite (a temporary file) and, when ``CAPLEDGER_POSTGRES_*`` point at a server, PostgreSQL
(a temporary schema, dropped after), with leases of 1 (every request asks the store) and of the
default size: N requests of one key taken one after another the way a request's dependency
takes them (``check``, and ``take`` when the lease is spent), with a bucket big enough never to
refuse. Reported: microseconds of wall time per request, and the share of requests that
reached the store. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

from capledger.api.ratelimit import Policies, Policy, RateLimits
from capledger.api.settings import ApiSettings
from capledger.projections.dialects import Dialect, PostgresDialect, SqliteDialect
from capledger.settings import Persistence, Settings, StoreSettings

POLICY = Policy("reads", 1_000_000.0, 1_000_000_000)
POLICIES = Policies(writes=POLICY, reads=POLICY, failed_authentications=POLICY)


def per_request_us(dialect: Dialect, lease: int, requests: int) -> tuple[float, float]:
    limits = RateLimits(dialect, POLICIES, lease=lease).initialise()
    asked = 0
    try:
        limits.take("reads:warm-up", POLICY)
        started = time.perf_counter()
        for _ in range(requests):
            decision = limits.check("reads:k", POLICY)
            if decision is None:
                asked += 1
                decision = limits.take("reads:k", POLICY)
            assert decision.allowed
        elapsed = time.perf_counter() - started
    finally:
        limits.close()
    return elapsed / requests * 1e6, asked / requests


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    args = parser.parse_args()
    leases = sorted({1, ApiSettings().rate_limit_lease})
    result: dict[str, object] = {"requests": args.requests, "load_average_1m": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory() as directory:
        stores: list[tuple[str, Dialect]] = [
            ("sqlite", SqliteDialect(Path(directory) / "api.sqlite3", prefix=""))
        ]
        postgres = None
        if os.environ.get("CAPLEDGER_POSTGRES_HOST"):
            conninfo = Settings(
                store=StoreSettings(persistence=Persistence.POSTGRES)
            ).store.postgres.conninfo()
            postgres = PostgresDialect(
                conninfo=conninfo, base_schema=f"bench_rl_{uuid.uuid4().hex[:8]}"
            )
            stores.append(("postgres", postgres))
        try:
            for name, dialect in stores:
                for lease in leases:
                    cost, asked = per_request_us(dialect, lease, args.requests)
                    result[f"{name}_lease{lease}_us"] = round(cost, 1)
                    result[f"{name}_lease{lease}_store_share"] = round(asked, 3)
                    sys.stdout.write(f"{name}, lease {lease}: {cost:.1f} µs/request, "
                                     f"{asked:.1%} of requests asked the store\n")  # fmt: skip
        finally:
            if postgres is not None:
                connection = postgres.connect()
                connection.execute(f'DROP SCHEMA IF EXISTS "{postgres.base_schema}" CASCADE')
                connection.close()
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
