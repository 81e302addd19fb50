"""What reducers may read: rows of the read model by key, as left by earlier events.

Reducers only ever read rows of the stream they are folding, so any runner that keeps each
stream in order gives them the same context. ``Overlay`` is the runners' context: a cache over a
store that also holds the rows a batch has written but not yet flushed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any, Protocol, TypeVar

from .rows import MovementRow, Row, key_getter

R = TypeVar("R", bound=Row)


class Context(Protocol):
    def get(self, kind: type[R], key: tuple[Any, ...]) -> R | None: ...


class RowSource(Protocol):
    """Where an overlay loads rows it has not seen (a store transaction)."""

    def load(self, kind: type[R], key: tuple[Any, ...]) -> R | None: ...


#: ``row.key()`` by kind of row, without the method's lookups (``Overlay.put``'s hot path).
_KEY_GETTERS: dict[type[Row], Any] = {}
#: What ``dict.get`` returns for a key the cache does not hold (None means "no such row").
_MISSING: Any = object()


class Overlay:
    """A write-back cache of rows: reads see earlier writes; writes wait for ``take_pending``.

    ``complete`` says the cache holds every row of the store (it started from an empty store
    and never evicted), so a miss means "no such row" without asking the store.

    Rows of ``WRITE_ONLY`` kinds (movement facts: no reducer reads them back, and they are half
    of all rows) are kept only until they are taken, not cached: a read of one asks the store.
    """

    WRITE_ONLY: frozenset[type[Row]] = frozenset({MovementRow})

    def __init__(self, *, complete: bool = False, max_rows: int = 500_000) -> None:
        self.complete = complete
        self.max_rows = max_rows
        # Tables appear on first use (``get`` reads with ``.get``, never creating one).
        self._rows: defaultdict[type[Row], dict[tuple[Any, ...], Row | None]] = defaultdict(dict)
        self._pending: defaultdict[type[Row], dict[tuple[Any, ...], Row]] = defaultdict(dict)
        self._source: RowSource | None = None

    def bind(self, source: RowSource | None) -> None:
        """Load misses from ``source`` (the current transaction) from now on."""
        self._source = source

    def get(self, kind: type[R], key: tuple[Any, ...]) -> R | None:
        cached = self._rows.get(kind)
        if cached is None:
            if kind in self.WRITE_ONLY:
                return self._uncached(kind, key)
            cached = self._rows[kind]
        else:
            found: R | None = cached.get(key, _MISSING)  # type: ignore[assignment]
            if found is not _MISSING:
                return found
        if self.complete:
            row = None
        elif self._source is None:
            raise RuntimeError("an incomplete overlay needs a row source to load from")
        else:
            row = self._source.load(kind, key)
        cached[key] = row
        return row

    def _uncached(self, kind: type[R], key: tuple[Any, ...]) -> R | None:
        pending = self._pending.get(kind)
        if pending is not None and key in pending:
            return pending[key]  # type: ignore[return-value]
        if self._source is None:
            raise RuntimeError(f"{kind.__name__} rows are not cached; reading one needs a store")
        return self._source.load(kind, key)

    def put(self, rows: Iterable[Row]) -> None:
        pending, cache = self._pending, self._rows
        write_only = self.WRITE_ONLY
        keys = _KEY_GETTERS
        for row in rows:
            kind = type(row)
            key_of = keys.get(kind)
            if key_of is None:
                key_of = keys[kind] = key_getter(kind)
            key = key_of(row)
            pending[kind][key] = row
            if kind not in write_only:
                cache[kind][key] = row

    def take_pending(self) -> list[Row]:
        """The rows written since the last call, each key once with its last value."""
        return [row for table in self.take_pending_tables().values() for row in table]

    def take_pending_tables(self) -> dict[type[Row], list[Row]]:
        """``take_pending`` grouped by kind of row."""
        tables = {kind: list(table.values()) for kind, table in self._pending.items() if table}
        self._pending = defaultdict(dict)
        if self.cached_count > self.max_rows:
            self._rows = defaultdict(dict)
            self.complete = False
        return tables

    @property
    def pending_count(self) -> int:
        return sum(len(table) for table in self._pending.values())

    @property
    def cached_count(self) -> int:
        return sum(len(table) for table in self._rows.values())
