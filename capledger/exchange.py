"""Export and import of stored events as JSON lines, verbatim, hash chains intact.

Export writes one line per stored event, in notification order::

    {"position": n, "stream": "<uuid>", "version": v, "topic": "...", "state": {...}}

``state`` is the stored state exactly as stored (canonical JSON: amounts stay integers, the
``_meta`` and ``_chain`` keys included). ``position`` is the event's place in the source store;
an import records events in file order and the target store numbers them afresh.

A full export's lines, in file order, are the source's log entries in log order (the entry of
docs/verifiable-log.md binds the line's position, stream, version and chain hash): its first N
lines' tree must have the root of the source's checkpoint of size N. :func:`export_rows` gives
the lines as stored rows to ``tlog.check.check_rows`` (``capledger verify --export``), and an
import given a checkpoint builds the same tree in its one pass over the file (below).

Import restores or migrates a ledger, and it cannot forge one: what it records is what the
ledger itself could have recorded. It is one all-or-nothing operation in three steps, and the
target store gets nothing before the last one:

1. every line is parsed, its state re-encoded canonically (so it is stored byte for byte as the
   source stored it), its chain link checked by a
   :class:`~capledger.application.chain.ChainVerifier` and its principal (``_meta.principal``,
   who acted) found; the checked events wait in a scratch file (:mod:`capledger.import_spool`).
   Every stream must begin in the file: a stream the target already holds is refused (an
   import never continues a stored chain, which anyone holding the data folder could seal);
2. the rules audit (:mod:`capledger.application.rules_audit`) replays every stream of the file,
   one at a time, through the domain's own commands with the rules in force at each event's
   effective date: an event they would have refused, or written otherwise, refuses the file;
3. the events are inserted in file order, in large batches inside one transaction of the store
   (``EventLog.bulk_import`` of the storage adapter, whose write lock is held throughout).

The first bad line (or, for the audit, the file's first event breaking a rule) is named by an
:class:`ImportRefused`. Principals are kept exactly as the file has them (they are hashed with
the event), never given or replaced. Memory stays bounded by one batch of lines, the chain
heads of the file's streams and one stream's replica; the scratch file holds the rest.

Given a signed checkpoint of the source (``checkpoint=``, opened by the caller), step 1 also
appends each checked line's log entry to the tree of the file
(:class:`~capledger.application.tlog.check.CheckpointTree`, ``O(log n)`` hashes), with the hash
its chain check just recomputed; a root other than the checkpoint's at its size, or fewer lines
than its size, refuses the file (``checkpoint-mismatch``) before the audit. Lines after the
checkpoint's size are imported, not covered by it.

Speed (the import is the bulk path; see bench/README.md): each line is parsed once, by orjson
when that reads exactly what ``json.loads`` reads (a state without floats), and its canonical
state is written by orjson when that writes exactly what ``chain.canonical_json`` writes (the
same condition); the standard library parses and writes everything else. The chain is checked
by :class:`~capledger.application.chain.ChainVerifier` on the parsed state, not on a second parse
of the canonical bytes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from typing import Any, NamedTuple, TextIO
from uuid import UUID

import orjson
import structlog
from eventsourcing.persistence import IntegrityError, Notification

from capledger.application.chain import (
    GENESIS,
    META_KEY,
    BrokenLink,
    ChainVerifier,
    canonical_json,
    canonical_json_exact,
    unseal,
)
from capledger.application.errors import ApplicationError
from capledger.application.ledger import Ledger
from capledger.application.rules_audit import RuleBreach, RulesAudit
from capledger.application.storage import BulkImport, ImportRow, LogRow, event_log
from capledger.application.tlog.check import CheckpointTree
from capledger.application.tlog.checkpoint import Checkpoint
from capledger.application.tlog.entry import EntryError, LogEntry

from .import_spool import ImportSpool, SpooledRow

log = structlog.get_logger(__name__)

#: Events read from the notification log per query while exporting.
EXPORT_PAGE = 5_000
#: Lines checked and inserted per batch while importing.
IMPORT_BATCH = 5_000
KEYS = ("position", "stream", "version", "topic", "state")
#: A UUID as str(UUID) writes it (and export writes it).
_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


#: Called with ``(done, total)`` after each page or batch, as ``capledger.progress`` reporters
#: are; ``total`` is 0 when unknown (an import reads its file once, without counting it first).
Progress = Callable[[int, int], None]


class ImportRefused(ApplicationError):
    """An import file was refused as a whole; nothing of it was recorded.

    ``reason`` says why (``malformed-line``, ``missing-key``, ``invalid-value``,
    ``collision``, ``version-gap``, ``broken-chain``, ``missing-principal``, ``stream-exists``,
    ``rule-broken``, ``checkpoint-mismatch``); ``line`` is the 1-based line number.
    """

    code = "import-refused"

    def __init__(self, reason: str, message: str, *, line: int | None = None) -> None:
        self.reason = reason
        self.line = line
        where = f"line {line}: " if line is not None else ""
        super().__init__(f"import refused, nothing recorded: {where}{message}")


# -- export ---------------------------------------------------------------------------------


def export_events(ledger: Ledger, stream: TextIO, progress: Progress | None = None) -> int:
    """Write every event stored up to now as a JSON line; return how many were written."""
    recorder = ledger.recorder
    last = recorder.max_notification_id() or 0
    start, written = 1, 0
    while start <= last:
        page = recorder.select_notifications(start=start, limit=EXPORT_PAGE, stop=last)
        if not page:
            break
        stream.write("".join(export_line(notification) for notification in page))
        written += len(page)
        start = page[-1].id + 1
        if progress is not None:
            progress(written, last)
    log.info("events_exported", events=written, last_position=last)
    return written


def export_line(notification: Notification) -> str:
    head = json.dumps(
        {
            "position": notification.id,
            "stream": str(notification.originator_id),
            "version": notification.originator_version,
            "topic": notification.topic,
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return f'{head[:-1]},"state":{_state_text(notification.state)}}}\n'


def _state_text(state: bytes) -> str:
    """The stored state as it is: canonical JSON never holds a raw line break."""
    text = state.decode("utf-8")
    if "\n" in text or "\r" in text:
        text = json.dumps(json.loads(text), ensure_ascii=False, separators=(",", ":"))
    return text


# -- import: reading lines ------------------------------------------------------------------


class _Line(NamedTuple):
    number: int
    position: int  # in the source store
    stream: str  # the UUID's canonical text, as hashed
    key: str  # the UUID's 32 hex digits
    version: int
    topic: str
    state: dict[str, Any]
    #: Read by orjson and holding no float: orjson writes the state as ``canonical_json`` does.
    plain: bool
    text: str  # the line itself, for the cross-check


#: An event as it is inserted: stream (32 hex digits), version, topic, state. Plain tuples of
#: str, int and bytes are left alone by the garbage collector while a batch waits.
_Row = ImportRow


def _parse_line(number: int, text: str) -> _Line:
    """The line read exactly as ``json.loads`` reads it; :class:`ImportRefused` if it is bad."""
    return _parse_plain(number, text) or _parse_exact(number, text)


def _parse_plain(number: int, text: str) -> _Line | None:
    """The line as orjson reads it, when that is what ``json.loads`` reads; None otherwise.

    Both parsers build the same objects from the same text, numbers aside: orjson reads an
    integer beyond 64 bits as a float, without a word. A line whose state holds no float was
    therefore read exactly. Anything else (a float, a line orjson refuses, a head that is not
    plainly valid) goes to :func:`_parse_exact`, which decides it and words every refusal.
    """
    try:
        record = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    try:
        position, stream, version = record["position"], record["stream"], record["version"]
        topic, state = record["topic"], record["state"]
    except (KeyError, TypeError):  # a key is missing, or the line is not an object
        return None
    if (
        type(position) is int
        and type(version) is int
        and version >= 1
        and type(topic) is str
        and topic
        and type(stream) is str
        and _CANONICAL_UUID.fullmatch(stream)
        and type(state) is dict
        and _float_free(state)
    ):
        return _Line(
            number, position, stream, stream.replace("-", ""), version, topic, state, True, text
        )
    return None


def _float_free(document: dict[str, Any]) -> bool:
    """Whether no value within the document is a float (walked without recursion)."""
    pending: list[Iterable[Any]] = [document.values()]
    while pending:
        for value in pending.pop():
            kind = type(value)
            if kind is dict:
                pending.append(value.values())
            elif kind is list:
                pending.append(value)
            elif kind is float:
                return False
    return True


def _parse_exact(number: int, text: str) -> _Line:
    try:
        record = json.loads(text)
    except ValueError as error:
        raise ImportRefused("malformed-line", f"not valid JSON ({error})", line=number) from None
    except RecursionError:
        raise ImportRefused("malformed-line", "nested too deeply", line=number) from None
    if not isinstance(record, dict):
        raise ImportRefused("malformed-line", "not a JSON object", line=number)
    missing = [key for key in KEYS if key not in record]
    if missing:
        raise ImportRefused("missing-key", f"missing {', '.join(missing)}", line=number)
    position, version, topic = record["position"], record["version"], record["topic"]
    state = record["state"]
    # json.loads gives int or bool: "type is int" leaves bools out.
    if type(position) is not int or type(version) is not int or version < 1:
        raise ImportRefused(
            "invalid-value", "position and version must be integers, version from 1", line=number
        )
    if not isinstance(topic, str) or not topic:
        raise ImportRefused("invalid-value", "topic must be a non-empty string", line=number)
    if not isinstance(state, dict):
        raise ImportRefused("invalid-value", "state must be a JSON object", line=number)
    stream = record["stream"]
    if type(stream) is str and _CANONICAL_UUID.fullmatch(stream):
        key = stream.replace("-", "")
        return _Line(number, position, stream, key, version, topic, state, False, text)
    try:  # another spelling of a UUID: its canonical text is what was hashed
        stream_id = UUID(stream)
    except (TypeError, ValueError, AttributeError):
        raise ImportRefused("invalid-value", "stream must be a UUID", line=number) from None
    return _Line(
        number, position, str(stream_id), stream_id.hex, version, topic, state, False, text
    )


def _batches(stream: TextIO, size: int) -> Iterator[list[tuple[int, str]]]:
    """The file's non-blank lines with their numbers, ``size`` at a time."""
    batch: list[tuple[int, str]] = []
    for number, text in enumerate(stream, start=1):
        if text.isspace():  # stops at a line's first character, unlike strip()
            continue
        batch.append((number, text))
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def export_rows(stream: TextIO) -> Iterator[LogRow]:
    """The lines of an export as the source stored them, in file order: position, stream,
    version, topic and canonical state (:class:`ImportRefused` at a line that is not one)."""
    for batch in _batches(stream, IMPORT_BATCH):
        for number, text in batch:
            line = _parse_line(number, text)
            try:
                state = _encode_plain(line.state) if line.plain else _encode_exact(line.state)
            except UnicodeEncodeError:
                raise ImportRefused(
                    "invalid-value", "holds a lone surrogate, which is not text", line=number
                ) from None
            except RecursionError:
                raise ImportRefused("malformed-line", "nested too deeply", line=number) from None
            yield LogRow(line.position, line.stream, line.version, line.topic, state)


# -- import: canonical encoding -------------------------------------------------------------

#: ``encode(value) -> canonical JSON bytes``.
_Encoder = Callable[[Any], bytes]


#: ``chain.canonical_json`` itself, for a value that may hold a float.
_encode_exact = canonical_json


#: ``chain.canonical_json`` of a value holding no float (see :func:`_float_free`), by orjson
#: where it writes the same bytes, by the standard library where it refuses. Tests hold the two
#: together.
_encode_plain = canonical_json_exact


# -- import: checking chains ----------------------------------------------------------------


class _ImportVerifier(ChainVerifier):
    """A :class:`ChainVerifier` that also gives each event's canonical stored state.

    The state is parsed once, by the import: the verifier checks the parsed values rather than
    parsing the canonical bytes a second time.
    """

    def check_state(
        self,
        position: int,
        stream: str,
        version: int,
        topic: str,
        state: dict[str, Any],
        *,
        plain: bool = False,
    ) -> tuple[BrokenLink | None, bytes]:
        """The verdict of ``check()`` on the event, and its canonical state.

        ``plain``: the state holds no float, and orjson may write it (see :func:`_encode_plain`).
        """
        encoded = _encode_plain(state) if plain else _encode_exact(state)
        return self.check(position, stream, version, topic, state, exact=plain), encoded


class _Chains:
    """Checks lines in file order: every stream begins in the file and none is already stored
    in the target (an import creates streams; it never continues one)."""

    def __init__(
        self, store: BulkImport, *, store_is_empty: bool, tree: CheckpointTree | None = None
    ) -> None:
        self.store = store
        self.store_is_empty = store_is_empty
        self.verifier = _ImportVerifier(heads={})
        self.tree = tree

    def check(self, batch: Sequence[tuple[int, str]]) -> list[SpooledRow]:
        """The batch's events as they are to be stored, once every one of them is checked.

        Lines are refused in file order: the first bad line is the one named.
        """
        if self.store_is_empty:
            # Parsed and checked one by one: each parsed line is garbage at once.
            return [self._check_line(_parse_line(number, text), ()) for number, text in batch]
        parsed: list[_Line] = []
        unparsable: ImportRefused | None = None
        for number, text in batch:
            try:
                parsed.append(_parse_line(number, text))
            except ImportRefused as error:
                unparsable = error
                break
        stored = self._stored_streams(parsed)
        rows = [self._check_line(line, stored) for line in parsed]
        if unparsable is not None:
            raise unparsable
        return rows

    def _stored_streams(self, batch: Sequence[_Line]) -> set[str]:
        """The streams of the batch, first met in it, that the target already holds."""
        heads = self.verifier.heads
        unknown = {UUID(line.stream) for line in batch if line.stream not in heads}
        return (
            {str(stream_id) for stream_id in self.store.last_events(unknown)} if unknown else set()
        )

    def _check_line(self, line: _Line, stored: Collection[str]) -> SpooledRow:
        number, stream, version = line.number, line.stream, line.version
        if stream in stored:
            raise ImportRefused(
                "stream-exists",
                f"stream {_described(stream, line.state.get(META_KEY))} already exists in the "
                "target store; an import only creates streams",
                line=number,
            )
        head = self.verifier.heads.get(stream, (0, GENESIS))
        last_version = head[0]
        if version <= last_version:
            raise ImportRefused(
                "collision",
                f"version {version} of stream {stream} appears earlier in the file",
                line=number,
            )
        if version != last_version + 1:
            raise ImportRefused(
                "version-gap",
                f"stream {stream} goes from version {last_version} to {version}",
                line=number,
            )
        _check_principal(line)
        try:
            broken, state = self.verifier.check_state(
                number, stream, version, line.topic, line.state, plain=line.plain
            )
        except UnicodeEncodeError:  # json.loads reads "\ud800"; UTF-8 cannot store it
            raise ImportRefused(
                "invalid-value", "holds a lone surrogate, which is not text", line=number
            ) from None
        except RecursionError:  # orjson reads deeper than the standard library writes
            raise ImportRefused("malformed-line", "nested too deeply", line=number) from None
        if broken is not None:
            raise ImportRefused(
                "broken-chain", f"stream {stream} version {version}: {broken.reason}", line=number
            )
        if self.tree is not None:
            self._add_entry(self.tree, line)
        return (number, line.key, version, line.topic, state)

    def _add_entry(self, tree: CheckpointTree, line: _Line) -> None:
        """Append the line's log entry to the file's tree. Its event hash is the one the chain
        check just recomputed and found stored (``LogEntry.of_stored`` would read the same
        hash back from the canonical state: a second parse of every line)."""
        digest = self.verifier.heads[line.stream][1]
        try:
            other = tree.add(LogEntry(line.position, UUID(line.stream), line.version, digest))
        except EntryError as error:
            raise _mismatch(str(error), line.number) from None
        if other is not None:
            raise _mismatch(other, line.number)


def _mismatch(problem: str, line: int | None) -> ImportRefused:
    reason = "checkpoint-mismatch"
    return ImportRefused(reason, f"{reason} with the source's checkpoint: {problem}", line=line)


def _check_principal(line: _Line) -> None:
    """Every event the ledger records names who acted (``_meta.principal``); an import keeps
    the file's verbatim, so a line naming no one is refused rather than given one."""
    meta = line.state.get(META_KEY)
    principal = meta.get("principal") if type(meta) is dict else None
    if type(principal) is not str or not principal.strip():
        raise ImportRefused(
            "missing-principal",
            f"stream {line.stream} version {line.version} names no principal "
            "(_meta.principal, who acted)",
            line=line.number,
        )


def _described(stream: str, meta: Any) -> str:
    """The stream's id and, when its metadata names it, its subject (``project:HP-001``)."""
    subject = meta.get("subject") if isinstance(meta, dict) else None
    return f"{stream} ({subject})" if isinstance(subject, str) and subject else stream


# -- import: the rules audit ----------------------------------------------------------------


def _audit(spool: ImportSpool, ledger: Ledger) -> None:
    """Judge every stream of the file by the rules (``application.rules_audit``), one stream at
    a time (only its replica in memory); :class:`ImportRefused` naming the file's first event,
    in file order, that breaks a rule."""
    first: RuleBreach | None = None
    audit: RulesAudit | None = None
    current, broken = "", False
    for line, stream, version, topic, state in spool.by_stream():
        if stream != current or audit is None:
            current, broken = stream, False
            audit = RulesAudit(ledger.mapper, ledger.rules)
        elif broken:
            continue  # what follows a stream's first breach is not judged
        notification = Notification(
            id=line, originator_id=UUID(stream), originator_version=version, topic=topic,
            state=state,
        )  # fmt: skip
        breach = audit.judge(notification)
        if breach is not None:
            broken = True
            if first is None or breach.position < first.position:
                first = breach
    if first is not None:
        found = spool.state_at(first.position)
        described = _described(str(first.stream), None if found is None else unseal(found).meta)
        raise ImportRefused(
            "rule-broken",
            f"stream {described} version {first.version}, {first.event}: breaks the rule "
            f"{first.code}: {first.reason}",
            line=first.position,
        )


# -- import ---------------------------------------------------------------------------------


def import_events(
    ledger: Ledger,
    stream: TextIO,
    progress: Progress | None = None,
    *,
    checkpoint: Checkpoint | None = None,
) -> int:
    """Record the events of an export verbatim; all of them or, on any refusal, none.

    ``checkpoint``: a checkpoint of the source (its signatures already checked by the caller)
    whose entries the file's first lines must be (``checkpoint-mismatch`` otherwise).
    Raises :class:`ImportRefused` naming the first bad line. Returns the number of events.
    """
    tree = None if checkpoint is None else CheckpointTree(checkpoint)
    with (
        ledger.exclusively(),
        ImportSpool() as spool,
        event_log(ledger.recorder).bulk_import() as target,
    ):
        imported = _import_into(ledger, target, spool, stream, progress, tree)
    log.info("events_imported", events=imported)
    return imported


def _import_into(
    ledger: Ledger,
    target: BulkImport,
    spool: ImportSpool,
    stream: TextIO,
    progress: Progress | None,
    tree: CheckpointTree | None = None,
) -> int:
    """Check the file's every line into the spool, audit its streams, then insert it all."""
    chains = _Chains(target, store_is_empty=target.is_empty(), tree=tree)
    checked = 0
    for batch in _batches(stream, IMPORT_BATCH):
        spool.add(chains.check(batch))
        checked += len(batch)
        if progress is not None:
            progress(checked, 0)
    if tree is not None and (missing := tree.end()) is not None:
        raise _mismatch(missing, None)
    spool.filled()
    _audit(spool, ledger)
    for first_line, rows in spool.in_file_order(IMPORT_BATCH):
        _insert(target, first_line, rows)
    if progress is not None:
        progress(checked, checked)
    return checked


def _insert(target: BulkImport, first_line: int, rows: Sequence[_Row]) -> None:
    try:
        target.insert(rows)
    except IntegrityError as error:
        raise ImportRefused(
            "collision",
            f"the lines from {first_line} collide with events recorded meanwhile ({error})",
            line=first_line,
        ) from error
