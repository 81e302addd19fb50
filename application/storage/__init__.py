"""The storage adapters: the only code that knows the event store's tables.

One module per backend, each the library's way (as its ``ftsprojection`` example does): a
subclass of the library's application recorder that adds the ledger's own operations on the log,
and a factory subclass that makes it, so ``PERSISTENCE_MODULE`` chooses the backend:

- ``capledger.application.storage.sqlite``: ``LedgerSQLiteRecorder``, ``LedgerSQLiteFactory``;
- ``capledger.application.storage.postgres``: ``LedgerPostgresRecorder``, ``LedgerPostgresFactory``;
- ``capledger.application.storage.memory``: ``LedgerMemoryRecorder``, ``LedgerMemoryFactory``
  (the in-memory store of unit tests; the ``Ledger``'s default).

Every one of them is an :class:`EventLog`. Code outside this package asks for the operations by
that protocol (:func:`event_log`), never by a recorder's class.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from contextlib import AbstractContextManager
from functools import lru_cache
from typing import Any, NamedTuple, Protocol, runtime_checkable
from uuid import UUID

from eventsourcing.persistence import Notification, StoredEvent

SQLITE_MODULE = "capledger.application.storage.sqlite"
POSTGRES_MODULE = "capledger.application.storage.postgres"
MEMORY_MODULE = "capledger.application.storage.memory"

#: A row of a log page: position, stream id (a UUID, or its text), version, topic, state.
PageRow = tuple[int, Any, int, str, bytes]
#: An imported event as inserted: stream id as 32 hex digits, version, topic, state.
ImportRow = tuple[str, int, str, bytes]
#: Stream ids from a lowest one (32 hex digits or a prefix) to below a highest (None: no bound).
StreamRange = tuple[str, str | None]


class LogRow(NamedTuple):
    """A notification as the relay reads it: ``originator_id`` is the stream's ``str(UUID)``."""

    id: int
    originator_id: str
    originator_version: int
    topic: str
    state: bytes


class BulkImport(Protocol):
    """One open transaction of an import on the event store (holding its write lock)."""

    def is_empty(self) -> bool:
        """Whether the store held no event when the import began."""
        ...

    def last_events(self, streams: Collection[UUID]) -> dict[UUID, StoredEvent]:
        """The last stored event of each of these streams that has one."""
        ...

    def insert(self, rows: Sequence[ImportRow]) -> None:
        """Insert the rows (``IntegrityError`` if a stream version is taken)."""
        ...


class LogFileReader(Protocol):
    """A connection of its own on a log file (in a child process)."""

    def page(
        self, after: int, stop: int, aggregates: Sequence[str], streams: StreamRange | None = None
    ) -> tuple[int, list[PageRow]]:
        """As :meth:`EventLog.read_folded`, narrowed to a range of streams if given."""
        ...

    def close(self) -> None: ...


class LogFile(Protocol):
    """A picklable way to the log for another process."""

    def open(self) -> LogFileReader: ...


@runtime_checkable
class EventLog(Protocol):
    """The ledger's operations on its event store, beyond the library's recorder methods."""

    #: Whether ``subscribe()`` pushes new notifications (LISTEN/NOTIFY); else poll.
    pushes_notifications: bool

    def max_notification_id(self) -> int | None: ...

    def select_notifications(
        self,
        start: int | None,
        limit: int,
        stop: int | None = None,
        topics: Sequence[str] = (),
        *,
        inclusive_of_start: bool = True,
    ) -> Sequence[Notification]: ...

    def position_of(self, originator_id: UUID, version: int) -> int | None:
        """The notification id of one stored event, or None if it is not stored."""
        ...

    def read_rows(self, after: int, limit: int) -> Sequence[LogRow]:
        """Up to ``limit`` notifications after position ``after``, as lean rows."""
        ...

    def read_folded(
        self, after: int, stop: int, aggregates: Sequence[str]
    ) -> tuple[int, list[PageRow]]:
        """The log's head, and in one snapshot with it the rows at positions
        ``(after, min(stop, head)]`` whose topic names an event of one of ``aggregates``
        (``"Project"`` matches every ``module:Project.*`` topic)."""
        ...

    def log_file(self) -> LogFile | None:
        """How another process reads this log, or None if it cannot (memory, server)."""
        ...

    def bulk_import(self) -> AbstractContextManager[BulkImport]:
        """One all-or-nothing transaction for an import (committed on a clean exit)."""
        ...

    def overwrite_stored_event(
        self, originator_id: UUID, version: int, *, topic: str | None = None,
        state: bytes | None = None,
    ) -> None:  # fmt: skip
        """Change one stored event in place, as someone with access to the database could.

        The ledger never does: tests use it to show that the hash chain finds such an edit.
        """
        ...

    def delete_stored_event(self, originator_id: UUID, version: int) -> None:
        """Remove one stored event (as :meth:`overwrite_stored_event`, for tests)."""
        ...


#: A leaf of the verifiable log's tree as stored: its leaf index and its event's position.
TreeLeaf = tuple[int, int]
#: A tile of the tree as stored (``merkle.StoredTile``): tile level, tile index, its hashes.
TreeTile = tuple[int, int, bytes]


@runtime_checkable
class LogTree(Protocol):
    """The stored Merkle tree of the verifiable log (``capledger.application.tlog``).

    Its hashes are stored as tiles (C2SP ``tlog-tiles``, :mod:`~capledger.application.tlog.merkle`):
    one row per tile, a full tile written once, the partial one of each level rewritten wider as
    leaves arrive. Leaf indexes map to event positions by *runs*: one row where a run of
    consecutive positions starts (the first leaf, and each leaf after a gap in the positions),
    so a leaf's position is its run's first position plus its offset in the run. Written only by
    the sequencer: a batch's tiles, runs and new head in one transaction.
    """

    def create_log_tree(self) -> None:
        """Create the tree's tables if they do not exist."""
        ...

    def log_tree_head(self) -> TreeLeaf | None:
        """The last leaf (its index and its event's position), or None for an empty tree."""
        ...

    def append_to_log_tree(
        self, size: int, head: TreeLeaf, runs: Sequence[TreeLeaf], tiles: Sequence[TreeTile]
    ) -> None:
        """Grow the tree of ``size`` leaves to ``head`` (its new last leaf) in one transaction:
        the tiles stored (a partial one replacing the narrower one of its place), the leaves
        that start a run recorded. All of it, or (``IntegrityError`` when the tree no longer
        has ``size`` leaves, or a run's leaf is already stored) none."""
        ...

    def read_tiles(self, ids: Collection[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        """The stored hashes of each of these tiles ``(level, index)`` (absent ones left out)."""
        ...

    def subtree_hashes(self, ids: Collection[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        """The hash of each of these complete nodes ``(level, index)``, from the stored tiles
        (``merkle.TileHashReader``; nodes the tiles do not cover are left out)."""
        ...

    def leaf_index_of(self, position: int) -> int | None:
        """The leaf of the event at this position, or None if it has none yet."""
        ...

    def leaf_positions(self, start: int, stop: int) -> list[int]:
        """The positions of the events of leaves ``start`` to ``stop - 1`` that are stored."""
        ...


def leaf_in_run(position: int, run: TreeLeaf | None, run_end: int) -> int | None:
    """The leaf at ``position`` if the run of the largest first position not above it (ending
    before leaf ``run_end``: the next run's first leaf, or the tree's size) reaches it."""
    if run is None:
        return None
    leaf = run[0] + position - run[1]
    return leaf if leaf < run_end else None


def positions_in_runs(runs: Sequence[TreeLeaf], start: int, stop: int) -> list[int]:
    """The positions of leaves ``[start, stop)`` from the runs that cover them, in order (the
    first starting at or before ``start``); ``stop`` at most the tree's size."""
    positions: list[int] = []
    for at, (first_leaf, first_position) in enumerate(runs):
        end = runs[at + 1][0] if at + 1 < len(runs) else stop
        low, high = max(start, first_leaf), min(stop, end)
        positions.extend(
            range(first_position + low - first_leaf, first_position + high - first_leaf)
        )
    return positions


#: A checkpoint as stored: its tree size, root hash, and the signed note as the log signed it.
StoredCheckpoint = tuple[int, bytes, str]


@runtime_checkable
class CheckpointStore(Protocol):
    """The verifiable log's issued checkpoints and the witnesses' cosignatures of them.

    One checkpoint per tree size: storing a second one of a size already stored is refused
    (``IntegrityError``), so the store never holds two roots for one size (a fork).
    """

    def create_checkpoint_tables(self) -> None:
        """Create the checkpoints' and cosignatures' tables if they do not exist."""
        ...

    def store_checkpoint(self, size: int, root: bytes, note: str) -> None:
        """Keep a signed checkpoint (``IntegrityError`` if one of this size is stored)."""
        ...

    def latest_checkpoint(self) -> StoredCheckpoint | None:
        """The checkpoint of the largest tree, or None before the first one."""
        ...

    def checkpoint_of_size(self, size: int) -> StoredCheckpoint | None: ...

    def store_cosignature(self, size: int, witness: str, line: str) -> None:
        """Keep a witness's signature line of the checkpoint of ``size`` (its earlier line
        for that checkpoint, if any, replaced). ``witness`` is ``<name>+<key ID hex>``."""
        ...

    def cosignatures(self, size: int) -> list[str]:
        """The signature lines of the checkpoint of ``size``, by witness."""
        ...


def checkpoint_store(recorder: object) -> CheckpointStore:
    """The recorder as the verifiable log's :class:`CheckpointStore`; TypeError otherwise."""
    if not isinstance(recorder, CheckpointStore):
        raise TypeError(f"{type(recorder).__name__} keeps no checkpoints: use a capledger recorder")
    return recorder


def log_tree(recorder: object) -> LogTree:
    """The recorder as the verifiable log's :class:`LogTree`; TypeError for a library recorder."""
    if not isinstance(recorder, LogTree):
        raise TypeError(f"{type(recorder).__name__} keeps no log tree: use a capledger recorder")
    return recorder


def event_log(recorder: object) -> EventLog:
    """The recorder as the ledger's :class:`EventLog`; TypeError for a library recorder."""
    if not isinstance(recorder, EventLog):
        raise TypeError(
            f"{type(recorder).__name__} is not a capledger recorder: set PERSISTENCE_MODULE to "
            f"{SQLITE_MODULE}, {POSTGRES_MODULE} or {MEMORY_MODULE}"
        )
    return recorder


_HEX_UUID = re.compile(r"[0-9a-f]{32}")


@lru_cache(maxsize=65_536)  # a stream's events recur: its id is formatted once
def uuid_text(stored: str) -> str:
    """``str(UUID)`` of a stream id stored as its 32 hex digits (or any UUID spelling)."""
    if _HEX_UUID.fullmatch(stored):
        return f"{stored[:8]}-{stored[8:12]}-{stored[12:16]}-{stored[16:20]}-{stored[20:]}"
    return str(UUID(stored))
