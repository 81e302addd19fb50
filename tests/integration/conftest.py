"""Fixtures of the integration tier: access to the store's stored events, past the ledger.

Tests use it to do what the ledger never does (edit or delete a stored row, as someone with
access to the database could) and to read rows exactly as stored.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

import pytest
from eventsourcing.persistence import InfrastructureFactory
from eventsourcing.utils import Environment

from capledger.application.ledger import Ledger
from capledger.application.storage import EventLog, event_log
from capledger.bootstrap import eventsourcing_env
from capledger.projections import ReadModelStore
from capledger.settings import Settings

from .projections.support import open_read_model


@dataclass(frozen=True)
class RawRow:
    position: int
    originator_id: UUID
    originator_version: int
    topic: str
    state: bytes


@dataclass
class RawStore:
    """The events table of a store, read and changed past the ledger.

    Through a recorder of its own on the same store (the storage adapter's public methods,
    ``overwrite_stored_event`` and ``delete_stored_event``): what someone with access to the
    database could do, and the ledger never does.
    """

    settings: Settings
    table: str
    _recorder: EventLog | None = None
    _factory: InfrastructureFactory | None = None  # type: ignore[type-arg]

    @property
    def recorder(self) -> EventLog:
        if self._recorder is None:
            self._factory = factory = InfrastructureFactory.construct(
                Environment(Ledger.name, eventsourcing_env(self.settings))
            )
            self._recorder = event_log(factory.application_recorder())
            assert self._recorder.events_table_name == self.table  # type: ignore[attr-defined]
        return self._recorder

    def rows(self) -> list[RawRow]:
        """Every stored event, in notification order."""
        head = self.recorder.max_notification_id() or 0
        return [
            RawRow(
                position=row.id,
                originator_id=UUID(row.originator_id),
                originator_version=row.originator_version,
                topic=row.topic,
                state=bytes(row.state),
            )
            for row in self.recorder.read_rows(0, max(head, 1))
        ]

    def row(self, originator_id: UUID, version: int) -> RawRow:
        matches = [
            row
            for row in self.rows()
            if row.originator_id == originator_id and row.originator_version == version
        ]
        assert len(matches) == 1, f"no stored event {originator_id} v{version}"
        return matches[0]

    def update_state(self, originator_id: UUID, version: int, state: bytes) -> None:
        """Overwrite one stored event's state in place."""
        self.recorder.overwrite_stored_event(originator_id, version, state=state)

    def update_topic(self, originator_id: UUID, version: int, topic: str) -> None:
        """Overwrite one stored event's topic in place."""
        self.recorder.overwrite_stored_event(originator_id, version, topic=topic)

    def delete(self, originator_id: UUID, version: int) -> None:
        """Remove one stored event."""
        self.recorder.delete_stored_event(originator_id, version)

    def close(self) -> None:
        if self._factory is not None:
            self._factory.close()


@pytest.fixture
def raw_store(ledger: Ledger, store: Settings) -> Iterator[RawStore]:
    """The events table of the test's store (the table name the ledger's recorder uses)."""
    raw = RawStore(store, ledger.recorder.events_table_name)  # type: ignore[attr-defined]
    yield raw
    raw.close()


@pytest.fixture
def read_models(store: Settings, tmp_path: Path) -> Iterator[Callable[[], ReadModelStore]]:
    """Opens fresh read models on the test's kind of store (dropped after the test)."""
    opened: list[Iterator[ReadModelStore]] = []

    def open_() -> ReadModelStore:
        generator = open_read_model(store, tmp_path / f"read-model-{len(opened)}")
        opened.append(generator)
        return next(generator)

    yield open_
    for generator in opened:
        for _ in generator:
            pass
