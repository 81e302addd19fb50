"""Recorded events as Kafka messages: CloudEvents 1.0 in the Kafka binary content mode.

One message per recorded event (``CommandReceipt`` bookkeeping events included):

- key: the event's subject (``project:HP-001``, ``plan:HP-2021-HDND``, ``command:<id>``), so
  every stream's history is ordered within one partition;
- value: the event's published ``data`` as JSON (UTF-8, amounts as integers, dates ISO 8601);
- headers: the CloudEvents attributes (``ce_*`` and ``content-type``) and the ledger's own
  (``capledger_*``): global position, stream, stream version, chain hashes, who and which
  command recorded it.

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
# The ledger's own headers.
POSITION = "capledger_position"
STREAM = "capledger_stream"
STREAM_VERSION = "capledger_stream_version"
HASH = "capledger_hash"
PREV_HASH = "capledger_prev_hash"
PRINCIPAL = "capledger_principal"
COMMAND_ID = "capledger_command_id"
CORRELATION_ID = "capledger_correlation_id"

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
    """A message's headers, in their order: CloudEvents attributes, then capledger's."""
    source, ce_type, content_type, dataschema = _fixed_headers(
        event.name, event.class_version, wire.source, wire.schema_base_uri
    )
    stream = str(event.stream)
    meta = event.meta
    headers: Headers = [
        _SPECVERSION_HEADER,
        (CE_ID, f"{stream}:{event.stream_version}".encode()),
        source,
        ce_type,
        (CE_TIME, event.recorded_at.encode()),
        (CE_SUBJECT, subject.encode()),
        content_type,
        dataschema,
        (POSITION, str(event.position).encode()),
        (STREAM, stream.encode()),
        (STREAM_VERSION, str(event.stream_version).encode()),
        (HASH, event.hash.encode()),
        (PREV_HASH, event.prev.encode()),
        (PRINCIPAL, str(meta.get("principal") or "").encode()),
        (COMMAND_ID, str(meta.get("command_id") or "").encode()),
    ]
    correlation_id = meta.get("correlation_id")
    if correlation_id:
        headers.append((CORRELATION_ID, str(correlation_id).encode()))
    return headers


# -- reading messages back -----------------------------------------------------------------


def header_map(headers: Iterable[tuple[str, bytes]] | None) -> dict[str, bytes]:
    return dict(headers or ())


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
    """The published event a message carries (``headers`` as a mapping: ``header_map``); the
    inverse of :func:`message`, but for the metadata the headers do not carry (the command's
    name). A message in an older class version (published before its class moved on) is
    upcast as :func:`~capledger.application.published.publish` upcasts a stored event."""
    ce_type = headers.get(CE_TYPE)
    if ce_type is None:
        raise ValueError("a message of the events topic has no ce_type header")
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
