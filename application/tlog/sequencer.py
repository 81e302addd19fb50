"""The sequencer: appends every recorded event to the verifiable log's Merkle tree, in order.

It follows the notification log after the fact (the command path does no extra work) and gives
each event the next dense leaf index, whatever gaps the positions have (a rolled-back insert
on PostgreSQL leaves one). Each batch's tiles (the full ones it filled, and the partial one of
each level, wider), the leaves where a run of consecutive positions starts, and the new head are
stored in one transaction, and the tree's last leaf *is* the sequencer's position: a crash
loses at most the batch in flight, and a restart resumes exactly where the store says, from
the ``O(log n)`` frontier hashes and the partial tiles it reads back.

Inserts commit in position order on both stores (SQLite has one writer; the PostgreSQL
recorder locks the events table for each insert), so an event is never read after a later one:
the log's visible prefix only grows. One sequencer runs per store; a second one conflicts on
the tree's size it read (``IntegrityError``), rolls back, and resumes from the store.
"""

from __future__ import annotations

import hashlib
from contextlib import suppress
from uuid import UUID

from ..storage import EventLog, LogTree, TreeLeaf
from .entry import encode_entry, stored_hash
from .merkle import LEAF_PREFIX, Frontier, TileEdge

#: Events read and appended per transaction: a crash loses at most one batch's work, and each
#: batch rewrites the partial tile of every level once.
BATCH = 4_096
#: Streams whose id's bytes the sequencer keeps (a stream's events recur; parsing is a cost).
STREAM_IDS = 100_000


class Sequencer:
    """Integrates recorded events into the log's tree; :meth:`catch_up` until the log's head."""

    def __init__(self, log: EventLog, tree: LogTree, *, batch: int = BATCH) -> None:
        if batch < 1:
            raise ValueError("a batch holds at least one event")
        self.log = log
        self.tree = tree
        self.batch = batch
        self._stream_ids: dict[str, bytes] = {}
        tree.create_log_tree()
        self.resume()

    def resume(self) -> None:
        """Take the tree's size, position and frontier from the store (after a failure too)."""
        self._stale = True
        head = self.tree.log_tree_head()
        size, self.position = (0, 0) if head is None else (head[0] + 1, head[1])
        self.frontier = Frontier.load(self.tree, size)
        self.edge = TileEdge.load(self.tree, size)
        self._stale = False

    @property
    def size(self) -> int:
        """The number of leaves in the tree."""
        return self.frontier.size

    def root(self) -> bytes:
        """The tree's root hash at :attr:`size` (RFC 9162 ``MTH``)."""
        return self.frontier.root()

    def step(self) -> int:
        """Append the next batch of recorded events; the number appended (0: caught up)."""
        if self._stale:
            self.resume()
        rows = self.log.read_rows(self.position, self.batch)
        if not rows:
            return 0
        frontier, edge, size = self.frontier, self.edge, self.frontier.size
        runs: list[TreeLeaf] = []
        leaves: list[bytes] = []
        previous = self.position
        stream_ids = self._stream_ids
        if len(stream_ids) > STREAM_IDS:
            stream_ids.clear()
        sha256 = hashlib.sha256
        try:
            for row in rows:
                if row.id != previous + 1 or not size + len(leaves):
                    runs.append((size + len(leaves), row.id))
                previous = row.id
                stream = stream_ids.get(row.originator_id)
                if stream is None:
                    stream = stream_ids[row.originator_id] = UUID(row.originator_id).bytes
                entry = encode_entry(
                    row.id, stream, row.originator_version, stored_hash(row.id, row.state)
                )
                leaves.append(sha256(LEAF_PREFIX + entry).digest())
            edge.extend(frontier.extend(leaves))  # every node hashed once, kept as tiles
            self.tree.append_to_log_tree(size, (frontier.size - 1, previous), runs, edge.take())
        except BaseException:
            # The frontier and the edge took leaves the store may not have: the store is the
            # truth, read again before the next batch (now, or then if it cannot answer now).
            self._stale = True
            with suppress(Exception):
                self.resume()
            raise
        self.position = rows[-1].id
        return len(rows)

    def catch_up(self) -> int:
        """Append every recorded event not yet in the tree; the number appended."""
        appended = 0
        while count := self.step():
            appended += count
        return appended
