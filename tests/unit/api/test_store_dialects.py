"""The API's key store speaks SQL through the read model's dialect layer: its tables keep their
names (an existing key file or schema is read as before), and its SQL runs on SQLite as is."""

from __future__ import annotations

from pathlib import Path

import pytest

from capledger.api.roles import Role
from capledger.api.store import ApiStore, ddl
from capledger.projections.dialects import PostgresDialect, SqliteDialect

pytestmark = pytest.mark.unit


def test_the_tables_keep_their_names_in_both_dialects(tmp_path: Path) -> None:
    sqlite = ApiStore.sqlite(tmp_path / "api.sqlite3").dialect
    postgres = ApiStore.postgres({"host": "db"}, schema="capledger_api").dialect

    assert isinstance(sqlite, SqliteDialect) and sqlite.durable
    assert isinstance(postgres, PostgresDialect)
    assert [sqlite.control(name) for name in ("api_key", "heads_digest")] == [
        '"api_key"',
        '"heads_digest"',
    ]
    assert postgres.control("api_key") == '"capledger_api"."api_key"'
    assert postgres.conninfo["connect_timeout"] == 10
    assert ddl(postgres)[0] == 'CREATE SCHEMA IF NOT EXISTS "capledger_api"'
    assert "BIGSERIAL PRIMARY KEY" in ddl(postgres)[-1]
    assert "INTEGER PRIMARY KEY AUTOINCREMENT" in ddl(sqlite)[-1]


def test_a_schema_name_is_checked() -> None:
    with pytest.raises(ValueError, match="lower-case"):
        ApiStore.postgres({}, schema="api; DROP")


def test_a_store_on_sqlite_round_trips_keys_and_digests(tmp_path: Path) -> None:
    store = ApiStore.sqlite(tmp_path / "api.sqlite3").initialise().initialise()
    try:
        issued = store.create_key("lan", Role.FINANCE_OFFICER, provinces=["HN"])
        assert store.authenticate(issued.token) == issued.key
        first = store.publish_digest("a" * 64, position=3, streams=2, checked=2, principal="x")
        second = store.publish_digest("b" * 64, position=5, streams=2, checked=2, principal="x")
        assert [found.digest_id for found in store.digests()] == [
            second.digest_id,
            first.digest_id,
        ]
        assert store.digests(before=second.digest_id) == [first]
        assert store.revoke(issued.key.key_id).revoked_at is not None
        assert store.authenticate(issued.token) is None
    finally:
        store.close()
