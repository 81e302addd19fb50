"""Event store infrastructure: transcodings, the chaining mapper and the chained event store."""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from datetime import date
from json.encoder import encode_basestring
from typing import Any, NamedTuple
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import (
    EventStore,
    IntegrityError,
    JSONTranscoder,
    Mapper,
    Notification,
    Recording,
    StoredEvent,
    Transcoding,
)
from eventsourcing.utils import get_topic

from capledger.domain.values import Decision

from .chain import (
    CHAIN_KEY,
    GENESIS,
    META_KEY,
    RESERVED_KEYS,
    canonical_json,
    canonical_json_exact,
    unseal,
)
from .sqlite_writer import SQLiteEventWriter

HEADS_CACHE_SIZE = 100_000


class DateAsISO(Transcoding):
    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


class DecisionAsDict(Transcoding):
    type = Decision
    name = "decision"

    def encode(self, obj: Decision) -> dict[str, Any]:
        return {"number": obj.number, "issued_on": obj.issued_on, "issuer": obj.issuer}

    def decode(self, data: dict[str, Any]) -> Decision:
        return Decision(data["number"], data["issued_on"], data["issuer"])


def seal_once(
    *,
    stream: str,
    version: int,
    topic: str,
    data: dict[str, Any],
    meta: Mapping[str, Any],
    prev: str,
    float_free: bool = False,
) -> tuple[bytes, str]:
    """Byte for byte what :func:`chain.seal` returns, serialising the event data only once.

    ``seal`` writes the data twice: inside the hashed envelope and inside the stored state.
    Canonical JSON of a mapping is ``{`` + its items sorted by key + ``}``, so both documents
    are assembled here from the canonical data: the envelope's keys (data, meta, prev, stream,
    topic, version) are in sorted order, and the reserved keys (_chain, _meta) come first in
    the state whenever every data key sorts after them, as the ledger's field names do;
    otherwise the state is serialised as ``seal`` does it.

    ``float_free`` is the caller's word that ``data`` holds JSON values of exact types (str,
    int, bool, None, dict with str keys, list) and no float: orjson then writes its canonical
    JSON (see :func:`_canonical_exact`).
    """
    data_json = canonical_json_exact(data) if float_free else canonical_json(data)
    meta_json = _canonical_meta(meta)
    prev_json = _scalar_json(prev)
    envelope = b"".join((
        b'{"data":', data_json, b',"meta":', meta_json, b',"prev":', prev_json,
        b',"stream":', _scalar_json(stream), b',"topic":', _scalar_json(topic),
        b',"version":', _scalar_json(version), b"}",
    ))  # fmt: skip
    digest = hashlib.sha256(envelope).hexdigest()
    if data and min(data) <= META_KEY:
        state = {**data, META_KEY: dict(meta), CHAIN_KEY: {"hash": digest, "prev": prev}}
        return canonical_json(state), digest
    rest = b"," + data_json[1:] if data else b"}"
    chain_json = b'{"hash":"' + digest.encode() + b'","prev":' + prev_json + b"}"
    return b'{"_chain":' + chain_json + b',"_meta":' + meta_json + rest, digest


def _canonical_meta(meta: Mapping[str, Any]) -> bytes:
    """Canonical JSON of event metadata: by orjson when it is flat str keys to str or None."""
    if type(meta) is dict and all(
        type(key) is str and (type(value) is str or value is None) for key, value in meta.items()
    ):
        return canonical_json_exact(meta)
    return canonical_json(meta)


def _scalar_json(value: object) -> bytes:
    """Canonical JSON of a str or an int, without the encoder's per-call set-up."""
    if type(value) is str:
        return encode_basestring(value).encode()
    if type(value) is int:
        return str(value).encode()
    return canonical_json(value)


class PlainEvent(NamedTuple):
    """An event about to be sealed: its stream, version, topic and data as JSON values."""

    originator_id: UUID
    originator_version: int
    topic: str
    data: dict[str, Any]
    #: Whether ``data`` holds JSON values of exact types and no float (see ``seal_once``).
    float_free: bool = False


# Floats are left to the JSON round trip: orjson and json write some of them differently.
_JSON_SCALARS = frozenset({str, int, bool, type(None)})
_JSON_NATIVE = (str, int, float, dict, list, tuple)


class _NotPlain(Exception):
    """A value the direct conversion does not reproduce exactly: take the JSON round trip."""


class LedgerMapper(Mapper[UUID]):
    """Maps events to stored events; strips the chain and metadata keys when reading back."""

    def to_plain(self, domain_event: DomainEventProtocol[UUID]) -> PlainEvent:
        """``json.loads(self.to_stored_event(event).state)`` and the event's identity.

        The event's state is converted to JSON values directly, as the JSON transcoder would
        write it: exact types only (str, int, bool, None, dict with str keys, list,
        tuple and the registered transcodings). Anything else (a float included), or a
        compressor or cipher, takes the round trip through JSON text.
        """
        transcoder = self.transcoder
        state = dict(vars(domain_event))
        originator_id = state.pop("originator_id")
        originator_version = state.pop("originator_version")
        topic = get_topic(type(domain_event))
        if self.compressor is None and self.cipher is None and type(transcoder) is JSONTranscoder:
            class_version = getattr(type(domain_event), "class_version", 1)
            if class_version > 1:
                state["class_version"] = class_version
            try:
                data = {
                    key: value if type(value) in _JSON_SCALARS else _plain(value, transcoder)
                    for key, value in state.items()
                }
            except (_NotPlain, RecursionError):
                pass
            else:
                return PlainEvent(originator_id, originator_version, topic, data, True)
        stored = self.to_stored_event(domain_event)
        return PlainEvent(originator_id, originator_version, topic, json.loads(stored.state))

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[UUID]:
        domain_event = super().to_domain_event(stored_event)
        state = vars(domain_event)
        for key in RESERVED_KEYS:
            state.pop(key, None)
        return domain_event


def _plain(value: Any, transcoder: JSONTranscoder) -> Any:
    kind = type(value)
    if kind in _JSON_SCALARS:
        return value
    if kind is dict:
        if not all(type(key) is str for key in value):
            raise _NotPlain
        return {
            key: item if type(item) in _JSON_SCALARS else _plain(item, transcoder)
            for key, item in value.items()
        }
    if kind is list or kind is tuple:
        return [item if type(item) in _JSON_SCALARS else _plain(item, transcoder) for item in value]
    # json writes subclasses of its own types (an IntEnum, a StrEnum...) as those types, never
    # through a transcoding: leave them to the round trip.
    transcoding = None if issubclass(kind, _JSON_NATIVE) else transcoder.types.get(kind)
    if transcoding is None:
        raise _NotPlain
    return {"_type_": transcoding.name, "_data_": _plain(transcoding.encode(value), transcoder)}


class ChainedEventStore(EventStore[UUID]):
    """Seals every event into its stream's hash chain as it is stored.

    The previous hash of a stream comes from a bounded cache of stream heads, filled from what
    this store wrote or read; a miss costs one indexed read of the previous event. Entries are
    keyed by version, so a cached head is never used for a stream that moved on elsewhere.
    """

    def __init__(self, mapper: Mapper[UUID], recorder: Any) -> None:
        super().__init__(mapper, recorder)
        self._heads: OrderedDict[UUID, tuple[int, str]] = OrderedDict()
        self._writer = SQLiteEventWriter.for_recorder(recorder)

    def close(self) -> None:
        """Close the store's own writer connection, if it has one (the recorder's are not its)."""
        if self._writer is not None:
            self._writer.close()

    def put(
        self, domain_events: Sequence[DomainEventProtocol[UUID]], **kwargs: Any
    ) -> list[Recording[UUID]]:
        meta: Mapping[str, Any] = kwargs.pop("metadata", None) or {}
        # Subjects name each stream as readers know it ("project:HP-001"): the Kafka key and
        # the projections' way to find a project without reading its first event.
        subjects: Mapping[UUID, str] = kwargs.pop("subjects", None) or {}
        sealed: list[StoredEvent] = []
        new_heads: dict[UUID, tuple[int, str]] = {}
        for domain_event in domain_events:
            plain = self._plain(domain_event)
            originator_id = plain.originator_id
            assert isinstance(originator_id, UUID)
            version = plain.originator_version
            prev = self._prev_hash(originator_id, version, new_heads)
            state, digest = seal_once(
                stream=str(originator_id),
                version=version,
                topic=plain.topic,
                data=plain.data,
                meta={**meta, "subject": subjects.get(originator_id)},
                prev=prev,
                float_free=plain.float_free,
            )
            sealed.append(StoredEvent(originator_id, version, plain.topic, state))
            new_heads[originator_id] = (version, digest)
        notification_ids: Sequence[int] | None
        writer = self._writer
        if writer is not None and kwargs.keys() <= {"tracking"} and kwargs.get("tracking") is None:
            notification_ids = writer.insert(sealed)
        else:
            notification_ids = self.recorder.insert_events(sealed, **kwargs)
        for originator_id, head in new_heads.items():
            self._remember(originator_id, head)
        return [
            Recording(
                domain_event,
                Notification(
                    id=notification_id,
                    originator_id=stored.originator_id,
                    originator_version=stored.originator_version,
                    topic=stored.topic,
                    state=stored.state,
                ),
            )
            for domain_event, stored, notification_id in zip(
                domain_events, sealed, notification_ids or [], strict=False
            )
        ]

    def get(
        self,
        originator_id: UUID,
        *,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> Iterator[DomainEventProtocol[UUID]]:
        stored_events = self.recorder.select_events(
            originator_id=originator_id, gt=gt, lte=lte, desc=desc, limit=limit
        )
        last: StoredEvent | None = None
        for stored in stored_events:
            last = stored
            yield self.mapper.to_domain_event(stored)
        if last is not None and not desc and lte is None:
            self._remember(originator_id, (last.originator_version, unseal(last.state).hash))

    def select_stored(
        self, originator_id: UUID, *, gt: int | None = None, lte: int | None = None
    ) -> list[StoredEvent]:
        return list(self.recorder.select_events(originator_id=originator_id, gt=gt, lte=lte))

    def _plain(self, domain_event: DomainEventProtocol[UUID]) -> PlainEvent:
        if isinstance(self.mapper, LedgerMapper):
            return self.mapper.to_plain(domain_event)
        stored = self.mapper.to_stored_event(domain_event)
        assert isinstance(stored.originator_id, UUID)
        return PlainEvent(
            stored.originator_id, stored.originator_version, stored.topic, json.loads(stored.state)
        )

    def _prev_hash(
        self, originator_id: UUID, version: int, in_batch: Mapping[UUID, tuple[int, str]]
    ) -> str:
        if version == 1:
            return GENESIS
        for heads in (in_batch, self._heads):
            head = heads.get(originator_id)
            if head is not None and head[0] == version - 1:
                return head[1]
        previous = self.recorder.select_events(
            originator_id=originator_id, gt=version - 2, lte=version - 1
        )
        if not previous:
            # The aggregate is ahead of its stored stream (the recorders accept a version gap,
            # and it would be sealed on a wrong link): refuse it as a version conflict.
            raise IntegrityError(f"stream {originator_id} has no stored version {version - 1}")
        return unseal(previous[0].state).hash

    def _remember(self, originator_id: UUID, head: tuple[int, str]) -> None:
        self._heads[originator_id] = head
        self._heads.move_to_end(originator_id)
        if len(self._heads) > HEADS_CACHE_SIZE:
            self._heads.popitem(last=False)
