"""The SQL dialect layer: SQLite (embedded) and PostgreSQL (servers), for the read model and for
the API's own small store (keys and digests), which names its tables and opens its connections
through the same :class:`Dialect` and :class:`Connections`.

The read model holds the same logical schema in both. A *namespace* is one complete copy of its
tables, so that a rebuild can fill a fresh one while the live one keeps serving; a pointer row in
a control table names the live namespace and is switched in one transaction.

- SQLite: every namespace lives in the one database file, its tables prefixed (``rm2_line``);
  the control tables are ``readmodel_pointer`` and ``readmodel_namespace``. A pointer row (not a
  file swapped by rename) because connections already open keep seeing a renamed-away file.
- PostgreSQL: every namespace is a schema (``<base>_rm2``); the control tables live in the
  schema ``<base>``.

A store's tables outside any namespace (the read model's control tables, the API store's tables)
are named by :meth:`Dialect.control`: prefixed in SQLite, in the base schema in PostgreSQL.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import structlog

from .rows import Column, ColumnType

log = structlog.get_logger(__name__)

_NAMED_PARAM = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def check_name(name: str, what: str) -> str:
    if not _NAME.match(name):
        raise ValueError(f"{what} {name!r} must be lower-case letters, digits and underscores")
    return name


class Dialect(ABC):
    name: str
    #: Positional parameter marker.
    placeholder: str
    begin_write: str
    begin_read: str
    #: Row-lock clauses where the store has row locks (SQLite locks the whole file instead).
    for_share: str = ""
    for_update: str = ""
    #: Upsert a table's rows in one statement of column arrays instead of one per row.
    array_upsert: bool = False
    array_options: Mapping[str, Any] = MappingProxyType({})
    #: Upsert many rows by copying them into a temporary table first (PostgreSQL's COPY).
    copy_upsert: bool = False
    #: Sums of integers come back as ``Decimal`` (PostgreSQL's numeric), to turn into ints.
    decimal_sums: bool = False
    #: A 64-bit integer column, and an integer primary key numbered by the store.
    integer: str
    serial_key: str

    @abstractmethod
    def connect(self) -> Any:
        """A DB-API connection in autocommit mode (transactions are begun explicitly)."""

    @abstractmethod
    def table(self, namespace: str, table: str) -> str: ...

    @abstractmethod
    def control(self, table: str) -> str:
        """The name of a table outside any namespace."""

    @abstractmethod
    def index(self, namespace: str, table: str, columns: tuple[str, ...]) -> str: ...

    @abstractmethod
    def column_type(self, column: Column) -> str: ...

    @abstractmethod
    def create_namespace(self, namespace: str) -> list[str]: ...

    @abstractmethod
    def drop_namespace(self, namespace: str, tables: list[str]) -> list[str]: ...

    def create_control(self) -> list[str]:
        """Statements that make room for the tables outside any namespace."""
        return []

    def serialise_setup(self) -> list[str]:
        """Statements that make concurrent first-time setups wait for each other."""
        return []

    def params(self, sql: str) -> str:
        """Turn ``:name`` parameters into the driver's style."""
        return sql

    @abstractmethod
    def is_missing_table(self, error: Exception) -> bool: ...

    @abstractmethod
    def destroy(self, cursor: Any) -> list[str]:
        """Statements that drop the whole read model: every namespace and the control tables."""


def _null(value: None) -> None:
    return value


# Python's sqlite3 binds int, float, str and bytearray directly but sends every other value,
# None included, through its adapter protocol, which for None ends in two failed attribute
# lookups (an exception made and cleared each time): 3% of a rebuild's instructions (one
# value in six is NULL). An adapter registered for None is found at once and binds NULL as
# before, for half the cost. The registry is the sqlite3 module's (process-wide); no value
# bound changes.
sqlite3.register_adapter(type(None), _null)


@dataclass(eq=False)
class SqliteDialect(Dialect):
    """One database file. ``prefix`` names the tables outside any namespace; ``durable``
    syncs every commit to disk (a read model is rebuilt from the log, so losing its last
    commits to a power cut is recoverable and WAL's NORMAL sync suffices; keys are not)."""

    path: Path
    prefix: str = "readmodel_"
    durable: bool = False
    name: str = "sqlite"
    placeholder: str = "?"
    begin_write: str = "BEGIN IMMEDIATE"
    begin_read: str = "BEGIN"
    integer: str = "INTEGER"
    serial_key: str = "INTEGER PRIMARY KEY AUTOINCREMENT"

    def __post_init__(self) -> None:
        if self.prefix:
            check_name(self.prefix, "table prefix")

    def connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=60.0
        )
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={'FULL' if self.durable else 'NORMAL'}")
        return conn

    def table(self, namespace: str, table: str) -> str:
        return f'"{namespace}_{table}"'

    def control(self, table: str) -> str:
        return f'"{self.prefix}{table}"'

    def index(self, namespace: str, table: str, columns: tuple[str, ...]) -> str:
        return f'"{namespace}_{table}_{"_".join(columns)}"'

    def column_type(self, column: Column) -> str:
        return "TEXT" if column.type is ColumnType.TEXT else self.integer

    def create_namespace(self, namespace: str) -> list[str]:
        return []

    def drop_namespace(self, namespace: str, tables: list[str]) -> list[str]:
        return [f"DROP TABLE IF EXISTS {self.table(namespace, table)}" for table in tables]

    def is_missing_table(self, error: Exception) -> bool:
        return isinstance(error, sqlite3.OperationalError) and "no such table" in str(error)

    def destroy(self, cursor: Any) -> list[str]:
        # Namespaces are named rm<seq> (store._create_namespace); the control tables <prefix>*.
        cursor.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' "
            "AND (name GLOB 'rm[0-9]*_*' OR name GLOB ?)",
            (f"{self.prefix}*",),
        )
        return [f'DROP TABLE IF EXISTS "{name}"' for (name,) in cursor.fetchall()]


@dataclass(eq=False)
class PostgresDialect(Dialect):
    conninfo: Mapping[str, Any] = field(default_factory=dict)
    base_schema: str = "capledger_readmodel"
    name: str = "postgres"
    placeholder: str = "%s"
    integer: str = "BIGINT"
    serial_key: str = "BIGSERIAL PRIMARY KEY"
    begin_write: str = "BEGIN ISOLATION LEVEL READ COMMITTED"
    begin_read: str = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
    for_share: str = " FOR SHARE"
    for_update: str = " FOR UPDATE"
    array_upsert: bool = True
    copy_upsert: bool = True
    decimal_sums: bool = True
    #: Binary parameters: arrays are sent without quoting every element as text.
    array_options: Mapping[str, Any] = field(default_factory=lambda: {"binary": True})

    def __post_init__(self) -> None:
        check_name(self.base_schema, "read-model schema")

    def connect(self) -> Any:
        import psycopg

        return psycopg.connect(**self.conninfo, autocommit=True)

    def table(self, namespace: str, table: str) -> str:
        return f'"{self.base_schema}_{namespace}"."{table}"'

    def control(self, table: str) -> str:
        return f'"{self.base_schema}"."{table}"'

    def index(self, namespace: str, table: str, columns: tuple[str, ...]) -> str:
        return f'"{table}_{"_".join(columns)}"'

    def column_type(self, column: Column) -> str:
        if column.type is ColumnType.TEXT:
            return "TEXT"
        return "SMALLINT" if column.type is ColumnType.FLAG else self.integer

    def create_namespace(self, namespace: str) -> list[str]:
        return [f'CREATE SCHEMA "{self.base_schema}_{namespace}"']

    def drop_namespace(self, namespace: str, tables: list[str]) -> list[str]:
        return [f'DROP SCHEMA IF EXISTS "{self.base_schema}_{namespace}" CASCADE']

    def create_control(self) -> list[str]:
        return [f'CREATE SCHEMA IF NOT EXISTS "{self.base_schema}"']

    def serialise_setup(self) -> list[str]:
        return [f"SELECT pg_advisory_xact_lock(hashtext('{self.base_schema}'))"]

    def params(self, sql: str) -> str:
        return _NAMED_PARAM.sub(r"%(\1)s", sql)

    def is_missing_table(self, error: Exception) -> bool:
        from psycopg import errors

        return isinstance(error, errors.UndefinedTable | errors.InvalidSchemaName)

    def destroy(self, cursor: Any) -> list[str]:
        # The base schema (control tables) and a schema per namespace, <base>_rm<seq>.
        cursor.execute(
            "SELECT schema_name FROM information_schema.schemata "
            "WHERE schema_name = %s OR schema_name LIKE %s",
            (self.base_schema, f"{self.base_schema}\\_rm%"),
        )
        return [f'DROP SCHEMA IF EXISTS "{row[0]}" CASCADE' for row in cursor.fetchall()]


class Connections:
    """Connections of one dialect, kept for reuse (up to ``size`` idle), each running one
    transaction at a time; a connection that saw an error is closed, not reused."""

    def __init__(self, dialect: Dialect, *, size: int = 4) -> None:
        self.dialect = dialect
        self.size = size
        self._idle: list[Any] = []
        self._lock = threading.Lock()

    @contextmanager
    def transaction(
        self, begin: str, *, attached: Mapping[str, Path] | None = None
    ) -> Iterator[Any]:
        """A cursor in a transaction begun by ``begin`` (one of the dialect's): committed when
        the block ends, rolled back if it raises. SQLite: ``attached`` database files are
        attached under their aliases for the transaction (before it: SQLite refuses ATTACH
        inside one) and detached after it."""
        conn = self._acquire()
        healthy = False
        try:
            for alias, path in (attached or {}).items():
                conn.execute(f"ATTACH DATABASE ? AS {alias}", (str(path),))
            cursor = conn.cursor()
            cursor.execute(begin)
            try:
                yield cursor
                cursor.execute("COMMIT")
            except BaseException:
                _rollback_quietly(cursor)
                raise
            for alias in attached or {}:
                conn.execute(f"DETACH DATABASE {alias}")
            healthy = True
        finally:
            self._release(conn, healthy)

    @contextmanager
    def statements(self) -> Iterator[Any]:
        """A cursor whose statements each commit on their own (the connections are in
        autocommit mode): for a single atomic statement, without a transaction's two extra
        round trips."""
        conn = self._acquire()
        healthy = False
        try:
            yield conn.cursor()
            healthy = True
        finally:
            self._release(conn, healthy)

    def close(self) -> None:
        """Close the idle connections."""
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    def _acquire(self) -> Any:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        return self.dialect.connect()

    def _release(self, conn: Any, healthy: bool) -> None:
        with self._lock:
            if healthy and len(self._idle) < self.size:
                self._idle.append(conn)
                return
        conn.close()


def _rollback_quietly(cursor: Any) -> None:
    try:
        cursor.execute("ROLLBACK")
    except Exception as error:  # the connection is closed after this anyway
        log.debug("rollback_failed", error=str(error))
