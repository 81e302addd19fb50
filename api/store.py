"""The API's own small store: API keys (hashed) and published heads digests.

SQLite (a file beside the ledger) on the embedded default, a PostgreSQL schema when the ledger
is on PostgreSQL, so that every API process of a deployment sees the same keys and digests.
Tokens are never stored: only the SHA-256 of each token, which is looked up directly (a token
carries 256 random bits, so its hash identifies it and cannot be guessed).

The SQL is written once; the read model's dialect layer (:mod:`capledger.projections.dialects`)
names the tables, spells the parameters and types, and keeps the connections.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from capledger.projections.dialects import Connections, Dialect, PostgresDialect, SqliteDialect
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


class LastAdministrator(Exception):
    """Revoking this key would leave no active administrator key: nobody could then manage
    keys over the API (only the operator, with ``capledger api-key revoke --force`` and
    ``capledger api-key create``, on the store itself)."""

    code = "last-administrator"


KEY_COLUMNS = "key_id, name, role, investors, provinces, created_at, revoked_at"
DIGEST_COLUMNS = "digest_id, heads_digest, position, streams, checked, published_at, principal"


def ddl(dialect: Dialect) -> list[str]:
    """The store's tables, if missing."""
    integer = dialect.integer
    return [
        *dialect.create_control(),
        f"CREATE TABLE IF NOT EXISTS {dialect.control('api_key')} (key_id TEXT PRIMARY KEY, "
        "name TEXT NOT NULL UNIQUE, role TEXT NOT NULL, token_hash TEXT NOT NULL UNIQUE, "
        "investors TEXT NOT NULL, provinces TEXT NOT NULL, created_at TEXT NOT NULL, "
        "revoked_at TEXT)",
        f"CREATE TABLE IF NOT EXISTS {dialect.control('heads_digest')} "
        f"(digest_id {dialect.serial_key}, heads_digest TEXT NOT NULL, "
        f"position {integer} NOT NULL, streams {integer} NOT NULL, checked {integer} NOT NULL, "
        "published_at TEXT NOT NULL, principal TEXT NOT NULL)",
    ]


class ApiStore:
    """Keys and digests in one dialect's store: a SQLite file (its tables unprefixed) or a
    PostgreSQL schema."""

    def __init__(self, dialect: Dialect, *, pool_size: int = 2) -> None:
        self.dialect = dialect
        self.connections = Connections(dialect, size=pool_size)
        self._lock = threading.Lock()

    @classmethod
    def sqlite(cls, path: Path) -> ApiStore:
        return cls(SqliteDialect(path, prefix="", durable=True))

    @classmethod
    def postgres(cls, conninfo: Mapping[str, Any], schema: str = "capledger_api") -> ApiStore:
        conninfo = {"connect_timeout": 10, **conninfo}
        return cls(PostgresDialect(conninfo=conninfo, base_schema=schema))

    @classmethod
    def from_settings(cls, settings: Settings) -> ApiStore:
        if settings.store.persistence is Persistence.POSTGRES:
            return cls.postgres(
                settings.store.postgres.conninfo(), schema=settings.api.store_schema
            )
        path = settings.api.store_file or settings.store.data_dir / "api.sqlite3"
        path.parent.mkdir(parents=True, exist_ok=True)
        return cls.sqlite(path)

    # -- plumbing ------------------------------------------------------------------------

    def _table(self, name: str) -> str:
        return self.dialect.control(name)

    @contextmanager
    def _cursor(self, *, write: bool = False) -> Iterator[_Cursor]:
        """One transaction: committed on success, rolled back on error."""
        begin = self.dialect.begin_write if write else self.dialect.begin_read
        with self.connections.transaction(begin) as cursor:
            yield _Cursor(self.dialect, cursor)

    def initialise(self) -> ApiStore:
        with self._lock, self._cursor(write=True) as cursor:
            for statement in [*self.dialect.serialise_setup(), *ddl(self.dialect)]:
                cursor.execute(statement)
        return self

    def ping(self) -> None:
        with self._cursor() as cursor:
            cursor.execute("SELECT 1")

    def close(self) -> None:
        self.connections.close()

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
        with self._lock, self._cursor(write=True) as cursor:
            cursor.execute(
                f"SELECT 1 FROM {self._table('api_key')} WHERE name = :name", {"name": name}
            )
            if cursor.fetchone() is not None:
                raise DuplicateKeyName(f"an API key named {name!r} already exists")
            cursor.execute(
                f"INSERT INTO {self._table('api_key')} (key_id, name, role, token_hash, "
                "investors, provinces, created_at, revoked_at) VALUES (:key_id, :name, :role, "
                ":token_hash, :investors, :provinces, :created_at, NULL)",
                {
                    "key_id": key_id,
                    "name": name,
                    "role": role.value,
                    "token_hash": hash_token(token),
                    "investors": json.dumps(sorted(scope.investors)),
                    "provinces": json.dumps(sorted(scope.provinces)),
                    "created_at": created.isoformat(),
                },
            )
        return IssuedKey(ApiKey(key_id, name, role, scope, created), token)

    def authenticate(self, token: str) -> ApiKey | None:
        """The active key a token belongs to, or None."""
        if not token.startswith(f"{TOKEN_PREFIX}_") or len(token) > 200:
            return None
        with self._cursor() as cursor:
            cursor.execute(
                f"SELECT {KEY_COLUMNS} FROM {self._table('api_key')} "
                "WHERE token_hash = :token_hash AND revoked_at IS NULL",
                {"token_hash": hash_token(token)},
            )
            row = cursor.fetchone()
        return None if row is None else _key(row)

    def all_keys(self) -> list[ApiKey]:
        with self._cursor() as cursor:
            cursor.execute(f"SELECT {KEY_COLUMNS} FROM {self._table('api_key')} ORDER BY name")
            return [_key(row) for row in cursor.fetchall()]

    def revoke(self, key_id: str, *, force: bool = False) -> ApiKey:
        """Revoke a key (a revoked key stays revoked). The last active administrator key is
        refused (:class:`LastAdministrator`) unless ``force``: the active administrators are
        locked in the same transaction, so two revocations at once cannot both pass."""
        table = self._table("api_key")
        with self._lock, self._cursor(write=True) as cursor:
            cursor.execute(
                f"SELECT key_id FROM {table} WHERE role = :role AND revoked_at IS NULL"
                f"{self.dialect.for_update}",
                {"role": Role.ADMINISTRATOR.value},
            )
            administrators = {str(row[0]) for row in cursor.fetchall()}
            if not force and administrators == {key_id}:
                raise LastAdministrator(
                    f"API key {key_id} is the last active administrator key; create another "
                    "administrator key first"
                )
            cursor.execute(
                f"UPDATE {table} SET revoked_at = :now "
                "WHERE key_id = :key_id AND revoked_at IS NULL",
                {"now": now_utc().isoformat(), "key_id": key_id},
            )
            cursor.execute(
                f"SELECT {KEY_COLUMNS} FROM {table} WHERE key_id = :key_id", {"key_id": key_id}
            )
            row = cursor.fetchone()
        if row is None:
            raise UnknownKey(f"no API key {key_id}")
        return _key(row)

    def change_scope(
        self, key_id: str, *, investors: Sequence[str] = (), provinces: Sequence[str] = ()
    ) -> ApiKey:
        """A finance officer's active key covers these investors and provinces from now on."""
        scope = Scope.of(investors, provinces)
        if scope.is_empty:
            raise ValueError("a finance officer's key needs at least one investor or province")
        with self._lock, self._cursor(write=True) as cursor:
            cursor.execute(
                f"UPDATE {self._table('api_key')} SET investors = :investors, "
                "provinces = :provinces WHERE key_id = :key_id AND revoked_at IS NULL "
                "AND role = :role",
                {
                    "investors": json.dumps(sorted(scope.investors)),
                    "provinces": json.dumps(sorted(scope.provinces)),
                    "key_id": key_id,
                    "role": Role.FINANCE_OFFICER.value,
                },
            )
            cursor.execute(
                f"SELECT {KEY_COLUMNS} FROM {self._table('api_key')} WHERE key_id = :key_id",
                {"key_id": key_id},
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
        with self._lock, self._cursor(write=True) as cursor:
            cursor.execute(
                f"INSERT INTO {self._table('heads_digest')} (heads_digest, position, streams, "
                "checked, published_at, principal) VALUES (:heads_digest, :position, :streams, "
                ":checked, :published_at, :principal)",
                {
                    "heads_digest": heads_digest,
                    "position": position,
                    "streams": streams,
                    "checked": checked,
                    "published_at": published.isoformat(),
                    "principal": principal,
                },
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
        params: dict[str, Any] = {"limit": limit}
        if before is not None:
            sql += " WHERE digest_id < :before"
            params["before"] = before
        sql += " ORDER BY digest_id DESC LIMIT :limit"
        with self._cursor() as cursor:
            cursor.execute(sql, params)
            return [_digest(row) for row in cursor.fetchall()]

    def latest_digest(self) -> PublishedDigest | None:
        found = self.digests(limit=1)
        return found[0] if found else None


class _Cursor:
    """A cursor taking SQL with ``:name`` parameters, in the dialect's spelling."""

    def __init__(self, dialect: Dialect, cursor: Any) -> None:
        self._dialect = dialect
        self._cursor = cursor

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        self._cursor.execute(self._dialect.params(sql), dict(params or {}))

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
