"""Applying records of the events topic to the read model, offsets in the same transaction.

This is the Kafka runner's core, without Faust: the Faust app (``projector.py``), the rebuild's
final tail (``projector_rebuild.py``) and the unit tests all hand batches of records to
:class:`OffsetApplier`. Per batch, one write transaction of the read-model store:

1. lock the pointer (shared) and the tracking row of every topic-partition in the batch
   (``claim_position``, in partition order so that two workers never deadlock);
2. drop the records below the stored offset of their partition (already applied, by this
   worker before a restart or by another worker before a rebalance);
3. decode the rest into ``PublishedEvent`` and fold them with the same reducers as the
   embedded runner (``fold_batch``);
4. store, per partition, the offset *after* its last record (Kafka's "next offset to read"
   convention, so a fresh namespace's 0 means "from the beginning"), and commit.

Every event's hash link is checked as it is folded (``projections.verification``: its
``capledger_prev_hash`` header must be the hash of the stream's last folded event, kept in the
read model): a record that breaks its stream's chain folds nothing of its batch, is recorded
in the read model (``ReadModelStore.record_breach``, with its partition and offset) and logged
(``ledger_verification_failed``), and the applier refuses every later batch with the same
:class:`~capledger.projections.verification.UnverifiedEvent`.

A crash anywhere leaves either the whole batch and its offsets, or neither. Whatever Kafka
redelivers is filtered by step 2, so nothing is counted twice; what a worker resumes from is
the stored offset (``positions()``), so nothing is skipped.

One invariant is checked on every batch: a worker's records of a partition continue, without a
gap, from where it last committed or sought (its *anchor*); if the stored offset is below the
anchor (someone moved it back: a namespace switched under the worker without catching up, a
manual reset), the records in between are not in the batch and applying it would lose them, so
:class:`OffsetsMovedBack` is raised and the worker must seek again (restart).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import NamedTuple

import structlog

from capledger.application.published import PublishedEvent
from capledger.projections import (
    NOTIFICATION_LOG,
    Overlay,
    ReadModelStore,
    fold_batch,
    folds,
)
from capledger.projections.store import Writer
from capledger.projections.verification import ChainBreach, UnverifiedEvent, log_breach

from . import wire

log = structlog.get_logger(__name__)

#: Rows an overlay keeps between batches before it is cleared (the embedded runner's default).
DEFAULT_MAX_CACHED_ROWS = 500_000


class OffsetsMovedBack(RuntimeError):
    """The stored offset of a partition is below what this worker applied or sought: the
    records in between are not in hand; the worker must seek to the stored offsets again."""


class SharedReadModel(RuntimeError):
    """The namespace is also written by the embedded runner: both would count every event."""


class Record(NamedTuple):
    """One consumed record of the events topic (what both consumers, Faust's and
    kafka-python's, give us). A named tuple: one is built per record on the event loop, where
    a tuple is the cheapest object to build."""

    partition: int
    offset: int
    headers: Sequence[tuple[str, bytes]]
    value: bytes | None


@dataclass
class Applied:
    """What one committed batch did."""

    records: int = 0
    events: int = 0
    duplicates: int = 0
    rows: int = 0
    namespace: str = ""
    offsets: dict[int, int] = field(default_factory=dict)


# -- decoding ---------------------------------------------------------------------------------


def decode(headers: Iterable[tuple[str, bytes]], value: bytes | None) -> PublishedEvent | None:
    """The published form of a record (``wire.published_event``); None for events the
    reducers never fold (command receipts), which are not decoded further."""
    found = dict(headers)
    ce_type = found.get(wire.CE_TYPE)
    if ce_type is None:
        raise ValueError("a record of the events topic has no ce_type header")
    if not _folded(ce_type):
        return None
    return wire.published_event(found, value)


@lru_cache(maxsize=1_024)
def _folded(ce_type: bytes) -> bool:
    """``folds`` of a ``ce_type`` header: a handful of values, looked up once each."""
    return folds(wire.parse_type(ce_type)[0])


# -- applying ---------------------------------------------------------------------------------


class OffsetApplier:
    """Applies batches of records of ``topic`` to ``store`` (its live namespace, or
    ``namespace``), each batch with its offsets in one transaction. Thread-safe (one batch at
    a time)."""

    def __init__(
        self,
        store: ReadModelStore,
        topic: str,
        *,
        namespace: str | None = None,
        max_cached_rows: int = DEFAULT_MAX_CACHED_ROWS,
    ) -> None:
        self.store = store
        self.topic = topic
        self.namespace = namespace
        self.max_cached_rows = max_cached_rows
        self.events_applied = 0
        self.records_applied = 0
        self.duplicates_dropped = 0
        self._lock = threading.Lock()
        #: Per partition: the offset this worker's records continue from (sought or committed).
        self._anchors: dict[int, int] = {}
        #: Per partition: the stored offset as this worker last saw or left it.
        self._committed: dict[int, int] = {}
        self._overlay: Overlay | None = None
        self._overlay_namespace: str | None = None
        #: Partitions whose rows the overlay may hold, with the stored offset it mirrors.
        self._known: dict[int, int] = {}
        self._checked_namespaces: set[str] = set()
        #: The record this applier could not verify; it applies nothing more once set.
        self.breach: ChainBreach | None = None

    # -- positions ------------------------------------------------------------------------

    def positions(self, partitions: Iterable[int]) -> dict[int, int]:
        """The stored offsets (0 when none) of ``partitions``: where to seek. They become the
        anchors of these partitions: records handed over next must start there."""
        wanted = sorted(set(partitions))
        stored = self.store.read(
            lambda reader: {p: reader.position(self.topic, p) for p in wanted},
            namespace=self.namespace,
        )
        with self._lock:
            self._anchors.update(stored)
        log.info("projector_positions_read", topic=self.topic, namespace=self.namespace,
                 offsets=stored)  # fmt: skip
        return stored

    def forget(self, partitions: Iterable[int]) -> None:
        """Partitions revoked from this worker: their anchors no longer hold."""
        with self._lock:
            for partition in partitions:
                self._anchors.pop(partition, None)

    @property
    def committed(self) -> dict[int, int]:
        """The stored offsets as this applier last left them, per partition."""
        with self._lock:
            return dict(self._committed)

    # -- batches --------------------------------------------------------------------------

    def apply(
        self,
        records: Sequence[Record],
        *,
        decoded: Sequence[PublishedEvent | None] | None = None,
        before_commit: Callable[[], None] | None = None,
    ) -> Applied:
        """Apply one batch in one transaction; on an exception nothing of it is stored (and the
        same batch may be applied again). ``decoded``: each record's ``decode()``, if done
        already. ``before_commit`` runs inside the transaction, last (fault injection)."""
        if not records:
            return Applied()
        with self._lock:
            self._refuse_after_breach()
            namespace = self.namespace
            try:
                with self.store.writer(self.namespace) as writer:
                    namespace = writer.namespace
                    applied = self._apply(writer, records, decoded)
                    if before_commit is not None:
                        before_commit()
            except UnverifiedEvent as error:
                self._overlay = None
                raise self._stopped(error, namespace) from None
            except BaseException:
                self._overlay = None
                raise
            self._count_committed(applied)
        return applied

    def apply_in(self, writer: Writer, records: Sequence[Record]) -> Applied:
        """Apply ``records`` inside a transaction the caller holds (the rebuild's switch); the
        caller commits. Call ``committed_externally(applied)`` after the commit."""
        with self._lock:
            self._refuse_after_breach()
            try:
                return self._apply(writer, records)
            except UnverifiedEvent as error:
                self._overlay = None
                raise self._stopped(error, writer.namespace) from None
            except BaseException:
                self._overlay = None
                raise

    def committed_externally(self, applied: Applied) -> None:
        with self._lock:
            self._count_committed(applied)

    def _count_committed(self, applied: Applied) -> None:
        """What a committed transaction moved: the stored offsets, the counters (lock held)."""
        self._committed.update(applied.offsets)
        self._anchors.update(applied.offsets)
        self._known.update(applied.offsets)
        self.events_applied += applied.events
        self.records_applied += applied.records
        self.duplicates_dropped += applied.duplicates

    def _apply(
        self,
        writer: Writer,
        records: Sequence[Record],
        decoded: Sequence[PublishedEvent | None] | None = None,
    ) -> Applied:
        self._check_not_shared(writer.namespace)
        last: dict[int, int] = {}
        for record in records:
            if record.offset >= last.get(record.partition, -1):
                last[record.partition] = record.offset
        stored = {p: writer.claim_position(self.topic, p) for p in sorted(last)}
        for partition, offset in stored.items():
            anchor = self._anchors.get(partition)
            if anchor is not None and offset < anchor:
                raise OffsetsMovedBack(
                    f"{self.topic}[{partition}] is stored at offset {offset} in namespace "
                    f"{writer.namespace}, below {anchor} where this worker's records continue"
                )
        overlay = self._overlay_for(writer.namespace, stored)
        if decoded is None:
            fresh = [r for r in records if r.offset >= stored[r.partition]]
            found = [decode(r.headers, r.value) for r in fresh]
        else:
            pairs = [(r, e) for r, e in zip(records, decoded, strict=True)
                     if r.offset >= stored[r.partition]]  # fmt: skip
            fresh, found = [r for r, _ in pairs], [e for _, e in pairs]
        events = [event for event in found if event is not None]
        try:
            rows = fold_batch(writer, overlay, events)
        except UnverifiedEvent as error:
            raise error.at(self._where(error.breach, fresh, found)) from None
        offsets: dict[int, int] = {}
        for partition, offset in last.items():
            after = max(stored[partition], offset + 1)
            if after != stored[partition]:
                writer.set_position(after, self.topic, partition)
            offsets[partition] = after
        log.debug("projector_batch", namespace=writer.namespace, records=len(records),
                  events=len(events), rows=rows, offsets=offsets)  # fmt: skip
        return Applied(
            records=len(fresh),
            events=len(events),
            duplicates=len(records) - len(fresh),
            rows=rows,
            namespace=writer.namespace,
            offsets=offsets,
        )

    def _where(
        self,
        breach: ChainBreach,
        records: Sequence[Record],
        events: Sequence[PublishedEvent | None],
    ) -> str:
        """The topic, partition and offset of the record that carried ``breach``'s event."""
        for record, event in zip(records, events, strict=True):
            if (
                event is not None
                and event.stream_version == breach.version
                and str(event.stream) == breach.stream
            ):
                return f"{self.topic}[{record.partition}]@{record.offset}"
        return self.topic

    def _refuse_after_breach(self) -> None:
        if self.breach is not None:
            raise UnverifiedEvent(self.breach)

    def _stopped(self, error: UnverifiedEvent, namespace: str | None) -> UnverifiedEvent:
        """Record and log the breach (lock held); the applier applies nothing more."""
        self.breach = self.store.record_breach(error.breach, namespace or "")
        log_breach(self.breach, runner="kafka", namespace=namespace)
        return UnverifiedEvent(self.breach)

    def _overlay_for(self, namespace: str, stored: Mapping[int, int]) -> Overlay:
        """The batch cache, kept across batches while it mirrors the store: it is dropped when
        the namespace changed or another worker moved one of the batch's partitions."""
        overlay = self._overlay
        stale = overlay is None or namespace != self._overlay_namespace
        if not stale:
            stale = any(self._known.get(p, offset) != offset for p, offset in stored.items())
        if stale or overlay is None:
            # Complete (a miss means "no row") only if nothing of these partitions is stored:
            # every row belongs to one stream, and every stream to one partition.
            overlay = Overlay(
                complete=all(offset == 0 for offset in stored.values()),
                max_rows=self.max_cached_rows,
            )
            self._overlay, self._overlay_namespace = overlay, namespace
            self._known = dict(stored)
            return overlay
        for partition, offset in stored.items():
            if partition not in self._known:
                if offset != 0:
                    overlay.complete = False  # rows of this partition may exist, unseen
                self._known[partition] = offset
        return overlay

    def _check_not_shared(self, namespace: str) -> None:
        if namespace in self._checked_namespaces:
            return
        position = self.store.position(NOTIFICATION_LOG, namespace=namespace)
        if position:
            raise SharedReadModel(
                f"namespace {namespace} is written by the embedded runner (notification log at "
                f"{position}); the Kafka projector needs a read model of its own"
            )
        self._checked_namespaces.add(namespace)
