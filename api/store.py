"""The API's own small store: API keys (hashed) and published heads digests.

SQLite (a file beside the ledger) on the embedded default, a PostgreSQL schema when the ledger
is on PostgreSQL, so that every API process of a deployment sees the same keys and digests.
Tokens are never stored: only the SHA-256 of each token, which is looked up directly (a token
carries 256 random bits, so its hash identifies it and cannot be guessed).
"""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from capledger.settings import Persistence, Settings

from .roles import Role, Scope

TOKEN_PREFIX = "clk"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token(key_id: str) -> str:
    """``clk_<key id>_<43 url-safe characters>``: the key id lets people tell keys apart."""
    return f"{TOKEN_PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"


def now_utc() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ApiKey:
    key_id: str
    name: str
    role: Role
    scope: Scope
    created_at: datetime
    revoked_at: datetime | None = None

    @property
    def principal(self) -> str:
        """What the ledger records as the acting principal of every write made with this key."""
        return f"{self.role.value}:{self.name}"

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True)
class IssuedKey:
    """A new key and its token: the only time the token is seen."""

    key: ApiKey
    token: str


@dataclass(frozen=True)
class PublishedDigest:
    digest_id: int
    heads_digest: str
    position: int
    streams: int
    checked: int
    published_at: datetime
    principal: str


class DuplicateKeyName(ValueError):
    pass


class UnknownKey(LookupError):
    pass


SQLITE_DDL = (
    "CREATE TABLE IF NOT EXISTS api_key (key_id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, "
    "role TEXT NOT NULL, token_hash TEXT NOT NULL UNIQUE, investors TEXT NOT NULL, "
    "provinces TEXT NOT NULL, created_at TEXT NOT NULL, revoked_at TEXT)",
    "CREATE TABLE IF NOT EXISTS heads_digest (digest_id INTEGER PRIMARY KEY AUTOINCREMENT, "
    "heads_digest TEXT NOT NULL, position INTEGER NOT NULL, streams INTEGER NOT NULL, "
    "checked INTEGER NOT NULL, published_at TEXT NOT NULL, principal TEXT NOT NULL)",
)


def _postgres_ddl(schema: str) -> tuple[str, ...]:
    return (
        f'CREATE SCHEMA IF NOT EXISTS "{schema}"',
        f'CREATE TABLE IF NOT EXISTS "{schema}".api_key (key_id TEXT PRIMARY KEY, '
        "name TEXT NOT NULL UNIQUE, role TEXT NOT NULL, token_hash TEXT NOT NULL UNIQUE, "
        "investors TEXT NOT NULL, provinces TEXT NOT NULL, created_at TEXT NOT NULL, "
        "revoked_at TEXT)",
        f'CREATE TABLE IF NOT EXISTS "{schema}".heads_digest (digest_id BIGSERIAL PRIMARY KEY, '
        "heads_digest TEXT NOT NULL, position BIGINT NOT NULL, streams BIGINT NOT NULL, "
        "checked BIGINT NOT NULL, published_at TEXT NOT NULL, principal TEXT NOT NULL)",
    )


KEY_COLUMNS = "key_id, name, role, investors, provinces, created_at, revoked_at"
DIGEST_COLUMNS = "digest_id, heads_digest, position, streams, checked, published_at, principal"


class ApiStore:
    """Keys and digests in SQLite or PostgreSQL; SQL is written once with ``?`` placeholders."""

    def __init__(
        self,
        *,
        sqlite_path: Path | None = None,
        postgres: dict[str, Any] | None = None,
        schema: str = "capledger_api",
    ) -> None:
        if (sqlite_path is None) == (postgres is None):
            raise ValueError("an API store is either a SQLite file or a PostgreSQL schema")
        if not schema.replace("_", "").isalnum():
            raise ValueError(f"schema name {schema!r} must be letters, digits and underscores")
        self.sqlite_path = sqlite_path
        self.postgres = postgres
        self.schema = schema
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> ApiStore:
        if settings.store.persistence is Persistence.POSTGRES:
            return cls(
                postgres=settings.store.postgres.conninfo(), schema=settings.api.store_schema
            )
        path = settings.api.store_file or settings.store.data_dir / "api.sqlite3"
        path.parent.mkdir(parents=True, exist_ok=True)
        return cls(sqlite_path=path)

    # -- plumbing ------------------------------------------------------------------------

    def _table(self, name: str) -> str:
        return name if self.postgres is None else f'"{self.schema}".{name}'

    @contextmanager
    def _cursor(self) -> Iterator[Any]:
        """One transaction: committed on success, rolled back on error."""
        if self.postgres is None:
            assert self.sqlite_path is not None
            connection = sqlite3.connect(self.sqlite_path, timeout=30)
            with closing(connection), connection:
                yield _SqliteCursor(connection.cursor())
            return
        import psycopg

        with (
            psycopg.connect(**self.postgres, connect_timeout=10) as pg_connection,
            pg_connection.cursor() as pg_cursor,
        ):
            yield _PostgresCursor(pg_cursor)

    def initialise(self) -> ApiStore:
        statements = SQLITE_DDL if self.postgres is None else _postgres_ddl(self.schema)
        with self._lock, self._cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
        return self

    def ping(self) -> None:
        with self._cursor() as cursor:
            cursor.execute("SELECT 1")

    # -- keys ----------------------------------------------------------------------------

    def create_key(
        self,
        name: str,
        role: Role,
        *,
        investors: Sequence[str] = (),
        provinces: Sequence[str] = (),
    ) -> IssuedKey:
        name = name.strip()
        if not name or any(ch.isspace() and ch != " " for ch in name) or len(name) > 100:
            raise ValueError("a key name is 1 to 100 characters on one line")
        scope = Scope.of(investors, provinces)
        if role is Role.FINANCE_OFFICER and scope.is_empty:
            raise ValueError("a finance officer's key needs at least one investor or province")
        if role is not Role.FINANCE_OFFICER and not scope.is_empty:
            raise ValueError(f"only finance officers' keys are scoped, not {role.value}'s")
        key_id = secrets.token_hex(4)
        token = new_token(key_id)
        created = now_utc()
        with self._lock, self._cursor() as cursor:
            cursor.execute(f"SELECT 1 FROM {self._table('api_key')} WHERE name = ?", (name,))
            if cursor.fetchone() is not None:
                raise DuplicateKeyName(f"an API key named {name!r} already exists")
            cursor.execute(
                f"INSERT INTO {self._table('api_key')} (key_id, name, role, token_hash, "
                "investors, provinces, created_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?, NULL)",
                (
                    key_id,
                    name,
                    role.value,
                    hash_token(token),
                    json.dumps(sorted(scope.investors)),
                    json.dumps(sorted(scope.provinces)),
                    created.isoformat(),
                ),
            )
        return IssuedKey(ApiKey(key_id, name, role, scope, created), token)

    def authenticate(self, token: str) -> ApiKey | None:
        """The active key a token belongs to, or None."""
        if not token.startswith(f"{TOKEN_PREFIX}_") or len(token) > 200:
            return None
        with self._cursor() as cursor:
            cursor.execute(
                f"SELECT {KEY_COLUMNS} FROM {self._table('api_key')} "
                "WHERE token_hash = ? AND revoked_at IS NULL",
                (hash_token(token),),
            )
            row = cursor.fetchone()
        return None if row is None else _key(row)

    def all_keys(self) -> list[ApiKey]:
        with self._cursor() as cursor:
            cursor.execute(f"SELECT {KEY_COLUMNS} FROM {self._table('api_key')} ORDER BY name")
            return [_key(row) for row in cursor.fetchall()]

    def revoke(self, key_id: str) -> ApiKey:
        with self._lock, self._cursor() as cursor:
            cursor.execute(
                f"UPDATE {self._table('api_key')} SET revoked_at = ? "
                "WHERE key_id = ? AND revoked_at IS NULL",
                (now_utc().isoformat(), key_id),
            )
            cursor.execute(
                f"SELECT {KEY_COLUMNS} FROM {self._table('api_key')} WHERE key_id = ?", (key_id,)
            )
            row = cursor.fetchone()
        if row is None:
            raise UnknownKey(f"no API key {key_id}")
        return _key(row)

    # -- digests -------------------------------------------------------------------------

    def publish_digest(
        self, heads_digest: str, *, position: int, streams: int, checked: int, principal: str
    ) -> PublishedDigest:
        published = now_utc()
        with self._lock, self._cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {self._table('heads_digest')} (heads_digest, position, streams, "
                "checked, published_at, principal) VALUES (?, ?, ?, ?, ?, ?)",
                (heads_digest, position, streams, checked, published.isoformat(), principal),
            )
            cursor.execute(
                f"SELECT {DIGEST_COLUMNS} FROM {self._table('heads_digest')} "
                "ORDER BY digest_id DESC LIMIT 1"
            )
            row = cursor.fetchone()
        return _digest(row)

    def digests(self, *, limit: int = 50, before: int | None = None) -> list[PublishedDigest]:
        """Published digests, newest first."""
        sql = f"SELECT {DIGEST_COLUMNS} FROM {self._table('heads_digest')}"
        params: tuple[Any, ...] = ()
        if before is not None:
            sql += " WHERE digest_id < ?"
            params = (before,)
        sql += " ORDER BY digest_id DESC LIMIT ?"
        with self._cursor() as cursor:
            cursor.execute(sql, (*params, limit))
            return [_digest(row) for row in cursor.fetchall()]

    def latest_digest(self) -> PublishedDigest | None:
        found = self.digests(limit=1)
        return found[0] if found else None


class _SqliteCursor:
    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> None:
        self._cursor.execute(sql, params)

    def fetchone(self) -> tuple[Any, ...] | None:
        row: tuple[Any, ...] | None = self._cursor.fetchone()
        return row

    def fetchall(self) -> list[tuple[Any, ...]]:
        return list(self._cursor.fetchall())


class _PostgresCursor:
    def __init__(self, cursor: Any) -> None:
        self._cursor = cursor

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> None:
        self._cursor.execute(sql.replace("?", "%s"), params)

    def fetchone(self) -> tuple[Any, ...] | None:
        row = self._cursor.fetchone()
        return None if row is None else tuple(row)

    def fetchall(self) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in self._cursor.fetchall()]


def _key(row: tuple[Any, ...]) -> ApiKey:
    key_id, name, role, investors, provinces, created_at, revoked_at = row
    return ApiKey(
        key_id=str(key_id),
        name=str(name),
        role=Role(role),
        scope=Scope.of(json.loads(investors), json.loads(provinces)),
        created_at=datetime.fromisoformat(created_at),
        revoked_at=None if revoked_at is None else datetime.fromisoformat(revoked_at),
    )


def _digest(row: tuple[Any, ...] | None) -> PublishedDigest:
    assert row is not None
    digest_id, heads_digest, position, streams, checked, published_at, principal = row
    return PublishedDigest(
        digest_id=int(digest_id),
        heads_digest=str(heads_digest),
        position=int(position),
        streams=int(streams),
        checked=int(checked),
        published_at=datetime.fromisoformat(published_at),
        principal=str(principal),
    )
