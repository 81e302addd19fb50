"""What reducers may read: rows of the read model by key, as left by earlier events.

Reducers only ever read rows of the stream they are folding, so any runner that keeps each
stream in order gives them the same context. ``Overlay`` is the runners' context: a cache over a
store that also holds the rows a batch has written but not yet flushed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol, TypeVar

from .rows import Row

R = TypeVar("R", bound=Row)


class Context(Protocol):
    def get(self, kind: type[R], key: tuple[Any, ...]) -> R | None: ...


class RowSource(Protocol):
    """Where an overlay loads rows it has not seen (a store transaction)."""

    def load(self, kind: type[R], key: tuple[Any, ...]) -> R | None: ...


class Overlay:
    """A write-back cache of rows: reads see earlier writes; writes wait for ``take_pending``.

    ``complete`` says the cache holds every row of the store (it started from an empty store
    and never evicted), so a miss means "no such row" without asking the store.
    """

    def __init__(self, *, complete: bool = False, max_rows: int = 500_000) -> None:
        self.complete = complete
        self.max_rows = max_rows
        self._rows: dict[tuple[type[Row], tuple[Any, ...]], Row | None] = {}
        self._pending: dict[tuple[type[Row], tuple[Any, ...]], Row] = {}
        self._source: RowSource | None = None

    def bind(self, source: RowSource | None) -> None:
        """Load misses from ``source`` (the current transaction) from now on."""
        self._source = source

    def get(self, kind: type[R], key: tuple[Any, ...]) -> R | None:
        slot = (kind, key)
        if slot in self._rows:
            return self._rows[slot]  # type: ignore[return-value]
        if self.complete:
            row = None
        elif self._source is None:
            raise RuntimeError("an incomplete overlay needs a row source to load from")
        else:
            row = self._source.load(kind, key)
        self._rows[slot] = row
        return row

    def put(self, rows: Iterable[Row]) -> None:
        for row in rows:
            slot = (type(row), row.key())
            self._rows[slot] = row
            self._pending[slot] = row

    def take_pending(self) -> list[Row]:
        """The rows written since the last call, each key once with its last value."""
        pending = list(self._pending.values())
        self._pending.clear()
        if len(self._rows) > self.max_rows:
            self._rows.clear()
            self.complete = False
        return pending

    @property
    def pending_count(self) -> int:
        return len(self._pending)
