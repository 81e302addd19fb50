"""Recorded events as Kafka messages: CloudEvents 1.0 in the Kafka binary content mode.

One message per recorded event (``CommandReceipt`` bookkeeping events included):

- key: the event's subject (``project:HP-001``, ``plan:HP-2021-HDND``, ``command:<id>``), so
  every stream's history is ordered within one partition;
- value: the event's published ``data`` as JSON (UTF-8, amounts as integers, dates ISO 8601);
- headers: the CloudEvents attributes (``ce_*`` and ``content-type``), the ledger's own among
  them as CloudEvents *extension attributes* (``ce_position``, ``ce_stream``,
  ``ce_streamversion``, ``ce_hash``, ``ce_prevhash``, ``ce_principal``, ``ce_commandid``,
  ``ce_correlationid``), so any CloudEvents SDK keeps them, and ``ce_wireversion`` naming this
  layout (:data:`WIRE_VERSION`).

Wire versions. 1: the ledger's attributes as plain ``capledger_*`` headers, which the SDKs drop
(every message before ``ce_wireversion`` existed). 2: the same values as extension attributes;
the ``capledger_*`` headers are still sent beside them, deprecated, for subscribers written
against version 1, and dropped by version 3 (docs/kafka.md says when). Readers here accept both:
the topic is kept forever and holds version-1 messages.

The message is the event's published form (``application.published``): an event recorded
under an older ``class_version`` is sent upcast to the current one, so every ``ce_type`` has a
current schema, and :func:`published_event` reads a message back into that same form.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol
from uuid import UUID

import orjson

from capledger.application.published import (
    TYPE_PREFIX,
    PublishedEvent,
    current_class_version,
    event_topic,
    parse_json,
    publish,
    upcast,
)

from .schemas import schema_file_name

SPECVERSION = "1.0"
CONTENT_TYPE = "application/json"

# CloudEvents attributes in the Kafka binary content mode.
CE_SPECVERSION = "ce_specversion"
CE_ID = "ce_id"
CE_SOURCE = "ce_source"
CE_TYPE = "ce_type"
CE_TIME = "ce_time"
CE_SUBJECT = "ce_subject"
CE_DATASCHEMA = "ce_dataschema"
CONTENT_TYPE_HEADER = "content-type"
#: The layout of a message's headers (see the module's docstring); ``ce_wireversion``.
WIRE_VERSION = 2
# The ledger's own attributes: CloudEvents extension attributes (names of lowercase letters and
# digits, at most 20 characters, as the specification asks), values as text.
WIRE_VERSION_HEADER = "ce_wireversion"
POSITION = "ce_position"
STREAM = "ce_stream"
STREAM_VERSION = "ce_streamversion"
HASH = "ce_hash"
PREV_HASH = "ce_prevhash"
PRINCIPAL = "ce_principal"
COMMAND_ID = "ce_commandid"
CORRELATION_ID = "ce_correlationid"
#: The same values as plain headers, as wire version 1 sent them: deprecated, still sent.
LEGACY_HEADERS: Mapping[str, str] = {
    POSITION: "capledger_position",
    STREAM: "capledger_stream",
    STREAM_VERSION: "capledger_stream_version",
    HASH: "capledger_hash",
    PREV_HASH: "capledger_prev_hash",
    PRINCIPAL: "capledger_principal",
    COMMAND_ID: "capledger_command_id",
    CORRELATION_ID: "capledger_correlation_id",
}

Headers = list[tuple[str, bytes]]


@dataclass(frozen=True, slots=True)
class WireMessage:
    """What the relay sends for one recorded event."""

    position: int
    key: bytes
    value: bytes
    headers: Headers


@dataclass(frozen=True)
class WireFormat:
    """How events are stamped: the ``ce_source`` and the prefix of ``ce_dataschema``."""

    source: str
    schema_base_uri: str


def event_id(stream: UUID | str, stream_version: int) -> str:
    """The CloudEvents ``id``: stable across redeliveries, unique per recorded event."""
    return f"{stream}:{stream_version}"


class LogEntry(Protocol):
    """An entry of the notification log: a ``Notification``, or a lean row of the same."""

    @property
    def id(self) -> int: ...
    @property
    def originator_id(self) -> UUID | str: ...
    @property
    def originator_version(self) -> int: ...
    @property
    def topic(self) -> str: ...
    @property
    def state(self) -> bytes: ...


def to_message(notification: LogEntry, wire: WireFormat) -> WireMessage:
    """The Kafka message of one entry of the notification log: its published form
    (``application.published.publish``, upcast to the current class version), encoded."""
    stream = notification.originator_id
    event = publish(
        notification.id,
        stream if type(stream) is UUID else UUID(str(stream)),
        notification.originator_version,
        notification.topic,
        notification.state,
    )
    return message(event, wire)


def message(event: PublishedEvent, wire: WireFormat) -> WireMessage:
    """The Kafka message of a published event."""
    subject = event.subject or f"stream:{event.stream}"
    return WireMessage(event.position, subject.encode(), encode_data(event.data),
                       _headers(event, wire, subject))  # fmt: skip


def encode_data(data: Mapping[str, Any]) -> bytes:
    """A message's value: UTF-8 JSON, nothing escaped beyond what JSON must, ``,``/``:``
    separators. orjson writes exactly that; what it refuses (an integer beyond 64 bits) the
    standard library writes the same way."""
    try:
        return _orjson_dumps(data)
    except orjson.JSONEncodeError:
        return _ENCODER.encode(data).encode()


_orjson_dumps = orjson.dumps
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_SPECVERSION_HEADER = (CE_SPECVERSION, SPECVERSION.encode())
_WIRE_VERSION_HEADER = (WIRE_VERSION_HEADER, str(WIRE_VERSION).encode())


@lru_cache(maxsize=1024)
def _fixed_headers(
    name: str, class_version: int, source: str, schema_base_uri: str
) -> tuple[tuple[str, bytes], ...]:
    """The headers that only depend on the event class: source, type, content type, schema."""
    ce_type = f"{TYPE_PREFIX}.{name}.v{class_version}"
    dataschema = schema_base_uri + schema_file_name(name, class_version)
    return (
        (CE_SOURCE, source.encode()),
        (CE_TYPE, ce_type.encode()),
        (CONTENT_TYPE_HEADER, CONTENT_TYPE.encode()),
        (CE_DATASCHEMA, dataschema.encode()),
    )


def _headers(event: PublishedEvent, wire: WireFormat, subject: str) -> Headers:
    """A message's headers, in their order: CloudEvents attributes, the ledger's extension
    attributes (an empty one left out), then the deprecated version-1 copies of the latter."""
    source, ce_type, content_type, dataschema = _fixed_headers(
        event.name, event.class_version, wire.source, wire.schema_base_uri
    )
    stream = str(event.stream).encode()
    meta = event.meta
    position = str(event.position).encode()
    stream_version = str(event.stream_version).encode()
    hash_, prev = event.hash.encode(), event.prev.encode()
    principal = str(meta.get("principal") or "").encode()
    command_id = str(meta.get("command_id") or "").encode()
    correlation_id = str(meta.get("correlation_id") or "").encode()
    headers: Headers = [
        _SPECVERSION_HEADER,
        (CE_ID, b"%s:%s" % (stream, stream_version)),
        source,
        ce_type,
        (CE_TIME, event.recorded_at.encode()),
        (CE_SUBJECT, subject.encode()),
        content_type,
        dataschema,
        _WIRE_VERSION_HEADER,
        (POSITION, position),
        (STREAM, stream),
        (STREAM_VERSION, stream_version),
        (HASH, hash_),
        (PREV_HASH, prev),
    ]
    if principal:
        headers.append((PRINCIPAL, principal))
    if command_id:
        headers.append((COMMAND_ID, command_id))
    if correlation_id:
        headers.append((CORRELATION_ID, correlation_id))
    headers += [
        ("capledger_position", position),
        ("capledger_stream", stream),
        ("capledger_stream_version", stream_version),
        ("capledger_hash", hash_),
        ("capledger_prev_hash", prev),
        ("capledger_principal", principal),
        ("capledger_command_id", command_id),
    ]
    if correlation_id:
        headers.append(("capledger_correlation_id", correlation_id))
    return headers


# -- reading messages back -----------------------------------------------------------------


def header_map(headers: Iterable[tuple[str, bytes]] | None) -> dict[str, bytes]:
    """A message's headers by name, a wire-version-1 message's ``capledger_*`` headers under the
    extension attributes' names, so every reader reads one layout."""
    return with_extensions(dict(headers or ()))


def with_extensions(headers: dict[str, bytes]) -> dict[str, bytes]:
    """``headers``, with the ledger's extension attributes filled in from the ``capledger_*``
    headers when the message is of wire version 1 (it has none of them)."""
    if POSITION not in headers:
        for name, legacy in LEGACY_HEADERS.items():
            value = headers.get(legacy)
            if value:
                headers[name] = value
    return headers


def text(headers: Mapping[str, bytes], name: str, default: str = "") -> str:
    value = headers.get(name)
    return default if value is None else value.decode()


@dataclass(frozen=True)
class ReceivedEvent:
    """A message of the events topic, as a subscriber sees it."""

    id: str
    type: str
    source: str
    subject: str
    time: str
    dataschema: str
    position: int
    stream: str
    stream_version: int
    hash: str
    prev: str
    principal: str
    command_id: str
    data: Any
    topic: str
    partition: int
    offset: int

    @property
    def name(self) -> str:
        """``Project.CompletedWorkPaid`` of ``vn.capledger.Project.CompletedWorkPaid.v1``."""
        return type_name(self.type)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def type_name(ce_type: str) -> str:
    return parse_type(ce_type.encode())[0]


@lru_cache(maxsize=512)
def parse_type(ce_type: bytes) -> tuple[str, int]:
    """``(name, class_version)`` of ``vn.capledger.Project.CompletedWorkPaid.v1``."""
    body = ce_type.decode().removeprefix(f"{TYPE_PREFIX}.")
    name, _, version = body.rpartition(".v")
    if not name or not version.isdigit():
        return body, 1
    return name, int(version)


def published_event(headers: Mapping[str, bytes], value: bytes | None) -> PublishedEvent:
    """The published event a message carries (``headers`` as a mapping: :func:`header_map`); the
    inverse of :func:`message`, but for the metadata the headers do not carry (the command's
    name). A message in an older class version (published before its class moved on) is
    upcast as :func:`~capledger.application.published.publish` upcasts a stored event."""
    ce_type = headers.get(CE_TYPE)
    if ce_type is None:
        raise ValueError("a message of the events topic has no ce_type header")
    if POSITION not in headers:
        headers = with_extensions(dict(headers))
    name, class_version = parse_type(ce_type)
    topic = event_topic(name)
    data = parse_json(value) if value else {}
    current = current_class_version(topic)
    if class_version < current:
        data, class_version = upcast(topic, data, class_version, current), current
    meta: dict[str, Any] = {}
    for header, key in _META_HEADERS:
        found = headers.get(header)
        if found:
            meta[key] = found.decode()
    return PublishedEvent(
        position=int(headers[POSITION]),
        stream=_stream(headers[STREAM]),
        stream_version=int(headers[STREAM_VERSION]),
        topic=topic,
        name=name,
        class_version=class_version,
        subject=meta.get("subject"),
        recorded_at=headers[CE_TIME].decode(),
        data=data,
        meta=meta,
        hash=headers.get(HASH, b"").decode(),
        prev=headers.get(PREV_HASH, b"").decode(),
    )


@lru_cache(maxsize=65_536)
def _stream(header: bytes) -> UUID:
    """A stream's id from its header: one ``UUID`` per stream, not per message."""
    return UUID(header.decode())


_META_HEADERS = (
    (CE_SUBJECT, "subject"),
    (PRINCIPAL, "principal"),
    (COMMAND_ID, "command_id"),
    (CORRELATION_ID, "correlation_id"),
)


def received(
    topic: str,
    partition: int,
    offset: int,
    headers: Sequence[tuple[str, bytes]] | None,
    value: bytes | None,
) -> ReceivedEvent:
    found = header_map(headers)
    return ReceivedEvent(
        id=text(found, CE_ID),
        type=text(found, CE_TYPE),
        source=text(found, CE_SOURCE),
        subject=text(found, CE_SUBJECT),
        time=text(found, CE_TIME),
        dataschema=text(found, CE_DATASCHEMA),
        position=int(text(found, POSITION, "0")),
        stream=text(found, STREAM),
        stream_version=int(text(found, STREAM_VERSION, "0")),
        hash=text(found, HASH),
        prev=text(found, PREV_HASH),
        principal=text(found, PRINCIPAL),
        command_id=text(found, COMMAND_ID),
        data=None if value is None else parse_json(value),
        topic=topic,
        partition=partition,
        offset=offset,
    )
