"""Integration test: the PostgreSQL server from deploy/postgres/pg.sh is real.

Runs only with CAPLEDGER_TEST_POSTGRES=1. Start the server and load its
settings first:

    bash deploy/postgres/pg.sh start
    eval "$(bash deploy/postgres/pg.sh env)"
    CAPLEDGER_TEST_POSTGRES=1 pytest tests/integration/postgres -q

Connection settings come from the CAPLEDGER_POSTGRES_* variables; the defaults
match pg.sh's defaults. Every test works in its own uniquely named table and
drops it afterwards, so runs can share the server.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

if os.environ.get("CAPLEDGER_TEST_POSTGRES") != "1":
    pytest.skip(
        "PostgreSQL integration tests are off: start the server with "
        "'bash deploy/postgres/pg.sh start' and set CAPLEDGER_TEST_POSTGRES=1",
        allow_module_level=True,
    )

import psycopg  # imported only when the tests are enabled
from psycopg import errors, sql

pytestmark = [pytest.mark.integration, pytest.mark.postgres]

LOCK_WAIT_TIMEOUT_S = 10.0


def conninfo(**overrides: Any) -> dict[str, Any]:
    params: dict[str, Any] = {
        "host": os.environ.get("CAPLEDGER_POSTGRES_HOST", "127.0.0.1"),
        "port": int(os.environ.get("CAPLEDGER_POSTGRES_PORT", "5432")),
        "user": os.environ.get("CAPLEDGER_POSTGRES_USER", "capledger"),
        "password": os.environ.get("CAPLEDGER_POSTGRES_PASSWORD", "capledger"),
        "dbname": os.environ.get("CAPLEDGER_POSTGRES_DBNAME", "capledger"),
        "connect_timeout": 5,
        "application_name": "capledger-test-server",
    }
    params.update(overrides)
    return params


def connect(**kwargs: Any) -> psycopg.Connection[Any]:
    return psycopg.connect(**conninfo(), **kwargs)


def table_exists(conn: psycopg.Connection[Any], name: str) -> bool:
    row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", [name]).fetchone()
    assert row is not None
    return bool(row[0])


@pytest.fixture
def admin() -> Iterator[psycopg.Connection[Any]]:
    with connect(autocommit=True) as conn:
        yield conn


@pytest.fixture
def events_table(admin: psycopg.Connection[Any]) -> Iterator[str]:
    """An event-store shaped table, unique per test, dropped afterwards."""
    name = f"test_events_{uuid.uuid4().hex[:12]}"
    admin.execute(
        sql.SQL(
            "CREATE TABLE {} ("
            " stream_id text NOT NULL,"
            " version integer NOT NULL,"
            " payload jsonb NOT NULL,"
            " CONSTRAINT {} UNIQUE (stream_id, version))"
        ).format(sql.Identifier(name), sql.Identifier(f"{name}_stream_version"))
    )
    try:
        yield name
    finally:
        admin.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(name)))
        assert not table_exists(admin, name), f"cleanup failed: {name} still exists"


def wait_until_blocked(admin: psycopg.Connection[Any], pid: int) -> None:
    """Wait until backend `pid` is waiting on a lock held by another transaction."""
    deadline = time.monotonic() + LOCK_WAIT_TIMEOUT_S
    while time.monotonic() < deadline:
        row = admin.execute(
            "SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [pid]
        ).fetchone()
        if row is not None and row[0] == "Lock":
            return
        time.sleep(0.02)
    pytest.fail(f"backend {pid} never blocked on a lock")


def test_real_server_over_tcp_with_password_auth(admin: psycopg.Connection[Any]) -> None:
    row = admin.execute(
        "SELECT current_setting('server_version_num')::int, current_user,"
        " current_database(), inet_server_addr()::text, inet_server_port()"
    ).fetchone()
    assert row is not None
    version_num, user, dbname, server_addr, server_port = row
    info = conninfo()
    assert version_num >= 150000
    assert (user, dbname) == (info["user"], info["dbname"])
    # A TCP connection (a unix-socket one has no server address).
    assert server_addr is not None and server_addr.startswith(info["host"])
    assert server_port == info["port"]

    # The server checks passwords: a wrong one is refused.
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(**conninfo(password="definitely-not-the-password"))


def test_unique_conflict_between_concurrent_transactions(
    admin: psycopg.Connection[Any], events_table: str
) -> None:
    """Two writers append version 1 of the same stream: the second blocks on the
    first's uncommitted row, then fails with a unique violation once it commits."""
    insert = sql.SQL(
        "INSERT INTO {} (stream_id, version, payload) VALUES (%s, 1, %s::jsonb)"
    ).format(sql.Identifier(events_table))
    outcome: dict[str, BaseException | None] = {}

    with connect() as first, connect() as second:
        second.execute("SET lock_timeout = '10s'")
        second.commit()
        second_pid = second.info.backend_pid

        first.execute(insert, ["account-1", '{"by": "first"}'])  # open transaction

        def second_writer() -> None:
            try:
                second.execute(insert, ["account-1", '{"by": "second"}'])
                second.commit()
                outcome["error"] = None
            except BaseException as exc:  # reported to the main thread
                second.rollback()
                outcome["error"] = exc

        worker = threading.Thread(target=second_writer, daemon=True)
        worker.start()
        try:
            wait_until_blocked(admin, second_pid)
        finally:
            first.commit()
            worker.join(LOCK_WAIT_TIMEOUT_S)
        assert not worker.is_alive(), "second writer still blocked after first committed"

    assert isinstance(outcome.get("error"), errors.UniqueViolation), outcome
    rows = admin.execute(
        sql.SQL("SELECT stream_id, version, payload->>'by' FROM {}").format(
            sql.Identifier(events_table)
        )
    ).fetchall()
    assert rows == [("account-1", 1, "first")]


def test_serializable_write_skew_is_rejected(
    admin: psycopg.Connection[Any], events_table: str
) -> None:
    """Classic write skew: each SERIALIZABLE transaction reads what the other
    writes. Both cannot commit; the second fails with a serialization failure."""
    table = sql.Identifier(events_table)
    admin.execute(
        sql.SQL(
            "INSERT INTO {} (stream_id, version, payload) VALUES"
            " ('a', 1, jsonb_build_object('amount', 10)),"
            " ('b', 1, jsonb_build_object('amount', 20))"
        ).format(table)
    )
    total = sql.SQL("SELECT sum((payload->>'amount')::int) FROM {} WHERE stream_id = %s").format(
        table
    )
    append = sql.SQL(
        "INSERT INTO {} (stream_id, version, payload)"
        " SELECT %s, max(version) + 1, jsonb_build_object('amount', %s::int)"
        " FROM {} WHERE stream_id = %s"
    ).format(table, table)

    with connect() as t1, connect() as t2:
        for conn in (t1, t2):
            conn.isolation_level = psycopg.IsolationLevel.SERIALIZABLE

        row1 = t1.execute(total, ["a"]).fetchone()
        row2 = t2.execute(total, ["b"]).fetchone()
        assert row1 is not None and row2 is not None
        t1.execute(append, ["b", row1[0], "b"])
        t2.execute(append, ["a", row2[0], "a"])
        t1.commit()
        with pytest.raises(errors.SerializationFailure):
            t2.commit()
        t2.rollback()

    counts = admin.execute(
        sql.SQL("SELECT stream_id, count(*) FROM {} GROUP BY 1 ORDER BY 1").format(table)
    ).fetchall()
    assert counts == [("a", 1), ("b", 2)]
