"""Export and import of stored events as JSON lines, verbatim, hash chains intact.

Export writes one line per stored event, in notification order::

    {"position": n, "stream": "<uuid>", "version": v, "topic": "...", "state": {...}}

``state`` is the stored state exactly as stored (canonical JSON: amounts stay integers, the
``_meta`` and ``_chain`` keys included). ``position`` is the event's place in the source store;
an import records events in file order and the target store numbers them afresh.

Import is one all-or-nothing operation. Every line is parsed, its state re-encoded canonically
(so it is stored byte for byte as the source stored it) and its chain link checked by a
:class:`~capledger.application.chain.ChainVerifier` (a stream already in the target continues
from its stored head), while the events are inserted in large batches inside one transaction
of the store (``EventLog.bulk_import`` of the storage adapter); the first bad line rolls
everything back and raises :class:`ImportRefused` naming it.

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
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import suppress
from typing import Any, NamedTuple, TextIO
from uuid import UUID

import orjson
import structlog
from eventsourcing.persistence import IntegrityError, Notification

from capledger.application.chain import (
    GENESIS,
    BrokenLink,
    ChainVerifier,
    canonical_json,
    canonical_json_exact,
    unseal,
)
from capledger.application.errors import ApplicationError
from capledger.application.ledger import Ledger
from capledger.application.storage import BulkImport, ImportRow, event_log

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
    ``collision``, ``version-gap``, ``broken-chain``); ``line`` is the 1-based line number.
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
        return _Line(number, stream, stream.replace("-", ""), version, topic, state, True, text)
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
    version, topic, state = record["version"], record["topic"], record["state"]
    # json.loads gives int or bool: "type is int" leaves bools out.
    if type(record["position"]) is not int or type(version) is not int or version < 1:
        raise ImportRefused(
            "invalid-value", "position and version must be integers, version from 1", line=number
        )
    if not isinstance(topic, str) or not topic:
        raise ImportRefused("invalid-value", "topic must be a non-empty string", line=number)
    if not isinstance(state, dict):
        raise ImportRefused("invalid-value", "state must be a JSON object", line=number)
    stream = record["stream"]
    if type(stream) is str and _CANONICAL_UUID.fullmatch(stream):
        return _Line(number, stream, stream.replace("-", ""), version, topic, state, False, text)
    try:  # another spelling of a UUID: its canonical text is what was hashed
        stream_id = UUID(stream)
    except (TypeError, ValueError, AttributeError):
        raise ImportRefused("invalid-value", "stream must be a UUID", line=number) from None
    return _Line(number, str(stream_id), stream_id.hex, version, topic, state, False, text)


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
    """Checks lines in file order; streams already stored continue from their stored head."""

    def __init__(self, store: BulkImport, *, store_is_empty: bool) -> None:
        self.store = store
        self.store_is_empty = store_is_empty
        self.verifier = _ImportVerifier(heads={})
        self.stored_versions: dict[str, int] = {}

    def check(self, batch: Sequence[tuple[int, str]]) -> list[_Row]:
        """The batch's events as they are to be stored, once every one of them is checked.

        Lines are refused in file order: the first bad line is the one named.
        """
        if self.store_is_empty:
            # Parsed and checked one by one: each parsed line is garbage at once.
            return [self._check_line(_parse_line(number, text)) for number, text in batch]
        parsed: list[_Line] = []
        unparsable: ImportRefused | None = None
        for number, text in batch:
            try:
                parsed.append(_parse_line(number, text))
            except ImportRefused as error:
                unparsable = error
                break
        self._load_stored_heads(parsed)
        rows = [self._check_line(line) for line in parsed]
        if unparsable is not None:
            raise unparsable
        return rows

    def _load_stored_heads(self, batch: Sequence[_Line]) -> None:
        heads = self.verifier.heads
        unknown = {UUID(line.stream) for line in batch if line.stream not in heads}
        for stream_id, last in self.store.last_events(unknown).items():
            heads[str(stream_id)] = (last.originator_version, unseal(last.state).hash)
            self.stored_versions[str(stream_id)] = last.originator_version

    def _check_line(self, line: _Line) -> _Row:
        number, stream, version = line.number, line.stream, line.version
        head = self.verifier.heads.get(stream, (0, GENESIS))
        last_version = head[0]
        if version <= last_version:
            stored = version <= self.stored_versions.get(stream, 0)
            where = "is already stored" if stored else "appears earlier in the file"
            raise ImportRefused(
                "collision", f"version {version} of stream {stream} {where}", line=number
            )
        if version != last_version + 1:
            raise ImportRefused(
                "version-gap",
                f"stream {stream} goes from version {last_version} to {version}",
                line=number,
            )
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
        return (line.key, version, line.topic, state)


# -- import ---------------------------------------------------------------------------------


def import_events(ledger: Ledger, stream: TextIO, progress: Progress | None = None) -> int:
    """Record the events of an export verbatim; all of them or, on any bad line, none.

    Raises :class:`ImportRefused` naming the first bad line. Returns the number of events.
    """
    with ledger.exclusively():
        with event_log(ledger.recorder).bulk_import() as target:
            imported = _import_into(target, stream, progress, store_is_empty=target.is_empty())
        _forget_cached_aggregates(ledger)
    log.info("events_imported", events=imported)
    return imported


def _import_into(
    target: BulkImport, stream: TextIO, progress: Progress | None, *, store_is_empty: bool
) -> int:
    chains = _Chains(target, store_is_empty=store_is_empty)
    imported = 0
    for batch in _batches(stream, IMPORT_BATCH):
        _insert(target, batch, chains.check(batch))
        imported += len(batch)
        if progress is not None:
            progress(imported, 0)
    return imported


def _insert(target: BulkImport, batch: Sequence[tuple[int, str]], rows: Sequence[_Row]) -> None:
    try:
        target.insert(rows)
    except IntegrityError as error:
        first, last = batch[0][0], batch[-1][0]
        raise ImportRefused(
            "collision",
            f"lines {first}-{last} collide with events recorded meanwhile ({error})",
            line=first,
        ) from error


def _forget_cached_aggregates(ledger: Ledger) -> None:
    """Imported events may extend cached aggregates: drop them all, so none is served stale."""
    cache = ledger.repository.cache
    if cache is None:
        return
    for aggregate_id in list(cache.cache):
        with suppress(KeyError):
            cache.get(aggregate_id, evict=True)
