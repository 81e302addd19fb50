"""Reading and decoding the log in a second process, while this one folds and writes.

A rebuild of a large SQLite log spends about a third of its time reading the log and decoding
states (JSON, the transcoder's wrappers), work that needs nothing the fold holds. Here a child
process does it: it reads the log in chunks of positions with the storage adapter's reader of
the log file (``EventLog.log_file``: the pages ``EventLog.read_folded`` reads), decodes each
folded event into the fields of its ``PublishedEvent`` (``published_fields``) and sends the
chunk through a pipe, ``marshal``-ed (loading that is a fraction of the cost of parsing and
unwrapping the JSON). The parent rebuilds the events
(``ProcessLogReader.read``) and folds them as it would its own.

- **Same events, same errors.** The events are equal to ``log.EventLogReader``'s, field for field;
  unknown events are decoded and handed over like the others, so the reducers stop the rebuild
  on them as before. A state the child cannot decode is sent as its exception, raised by the
  parent when it reaches that chunk.
- **Bounded memory.** The child keeps at most ``ahead`` chunks encoded and waiting; the pipe
  blocks it when the parent falls behind.
- **Always cleaned up.** ``close()`` (the rebuild calls it in ``finally``, also on
  ``KeyboardInterrupt``) terminates and reaps the child; the child ignores SIGINT (the parent
  decides) and dies with a broken pipe if the parent dies. A child that dies is an error in the
  parent, not a hang.
- **Where it applies** (``usable``): a recorder whose log another process can read (an SQLite
  file: ``EventLog.log_file``), at least two CPUs. The child is forked when this process runs
  no other thread (fork is then safe and starts in milliseconds), else spawned (a fresh
  interpreter: half a second of imports, so ``rebuild`` spawns only when told to,
  ``parallel=True``). ``rebuild`` also asks for an idle core (``idle_core``).
- When the child has caught up with the log's head, or the runner asks for positions out of
  step (a retried batch), reading goes on in this process with ``EventLogReader``.
"""

from __future__ import annotations

import marshal
import multiprocessing
import os
import pickle
import queue
import signal
import threading
from collections.abc import Iterable
from typing import Any

import structlog

from capledger.application.published import PublishedEvent, published_fields
from capledger.application.storage import EventLog, LogFile

from .batch import folded_name
from .log import EventLogReader, NotificationLog, _stream_uuid, folded_aggregates
from .verification import check_content

log = structlog.get_logger(__name__)

#: Positions per chunk (a message of about 0.7 MB for the ledger's events).
CHUNK = 2_500
#: Chunks the child may hold encoded, waiting for the pipe.
AHEAD = 8
#: Seconds the parent waits for a chunk before checking that the child lives.
POLL_S = 1.0

_PAGE, _PICKLED, _END, _ERROR = 0, 1, 2, 3


def usable(notification_log: NotificationLog) -> bool:
    """Whether ``ProcessLogReader`` can read this log (another process can, 2+ CPUs)."""
    return _log_file(notification_log) is not None and cpus() >= 2


def _log_file(notification_log: NotificationLog) -> LogFile | None:
    return notification_log.log_file() if isinstance(notification_log, EventLog) else None


def idle_core() -> bool:
    """Whether a core looks free for a child: the 1-minute load average (this process
    included) is below the CPUs less one half. On a busy machine the children would only take
    turns with this process, and the hand-over costs CPU time: a parallel rebuild is then
    slower than one in process (bench/README.md)."""
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
    """A ``LogReader`` of a recorder's log file whose reading and decoding run in a child
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
        log_file = _log_file(recorder)
        if log_file is None or not usable(recorder):
            raise ValueError("only a file-based SQLite recorder can be read by a child process")
        chunk = CHUNK if chunk is None else chunk
        ahead = AHEAD if ahead is None else ahead
        if chunk < 1 or ahead < 1:
            raise ValueError("chunk and ahead must be at least 1")
        self._fallback = EventLogReader(recorder)
        method = start_method or ("fork" if forks_safely() else "spawn")
        context: Any = multiprocessing.get_context(method)
        receiving, sending = context.Pipe(duplex=False)
        self._process: Any = context.Process(
            target=_serve,
            args=(log_file, folded_aggregates(), start, chunk, ahead, sending, receiving),
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

    def read(self, after: int, limit: int) -> tuple[Iterable[PublishedEvent], int]:
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
    log_file: LogFile,
    aggregates: list[str],
    start: int,
    chunk: int,
    ahead: int,
    connection: Any,
    parents: Any,
) -> None:
    """Read, decode and send chunks from ``start`` until the log's head, then an end mark."""
    parents.close()  # a forked child's copy: the parent's death must break the pipe
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # an interrupt is the parent's to handle
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
        reader = log_file.open()
        position = start
        while not broken.is_set():
            head, rows = reader.page(position, position + chunk, aggregates)
            stop = min(position + chunk, head)
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
                    check_content(rowid, str(_stream_uuid(str(stream))), version, topic, state)
                    append(published_fields(rowid, str(stream), version, topic, state))
            try:
                put(marshal.dumps((_PAGE, stop, items)))
            except ValueError:  # a value marshal cannot write (none the decoder makes)
                put(marshal.dumps((_PICKLED, stop, pickle.dumps(items, 5))))
            position = stop
        reader.close()
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
