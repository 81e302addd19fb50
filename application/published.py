"""The published contract: what every reader of the ledger's events sees, defined once.

A recorded event is stored in the eventsourcing transcoder's form (``{"_type_": …, "_data_": …}``
wrappers, the hash-chain link and metadata beside the data). Its *published form* unwraps them
into plain JSON (dates as ISO strings, decisions as objects, amounts as integers), so readers
need no knowledge of the library. The read models fold it, Kafka messages carry it, history and
exports show it. This module owns:

- the names of events, the kinds of streams and the statuses of projects, as enums
  (``StrEnum``: they compare equal to the strings already stored and sent);
- :func:`publish`, the one decoder from a stored event to its published form;
- upcasting: an event stored under an older ``class_version`` is published in the current one,
  by the event class's own ``upcast_vN_vN+1`` (the domain's, the only definition), so an old
  stored event reads the same everywhere;
- the subject of an event stored before metadata named it (the golden v1 registration): a
  creation event's subject is rebuilt from its ``code``, checked against the stream id.

Speed comes from parsing the stored state once, with orjson, and walking only what can hold a
wrapper. orjson reads an integer beyond 64 bits as a float; the ledger never stores floats, so a
float means "read it again exactly" with the standard library (:func:`parse_json`, the one
place that decides).
"""

from __future__ import annotations

import json
from dataclasses import asdict, is_dataclass
from datetime import date, datetime
from enum import StrEnum
from functools import lru_cache
from typing import Any, NamedTuple
from uuid import UUID, uuid5

import orjson
from eventsourcing.utils import get_topic, resolve_topic

from capledger.domain import ApiKey, CapitalPlan, Project, ProjectStatus
from capledger.domain.ids import NAMESPACE

from .chain import CHAIN_KEY, META_KEY
from .receipts import CommandReceipt

__all__ = [
    "TYPE_PREFIX",
    "EventName",
    "ProjectStatus",
    "PublishedEvent",
    "StreamKind",
    "current_class_version",
    "event_name",
    "event_topic",
    "parse_json",
    "publish",
    "published_fields",
    "upcast",
]

#: Prefix of CloudEvents ``type`` values: ``vn.capledger.Project.CompletedWorkPaid.v1``.
TYPE_PREFIX = "vn.capledger"


class StreamKind(StrEnum):
    """The kind part of a subject (``project`` of ``project:HP-001``)."""

    PROJECT = "project"
    PLAN = "plan"
    COMMAND = "command"
    #: An API key's administration (``api-key:<key id>``).
    API_KEY = "api-key"


#: The aggregates whose events are published, by name.
_AGGREGATES: dict[str, type] = {
    "Project": Project,
    "CapitalPlan": CapitalPlan,
    "CommandReceipt": CommandReceipt,
    "ApiKey": ApiKey,
}
#: The kind of each aggregate's streams.
AGGREGATE_KINDS: dict[str, StreamKind] = {
    "Project": StreamKind.PROJECT,
    "CapitalPlan": StreamKind.PLAN,
    "CommandReceipt": StreamKind.COMMAND,
    "ApiKey": StreamKind.API_KEY,
}


class EventName(StrEnum):
    """Every published event's name: ``<Aggregate>.<Event>`` (a test holds it to the domain)."""

    PLAN_APPROVED = "CapitalPlan.Approved"
    PLAN_ADJUSTED = "CapitalPlan.Adjusted"
    PLAN_CAPITAL_ALLOCATED = "CapitalPlan.CapitalAllocated"
    PLAN_CAPITAL_RETURNED = "CapitalPlan.CapitalReturned"
    COMMAND_ACCEPTED = "CommandReceipt.Accepted"
    PROJECT_REGISTERED = "Project.Registered"
    PROJECT_TOTAL_INVESTMENT_ADJUSTED = "Project.TotalInvestmentAdjusted"
    PROJECT_INVESTOR_CHANGED = "Project.InvestorChanged"
    PROJECT_STATUS_CHANGED = "Project.StatusChanged"
    PROJECT_CAPITAL_ALLOCATED = "Project.CapitalAllocated"
    PROJECT_CAPITAL_TRANSFERRED_OUT = "Project.CapitalTransferredOut"
    PROJECT_CAPITAL_TRANSFERRED_IN = "Project.CapitalTransferredIn"
    PROJECT_ALLOCATION_CUT = "Project.AllocationCut"
    PROJECT_CONTRACT_SIGNED = "Project.ContractSigned"
    PROJECT_ADVANCE_PAID = "Project.AdvancePaid"
    PROJECT_COMPLETED_WORK_PAID = "Project.CompletedWorkPaid"
    PROJECT_ENTRY_REVERSED = "Project.EntryReversed"
    PROJECT_ENTRY_CORRECTED = "Project.EntryCorrected"
    PROJECT_DISBURSEMENT_PERIOD_EXTENDED = "Project.DisbursementPeriodExtended"
    PROJECT_CAPITAL_LAPSED = "Project.CapitalLapsed"
    PROJECT_SETTLED = "Project.Settled"
    API_KEY_ISSUED = "ApiKey.Issued"
    API_KEY_SCOPE_CHANGED = "ApiKey.ScopeChanged"
    API_KEY_REVOKED = "ApiKey.Revoked"


class PublishedEvent(NamedTuple):
    """An event in its published form. A named tuple: immutable, and made in one call (a
    rebuild makes one per event)."""

    position: int
    stream: UUID
    stream_version: int
    topic: str
    name: str  # e.g. "Project.CompletedWorkPaid" (an ``EventName``)
    class_version: int  # the current version: older stored events are published upcast
    subject: str | None  # e.g. "project:HP-001"
    recorded_at: str  # ISO 8601 timestamp of recording
    data: dict[str, Any]
    meta: dict[str, Any]
    hash: str
    prev: str

    @property
    def ce_type(self) -> str:
        return f"{TYPE_PREFIX}.{self.name}.v{self.class_version}"

    @property
    def subject_code(self) -> str | None:
        """The code part of the subject ("HP-001" of "project:HP-001")."""
        return None if self.subject is None else self.subject.partition(":")[2]

    @property
    def kind(self) -> str | None:
        """The kind part of the subject ("project", "plan" or "command")."""
        return None if self.subject is None else self.subject.partition(":")[0]


@lru_cache(maxsize=1024)
def event_name(topic: str) -> str:
    """``capledger.domain.project:Project.CompletedWorkPaid`` → ``Project.CompletedWorkPaid``."""
    return topic.rpartition(":")[2]


@lru_cache(maxsize=512)
def event_topic(name: str) -> str:
    """The topic of an event class (``capledger.domain.project:Project.CompletedWorkPaid``) as
    the notification log names it; the CloudEvents type if no such class exists here."""
    aggregate, _, event = name.partition(".")
    owner = _AGGREGATES.get(aggregate)
    cls = getattr(owner, event, None) if owner is not None and event else None
    return get_topic(cls) if isinstance(cls, type) else f"{TYPE_PREFIX}.{name}"


# -- the decoder -------------------------------------------------------------------------------


def publish(
    position: int, stream: UUID, stream_version: int, topic: str, state: bytes
) -> PublishedEvent:
    """The published form of a stored event (its state as stored, chain and metadata included)."""
    return _published(position, stream, stream_version, topic, state)


def published_fields(
    position: int, stream: Any, stream_version: int, topic: str, state: bytes
) -> dict[str, Any]:
    """``publish``'s fields as a dictionary, in order, ``stream`` as given (a process that
    sends events elsewhere may pass its text)."""
    return _published(position, stream, stream_version, topic, state)._asdict()


def _published(
    position: int, stream: Any, stream_version: int, topic: str, state: bytes
) -> PublishedEvent:
    document = parse_json(state)
    if type(document) is not dict:
        raise ValueError(f"the stored state of {topic} at position {position} is not an object")
    chain = document.pop(CHAIN_KEY, None) or {}
    meta = document.pop(META_KEY, None) or {}
    class_version = int(document.pop("class_version", 1))
    recorded_at = str(document.pop("timestamp", ""))
    document.pop("originator_topic", None)
    current = current_class_version(topic)
    if class_version < current:
        document = upcast(topic, document, class_version, current)
        class_version = current
    name = event_name(topic)
    subject = meta.get("subject")
    if subject is None:
        subject = _creation_subject(name, str(stream), document.get("code"))
    return PublishedEvent(
        position,
        stream,
        stream_version,
        topic,
        name,
        class_version,
        subject,
        recorded_at,
        document,
        meta,
        str(chain.get("hash", "")),
        str(chain.get("prev", "")),
    )


# -- upcasting ---------------------------------------------------------------------------------


@lru_cache(maxsize=256)
def current_class_version(topic: str) -> int:
    """The class version an event of ``topic`` is published in; 0 for a class that no longer
    exists (published as recorded)."""
    try:
        cls = resolve_topic(topic)
    except Exception:
        return 0
    return int(getattr(cls, "class_version", 1))


def upcast(topic: str, data: dict[str, Any], from_version: int, to_version: int) -> dict[str, Any]:
    """The published data of an event stored as ``from_version``, in ``to_version``: the event
    class's own ``upcast_vN_vN+1`` functions, applied in turn, then made plain JSON again."""
    cls = resolve_topic(topic)
    upcast_data = dict(data)
    for version in range(from_version, to_version):
        getattr(cls, f"upcast_v{version}_v{version + 1}")(upcast_data)
    plain: dict[str, Any] = json.loads(json.dumps(upcast_data, default=_plain_default))
    return plain


def _plain_default(value: Any) -> Any:
    """What an upcaster may add that JSON has no type for, in the published form."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    if isinstance(value, UUID):
        return str(value)
    raise TypeError(f"an upcaster made a {type(value).__name__}, which has no published form")


@lru_cache(maxsize=65_536)
def _creation_subject(name: str, stream: str, code: Any) -> str | None:
    """The subject of an event stored before metadata named subjects: a creation event of a
    project or plan names its ``code``, and its stream id is derived from that subject."""
    kind = AGGREGATE_KINDS.get(name.partition(".")[0])
    if kind is None or kind is StreamKind.COMMAND or type(code) is not str:
        return None
    subject = f"{kind}:{code}"
    return subject if str(uuid5(NAMESPACE, subject)) == stream else None


# -- parsing -----------------------------------------------------------------------------------


class _Inexact(Exception):
    """orjson read a float: a fraction, or an integer beyond 64 bits (which it reads as a float
    without a word). The ledger stores neither as a float, so the text is read again exactly."""


def _unwrap_hook(document: dict[str, Any]) -> Any:
    if len(document) == 2 and "_type_" in document and "_data_" in document:
        return document["_data_"]
    return document


_EXACT = json.JSONDecoder(object_hook=_unwrap_hook)


def parse_json(text: bytes) -> Any:
    """JSON text (a stored state, a Kafka message's value) as plain values, the transcoder's
    wrappers unwrapped, integers exact: orjson, or the standard library where orjson would be
    inexact or refuses (it is stricter)."""
    try:
        return _plain(orjson.loads(text))
    except (orjson.JSONDecodeError, _Inexact):
        return _EXACT.decode(text.decode("utf-8"))


def _plain(value: Any) -> Any:
    """``value`` with wrappers unwrapped (in place below the top); a float raises ``_Inexact``.

    A wrapper around a string (a date, a time: most of them) is unwrapped where it is found,
    without a call: the walk is the largest cost of decoding."""
    kind = type(value)
    if kind is dict:
        if len(value) == 2 and "_type_" in value and "_data_" in value:
            data = value["_data_"]
            return _plain(data) if type(data) in _WALKED else data
        for key, item in value.items():
            kind = type(item)
            if kind is str or kind is int or item is None:
                continue
            if kind is dict and len(item) == 2 and "_type_" in item and "_data_" in item:
                item = item["_data_"]
                if type(item) is str:
                    value[key] = item
                    continue
            value[key] = _plain(item) if type(item) in _WALKED else item
    elif kind is list:
        for index, item in enumerate(value):
            if type(item) in _WALKED:
                value[index] = _plain(item)
    elif kind is float:
        raise _Inexact
    return value


#: The values ``_plain`` looks into (or refuses).
_WALKED = frozenset({dict, list, float})
