"""Done when: two API server processes (uvicorn on loopback) sharing one store — a SQLite file,
or a PostgreSQL schema — stay together within one rate limit, for reads per key and for failed
authentications per client address, and say so in the draft's ``RateLimit`` headers."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from builders import postgres_connect
from psycopg import sql

from capledger.api.roles import Role
from capledger.api.settings import ApiSettings
from capledger.api.store import ApiStore
from capledger.settings import Persistence, Settings, environment

from .test_demo_over_http import free_port, wait_until_up

pytestmark = pytest.mark.e2e

READ_BURST = 30
FAILED_AUTH_BURST = 5
#: A token every 1,000 s: none comes back while the test runs.
RATE = 0.001


def start(settings: Settings, log: Path) -> tuple[str, subprocess.Popen[bytes]]:
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CAPLEDGER_")},
        **environment(settings),
        "CAPLEDGER_API_PORT": str(port),
        "CAPLEDGER_LOG_LEVEL": "WARNING",
    }
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "capledger", "serve"], env=env, stdout=output, stderr=output
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url, process, log)
    except BaseException:
        process.kill()
        raise
    return url, process


@pytest.fixture
def two_servers(store: Settings, tmp_path: Path) -> Iterator[tuple[list[str], str]]:
    """Two server processes on one store, and an inspector's token."""
    suffix = uuid.uuid4().hex[:10]
    api_settings = ApiSettings(
        store_file=tmp_path / "api.sqlite3",
        store_schema=f"api_{suffix}",
        read_rate_per_s=RATE,
        read_burst=READ_BURST,
        failed_auth_rate_per_s=RATE,
        failed_auth_burst=FAILED_AUTH_BURST,
        rate_limit_lease=4,
    )
    read_model = store.read_model.model_copy(update={"schema_name": f"rm_{suffix}"})
    settings = store.model_copy(update={"api": api_settings, "read_model": read_model})
    keys = ApiStore.from_settings(settings).initialise()
    try:
        token = keys.create_key("reader", Role.INSPECTOR).token
    finally:
        keys.close()
    try:
        servers = [start(settings, tmp_path / f"server-{n}.log") for n in (1, 2)]
        try:
            yield [url for url, _ in servers], token
        finally:
            for _, process in servers:
                process.terminate()
            for _, process in servers:
                process.wait(timeout=30)
    finally:
        drop_schemas(settings, suffix)


def drop_schemas(settings: Settings, suffix: str) -> None:
    """The API store's and the read model's PostgreSQL schemas of this test."""
    if settings.store.persistence is not Persistence.POSTGRES:
        return
    with postgres_connect(settings) as connection:
        found = connection.execute(
            "SELECT schema_name FROM information_schema.schemata "
            "WHERE schema_name = %s OR schema_name LIKE %s",
            (f"api_{suffix}", f"rm\\_{suffix}%"),
        ).fetchall()
        for (schema,) in found:
            connection.execute(
                sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))
            )


def test_two_processes_on_one_store_share_one_read_limit(
    two_servers: tuple[list[str], str],
) -> None:
    urls, token = two_servers
    statuses = []
    with httpx.Client(timeout=30) as client:
        for n in range(3 * READ_BURST):
            response = client.get(f"{urls[n % 2]}/plans/NONE/capital", headers={"X-API-Key": token})
            statuses.append(response.status_code)
            assert response.headers["RateLimit-Policy"] == f'"reads";q={READ_BURST};w=30000'
            assert response.headers["RateLimit"].startswith('"reads";r=')
            if response.status_code == 429:
                assert int(response.headers["Retry-After"]) > 0
                assert response.json()["code"] == "rate-limited"
    allowed = sum(status != 429 for status in statuses)
    # Leases are debited from the one bucket: never more than the burst; a lease left unspent
    # in the other process may leave a few unused.
    assert READ_BURST - 2 * 3 <= allowed <= READ_BURST
    assert statuses[-READ_BURST:] == [429] * READ_BURST


def test_a_flood_of_bad_tokens_from_one_address_gets_429(
    two_servers: tuple[list[str], str],
) -> None:
    urls, _ = two_servers
    answers = []
    with httpx.Client(timeout=30) as client:
        for n in range(4 * FAILED_AUTH_BURST):
            bad = {"Authorization": f"Bearer clk_guess_{n:043d}"}
            response = client.get(f"{urls[n % 2]}/balances", headers=bad)
            answers.append(response.status_code)
            policy = f'"failed-authentications";q={FAILED_AUTH_BURST};w=5000'
            assert response.headers["RateLimit-Policy"] == policy
    assert set(answers) == {401, 429}
    assert answers.count(401) <= FAILED_AUTH_BURST
    assert answers[-2 * FAILED_AUTH_BURST :] == [429] * (2 * FAILED_AUTH_BURST)
    # An unauthenticated request counts against the address too.
    assert httpx.get(f"{urls[0]}/balances").status_code == 429
