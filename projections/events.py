"""Reading the published form of events: subjects, amounts, dates and recording times.

Reducers use only these fields of a ``PublishedEvent``: ``position``, ``stream_version``,
``name``, ``class_version``, ``subject``, ``recorded_at`` and ``data``. A runner that rebuilds
the published form from elsewhere (a Kafka record's CloudEvents headers and value) must fill them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from capledger.application.published import PublishedEvent

#: Vietnam keeps UTC+7 all year: "recorded on 20 June" means before midnight in Hanoi.
REPORTING_TZ = timezone(timedelta(hours=7), "ICT")


class ProjectionError(Exception):
    """An event cannot be folded: the read model would be wrong if it went on."""


class UnknownEvent(ProjectionError):
    pass


class MissingContext(ProjectionError):
    """An event refers to state its stream should have produced earlier (a gap or reordering)."""


def subject_code(event: PublishedEvent, kind: str) -> str:
    """The code of the stream an event belongs to ("HP-001" of "project:HP-001")."""
    if event.kind != kind or not event.subject_code:
        raise ProjectionError(
            f"event {event.name} at position {event.position} has subject {event.subject!r}, "
            f"expected {kind}:<code>"
        )
    return event.subject_code


def amount(data: dict[str, Any], key: str = "amount") -> int:
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, int):
        raise ProjectionError(f"{key} must be an integer number of VND, got {value!r}")
    return value


def amounts(values: dict[str, Any]) -> dict[str, int]:
    return {source: amount(values, source) for source in values}


def iso_date(value: Any) -> str:
    """A date as ISO text, checked (the published form carries dates as ISO strings)."""
    return date.fromisoformat(str(value)).isoformat()


def recording(event: PublishedEvent) -> tuple[str, str]:
    """(recorded_at as fixed-width UTC text, recorded_on as a date in the reporting zone)."""
    if not event.recorded_at:
        raise ProjectionError(f"event at position {event.position} has no recording time")
    moment = datetime.fromisoformat(event.recorded_at)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    utc_text = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return utc_text, moment.astimezone(REPORTING_TZ).date().isoformat()


def days_between(earlier: str, later: str) -> int:
    return (date.fromisoformat(later) - date.fromisoformat(earlier)).days
