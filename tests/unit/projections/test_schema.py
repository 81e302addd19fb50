"""One logical schema, two dialects."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from capledger.projections.dialects import PostgresDialect, SqliteDialect
from capledger.projections.rows import ALL_ROWS, columns
from capledger.projections.schema import control_ddl, namespace_ddl

pytestmark = pytest.mark.unit


def column_names(statement: str) -> list[str]:
    body = statement[statement.index("(") + 1 : statement.index(", PRIMARY KEY")]
    return [part.split()[0] for part in body.split(", ")]


def tables(statements: list[str]) -> dict[str, list[str]]:
    found = {}
    for statement in statements:
        match = re.match(r'CREATE TABLE (?:"\w+"\.)?"(?:rm1_)?(\w+)"', statement)
        if match:
            found[match.group(1)] = column_names(statement)
    return found


def test_both_dialects_create_the_same_tables_and_columns() -> None:
    sqlite = tables(namespace_ddl(SqliteDialect(Path("x")), "rm1"))
    postgres = tables(namespace_ddl(PostgresDialect(), "rm1"))

    assert sqlite == postgres
    assert set(sqlite) == {kind.TABLE for kind in ALL_ROWS}
    assert sqlite["movement"] == [column.name for column in columns(ALL_ROWS[4])]


def test_the_sqlite_ddl_runs_and_namespaces_do_not_collide() -> None:
    dialect = SqliteDialect(Path("x"))
    with sqlite3.connect(":memory:") as conn:
        for statement in [
            *control_ddl(dialect),
            *namespace_ddl(dialect, "rm1"),
            *namespace_ddl(dialect, "rm2"),
        ]:
            conn.execute(statement)
        names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}

    assert {
        "rm1_line",
        "rm2_line",
        "readmodel_pointer",
        "rm2_movement_plan_code_kind_effective_on",
    } <= names


def test_postgres_keeps_each_namespace_in_its_own_schema() -> None:
    dialect = PostgresDialect(base_schema="capledger_readmodel")
    statements = namespace_ddl(dialect, "rm3")

    assert statements[0] == 'CREATE SCHEMA "capledger_readmodel_rm3"'
    assert 'CREATE TABLE "capledger_readmodel_rm3"."line" (' in "\n".join(statements)
    assert "amount BIGINT NOT NULL" in "\n".join(statements)


def test_named_parameters_become_pyformat_for_postgres_only() -> None:
    sql = "SELECT 1 WHERE a = :alpha AND b::text = :beta_2"

    assert PostgresDialect().params(sql) == "SELECT 1 WHERE a = %(alpha)s AND b::text = %(beta_2)s"
    assert SqliteDialect(Path("x")).params(sql) == sql


def test_a_schema_name_that_could_inject_sql_is_refused() -> None:
    with pytest.raises(ValueError, match="lower-case"):
        PostgresDialect(base_schema='x"; DROP TABLE y; --')
