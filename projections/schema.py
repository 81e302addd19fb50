"""DDL of the read model, generated for each dialect from the one logical schema in ``rows``.

``python -m capledger.projections.schema sqlite|postgres [namespace]`` prints it.
"""

from __future__ import annotations

import sys

from .dialects import Dialect, PostgresDialect, SqliteDialect
from .rows import ALL_ROWS, Row, columns

#: Control tables: the pointer to the live namespace and the register of namespaces.
POINTER = "pointer"
NAMESPACES = "namespace"
#: The read side's verdict on the ledger: the first event a runner could not verify, if any
#: (``projections.verification``); one row, named ``chain``.
VERIFICATION = "verification"


def control_ddl(dialect: Dialect) -> list[str]:
    return [
        *dialect.create_control(),
        f"CREATE TABLE IF NOT EXISTS {dialect.control(POINTER)} ("
        "name TEXT NOT NULL PRIMARY KEY, namespace TEXT NOT NULL, switched_at TEXT NOT NULL)",
        f"CREATE TABLE IF NOT EXISTS {dialect.control(NAMESPACES)} ("
        "namespace TEXT NOT NULL PRIMARY KEY, seq INTEGER NOT NULL, created_at TEXT NOT NULL, "
        "dropped_at TEXT)",
        f"CREATE TABLE IF NOT EXISTS {dialect.control(VERIFICATION)} ("
        "name TEXT NOT NULL PRIMARY KEY, namespace TEXT NOT NULL, stream TEXT NOT NULL, "
        "subject TEXT, version INTEGER NOT NULL, position INTEGER NOT NULL, "
        "source TEXT NOT NULL, expected TEXT NOT NULL, found TEXT NOT NULL, "
        "reason TEXT NOT NULL, detected_at TEXT NOT NULL)",
    ]


def namespace_ddl(dialect: Dialect, namespace: str, *, indexes: bool = True) -> list[str]:
    """The tables of a namespace, with their secondary indexes unless ``indexes`` is False
    (a rebuild fills the tables first and indexes them once, see ``index_ddl``)."""
    statements = dialect.create_namespace(namespace)
    for kind in ALL_ROWS:
        statements.append(create_table(dialect, namespace, kind))
        if indexes:
            statements.extend(_create_indexes(dialect, namespace, kind))
    return statements


def index_ddl(dialect: Dialect, namespace: str) -> list[str]:
    """The secondary indexes of a namespace; statements that skip those that exist."""
    return [
        statement.replace("CREATE INDEX", "CREATE INDEX IF NOT EXISTS", 1)
        for kind in ALL_ROWS
        for statement in _create_indexes(dialect, namespace, kind)
    ]


def _create_indexes(dialect: Dialect, namespace: str, kind: type[Row]) -> list[str]:
    return [
        f"CREATE INDEX {dialect.index(namespace, kind.TABLE, index)} "
        f"ON {dialect.table(namespace, kind.TABLE)} ({', '.join(index)})"
        for index in kind.INDEXES
    ]


def create_table(dialect: Dialect, namespace: str, kind: type[Row]) -> str:
    definitions = [
        f"{column.name} {dialect.column_type(column)}{'' if column.nullable else ' NOT NULL'}"
        for column in columns(kind)
    ]
    definitions.append(f"PRIMARY KEY ({', '.join(kind.KEY)})")
    return f"CREATE TABLE {dialect.table(namespace, kind.TABLE)} ({', '.join(definitions)})"


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"sqlite", "postgres"}:
        print("usage: python -m capledger.projections.schema sqlite|postgres [namespace]")
        return 2
    from pathlib import Path

    dialect: Dialect = (
        SqliteDialect(Path("projections.sqlite3")) if argv[0] == "sqlite" else PostgresDialect()
    )
    namespace = argv[1] if len(argv) > 1 else "rm1"
    for statement in [*control_ddl(dialect), *namespace_ddl(dialect, namespace)]:
        print(f"{statement};")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
