"""Reading and decoding the log in a second process, while this one folds and writes.

A rebuild of a large SQLite log spends about a third of its time reading the log and decoding
states (JSON, the transcoder's wrappers), work that needs nothing the fold holds. Here a child
process does it: it reads the log in chunks of positions with the same SQL query as
``log.SqliteLogReader``, decodes each folded event into the fields of its ``PublishedEvent``
(``published_fields``) and sends the chunk through a pipe, ``marshal``-ed (loading that
is a fraction of the cost of parsing and unwrapping the JSON). The parent rebuilds the events
(``ProcessLogReader.read``) and folds them as it would its own.

- **Same events, same errors.** The events are equal to ``SqliteLogReader``'s, field for field;
  unknown events are decoded and handed over like the others, so the reducers stop the rebuild
  on them as before. A state the child cannot decode is sent as its exception, raised by the
  parent when it reaches that chunk.
- **Bounded memory.** The child keeps at most ``ahead`` chunks encoded and waiting; the pipe
  blocks it when the parent falls behind.
- **Always cleaned up.** ``close()`` (the rebuild calls it in ``finally``, also on
  ``KeyboardInterrupt``) terminates and reaps the child; the child ignores SIGINT (the parent
  decides) and dies with a broken pipe if the parent dies. A child that dies is an error in the
  parent, not a hang.
- **Where it applies** (``usable``): an eventsourcing SQLite recorder on a file (a child cannot
  open an in-memory database), at least two CPUs. The child is forked when this process runs
  no other thread (fork is then safe and starts in milliseconds), else spawned (a fresh
  interpreter: half a second of imports, so ``rebuild`` spawns only when told to,
  ``parallel=True``). ``rebuild`` also asks for an idle core (``idle_core``).
- When the child has caught up with the log's head, or the runner asks for positions out of
  step (a retried batch), reading goes on in this process with ``SqliteLogReader``.
"""

from __future__ import annotations

import gc
import marshal
import multiprocessing
import os
import pickle
import queue
import signal
import sqlite3
import threading
from typing import Any

import structlog

from capledger.application.published import PublishedEvent, published_fields

from .batch import folded_name
from .log import NotificationLog, SqliteLogReader, _stream_uuid

log = structlog.get_logger(__name__)

#: Positions per chunk (a message of about 0.7 MB for the ledger's events).
CHUNK = 2_500
#: Chunks the child may hold encoded, waiting for the pipe.
AHEAD = 8
#: Seconds the parent waits for a chunk before checking that the child lives.
POLL_S = 1.0

_PAGE, _PICKLED, _END, _ERROR = 0, 1, 2, 3


def usable(notification_log: NotificationLog) -> bool:
    """Whether ``ProcessLogReader`` can read this log (a file-based SQLite recorder, 2+ CPUs)."""
    from eventsourcing.sqlite import SQLiteApplicationRecorder

    if not isinstance(notification_log, SQLiteApplicationRecorder):
        return False
    pool = getattr(notification_log.datastore, "pool", None)
    if pool is None or getattr(pool, "is_sqlite_memory_mode", True):
        return False
    return cpus() >= 2


def idle_core() -> bool:
    """Whether a core looks free for a child: the 1-minute load average (this process
    included) is below the CPUs less one half. On a busy machine the children would only take
    turns with this process, and the hand-over costs CPU time: a parallel rebuild was then
    slower than one in process (2.37 s against 1.86 s on 100k notifications, load 2.2 on 2
    CPUs)."""
    try:
        load = os.getloadavg()[0]
    except OSError:  # not available: assume the machine is ours
        return True
    return load < cpus() - 0.5


def forks_safely() -> bool:
    """Whether a child may be forked from this process now (no other thread runs in it)."""
    return "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1


def cpus() -> int:
    """The CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class ProcessLogReader:
    """A ``LogReader`` of a SQLite recorder's log whose reading and decoding run in a child
    process, from position ``start`` on; ``close()`` it (it is a context manager)."""

    def __init__(
        self,
        recorder: Any,
        *,
        start: int = 0,
        chunk: int | None = None,
        ahead: int | None = None,
        start_method: str | None = None,
    ) -> None:
        if not usable(recorder):
            raise ValueError("only a file-based SQLite recorder can be read by a child process")
        chunk = CHUNK if chunk is None else chunk
        ahead = AHEAD if ahead is None else ahead
        if chunk < 1 or ahead < 1:
            raise ValueError("chunk and ahead must be at least 1")
        self._fallback = SqliteLogReader(recorder)
        method = start_method or ("fork" if forks_safely() else "spawn")
        context: Any = multiprocessing.get_context(method)
        receiving, sending = context.Pipe(duplex=False)
        query = (self._fallback._head, self._fallback._rows, self._fallback._patterns)
        db_name = recorder.datastore.pool.db_name
        self._process: Any = context.Process(
            target=_serve,
            args=(db_name, query, start, chunk, ahead, sending, receiving),
            name="capledger-log-reader",
            daemon=True,
        )
        self._connection = receiving
        try:
            self._process.start()
        except BaseException:
            receiving.close()
            raise
        finally:
            sending.close()  # the child's end: the parent keeps only its own
        self._position = start
        self._events: list[PublishedEvent] = []
        self._index = 0
        self._stop = start
        log.debug("log_reader_process_started", pid=self._process.pid, method=method)

    @property
    def active(self) -> bool:
        """Whether the child still reads (False once caught up, closed or out of step)."""
        return self._process is not None

    def read(self, after: int, limit: int) -> tuple[list[PublishedEvent], int]:
        if self._process is None or after != self._position:
            self.close()  # caught up, or out of step: this process reads from here on
            return self._fallback.read(after, limit)
        if self._index >= len(self._events) and self._stop <= after:
            self._receive()
            if self._process is None:
                return self._fallback.read(after, limit)
        bound = after + limit
        events, index = self._events, self._index
        if self._stop <= bound:
            taken = events[index:] if index else events
            stop = self._stop
            self._events, self._index = [], 0
        else:
            end = index
            count = len(events)
            while end < count and events[end].position <= bound:
                end += 1
            taken, stop = events[index:end], bound
            self._index = end
        self._position = stop
        return taken, stop

    def _receive(self) -> None:
        """The next chunk into the buffer; on the end of the log, the child is reaped."""
        connection = self._connection
        while not connection.poll(POLL_S):
            if not self._process.is_alive():
                code = self._process.exitcode
                self.close()
                raise RuntimeError(f"the log reader process died (exit code {code})")
        try:
            message = connection.recv_bytes()
        except EOFError:
            self.close()
            raise RuntimeError("the log reader process closed its pipe unexpectedly") from None
        kind, stop, payload = marshal.loads(message)
        if kind == _END:
            self.close()
            return
        if kind == _ERROR:
            self.close()
            raise _error(payload)
        items = pickle.loads(payload) if kind == _PICKLED else payload
        self._events = _events(items)
        self._index = 0
        self._stop = stop

    def close(self) -> None:
        """Stop and reap the child (idempotent)."""
        process, self._process = self._process, None
        if process is None:
            return
        self._connection.close()
        process.join(0.5)
        if process.is_alive():
            process.terminate()
            process.join(5.0)
        if process.is_alive():  # pragma: no cover - SIGTERM is not ignored by the child
            process.kill()
            process.join()
        process.close()

    def __enter__(self) -> ProcessLogReader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:
        if getattr(self, "_process", None) is not None:
            self.close()


def _events(items: list[dict[str, Any]]) -> list[PublishedEvent]:
    """The child's field dictionaries as events (stream ids come as text)."""
    uuid = _stream_uuid
    events: list[PublishedEvent] = []
    append = events.append
    for values in items:
        values["stream"] = uuid(values["stream"])
        append(PublishedEvent(**values))
    return events


def _error(payload: bytes) -> BaseException:
    try:
        error = pickle.loads(payload)
    except Exception as unpickling:  # an exception type that cannot be rebuilt here
        return RuntimeError(f"the log reader process failed: {payload!r} ({unpickling})")
    if isinstance(error, BaseException):
        return error
    return RuntimeError(f"the log reader process failed: {error}")


# -- the child ---------------------------------------------------------------------------------


def _serve(
    db_name: str,
    query: tuple[str, str, list[str]],
    start: int,
    chunk: int,
    ahead: int,
    connection: Any,
    parents: Any,
) -> None:
    """Read, decode and send chunks from ``start`` until the log's head, then an end mark."""
    parents.close()  # a forked child's copy: the parent's death must break the pipe
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # an interrupt is the parent's to handle
    gc.disable()  # nothing read here forms cycles; the process is short-lived
    outbox: queue.Queue[bytes | None] = queue.Queue(maxsize=ahead)
    broken = threading.Event()

    def send() -> None:
        while (message := outbox.get()) is not None:
            try:
                connection.send_bytes(message)
            except OSError:  # the parent is gone or closed its end
                broken.set()
                return

    sender = threading.Thread(target=send, name="capledger-log-sender", daemon=True)
    sender.start()

    def put(message: bytes | None) -> None:
        while not broken.is_set():
            try:
                outbox.put(message, timeout=POLL_S)
                return
            except queue.Full:
                continue

    try:
        head_sql, rows_sql, patterns = query
        database = sqlite3.connect(db_name, uri=True, isolation_level=None, timeout=60.0)
        position = start
        while not broken.is_set():
            database.execute("BEGIN")
            try:
                head = int(database.execute(head_sql).fetchone()[0] or 0)
                stop = min(position + chunk, head)
                rows = database.execute(rows_sql, (position, stop, *patterns)).fetchall()
            finally:
                database.execute("COMMIT")
            if stop <= position:
                put(marshal.dumps((_END, position, None)))
                break
            items: list[dict[str, Any]] = []
            append = items.append
            for rowid, stream, version, topic, state in rows:
                name = folded_name(topic)
                if name is not None:
                    if type(state) is not bytes:
                        state = bytes(state)
                    append(published_fields(rowid, str(stream), version, topic, state))
            try:
                put(marshal.dumps((_PAGE, stop, items)))
            except ValueError:  # a value marshal cannot write (none the decoder makes)
                put(marshal.dumps((_PICKLED, stop, pickle.dumps(items, 5))))
            position = stop
        database.close()
    except BaseException as error:  # handed to the parent, raised there
        try:
            payload = pickle.dumps(error, 5)
        except Exception:
            payload = pickle.dumps(RuntimeError(f"{type(error).__name__}: {error}"), 5)
        put(marshal.dumps((_ERROR, 0, payload)))
    finally:
        put(None)  # the sender's end
        if not broken.is_set():
            sender.join()
        connection.close()
