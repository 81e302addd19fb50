"""The read-model store: namespaces, write transactions with tracking, read transactions.

A write transaction upserts rows and moves the tracking position together, so a runner that
stops anywhere resumes exactly after what it committed. Readers resolve the live namespace in
the same snapshot as their query, so a switch never shows them half of two namespaces.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from itertools import chain
from pathlib import Path
from typing import Any, TypeVar

import structlog

from .dialects import Connections, Dialect, PostgresDialect, SqliteDialect, check_name
from .rows import ALL_ROWS, Row, TrackingRow, columns, from_values, value_getter
from .schema import NAMESPACES, POINTER, VERIFICATION, control_ddl, index_ddl, namespace_ddl
from .verification import ChainBreach, now

log = structlog.get_logger(__name__)

R = TypeVar("R", bound=Row)
T = TypeVar("T")

#: The log the embedded runner follows (one partition: notification ids are global).
NOTIFICATION_LOG = "notification_log"
CURRENT = "current"
#: The name of the read side's one verdict row (``verification``).
CHAIN = "chain"
TABLES = {kind.TABLE for kind in ALL_ROWS}


class NotInitialised(RuntimeError):
    pass


class ReadModelStore:
    def __init__(self, dialect: Dialect, *, pool_size: int = 4) -> None:
        self.dialect = dialect
        self.connections = Connections(dialect, size=pool_size)

    @classmethod
    def sqlite(cls, path: Path) -> ReadModelStore:
        return cls(SqliteDialect(path))

    @classmethod
    def postgres(
        cls, conninfo: Mapping[str, Any], base_schema: str = "capledger_readmodel"
    ) -> ReadModelStore:
        return cls(PostgresDialect(conninfo=dict(conninfo), base_schema=base_schema))

    # -- namespaces ----------------------------------------------------------------------------

    def initialise(self) -> str:
        """Create the control tables and a first live namespace if missing; the live one."""
        with self._transaction(self.dialect.begin_write) as cursor:
            for statement in [*self.dialect.serialise_setup(), *control_ddl(self.dialect)]:
                cursor.execute(statement)
            current = self._pointer(cursor, "")
            if current is not None:
                return current
            namespace = self._create_namespace(cursor)
            self._set_pointer(cursor, namespace)
            log.info("read_model_initialised", namespace=namespace)
            return namespace

    def current_namespace(self) -> str:
        with self._transaction(self.dialect.begin_read) as cursor:
            current = self._pointer(cursor, "")
        if current is None:
            raise NotInitialised("the read model has no live namespace; initialise it first")
        return current

    def create_namespace(self, *, indexes: bool = True) -> str:
        """A new, empty namespace (not live). ``indexes=False`` leaves out the secondary
        indexes: filling the tables first and indexing them once with ``create_indexes`` is
        several times faster than maintaining the indexes row by row (a rebuild does it)."""
        with self._transaction(self.dialect.begin_write) as cursor:
            for statement in self.dialect.serialise_setup():
                cursor.execute(statement)
            return self._create_namespace(cursor, indexes=indexes)

    def create_indexes(self, namespace: str) -> None:
        """Create the secondary indexes of a namespace that lacks them (idempotent)."""
        check_name(namespace, "namespace")
        with self._transaction(self.dialect.begin_write) as cursor:
            for statement in index_ddl(self.dialect, namespace):
                cursor.execute(statement)
        log.info("read_model_namespace_indexed", namespace=namespace)

    def drop_namespace(self, namespace: str) -> None:
        check_name(namespace, "namespace")
        with self._transaction(self.dialect.begin_write) as cursor:
            if self._pointer(cursor, self.dialect.for_update) == namespace:
                raise ValueError(f"namespace {namespace} is live; switch away from it first")
            for statement in self.dialect.drop_namespace(namespace, sorted(TABLES)):
                cursor.execute(statement)
            update = (
                f"UPDATE {self.dialect.control(NAMESPACES)} SET dropped_at = :now "
                "WHERE namespace = :namespace"
            )
            cursor.execute(self._sql(update), {"now": _now(), "namespace": namespace})
        log.info("read_model_namespace_dropped", namespace=namespace)

    def destroy(self) -> None:
        """Drop the whole read model, live namespace and control tables included: for a read
        model that is thrown away (a test's, a benchmark's). ``initialise`` starts it anew."""
        with self._transaction(self.dialect.begin_write) as cursor:
            for statement in self.dialect.destroy(cursor):
                cursor.execute(statement)
        log.info("read_model_destroyed")

    def namespaces(self) -> list[str]:
        """Namespaces not dropped, oldest first."""
        with self._transaction(self.dialect.begin_read) as cursor:
            cursor.execute(
                f"SELECT namespace FROM {self.dialect.control(NAMESPACES)} "
                "WHERE dropped_at IS NULL ORDER BY seq"
            )
            return [str(row[0]) for row in cursor.fetchall()]

    def merge_sqlite_shards(
        self, namespace: str, shards: Sequence[tuple[Path, str]], position: int
    ) -> int:
        """Copy the tables of each shard (an SQLite read-model file and the namespace folded
        there) into ``namespace`` and set its position, in one transaction; rows copied.

        Shards hold the rows of disjoint sets of streams, so no key is in two of them; a key
        that were would fail the copy on the primary key, and nothing would be merged.
        """
        if not isinstance(self.dialect, SqliteDialect):
            raise ValueError("only an SQLite read model merges SQLite shards")
        check_name(namespace, "namespace")
        sources = {f"shard{index}": check_name(name, "namespace") for index, (_, name) in
                   enumerate(shards)}  # fmt: skip
        files = {f"shard{index}": path for index, (path, _) in enumerate(shards)}
        with self._transaction(self.dialect.begin_write, attached=files) as cursor:
            copied = sum(
                self._copy_shard(cursor, namespace, alias, source)
                for alias, source in sources.items()
            )
            Writer(self, cursor, namespace, None).set_position(position)
        return copied

    def _copy_shard(self, cursor: Any, namespace: str, alias: str, shard_namespace: str) -> int:
        copied = 0
        for kind in ALL_ROWS:
            if kind is TrackingRow:
                continue
            names = ", ".join(column.name for column in columns(kind))
            target = self.dialect.table(namespace, kind.TABLE)
            source = self.dialect.table(shard_namespace, kind.TABLE)
            cursor.execute(
                f"INSERT INTO main.{target} ({names}) SELECT {names} FROM {alias}.{source}"
            )
            copied += cursor.rowcount
        return copied

    # -- the read side's verdict on the ledger (projections.verification) ---------------------

    def record_breach(self, breach: ChainBreach, namespace: str) -> ChainBreach:
        """Record that a runner met ``breach`` folding ``namespace``; the first one recorded
        stays (the earliest the read side knows of). Returns the breach recorded."""
        insert = (
            f"INSERT INTO {self.dialect.control(VERIFICATION)} (name, namespace, stream, "
            "subject, version, position, source, expected, found, reason, detected_at) VALUES "
            "(:name, :namespace, :stream, :subject, :version, :position, :source, :expected, "
            ":found, :reason, :detected_at) ON CONFLICT (name) DO NOTHING"
        )
        with self._transaction(self.dialect.begin_write) as cursor:
            cursor.execute(
                self._sql(insert),
                {"name": CHAIN, "namespace": namespace, **vars(breach),
                 "detected_at": breach.detected_at or now()},
            )  # fmt: skip
        recorded = self.breach()
        assert recorded is not None
        return recorded

    def breach(self) -> ChainBreach | None:
        """The event the read side could not verify, if a runner met one (and no rebuild has
        folded the whole log since)."""
        select = (
            "SELECT stream, subject, version, position, source, expected, found, reason, "
            f"detected_at FROM {self.dialect.control(VERIFICATION)} WHERE name = :name"
        )
        with self._transaction(self.dialect.begin_read) as cursor:
            try:
                cursor.execute(self._sql(select), {"name": CHAIN})
            except Exception as error:
                if self.dialect.is_missing_table(error):
                    return None  # a read model made before verification was recorded
                raise
            row = cursor.fetchone()
        if row is None:
            return None
        stream, subject, version, position, source, expected, found, reason, at = row
        return ChainBreach(
            str(stream), None if subject is None else str(subject), int(version), int(position),
            str(source), str(expected), str(found), str(reason), str(at),
        )  # fmt: skip

    # -- transactions --------------------------------------------------------------------------

    @contextmanager
    def writer(
        self, namespace: str | None = None, *, lock_pointer: bool = False
    ) -> Iterator[Writer]:
        """A write transaction on ``namespace`` (the live one when None).

        The pointer is read under a shared lock (exclusive with ``lock_pointer``), so a switch
        waits for writers of the old namespace and they, after it, write to the new one.
        """
        suffix = self.dialect.for_update if lock_pointer else self.dialect.for_share
        with self._transaction(self.dialect.begin_write) as cursor:
            current = self._pointer(cursor, suffix)
            target = namespace or current
            if target is None:
                raise NotInitialised("the read model has no live namespace; initialise it first")
            yield Writer(self, cursor, check_name(target, "namespace"), current)

    def read(self, query: Callable[[Reader], T], *, namespace: str | None = None) -> T:
        """Run ``query`` in one read snapshot of the live namespace (or ``namespace``); retried
        once if a switch dropped the namespace between resolving and reading it."""
        for attempt in (1, 2):
            try:
                with self._transaction(self.dialect.begin_read) as cursor:
                    target = namespace or self._pointer(cursor, "")
                    if target is None:
                        raise NotInitialised("the read model has no live namespace")
                    return query(Reader(self, cursor, check_name(target, "namespace")))
            except Exception as error:
                if attempt == 2 or not self.dialect.is_missing_table(error):
                    raise
        raise AssertionError("unreachable")

    def position(
        self, log_name: str = NOTIFICATION_LOG, partition: int = 0, *, namespace: str | None = None
    ) -> int:
        """The last position applied to the live namespace (or ``namespace``)."""
        return self.read(lambda reader: reader.position(log_name, partition), namespace=namespace)

    def close(self) -> None:
        self.connections.close()

    def _transaction(
        self, begin: str, *, attached: Mapping[str, Path] | None = None
    ) -> AbstractContextManager[Any]:
        return self.connections.transaction(begin, attached=attached)

    def _sql(self, sql: str) -> str:
        return self.dialect.params(sql)

    def _pointer(self, cursor: Any, suffix: str) -> str | None:
        select = f"SELECT namespace FROM {self.dialect.control(POINTER)} WHERE name = :name{suffix}"
        try:
            cursor.execute(self._sql(select), {"name": CURRENT})
        except Exception as error:
            if self.dialect.is_missing_table(error):
                raise NotInitialised("the read model's control tables are missing") from error
            raise
        row = cursor.fetchone()
        return None if row is None else str(row[0])

    def _set_pointer(self, cursor: Any, namespace: str) -> None:
        upsert = (
            f"INSERT INTO {self.dialect.control(POINTER)} (name, namespace, switched_at) "
            "VALUES (:name, :namespace, :now) ON CONFLICT (name) DO UPDATE SET "
            "namespace = excluded.namespace, switched_at = excluded.switched_at"
        )
        cursor.execute(self._sql(upsert), {"name": CURRENT, "namespace": namespace, "now": _now()})

    def _create_namespace(self, cursor: Any, *, indexes: bool = True) -> str:
        cursor.execute(f"SELECT COALESCE(MAX(seq), 0) + 1 FROM {self.dialect.control(NAMESPACES)}")
        seq = int(cursor.fetchone()[0])
        namespace = f"rm{seq}"
        for statement in namespace_ddl(self.dialect, namespace, indexes=indexes):
            cursor.execute(statement)
        insert = (
            f"INSERT INTO {self.dialect.control(NAMESPACES)} (namespace, seq, created_at) "
            "VALUES (:namespace, :seq, :now)"
        )
        cursor.execute(self._sql(insert), {"namespace": namespace, "seq": seq, "now": _now()})
        log.info("read_model_namespace_created", namespace=namespace)
        return namespace


class Writer:
    """One write transaction on one namespace: load rows, upsert rows, move tracking."""

    def __init__(self, store: ReadModelStore, cursor: Any, namespace: str, live: str | None):
        self.store = store
        self.cursor = cursor
        self.namespace = namespace
        self.live = live

    def load(self, kind: type[R], key: tuple[Any, ...]) -> R | None:
        self.cursor.execute(_select_by_key(self.store.dialect, self.namespace, kind), key)
        row = self.cursor.fetchone()
        return None if row is None else from_values(kind, row)  # type: ignore[return-value]

    def put(self, rows: Iterable[Row], *, only_new: bool = False) -> int:
        """Upsert rows by key (the last of several with one key wins; ``only_new``: leave
        existing rows as they are); the number of rows written."""
        by_kind: dict[type[Row], dict[tuple[Any, ...], Row]] = {}
        for row in rows:
            by_kind.setdefault(type(row), {})[row.key()] = row
        return self.put_tables(
            {kind: list(unique.values()) for kind, unique in by_kind.items()}, only_new=only_new
        )

    def put_tables(
        self, tables: Mapping[type[Row], Sequence[Row]], *, only_new: bool = False
    ) -> int:
        """Upsert rows grouped by kind, each key at most once per kind (as an overlay's
        pending rows are): one statement per table; the number of rows written."""
        dialect = self.store.dialect
        written = 0
        for kind, rows in tables.items():
            if not rows:
                continue
            written += len(rows)
            if dialect.copy_upsert and len(rows) >= COPY_FROM_ROWS:
                self._upsert_copied(kind, map(value_getter(kind), rows), only_new)
                continue
            values = list(map(value_getter(kind), rows))
            if dialect.array_upsert:
                # One statement per table: the columns as arrays, unnested server-side.
                statement = _upsert_arrays(dialect, self.namespace, kind, only_new)
                self.cursor.execute(
                    statement, [list(column) for column in zip(*values, strict=True)]
                )
            else:
                self._upsert_many(kind, values, only_new)
        return written

    def _upsert_copied(
        self, kind: type[Row], values: Iterable[tuple[Any, ...]], only_new: bool
    ) -> None:
        """PostgreSQL: the rows ``COPY``-ed (binary, each row dumped in C by psycopg) into a
        temporary table of the session, then upserted from it by one statement. Building
        the column arrays of ``_upsert_arrays`` took psycopg a Python loop per value: twenty
        times the client's CPU of this, and most of the Kafka projector's write time."""
        dialect = self.store.dialect
        stage = _stage_table(kind)
        cursor = self.cursor
        # Temporary tables live as long as the connection (pooled): made once, emptied after
        # each use (a transaction may stage one kind twice), and rolled back with the rest.
        cursor.execute(_memo((dialect, "stage", kind), lambda: _create_stage(dialect, kind)))
        with cursor.copy(_memo((dialect, "copy", kind), lambda: _copy_into(kind))) as copy:
            copy.set_types([dialect.column_type(column).lower() for column in columns(kind)])
            write = copy.write_row
            for row in values:
                write(row)
        cursor.execute(_upsert_staged(dialect, self.namespace, kind, only_new))
        cursor.execute(f"TRUNCATE {stage}")

    def _upsert_many(self, kind: type[Row], values: list[tuple[Any, ...]], only_new: bool) -> None:
        """Several rows per statement (``VALUES (…), (…), …``): a statement per row costs
        more in the driver than the rows themselves."""
        dialect = self.store.dialect
        per_statement = max(1, MAX_PARAMETERS // len(columns(kind)))
        whole = len(values) - len(values) % per_statement
        if whole:
            statement = _upsert(dialect, self.namespace, kind, only_new, per_statement)
            flat = list(chain.from_iterable(values[:whole]))
            width = per_statement * len(values[0])
            self.cursor.executemany(
                statement, [flat[at : at + width] for at in range(0, len(flat), width)]
            )
        if whole < len(values):
            statement = _upsert(dialect, self.namespace, kind, only_new)
            self.cursor.executemany(statement, values[whole:])

    def claim_position(self, log_name: str = NOTIFICATION_LOG, partition: int = 0) -> int:
        """The position, its row locked until commit: one runner at a time moves it."""
        self.put([TrackingRow(log_name, partition, 0)], only_new=True)
        table = self.store.dialect.table(self.namespace, TrackingRow.TABLE)
        mark = self.store.dialect.placeholder
        self.cursor.execute(
            f"SELECT position FROM {table} WHERE log = {mark} AND log_partition = {mark}"
            f"{self.store.dialect.for_update}",
            (log_name, partition),
        )
        return int(self.cursor.fetchone()[0])

    def set_position(
        self, position: int, log_name: str = NOTIFICATION_LOG, partition: int = 0
    ) -> None:
        self.put([TrackingRow(log_name, partition, position)])

    def switch_pointer(self) -> str | None:
        """Make this namespace the live one when the transaction commits; the previous one."""
        self.store._set_pointer(self.cursor, self.namespace)
        return self.live

    def clear_breach(self) -> None:
        """Forget a recorded breach when the transaction commits: this namespace folded the
        whole log, every event verified (a rebuild's switch)."""
        delete = f"DELETE FROM {self.store.dialect.control(VERIFICATION)} WHERE name = :name"
        self.cursor.execute(self.store._sql(delete), {"name": CHAIN})


class Reader:
    """One read snapshot of one namespace. SQL names tables as ``{line}``, parameters ``:name``."""

    def __init__(self, store: ReadModelStore, cursor: Any, namespace: str):
        self.store = store
        self.cursor = cursor
        self.namespace = namespace

    def rows(self, sql: str, params: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        dialect = self.store.dialect
        self.cursor.execute(_prepare(dialect, self.namespace, sql), dict(params or {}))
        if not dialect.decimal_sums:
            # SQLite's rows are tuples of plain values already: nothing to convert, value by
            # value, on every read.
            return list(self.cursor.fetchall())
        return [tuple(_plain(value) for value in row) for row in self.cursor.fetchall()]

    def position(self, log_name: str = NOTIFICATION_LOG, partition: int = 0) -> int:
        rows = self.rows(
            "SELECT position FROM {tracking} WHERE log = :log AND log_partition = :partition",
            {"log": log_name, "partition": partition},
        )
        return int(rows[0][0]) if rows else 0


#: Parameters of one statement: SQLite's historical default limit (newer builds allow more).
MAX_PARAMETERS = 999
#: Fewer rows of a kind than this are upserted with one statement, more are copied first
#: (``Writer._upsert_copied``) where the dialect can.
COPY_FROM_ROWS = 64
_STATEMENTS: dict[tuple[Any, ...], str] = {}


def _memo(key: tuple[Any, ...], build: Callable[[], str]) -> str:
    statement = _STATEMENTS.get(key)
    if statement is None:
        statement = _STATEMENTS[key] = build()
    return statement


def _prepare(dialect: Dialect, namespace: str, sql: str) -> str:
    def build() -> str:
        names = {table: dialect.table(namespace, table) for table in TABLES}
        return dialect.params(sql.format(**names))

    return _memo((dialect, namespace, sql), build)


def _select_by_key(dialect: Dialect, namespace: str, kind: type[Row]) -> str:
    def build() -> str:
        names = ", ".join(column.name for column in columns(kind))
        where = " AND ".join(f"{key} = {dialect.placeholder}" for key in kind.KEY)
        return f"SELECT {names} FROM {dialect.table(namespace, kind.TABLE)} WHERE {where}"

    return _memo((dialect, namespace, "select", kind), build)


def _upsert(
    dialect: Dialect, namespace: str, kind: type[Row], only_new: bool, rows: int = 1
) -> str:
    def build() -> str:
        row = "(" + ", ".join(dialect.placeholder for _ in columns(kind)) + ")"
        values = "VALUES " + ", ".join([row] * rows)
        return _upsert_statement(dialect, namespace, kind, only_new, values)

    return _memo((dialect, namespace, "upsert", kind, only_new, rows), build)


def _upsert_arrays(dialect: Dialect, namespace: str, kind: type[Row], only_new: bool) -> str:
    def build() -> str:
        arrays = ", ".join(
            f"{dialect.placeholder}::{dialect.column_type(column)}[]" for column in columns(kind)
        )
        return _upsert_statement(
            dialect, namespace, kind, only_new, f"SELECT * FROM unnest({arrays})"
        )

    return _memo((dialect, namespace, "arrays", kind, only_new), build)


def _stage_table(kind: type[Row]) -> str:
    return f"capledger_stage_{kind.TABLE}"


def _create_stage(dialect: Dialect, kind: type[Row]) -> str:
    types = [f"{column.name} {dialect.column_type(column)}" for column in columns(kind)]
    return f"CREATE TEMPORARY TABLE IF NOT EXISTS {_stage_table(kind)} ({', '.join(types)})"


def _copy_into(kind: type[Row]) -> str:
    names = ", ".join(column.name for column in columns(kind))
    return f"COPY {_stage_table(kind)} ({names}) FROM STDIN (FORMAT BINARY)"


def _upsert_staged(dialect: Dialect, namespace: str, kind: type[Row], only_new: bool) -> str:
    def build() -> str:
        names = ", ".join(column.name for column in columns(kind))
        source = f"SELECT {names} FROM {_stage_table(kind)}"
        return _upsert_statement(dialect, namespace, kind, only_new, source)

    return _memo((dialect, namespace, "staged", kind, only_new), build)


def _upsert_statement(
    dialect: Dialect, namespace: str, kind: type[Row], only_new: bool, source: str
) -> str:
    """``INSERT … {source} ON CONFLICT …``: the rows of ``source`` (VALUES or a SELECT)."""
    names = [column.name for column in columns(kind)]
    updates = ", ".join(f"{name} = excluded.{name}" for name in names if name not in kind.KEY)
    action = f"DO UPDATE SET {updates}" if updates and not only_new else "DO NOTHING"
    return (
        f"INSERT INTO {dialect.table(namespace, kind.TABLE)} ({', '.join(names)}) "
        f"{source} ON CONFLICT ({', '.join(kind.KEY)}) {action}"
    )


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return int(value)
    return value


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
