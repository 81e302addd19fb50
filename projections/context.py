"""What reducers may read: rows of the read model by key, as left by earlier events.

Reducers only ever read rows of the stream they are folding, so any runner that keeps each
stream in order gives them the same context. ``Overlay`` is the runners' context: a cache over a
store that also holds the rows a batch has written but not yet flushed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Protocol, TypeVar, overload

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
#: A row's values as kept by an overlay: ``tuple(row)``, a plain tuple.
Values = tuple[Any, ...]


def _row(kind: type[R], values: Values) -> R:
    """The row of ``kind`` with ``values`` (``NamedTuple._make``)."""
    row: R = kind._make(values)  # type: ignore[attr-defined]
    return row


class Overlay:
    """A write-back cache of rows: reads see earlier writes; writes wait for ``take_pending``.

    ``complete`` says the cache holds every row of the store (it started from an empty store
    and never evicted), so a miss means "no such row" without asking the store.

    Rows of ``WRITE_ONLY`` kinds (movement facts: no reducer reads them back, and they are half
    of all rows) are kept only until they are taken, not cached: a read of one asks the store.

    Rows are kept as plain tuples of their values and made again on the way out. A rebuild
    keeps a whole read model here, and the cyclic garbage collector would otherwise walk every
    row at each of its collections: it tracks every row object (a named tuple is a ``tuple``
    subclass, which it never stops tracking), but stops tracking a plain tuple of numbers,
    texts and None the first time it sees one. Making a row from its values costs less than
    those walks.
    """

    WRITE_ONLY: frozenset[type[Row]] = frozenset({MovementRow})

    def __init__(self, *, complete: bool = False, max_rows: int = 500_000) -> None:
        self.complete = complete
        self.max_rows = max_rows
        # Tables appear on first use (``get`` reads with ``.get``, never creating one).
        self._rows: defaultdict[type[Row], dict[tuple[Any, ...], Values | None]] = defaultdict(dict)
        self._pending: defaultdict[type[Row], dict[tuple[Any, ...], Values]] = defaultdict(dict)
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
            found = cached.get(key, _MISSING)
            if found is not _MISSING:
                return None if found is None else _row(kind, found)
        if self.complete:
            row = None
        elif self._source is None:
            raise RuntimeError("an incomplete overlay needs a row source to load from")
        else:
            row = self._source.load(kind, key)
        cached[key] = None if row is None else tuple(row)  # type: ignore[arg-type]
        return row

    def _uncached(self, kind: type[R], key: tuple[Any, ...]) -> R | None:
        pending = self._pending.get(kind)
        if pending is not None and key in pending:
            return _row(kind, pending[key])
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
            values: Values = tuple(row)  # type: ignore[arg-type]
            pending[kind][key] = values
            if kind not in write_only:
                cache[kind][key] = values

    def take_pending(self) -> list[Row]:
        """The rows written since the last call, each key once with its last value."""
        return [row for table in self.take_pending_tables().values() for row in table]

    def take_pending_tables(self) -> dict[type[Row], Sequence[Row]]:
        """``take_pending`` grouped by kind of row; each row is made as it is read."""
        tables: dict[type[Row], Sequence[Row]] = {
            kind: PendingRows(kind, list(table.values()))
            for kind, table in self._pending.items()
            if table
        }
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


class PendingRows(Sequence[R]):
    """Rows of one kind taken from an overlay, each made from its values when it is read: a
    batch's rows are written one by one, so they need never be alive all at once."""

    __slots__ = ("_values", "kind")

    def __init__(self, kind: type[R], values: list[Values]) -> None:
        self.kind = kind
        self._values = values

    def __len__(self) -> int:
        return len(self._values)

    def __iter__(self) -> Iterator[R]:
        return map(self.kind._make, self._values)  # type: ignore[attr-defined]

    @overload
    def __getitem__(self, index: int) -> R: ...
    @overload
    def __getitem__(self, index: slice) -> list[R]: ...
    def __getitem__(self, index: int | slice) -> R | list[R]:
        if isinstance(index, slice):
            return [_row(self.kind, values) for values in self._values[index]]
        return _row(self.kind, self._values[index])

    def __eq__(self, other: object) -> bool:
        """Equal to any sequence of equal rows (a list of them)."""
        if isinstance(other, Sequence) and not isinstance(other, str):
            return list(self) == list(other)
        return NotImplemented

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.kind.__name__}, {list(self)!r})"
