"""Check a whole log, stored or exported, against a checkpoint that someone outside the
operator kept.

Everything is recomputed from the events, nothing is taken from a stored tree: every event's
hash and link (the hash chain, :class:`~capledger.application.chain.ChainVerifier`), every log
entry and leaf, and the tree's root at the checkpoint's size, which must be the checkpoint's;
then the log must hold at least that many entries. So an edited event breaks its chain; a
stream rewritten with fresh hashes, an event inserted into a stream's history, an event deleted
from the middle or events reordered leave the chains whole but change the root; the last
events deleted leave fewer entries than the checkpoint counts. Entries after the checkpoint's
size are checked as events (their chains) but no checkpoint covers them.

The same walk serves a stored log (:func:`check_log`) and an export file (:func:`check_rows`
over its lines, in file order); :class:`CheckpointTree` is the tree part alone, which an import
feeds from the lines it already checks.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from ..chain import ChainVerifier
from ..storage import EventLog, LogRow
from .checkpoint import Checkpoint, CheckpointError, open_checkpoint
from .entry import EntryError, LogEntry
from .merkle import EMPTY_ROOT, Frontier, leaf_hash
from .note import NoteError, NoteVerifier, open_note

PAGE = 5_000
_OTHER_ROOT = "the first {} entries are not the checkpoint's: their tree has another root"


class NotWitnessed(CheckpointError):
    """A kept checkpoint that a witness the inspector requires did not cosign."""


@dataclass(frozen=True)
class LogCheck:
    """What a check found: the log's size and root now, and the first problem, if any."""

    size: int
    root: bytes
    problem: str | None = None
    position: int | None = None  # of the event where the problem shows, if one does
    #: Entries after the checkpoint's size (checked as events; no checkpoint covers them).
    beyond: int = 0

    @property
    def ok(self) -> bool:
        return self.problem is None


class CheckpointTree:
    """The tree of log entries given in log order, compared with a checkpoint at its size.

    Memory is the frontier: ``O(log n)`` hashes, whatever the number of entries.
    """

    def __init__(self, checkpoint: Checkpoint | None) -> None:
        self.checkpoint = checkpoint
        self.frontier = Frontier()

    @property
    def size(self) -> int:
        return self.frontier.size

    @property
    def beyond(self) -> int:
        """How many entries came after the checkpoint's size (none is covered by it)."""
        covered = self.frontier.size if self.checkpoint is None else self.checkpoint.size
        return max(0, self.frontier.size - covered)

    def add(self, entry: LogEntry) -> str | None:
        """Append the entry's leaf; the problem, if its tree's root at the checkpoint's size
        is another one. :class:`EntryError` if the event cannot be an entry."""
        self.frontier.append(leaf_hash(entry.encode()))
        checkpoint = self.checkpoint
        if (
            checkpoint is not None
            and self.frontier.size == checkpoint.size
            and self.frontier.root() != checkpoint.root
        ):
            return _OTHER_ROOT.format(checkpoint.size)
        return None

    def end(self) -> str | None:
        """Every entry is in: the problem, if the log is shorter than the checkpoint (or the
        checkpoint of an empty log has another root)."""
        checkpoint = self.checkpoint
        if checkpoint is None:
            return None
        if checkpoint.size == 0 and checkpoint.root != EMPTY_ROOT:
            return _OTHER_ROOT.format(0)
        if self.frontier.size < checkpoint.size:
            missing = checkpoint.size - self.frontier.size
            return f"{missing} of the checkpoint's {checkpoint.size} entries are missing at the end"
        return None


def check_rows(rows: Iterable[LogRow], checkpoint: Checkpoint | None = None) -> LogCheck:
    """Walk the events in log order, recompute everything, and compare with ``checkpoint``."""

    chain = ChainVerifier.new()
    tree = CheckpointTree(checkpoint)
    frontier = tree.frontier
    for row in rows:
        broken = chain.check(
            row.id, row.originator_id, row.originator_version, row.topic, row.state
        )
        if broken is not None:
            problem = f"stream {broken.stream} version {broken.version}: {broken.reason}"
            return LogCheck(frontier.size, frontier.root(), problem, broken.position)
        try:
            entry = LogEntry.of_stored(row.id, row.originator_id, row.originator_version, row.state)
            other = tree.add(entry)
        except EntryError as error:
            return LogCheck(frontier.size, frontier.root(), str(error), row.id)
        if other is not None:
            return LogCheck(frontier.size, frontier.root(), other, row.id)
    missing = tree.end()
    return LogCheck(frontier.size, frontier.root(), missing, beyond=tree.beyond)


def check_log(log: EventLog, checkpoint: Checkpoint | None = None, *, page: int = PAGE) -> LogCheck:
    """Walk the stored log in order, recompute everything, and compare with ``checkpoint``."""
    return check_rows(_stored_rows(log, page), checkpoint)


def _stored_rows(log: EventLog, page: int) -> Iterator[LogRow]:
    after = 0
    while rows := log.read_rows(after, page):
        yield from rows
        after = rows[-1].id


def open_witnessed(
    note: str | bytes, log_key: NoteVerifier, witnesses: Sequence[NoteVerifier] = ()
) -> Checkpoint:
    """The checkpoint of a kept note once the log's signature verified and each of
    ``witnesses`` cosigned it (:class:`CheckpointError` otherwise)."""
    checkpoint = open_checkpoint(note, log_key, witnesses)
    try:
        signed = {(s.name, s.key_id) for s in open_note(note, [log_key, *witnesses]).signatures}
    except NoteError as error:  # open_checkpoint has read it already: not expected
        raise CheckpointError(f"checkpoint refused: {error}") from error
    for witness in witnesses:
        if (witness.name, witness.key_id) not in signed:
            raise NotWitnessed(f"no cosignature by the witness {witness.name}")
    return checkpoint
