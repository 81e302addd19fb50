"""The log process: the sequencer run continuously, and signed checkpoints issued on a schedule.

:class:`CheckpointIssuer` appends every recorded event to the tree (:mod:`.sequencer`) and
issues a checkpoint of the tree, signed with the log's key, when enough entries are new or
enough time has passed (``CAPLEDGER_TLOG_CHECKPOINT_ENTRIES`` / ``_INTERVAL_S``). Each checkpoint
is stored (one per tree size: :class:`~capledger.application.storage.CheckpointStore`), then
handed to ``publish`` (the Kafka topic, when configured).

Crash-safe: the tree resumes from the store, and the root at a size never changes, so a
checkpoint issued after a restart at a size already stored would be the same one; the store
refuses a second checkpoint of one size anyway, and the issuer refuses to sign a root that
differs from a stored checkpoint's (which only a rewritten store can cause). The last stored
checkpoint is published again when the process starts (a crash may have come between storing
and publishing): subscribers may see a checkpoint twice, never two of one size.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import structlog

from ..storage import CheckpointStore, EventLog, LogTree
from .checkpoint import Checkpoint
from .merkle import root
from .note import ED25519, NoteError, NoteSigner
from .sequencer import BATCH, Sequencer

log = structlog.get_logger(__name__)

#: Receives each issued checkpoint and its signed note (e.g. a Kafka producer).
Publish = Callable[[Checkpoint, str], None]


class LogKeyError(ValueError):
    """No signing key, or one that cannot be read or is not a log's key."""


class ForkRefused(RuntimeError):
    """The tree's root at a size differs from the checkpoint already issued at that size."""


def load_signer(key_file: Path | None, key: str | None) -> NoteSigner:
    """The log's signer key, from the secret if given, else from the file."""
    if key is None:
        if key_file is None:
            raise LogKeyError(
                "no log key: set CAPLEDGER_TLOG_KEY_FILE (made by `capledger log keygen`) "
                "or CAPLEDGER_TLOG_KEY"
            )
        try:
            key = key_file.read_text(encoding="utf-8")
        except OSError as error:
            raise LogKeyError(f"cannot read the log key {key_file}: {error}") from error
    try:
        signer = NoteSigner.from_signer_key(key)
    except NoteError as error:
        raise LogKeyError(f"the log key is not a signer key: {error}") from error
    if signer.kind != ED25519:
        raise LogKeyError("the log key is a witness's key (cosignature/v1), not a log's")
    return signer


def signed_with_cosignatures(note: str, cosignatures: list[str]) -> str:
    """A stored checkpoint's note with the witnesses' lines after the log's signature."""
    return note + "".join(line if line.endswith("\n") else line + "\n" for line in cosignatures)


@dataclass(frozen=True)
class Issued:
    checkpoint: Checkpoint
    note: str


class CheckpointIssuer:
    """Follows the log into the tree and issues signed checkpoints of it."""

    def __init__(
        self,
        log_: EventLog,
        tree: LogTree,
        checkpoints: CheckpointStore,
        signer: NoteSigner,
        *,
        every_entries: int,
        every_s: float,
        publish: Publish | None = None,
        clock: Callable[[], float] = time.monotonic,
        batch: int = BATCH,
    ) -> None:
        self.sequencer = Sequencer(log_, tree, batch=batch)
        self.tree = tree
        self.checkpoints = checkpoints
        self.signer = signer
        self.every_entries = every_entries
        self.every_s = every_s
        self.publish = publish
        self.clock = clock
        checkpoints.create_checkpoint_tables()
        latest = checkpoints.latest_checkpoint()
        self.issued_size = -1 if latest is None else latest[0]
        self.issued_at = clock()
        if latest is not None and publish is not None:
            stored = Checkpoint.parse(latest[2][: latest[2].rfind("\n\n") + 1])
            publish(stored, latest[2])

    def due(self) -> bool:
        new = self.sequencer.size - self.issued_size
        if self.issued_size < 0:
            return True  # the first checkpoint, even of an empty tree
        if new <= 0:
            return False
        return new >= self.every_entries or self.clock() - self.issued_at >= self.every_s

    def issue(self) -> Issued | None:
        """Sign and store a checkpoint of the tree as it is; None if it has one already."""
        size = self.sequencer.size
        digest = root(self.tree, size)
        stored = self.checkpoints.checkpoint_of_size(size)
        if stored is not None:
            if stored[1] != digest:
                raise ForkRefused(
                    f"the tree of {size} entries has another root than the checkpoint issued "
                    "at that size: the store was rewritten; no checkpoint signed"
                )
            self.issued_size = max(self.issued_size, size)
            return None
        checkpoint = Checkpoint(self.signer.name, size, digest)
        note = checkpoint.sign(self.signer)
        self.checkpoints.store_checkpoint(size, digest, note)
        self.issued_size, self.issued_at = size, self.clock()
        log.info("checkpoint_issued", tree_size=size, root=digest.hex())
        if self.publish is not None:
            self.publish(checkpoint, note)
        return Issued(checkpoint, note)

    def step(self) -> tuple[int, Issued | None]:
        """Append what was recorded (in batches), then issue a checkpoint if one is due."""
        appended = 0
        while count := self.sequencer.step():
            appended += count
            if self.due():
                break
        issued = self.issue() if self.due() else None
        return appended, issued

    def run(self, stop: threading.Event, poll_s: float) -> None:
        """Until ``stop`` is set: follow the log, issue checkpoints, log progress."""
        log.info("log_started", origin=self.signer.name, tree_size=self.sequencer.size,
                 checkpoint_size=self.issued_size)  # fmt: skip
        while not stop.is_set():
            appended, issued = self.step()
            if appended:
                log.info("log_progress", appended=appended, tree_size=self.sequencer.size,
                         checkpoint_size=self.issued_size)  # fmt: skip
            if not appended and issued is None:
                stop.wait(poll_s)
        log.info("log_stopped", tree_size=self.sequencer.size, checkpoint_size=self.issued_size)
