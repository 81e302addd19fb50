"""The API's own store (keys stored hashed, digests) on SQLite and PostgreSQL, and the CLI
pieces the ``capledger`` command plugs in: ``api-key`` and ``digest``."""

from __future__ import annotations

import argparse
import io
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import pytest

from capledger.api.roles import Role
from capledger.api.store import (
    ApiStore,
    DuplicateKeyName,
    LastAdministrator,
    UnknownKey,
    hash_token,
)
from capledger.cli import api as cli
from capledger.settings import Settings, StoreSettings

from .support import api_settings_for, drop_postgres_schemas

pytestmark = pytest.mark.integration


@pytest.fixture
def api_store(store: Settings, tmp_path: Path) -> ApiStore:
    settings, api_settings = api_settings_for(store, tmp_path)
    found = ApiStore.from_settings(settings.model_copy(update={"api": api_settings})).initialise()
    yield found  # type: ignore[misc]
    drop_postgres_schemas(settings, api_settings)


def test_keys_authenticate_by_hash_and_revoke(api_store: ApiStore) -> None:
    issued = api_store.create_key("lan", Role.FINANCE_OFFICER, investors=["BQL-GT"])
    assert issued.token.startswith(f"clk_{issued.key.key_id}_")
    assert len(hash_token(issued.token)) == 64
    found = api_store.authenticate(issued.token)
    assert found is not None and found.scope.investors == frozenset({"BQL-GT"})
    assert api_store.authenticate(issued.token + "x") is None
    assert api_store.authenticate("not-a-token") is None
    with pytest.raises(DuplicateKeyName):
        api_store.create_key("lan", Role.INSPECTOR)
    api_store.revoke(issued.key.key_id)
    assert api_store.authenticate(issued.token) is None
    with pytest.raises(UnknownKey):
        api_store.revoke("ffffffff")


def test_the_last_active_administrator_key_is_revoked_only_by_force(
    api_store: ApiStore,
) -> None:
    first = api_store.create_key("an", Role.ADMINISTRATOR).key
    second = api_store.create_key("binh", Role.ADMINISTRATOR).key
    api_store.create_key("chi", Role.INSPECTOR)
    api_store.revoke(second.key_id)
    with pytest.raises(LastAdministrator):
        api_store.revoke(first.key_id)
    assert {key.key_id: key.active for key in api_store.all_keys()}[first.key_id]
    assert api_store.revoke(first.key_id, force=True).revoked_at is not None


def test_a_revocation_waits_for_one_in_flight_and_then_sees_it(api_store: ApiStore) -> None:
    """Two administrators revoke each other at once (as from two processes): the second
    revocation waits for the first's transaction, then refuses to revoke the last one."""
    first = api_store.create_key("an", Role.ADMINISTRATOR).key
    second = api_store.create_key("binh", Role.ADMINISTRATOR).key
    dialect = api_store.dialect
    table = dialect.control("api_key")
    other = ApiStore(dialect)  # another process's connections
    outcome: list[str] = []

    def revoke_first() -> None:
        try:
            api_store.revoke(first.key_id)
            outcome.append("revoked")
        except LastAdministrator:
            outcome.append("refused")

    revoking = threading.Thread(target=revoke_first)
    with other.connections.transaction(dialect.begin_write) as cursor:
        # The other process's revocation of the second key, as ApiStore.revoke makes it.
        cursor.execute(
            dialect.params(
                f"SELECT key_id FROM {table} WHERE role = 'administrator' "
                f"AND revoked_at IS NULL{dialect.for_update}"
            )
        )
        assert len(cursor.fetchall()) == 2
        cursor.execute(
            dialect.params(f"UPDATE {table} SET revoked_at = :now WHERE key_id = :key_id"),
            {"now": "2026-01-01T00:00:00+00:00", "key_id": second.key_id},
        )
        revoking.start()
        revoking.join(timeout=2)  # without the lock it would finish here, seeing two
    revoking.join(timeout=60)
    other.close()
    assert outcome == ["refused"]
    assert [key.key_id for key in api_store.all_keys() if key.active] == [first.key_id]


@pytest.mark.parametrize(
    ("role", "investors", "message"),
    [
        (Role.FINANCE_OFFICER, [], "needs at least one"),
        (Role.INSPECTOR, ["X"], "only finance officers"),
    ],
)
def test_scopes_belong_to_finance_officers(
    api_store: ApiStore, role: Role, investors: list[str], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        api_store.create_key("k", role, investors=investors)


def test_digests_newest_first(api_store: ApiStore) -> None:
    assert api_store.latest_digest() is None
    first = api_store.publish_digest("a" * 64, position=1, streams=1, checked=1, principal="p")
    second = api_store.publish_digest("b" * 64, position=2, streams=1, checked=2, principal="p")
    assert api_store.latest_digest() == second
    assert api_store.digests() == [second, first]
    assert api_store.digests(before=second.digest_id) == [first]


@dataclass
class Context:
    settings: Settings
    stdout: TextIO = field(default_factory=io.StringIO)
    stderr: TextIO = field(default_factory=io.StringIO)


def run(context: Context, *argv: str) -> int:
    parser = argparse.ArgumentParser(prog="capledger")
    cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    status: int = args.handler(args, context)
    return status


def test_the_cli_creates_lists_and_revokes_keys_and_publishes_digests(tmp_path: Path) -> None:
    context = Context(Settings(store=StoreSettings(data_dir=tmp_path)))
    assert run(context, "api-key", "create", "lan", "--role", "finance_officer",
               "--investor", "BQL-GT") == 0  # fmt: skip
    created = json.loads(context.stdout.getvalue())
    assert created["principal"] == "finance_officer:lan" and created["token"].startswith("clk_")
    assert run(context, "api-key", "create", "x", "--role", "finance_officer") == 2
    context.stdout = io.StringIO()
    assert run(context, "api-key", "list") == 0
    assert "token" not in context.stdout.getvalue()
    assert run(context, "api-key", "revoke", created["key_id"]) == 0
    assert run(context, "api-key", "revoke", "00000000") == 2
    assert run(context, "api-key", "create", "root", "--role", "administrator") == 0
    root = json.loads(context.stdout.getvalue().splitlines()[-1])
    assert run(context, "api-key", "revoke", root["key_id"]) == 4
    assert "last-administrator" in context.stderr.getvalue()
    assert run(context, "api-key", "revoke", root["key_id"], "--force") == 0
    context.stdout = io.StringIO()
    assert run(context, "digest") == 0
    digest = json.loads(context.stdout.getvalue())
    assert len(digest["heads_digest"]) == 64 and digest["principal"] == "system:cli"
