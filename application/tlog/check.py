"""Check a whole stored log against a checkpoint that someone outside the operator kept.

Everything is recomputed from the stored events, nothing is taken from the stored tree: every
event's hash and link (the hash chain, :class:`~capledger.application.chain.ChainVerifier`),
every log entry and leaf, and the tree's root at the checkpoint's size, which must be the
checkpoint's; then the log must hold at least that many entries. So an edited event breaks its
chain; a stream rewritten with fresh hashes, an event inserted into a stream's history or an
event deleted from the middle leaves the chains whole but changes the root; the last events
deleted leave fewer entries than the checkpoint counts.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..chain import ChainVerifier
from ..storage import EventLog
from .checkpoint import Checkpoint
from .entry import EntryError, LogEntry
from .merkle import EMPTY_ROOT, Frontier, leaf_hash

PAGE = 5_000
_OTHER_ROOT = "the log's first {} entries are not the checkpoint's: their tree has another root"


@dataclass(frozen=True)
class LogCheck:
    """What a check found: the log's size and root now, and the first problem, if any."""

    size: int
    root: bytes
    problem: str | None = None
    position: int | None = None  # of the event where the problem shows, if one does

    @property
    def ok(self) -> bool:
        return self.problem is None


def check_log(log: EventLog, checkpoint: Checkpoint | None = None, *, page: int = PAGE) -> LogCheck:
    """Walk the log in order, recompute everything, and compare with ``checkpoint``."""

    chain = ChainVerifier.new()
    frontier = Frontier()
    after = 0
    while rows := log.read_rows(after, page):
        for row in rows:
            broken = chain.check(
                row.id, row.originator_id, row.originator_version, row.topic, row.state
            )
            if broken is not None:
                problem = f"stream {broken.stream} version {broken.version}: {broken.reason}"
                return LogCheck(frontier.size, frontier.root(), problem, broken.position)
            try:
                entry = LogEntry.of_stored(
                    row.id, row.originator_id, row.originator_version, row.state
                )
            except EntryError as error:
                return LogCheck(frontier.size, frontier.root(), str(error), row.id)
            frontier.append(leaf_hash(entry.encode()))
            if (
                checkpoint is not None
                and frontier.size == checkpoint.size
                and frontier.root() != checkpoint.root
            ):
                return LogCheck(
                    frontier.size, frontier.root(), _OTHER_ROOT.format(checkpoint.size), row.id
                )
        after = rows[-1].id
    if checkpoint is not None and checkpoint.size == 0 and checkpoint.root != EMPTY_ROOT:
        return LogCheck(frontier.size, frontier.root(), _OTHER_ROOT.format(0))
    if checkpoint is not None and frontier.size < checkpoint.size:
        missing = checkpoint.size - frontier.size
        problem = f"{missing} of the checkpoint's {checkpoint.size} entries are missing at the end"
        return LogCheck(frontier.size, frontier.root(), problem)
    return LogCheck(frontier.size, frontier.root())
