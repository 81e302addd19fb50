"""An in-memory read model: the reducers' rows in dictionaries, for tests and comparisons."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from capledger.application.published import PublishedEvent

from .reducers import reduce
from .rows import Row

R = TypeVar("R", bound=Row)


class MemoryReadModel:
    """Folds events with the same reducers as the runners, with no store in between."""

    def __init__(self) -> None:
        self.tables: dict[type[Row], dict[tuple[Any, ...], Row]] = {}

    def get(self, kind: type[R], key: tuple[Any, ...]) -> R | None:
        return self.tables.get(kind, {}).get(key)  # type: ignore[return-value]

    def put(self, rows: Iterable[Row]) -> None:
        for row in rows:
            self.tables.setdefault(type(row), {})[row.key()] = row

    def fold(self, events: Iterable[PublishedEvent]) -> MemoryReadModel:
        for event in events:
            self.put(reduce(event, self))
        return self

    def rows(self, kind: type[R]) -> list[R]:
        """Every row of a table, ordered by key."""
        table = self.tables.get(kind, {})
        return [table[key] for key in sorted(table)]  # type: ignore[misc]
