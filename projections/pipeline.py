"""Writing folded batches in a thread of their own, while the next batch is folded.

Catching up a long log (a rebuild) alternates two kinds of work: folding a batch in Python, and
writing its rows in the database. The database's part runs with the GIL released (SQLite's
``sqlite3_step``, PostgreSQL's network round trip), so a second thread can write batch *n* while
the caller folds batch *n + 1*. Each batch is still its own transaction that checks the tracking
position it continues from, writes the rows and moves the position, exactly as a synchronous
step does; only the rows travel between the threads (rows are immutable).

At most one batch waits while another is written, so memory stays bounded by two batches.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from .rows import Row
from .store import NOTIFICATION_LOG, ReadModelStore

R = TypeVar("R", bound=Row)


class Diverged(RuntimeError):
    """The namespace moved under the pipeline (another runner, or a switch): its batches were
    folded on a stale view and must be redone synchronously."""


@dataclass(frozen=True)
class Batch:
    start: int  # the position the batch continues from
    end: int  # the position after it
    notifications: int
    tables: Mapping[type[Row], Sequence[Row]]


class NoLoads:
    """The row source of a pipelined fold: its overlay is complete, so nothing is loaded (a
    load would read the store before the batches in flight are committed)."""

    def load(self, kind: type[R], key: tuple[Any, ...]) -> R | None:
        raise RuntimeError(f"a pipelined fold cannot load rows ({kind.__name__} {key})")


class BatchWriter:
    """A thread that commits batches in the order submitted, each in one transaction."""

    def __init__(
        self,
        store: ReadModelStore,
        namespace: str,
        on_commit: Callable[[Batch], None],
    ) -> None:
        self.store = store
        self.namespace = namespace
        self._on_commit = on_commit
        self._queue: queue.Queue[Batch | None] = queue.Queue(maxsize=1)
        self._error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._run, name="capledger-projections-writer", daemon=True
        )
        self._thread.start()

    def submit(self, batch: Batch) -> None:
        """Queue a batch (waiting while another one is queued); raises the writer's error."""
        self._raise_if_failed()
        self._queue.put(batch)

    def close(self) -> None:
        """Wait until every queued batch is committed; raises the writer's error if any."""
        self._queue.put(None)
        self._thread.join()
        self._raise_if_failed()

    @property
    def failed(self) -> bool:
        return self._error is not None

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        while (batch := self._queue.get()) is not None:
            if self._error is not None:
                continue  # drain: batches after a failure were folded on top of it
            try:
                self._write(batch)
            except BaseException as error:  # handed to the submitting thread
                self._error = error

    def _write(self, batch: Batch) -> None:
        with self.store.writer(self.namespace) as writer:
            position = writer.claim_position(NOTIFICATION_LOG)
            if position != batch.start:
                raise Diverged(
                    f"namespace {self.namespace} is at position {position}, not {batch.start}"
                )
            writer.put_tables(batch.tables)
            writer.set_position(batch.end, NOTIFICATION_LOG)
        self._on_commit(batch)
