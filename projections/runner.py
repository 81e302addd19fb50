"""The embedded runner: follows the notification log into the read-model store.

Each batch is one write transaction: read the tracking position, select the notifications after
it, fold them with the reducers, upsert the rows and the new position, commit. A runner stopped
anywhere (or a second runner on the same store) resumes after the last committed position, so
nothing is counted twice. The recorder cannot push (SQLite has no ``subscribe()``), so it polls.

An event the reducers cannot fold stops the runner at that batch: a read model that skipped it
would give wrong numbers. The background thread logs the error and retries with backoff.

An event that fails verification (its hash link or its content: ``verification``) stops the
runner for good: nothing of its batch is folded, the breach is recorded in the read model
(``ReadModelStore.record_breach``) and logged (``ledger_verification_failed``), and every later
``step`` raises the same :class:`~.verification.UnverifiedEvent`. A rebuild that folds the
whole log without a breach clears the record when it switches (``switch_live``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import structlog

from .batch import flush, fold
from .context import Overlay
from .log import LogReader, NotificationLog, log_reader
from .store import NOTIFICATION_LOG, ReadModelStore, Writer
from .verification import ChainBreach, UnverifiedEvent, log_breach

log = structlog.get_logger(__name__)

#: ``progress(done, total)``: positions applied so far and to reach, since the call began.
Progress = Callable[[int, int], None]

MAX_BACKOFF_S = 30.0
#: Rows a runner's overlay caches at most (memory: about 1 KB each); beyond, it starts over.
MAX_CACHED_ROWS = 500_000


class EmbeddedRunner:
    def __init__(
        self,
        store: ReadModelStore,
        notification_log: NotificationLog,
        *,
        namespace: str | None = None,
        batch_size: int = 500,
        page_size: int = 1_000,
        poll_interval: float = 0.2,
        max_cached_rows: int = MAX_CACHED_ROWS,
        reader: LogReader | None = None,
    ) -> None:
        """``namespace=None`` follows the live namespace (and a switch to a new one).

        A batch (one transaction) applies up to ``batch_size`` notifications, read from the log
        in pages of ``page_size``; its rows are written once at its end, each changed row once.
        ``reader`` reads the log instead of the fastest in-process reader (``log_reader``): a
        rebuild passes a ``prefetch.ProcessLogReader``.
        """
        if batch_size < 1 or page_size < 1:
            raise ValueError("batch_size and page_size must be at least 1")
        self.store = store
        self.log = notification_log
        self._reader = reader if reader is not None else log_reader(notification_log)
        self.namespace = namespace
        self.batch_size = batch_size
        self.page_size = page_size
        self.poll_interval = poll_interval
        self.max_cached_rows = max_cached_rows
        self.notifications_applied = 0
        self.last_error: Exception | None = None
        #: The event this runner could not verify; it folds nothing more once set.
        self.breach: ChainBreach | None = None
        self._uncommitted = 0
        self._overlay: Overlay | None = None
        self._overlay_namespace: str | None = None
        self._applied = 0
        self._step_lock = threading.Lock()
        self._advanced = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def position(self) -> int:
        """The last position this runner saw committed."""
        return self._applied

    @property
    def live_namespace(self) -> str | None:
        """The namespace the runner's last batch wrote as the live one (None before its first
        batch). A switch by a rebuild elsewhere is followed at its next batch."""
        return self._overlay_namespace

    # -- batches -------------------------------------------------------------------------------

    def step(self, limit: int | None = None) -> int:
        """Apply one batch; the number of notifications applied (0 when caught up).
        :class:`UnverifiedEvent` once an event failed verification."""
        with self._step_lock:
            self._refuse_after_breach()
            namespace = self.namespace
            try:
                with self.store.writer(self.namespace) as writer:
                    namespace = writer.namespace
                    start = self._begin(writer)
                    position = self._apply(writer, start, limit or self.batch_size)
            except UnverifiedEvent as error:
                self._forget()
                raise self._stopped(error, namespace) from None
            except BaseException:
                self._forget()
                raise
            return self._committed(position)

    def switch_live(self) -> str | None:
        """Apply what is left and make this runner's namespace the live one, atomically;
        the previously live namespace."""
        if self.namespace is None:
            raise ValueError("only a runner on an explicit namespace can switch to it")
        with self._step_lock:
            self._refuse_after_breach()
            try:
                with self.store.writer(self.namespace, lock_pointer=True) as writer:
                    position = self._begin(writer)
                    while (after := self._apply(writer, position, self.batch_size)) > position:
                        position = after
                    # Every event of the log is verified in this namespace: no breach stands.
                    writer.clear_breach()
                    previous = writer.switch_pointer()
            except UnverifiedEvent as error:
                self._forget()
                raise self._stopped(error, self.namespace) from None
            except BaseException:
                self._forget()
                raise
            self._committed(position)
        log.info(
            "read_model_switched", namespace=self.namespace, previous=previous, position=position
        )
        return previous

    def _begin(self, writer: Writer) -> int:
        """The committed position; the cache is dropped if it mirrors anything else."""
        start = writer.claim_position(NOTIFICATION_LOG)
        stale = start != self._applied or writer.namespace != self._overlay_namespace
        if self._overlay is None or stale:
            self._overlay = Overlay(complete=start == 0, max_rows=self.max_cached_rows)
            self._overlay_namespace = writer.namespace
            self._applied = start
        return start

    def _apply(self, writer: Writer, start: int, limit: int) -> int:
        """Fold up to ``limit`` positions after ``start`` into the transaction, read in pages,
        and write the rows they changed once; the new position."""
        assert self._overlay is not None
        position = start
        while position - start < limit:
            events, after = self._reader.read(
                position, min(self.page_size, start + limit - position)
            )
            if after == position:
                break
            fold(self._overlay, writer, events)
            position = after
        if position == start:
            return start
        rows = flush(writer, self._overlay)
        writer.set_position(position, NOTIFICATION_LOG)
        self._uncommitted += position - start
        log.debug(
            "projection_batch",
            namespace=writer.namespace,
            start=start + 1,
            end=position,
            notifications=position - start,
            rows=rows,
        )
        return position

    def _refuse_after_breach(self) -> None:
        if self.breach is not None:
            raise UnverifiedEvent(self.breach)

    def _stopped(self, error: UnverifiedEvent, namespace: str | None) -> UnverifiedEvent:
        """Record and log the breach; the runner folds nothing more."""
        self.breach = self.store.record_breach(error.breach, namespace or "")
        log_breach(self.breach, runner="embedded", namespace=namespace)
        return UnverifiedEvent(self.breach)

    def _forget(self) -> None:
        self._overlay = None
        self._uncommitted = 0

    def _committed(self, position: int) -> int:
        count, self._uncommitted = self._uncommitted, 0
        self.notifications_applied += count
        with self._advanced:
            self._applied = position
            self._advanced.notify_all()
        return count

    # -- catching up and waiting ---------------------------------------------------------------

    def stored_position(self) -> int:
        """The position committed in this runner's namespace."""
        return self.store.position(NOTIFICATION_LOG, namespace=self.namespace)

    def catch_up(self, progress: Progress | None = None, *, until: int | None = None) -> int:
        """Apply batches until the log's head (or ``until``) is reached; the position."""
        start = self.stored_position()
        target = (self.log.max_notification_id() or 0) if until is None else until
        total = max(target - start, 0)
        if progress is not None:
            progress(0, total)
        while self._applied < target and self.step() > 0:
            if progress is not None:
                done = self._applied - start
                total = max(total, done)
                progress(min(done, total), total)
        log.info("projection_caught_up", position=self._applied, target=target)
        return self._applied

    def wait_for(self, position: int, timeout: float = 5.0) -> bool:
        """Block until ``position`` is applied (read-your-writes); False on timeout.

        With the background thread running this waits for it; otherwise it applies batches
        itself.
        """
        deadline = time.monotonic() + timeout
        if self.running:
            with self._advanced:
                return self._advanced.wait_for(
                    lambda: self._applied >= position, max(0.0, deadline - time.monotonic())
                )
        while self._applied < position:
            if self.step() == 0:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                time.sleep(min(self.poll_interval, remaining))
        return True

    # -- background thread ---------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> EmbeddedRunner:
        if not self.running:
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._run, name="capledger-projections", daemon=True
            )
            self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def __enter__(self) -> EmbeddedRunner:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _run(self) -> None:
        backoff = self.poll_interval
        while not self._stop.is_set():
            try:
                applied = self.step()
            except UnverifiedEvent as error:
                self.last_error = error  # logged as it was recorded; nothing more is folded
                return
            except Exception as error:
                self.last_error = error
                log.exception("projection_batch_failed", position=self._applied)
                self._stop.wait(backoff)
                backoff = min(max(backoff, 0.05) * 2, MAX_BACKOFF_S)
                continue
            self.last_error = None
            backoff = self.poll_interval
            if applied == 0:
                self._stop.wait(self.poll_interval)
