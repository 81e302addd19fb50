"""Recorded events as Kafka messages: CloudEvents 1.0 in the Kafka binary content mode.

One message per recorded event (``CommandReceipt`` bookkeeping events included):

- key: the event's subject (``project:HP-001``, ``plan:HP-2021-HDND``, ``command:<id>``), so
  every stream's history is ordered within one partition;
- value: the event's published ``data`` as JSON (UTF-8, amounts as integers, dates ISO 8601);
- headers: the CloudEvents attributes (``ce_*`` and ``content-type``) and the ledger's own
  (``capledger_*``): global position, stream, stream version, chain hashes, who and which
  command recorded it.

An event recorded under an older ``class_version`` is published upcast to the current one
(the domain's own ``upcast_vN_vN+1`` functions), so every ``ce_type`` has a current schema.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Any, Protocol
from uuid import UUID

import orjson as _orjson
from eventsourcing.utils import resolve_topic

from capledger.application.chain import CHAIN_KEY, META_KEY, unseal
from capledger.application.published import TYPE_PREFIX, event_name, plain

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
    """The Kafka message of one entry of the notification log.

    The relay's hot path. The stored state is parsed by orjson and its ``data`` written back
    by orjson, which is exactly what :func:`reference_message` does with the standard library
    whenever the state holds no float: orjson reads an integer beyond 64 bits as a float, the
    standard parser as an int, and writes floats its own way; for everything else both read
    the same objects and write the same bytes (UTF-8, nothing escaped beyond what JSON must,
    ``,``/``:`` separators). A state with a float, one orjson refuses (it is stricter), an
    event recorded under an older ``class_version`` (upcast) or anything unusual takes
    :func:`reference_message`. A unit test holds the two byte for byte together.
    """
    try:
        document = _orjson_loads(notification.state)
    except _orjson.JSONDecodeError:
        return reference_message(notification, wire)
    if type(document) is not dict or _is_wrapper(document):
        return reference_message(notification, wire)
    try:
        _unwrap_exact(document)
    except _Inexact:
        return reference_message(notification, wire)
    chain = document.pop(CHAIN_KEY, None) or {}
    meta = document.pop(META_KEY, None) or {}
    class_version = document.pop("class_version", 1)
    topic = notification.topic
    if type(class_version) is not int or class_version < current_class_version(topic):
        return reference_message(notification, wire)
    recorded_at = document.pop("timestamp", "")
    document.pop("originator_topic", None)
    try:
        value = _orjson_dumps(document)
    except _orjson.JSONEncodeError:  # nested beyond orjson's limit, say
        return reference_message(notification, wire)
    stream = str(notification.originator_id)
    subject = meta.get("subject") or f"stream:{stream}"
    headers = _headers(notification, wire, class_version, subject, recorded_at, chain, meta)
    return WireMessage(notification.id, subject.encode(), value, headers)


class _Inexact(Exception):
    """orjson read a float: a fraction, or an integer beyond 64 bits."""


def _is_wrapper(document: dict[str, Any]) -> bool:
    return len(document) == 2 and "_type_" in document and "_data_" in document


def _unwrap_exact(document: dict[str, Any]) -> None:
    """Unwrap the transcoder's wrappers within ``document`` in place, as ``_unwrap`` does while
    the standard parser reads; raise ``_Inexact`` at the first float."""
    for key, value in document.items():
        if type(value) in _WALKED:
            document[key] = _exact(value)


def _unwrap_list(items: list[Any]) -> None:
    for index, value in enumerate(items):
        if type(value) in _WALKED:
            items[index] = _exact(value)


def _exact(value: Any) -> Any:
    """``value`` (a dict, a list or a float) unwrapped, its insides unwrapped in place."""
    kind = type(value)
    if kind is dict:
        while len(value) == 2 and "_type_" in value and "_data_" in value:
            value = value["_data_"]
            if type(value) is not dict:
                break
        kind = type(value)
        if kind is dict:
            _unwrap_exact(value)
    if kind is list:
        _unwrap_list(value)
    elif kind is float:
        raise _Inexact
    return value


#: The values :func:`_exact` looks into (or refuses).
_WALKED = frozenset({dict, list, float})


_SPECVERSION_HEADER = (CE_SPECVERSION, SPECVERSION.encode())


@lru_cache(maxsize=1024)
def _fixed_headers(
    topic: str, class_version: int, source: str, schema_base_uri: str
) -> tuple[tuple[str, bytes], ...]:
    """The headers that only depend on the event class: source, type, content type, schema."""
    ce_type, dataschema = _type_headers(event_name(topic), class_version, schema_base_uri)
    return (
        (CE_SOURCE, source.encode()),
        (CE_TYPE, ce_type),
        (CONTENT_TYPE_HEADER, CONTENT_TYPE.encode()),
        (CE_DATASCHEMA, dataschema),
    )


def _headers(
    notification: LogEntry,
    wire: WireFormat,
    class_version: int,
    subject: str,
    recorded_at: object,
    chain: Mapping[str, Any],
    meta: Mapping[str, Any],
) -> Headers:
    """A message's headers, in their order: CloudEvents attributes, then capledger's."""
    source, ce_type, content_type, dataschema = _fixed_headers(
        notification.topic, class_version, wire.source, wire.schema_base_uri
    )
    stream = str(notification.originator_id)
    version = notification.originator_version
    headers: Headers = [
        _SPECVERSION_HEADER,
        (CE_ID, f"{stream}:{version}".encode()),
        source,
        ce_type,
        (CE_TIME, str(recorded_at).encode()),
        (CE_SUBJECT, subject.encode()),
        content_type,
        dataschema,
        (POSITION, str(notification.id).encode()),
        (STREAM, stream.encode()),
        (STREAM_VERSION, str(version).encode()),
        (HASH, str(chain.get("hash", "")).encode()),
        (PREV_HASH, str(chain.get("prev", "")).encode()),
        (PRINCIPAL, str(meta.get("principal") or "").encode()),
        (COMMAND_ID, str(meta.get("command_id") or "").encode()),
    ]
    correlation_id = meta.get("correlation_id")
    if correlation_id:
        headers.append((CORRELATION_ID, str(correlation_id).encode()))
    return headers


def reference_message(notification: LogEntry, wire: WireFormat) -> WireMessage:
    """The Kafka message of one entry of the notification log, with the standard library.

    The stored state is decoded once, unwrapping the transcoder's ``{"_type_", "_data_"}``
    wrappers as it is parsed. It yields exactly the ``data``, ``meta`` and chain of
    ``application.published.publish`` (a unit test holds the two together).
    """
    document: dict[str, Any] = _DECODER.decode(notification.state.decode("utf-8"))
    chain = document.pop(CHAIN_KEY, None) or {}
    meta = document.pop(META_KEY, None) or {}
    class_version = int(document.pop("class_version", 1))
    recorded_at = str(document.pop("timestamp", ""))
    document.pop("originator_topic", None)
    topic = notification.topic
    stream = str(notification.originator_id)
    current = current_class_version(topic)
    if class_version < current:
        document = upcast_data(topic, notification.state, class_version, current)
        class_version = current
    subject = meta.get("subject") or f"stream:{stream}"
    headers = _headers(notification, wire, class_version, subject, recorded_at, chain, meta)
    value = _ENCODER.encode(document).encode()
    return WireMessage(notification.id, subject.encode(), value, headers)


def _unwrap(document: dict[str, Any]) -> Any:
    if len(document) == 2 and "_type_" in document and "_data_" in document:
        return document["_data_"]
    return document


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, UUID):
        return str(value)
    raise TypeError(f"cannot publish a {type(value).__name__}")


_orjson_loads = _orjson.loads
_orjson_dumps = _orjson.dumps
_DECODER = json.JSONDecoder(object_hook=_unwrap)
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=_json_default)


@lru_cache(maxsize=1024)
def _type_headers(name: str, class_version: int, schema_base_uri: str) -> tuple[bytes, bytes]:
    """``ce_type`` and ``ce_dataschema`` of an event name and version."""
    ce_type = f"{TYPE_PREFIX}.{name}.v{class_version}"
    return ce_type.encode(), (schema_base_uri + schema_file_name(name, class_version)).encode()


@lru_cache(maxsize=256)
def current_class_version(topic: str) -> int:
    try:
        cls = resolve_topic(topic)
    except Exception:  # an event class that no longer exists: publish as recorded
        return 0
    return int(getattr(cls, "class_version", 1))


def upcast_data(topic: str, state: bytes, from_version: int, to_version: int) -> dict[str, Any]:
    """The published data of an old event, upcast with the event class's own upcasters."""
    cls = resolve_topic(topic)
    data = dict(unseal(state).data)
    for key in ("class_version", "timestamp", "originator_topic"):
        data.pop(key, None)
    for version in range(from_version, to_version):
        getattr(cls, f"upcast_v{version}_v{version + 1}")(data)
    upcast: dict[str, Any] = plain(json.loads(json.dumps(data, default=_json_default)))
    return upcast


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
    body = ce_type.removeprefix(f"{TYPE_PREFIX}.")
    name, _, version = body.rpartition(".v")
    return name if version.isdigit() else body


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
        data=None if value is None else json.loads(value),
        topic=topic,
        partition=partition,
        offset=offset,
    )
