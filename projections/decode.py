"""Decoding the notification log into published events, in one pass per notification.

``application.published.publish`` parses the stored state with ``json.loads`` and then walks
the result again to unwrap the transcoder's ``{"_type_": …, "_data_": …}`` wrappers. Here the
state is parsed once (with ``orjson`` when it is installed, else the standard library's parser
unwrapping the wrappers in its ``object_hook``, as ``streams/wire.py`` does) and only the values
that can hold a wrapper are walked. The result is equal to ``publish``'s, field for field (a
unit test holds the two together).

Notifications of events the reducers never fold (command receipts, half the log) are skipped by
their topic without being decoded at all.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import fields
from functools import lru_cache
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Notification

from capledger.application.chain import CHAIN_KEY, META_KEY
from capledger.application.published import PublishedEvent, event_name

from .reducers import folds

_TYPE = "_type_"
_DATA = "_data_"


def _unwrap_hook(document: dict[str, Any]) -> Any:
    if len(document) == 2 and _TYPE in document and _DATA in document:
        return document[_DATA]
    return document


_HOOKED = json.JSONDecoder(object_hook=_unwrap_hook)


class _Inexact(Exception):
    """orjson read a number as a float: a fraction, or an integer beyond 64 bits (which it
    turns into a float without a word). The ledger writes neither as a float, so the state is
    parsed again by the standard library, exactly as ``publish`` parses it."""


def _plain(value: Any) -> Any:
    """``published.plain`` for values orjson parsed: unwrap wrappers, recursively; refuse
    floats (see ``_Inexact``)."""
    kind = type(value)
    if kind is dict:
        if len(value) == 2 and _TYPE in value and _DATA in value:
            return _plain(value[_DATA])
        return {key: _plain(item) if type(item) in _WALKED else item for key, item in value.items()}
    if kind is list:
        return [_plain(item) if type(item) in _WALKED else item for item in value]
    if kind is float:
        raise _Inexact
    return value


#: Values the walk looks into (or refuses).
_WALKED = frozenset({dict, list, float})
#: The chain link and the metadata: plain JSON, never wrapped (``publish`` leaves them as is).
_RESERVED = frozenset({CHAIN_KEY, META_KEY})


def _parse_with_hook(state: bytes) -> dict[str, Any]:
    document: dict[str, Any] = _HOOKED.decode(state.decode("utf-8"))
    return document


def _parser() -> Callable[[bytes], dict[str, Any]]:
    try:
        import orjson
    except ImportError:  # not a dependency: the standard library's parser does the same
        return _parse_with_hook

    loads = orjson.loads
    decode_error = orjson.JSONDecodeError

    def parse(state: bytes) -> dict[str, Any]:
        try:
            document = loads(state)
            if type(document) is not dict:
                raise ValueError("a stored state must be a JSON object")
            for key, value in document.items():
                kind = type(value)
                if kind is str or kind is int or key in _RESERVED:
                    continue
                if kind is dict and len(value) == 2 and _TYPE in value:
                    # A wrapped date, time or decision, the usual case: unwrapped here.
                    data = value.get(_DATA, value)
                    document[key] = _plain(data) if type(data) in _WALKED else data
                elif kind in _WALKED:
                    document[key] = _plain(value)
        except (decode_error, _Inexact):
            # What orjson refuses or would read inexactly, the standard parser reads exactly.
            return _parse_with_hook(state)
        return document

    return parse


#: ``parse(state) -> document`` with every transcoder wrapper unwrapped.
parse_state = _parser()


def _json_parser() -> Callable[[bytes], Any]:
    try:
        import orjson
    except ImportError:
        return json.loads

    loads = orjson.loads
    decode_error = orjson.JSONDecodeError

    def parse(text: bytes) -> Any:
        try:
            document = loads(text)
            _refuse_floats(document)
        except (decode_error, _Inexact):
            return json.loads(text)  # exact where orjson would not be (see ``_Inexact``)
        return document

    return parse


def _refuse_floats(value: Any) -> None:
    kind = type(value)
    if kind is dict:
        for item in value.values():
            if type(item) in _WALKED:
                _refuse_floats(item)
    elif kind is list:
        for item in value:
            if type(item) in _WALKED:
                _refuse_floats(item)
    elif kind is float:
        raise _Inexact


#: ``parse_json(text)``: ``json.loads``, the same result, with orjson when it is installed (a
#: Kafka record's value is plain JSON: no wrappers to unwrap).
parse_json = _json_parser()


@lru_cache(maxsize=1024)
def folded_name(topic: str) -> str | None:
    """The event name of a topic whose events the reducers fold; None for the others."""
    name = event_name(topic)
    return name if folds(name) else None


def published_event(
    position: int, stream: UUID, stream_version: int, topic: str, name: str, state: bytes
) -> PublishedEvent:
    """What ``publish(position, stream, stream_version, topic, state)`` returns."""
    return event_of(published_values(position, stream, stream_version, topic, name, state))


def published_values(
    position: int, stream: Any, stream_version: int, topic: str, name: str, state: bytes
) -> dict[str, Any]:
    """The fields of ``published_event``'s result, in order (``stream`` as given)."""
    document = parse_state(state)
    chain = document.pop(CHAIN_KEY, None) or {}
    meta = document.pop(META_KEY, None) or {}
    class_version = int(document.pop("class_version", 1))
    recorded_at = str(document.pop("timestamp", ""))
    document.pop("originator_topic", None)
    values: dict[str, Any] = {
        "position": position,
        "stream": stream,
        "stream_version": stream_version,
        "topic": topic,
        "name": name,
        "class_version": class_version,
        "subject": meta.get("subject"),
        "recorded_at": recorded_at,
        "data": document,
        "meta": meta,
        "hash": str(chain.get("hash", "")),
        "prev": str(chain.get("prev", "")),
    }
    return values


def event_of(values: dict[str, Any]) -> PublishedEvent:
    """``PublishedEvent(**values)``, ``values`` naming every field in order (and kept)."""
    if not _SET_AT_ONCE:
        return PublishedEvent(**values)
    # The frozen dataclass's own ``__init__`` sets its twelve fields one ``object.__setattr__``
    # at a time, a quarter of the cost of decoding: its instance dictionary is set at once.
    event: PublishedEvent = _new(PublishedEvent)
    _set(event, "__dict__", values)
    return event


_new = object.__new__
_set = object.__setattr__
#: Setting the dictionary at once is only right while these are exactly the fields (and the
#: class keeps a dictionary): otherwise the constructor is used.
_SET_AT_ONCE = tuple(field.name for field in fields(PublishedEvent)) == (
    "position",
    "stream",
    "stream_version",
    "topic",
    "name",
    "class_version",
    "subject",
    "recorded_at",
    "data",
    "meta",
    "hash",
    "prev",
) and not hasattr(PublishedEvent, "__slots__")


def published(notifications: Sequence[Notification]) -> Iterator[PublishedEvent]:
    """The published form of each notification the reducers fold, in order; the others
    (command receipts) are skipped undecoded."""
    for note in notifications:
        name = folded_name(note.topic)
        if name is None:
            continue
        stream = note.originator_id
        yield published_event(
            note.id,
            stream if type(stream) is UUID else UUID(str(stream)),
            note.originator_version,
            note.topic,
            name,
            note.state,
        )
