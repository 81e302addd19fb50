"""Where a stored event sits in the application's notification log (its global position)."""

from __future__ import annotations

from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder

from .storage import event_log


def position_of(recorder: ApplicationRecorder, originator_id: UUID, version: int) -> int | None:
    """The notification id of one stored event, or None if it is not stored."""
    return event_log(recorder).position_of(originator_id, version)
