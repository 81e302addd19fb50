"""Event store infrastructure: transcodings, the canonical transcoder, the chained store."""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from datetime import date
from typing import Any
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

from capledger.domain.values import Decision

from .chain import GENESIS, RESERVED_KEYS, canonical_json, canonical_json_exact, seal, unseal

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


# Floats are left to the standard library: orjson and json write some of them differently.
_JSON_SCALARS = frozenset({str, int, bool, type(None)})
_JSON_NATIVE = (str, int, float, dict, list, tuple)


class _NotPlain(Exception):
    """A value the direct conversion does not reproduce exactly: the standard library writes it."""


class CanonicalJSONTranscoder(JSONTranscoder):
    """The library's JSON transcoder, writing canonical JSON (``chain.canonical_json``).

    What it writes decodes as the library's transcoder decodes it, and is what the hash chain
    hashes, so the event store seals it without parsing it again. Values of exact JSON types
    (str, int, bool, None, dict with str keys, list, tuple) and the registered transcodings are
    converted directly and written by orjson, which writes their canonical JSON byte for byte;
    anything else (a float among them) goes the library's way and is then made canonical.
    """

    def encode(self, obj: Any) -> bytes:
        try:
            if type(obj) is dict and all(type(key) is str for key in obj):
                # An event's state: its values are mostly scalars, converted in line.
                plain = {
                    key: value if type(value) in _JSON_SCALARS else self._plain(value)
                    for key, value in obj.items()
                }
            else:
                plain = self._plain(obj)
        except (_NotPlain, RecursionError):
            return canonical_json(json.loads(super().encode(obj)))
        return canonical_json_exact(plain)

    def _plain(self, value: Any) -> Any:
        kind = type(value)
        if kind in _JSON_SCALARS:
            return value
        if kind is dict:
            if not all(type(key) is str for key in value):
                raise _NotPlain
            return {
                key: item if type(item) in _JSON_SCALARS else self._plain(item)
                for key, item in value.items()
            }
        if kind is list or kind is tuple:
            return [item if type(item) in _JSON_SCALARS else self._plain(item) for item in value]
        # json writes subclasses of its own types (an IntEnum, a StrEnum...) as those types,
        # never through a transcoding: leave them to the library.
        transcoding = None if issubclass(kind, _JSON_NATIVE) else self.types.get(kind)
        if transcoding is None:
            raise _NotPlain
        return {"_type_": transcoding.name, "_data_": self._plain(transcoding.encode(value))}


class LedgerMapper(Mapper[UUID]):
    """Maps events to stored events; strips the chain and metadata keys when reading back."""

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[UUID]:
        domain_event = super().to_domain_event(stored_event)
        state = vars(domain_event)
        for key in RESERVED_KEYS:
            state.pop(key, None)
        return domain_event


class ChainedEventStore(EventStore[UUID]):
    """Seals every event into its stream's hash chain as it is stored.

    The previous hash of a stream comes from a bounded cache of stream heads, filled from what
    this store wrote or read; a miss costs one indexed read of the previous event. Entries are
    keyed by version, so a cached head is never used for a stream that moved on elsewhere.
    """

    def __init__(self, mapper: Mapper[UUID], recorder: Any) -> None:
        super().__init__(mapper, recorder)
        self._heads: OrderedDict[UUID, tuple[int, str]] = OrderedDict()
        # With the canonical transcoder (and no compressor or cipher) a stored state is the
        # data's canonical JSON: sealed as it is.
        self._canonical = (
            isinstance(mapper.transcoder, CanonicalJSONTranscoder)
            and mapper.compressor is None
            and mapper.cipher is None
        )

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
            stored = self.mapper.to_stored_event(domain_event)
            originator_id = stored.originator_id
            assert isinstance(originator_id, UUID)
            version = stored.originator_version
            prev = self._prev_hash(originator_id, version, new_heads)
            state, digest = seal(
                stream=str(originator_id),
                version=version,
                topic=stored.topic,
                data=stored.state if self._canonical else json.loads(stored.state),
                meta={**meta, "subject": subjects.get(originator_id)},
                prev=prev,
            )
            sealed.append(StoredEvent(originator_id, version, stored.topic, state))
            new_heads[originator_id] = (version, digest)
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
