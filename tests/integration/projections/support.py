"""Helpers of the projections' integration tests: read models, a recording clock, dumps."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, TypeVar
from uuid import uuid4

from capledger.projections import Reader, ReadModelStore
from capledger.projections.events import REPORTING_TZ
from capledger.projections.rows import ALL_ROWS, Row, columns, from_values
from capledger.settings import Persistence, Settings

R = TypeVar("R", bound=Row)


def postgres_conninfo(settings: Settings) -> dict[str, Any]:
    return {
        "host": settings.store.postgres.host,
        "port": settings.store.postgres.port,
        "user": settings.store.postgres.user,
        "password": settings.store.postgres.password.get_secret_value(),
        "dbname": settings.store.postgres.dbname,
        "connect_timeout": 10,
    }


def open_read_model(settings: Settings, directory: Path) -> Iterator[ReadModelStore]:
    """A fresh, initialised read model on the kind of store ``settings`` name."""
    if settings.store.persistence is not Persistence.POSTGRES:
        read_model = ReadModelStore.sqlite(directory / "projections.sqlite3")
        read_model.initialise()
        yield read_model
        read_model.close()
        return
    base = f"rmtest_{uuid4().hex[:12]}"
    read_model = ReadModelStore.postgres(postgres_conninfo(settings), base_schema=base)
    read_model.initialise()
    try:
        yield read_model
    finally:
        read_model.destroy()
        read_model.close()


class Clock:
    """The recording time of events, in Hà Nội time; every reading is a microsecond later."""

    def __init__(self) -> None:
        self.now = datetime(2021, 1, 1, 3, 0, tzinfo=UTC)

    def set(self, day: date, hour: int = 10) -> None:
        local = datetime.combine(day, time(hour), tzinfo=REPORTING_TZ)
        self.now = local.astimezone(UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(microseconds=1)
        return self.now


def dump(
    read_model: ReadModelStore, namespace: str | None = None
) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table (tracking aside), ordered by key."""

    def query(reader: Reader) -> dict[str, list[tuple[Any, ...]]]:
        tables = {}
        for kind in ALL_ROWS:
            if kind.TABLE == "tracking":
                continue
            names = ", ".join(column.name for column in columns(kind))
            tables[kind.TABLE] = reader.rows(
                f"SELECT {names} FROM {{{kind.TABLE}}} ORDER BY {', '.join(kind.KEY)}"
            )
        return tables

    return read_model.read(query, namespace=namespace)


def rows(read_model: ReadModelStore, kind: type[R], namespace: str | None = None) -> list[R]:
    """Every row of one table as row objects, ordered by key."""
    names = ", ".join(column.name for column in columns(kind))
    sql_text = f"SELECT {names} FROM {{{kind.TABLE}}} ORDER BY {', '.join(kind.KEY)}"
    found = read_model.read(lambda reader: reader.rows(sql_text), namespace=namespace)
    return [from_values(kind, values) for values in found]  # type: ignore[misc]
