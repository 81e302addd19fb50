"""Reading the published form of events: subjects, amounts, dates and recording times.

Reducers use only these fields of a ``PublishedEvent``: ``position``, ``stream_version``,
``name``, ``class_version``, ``subject``, ``recorded_at`` and ``data``. A runner that rebuilds
the published form from elsewhere (a Kafka record's CloudEvents headers and value) must fill them.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone
from functools import lru_cache
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
    code = _subject_code(event.subject, kind)
    if code is None:
        raise ProjectionError(
            f"event {event.name} at position {event.position} has subject {event.subject!r}, "
            f"expected {kind}:<code>"
        )
    return code


@lru_cache(maxsize=65536)
def _subject_code(subject: str | None, kind: str) -> str | None:
    if subject is None:
        return None
    found_kind, _, code = subject.partition(":")
    return code if found_kind == kind and code else None


def amount(data: dict[str, Any], key: str = "amount") -> int:
    value = data[key]
    if type(value) is int:  # the usual case, answered by one test
        return value
    if isinstance(value, bool) or not isinstance(value, int):
        raise ProjectionError(f"{key} must be an integer number of VND, got {value!r}")
    return value


def amounts(values: dict[str, Any]) -> dict[str, int]:
    return {source: amount(values, source) for source in values}


def iso_date(value: Any) -> str:
    """A date as ISO text, checked (the published form carries dates as ISO strings)."""
    checked = _ISO_DATES.get(value) if type(value) is str else None
    if checked is not None:
        return checked
    checked = date.fromisoformat(str(value)).isoformat()
    if type(value) is str:
        # A year of events names a few hundred distinct dates: each is parsed once.
        if len(_ISO_DATES) >= _MAX_CACHED:
            _ISO_DATES.clear()
        _ISO_DATES[value] = checked
    return checked


#: Date texts already checked, and their ISO form: a dictionary rather than ``lru_cache``
#: (a plain lookup on the reducers' hot path), emptied when it reaches ``_MAX_CACHED``.
_ISO_DATES: dict[str, str] = {}
_MAX_CACHED = 65_536


def recording(event: PublishedEvent) -> tuple[str, str]:
    """(recorded_at as fixed-width UTC text, recorded_on as a date in the reporting zone)."""
    recorded_at = event.recorded_at
    if not recorded_at:
        raise ProjectionError(f"event at position {event.position} has no recording time")
    if _utc_iso(recorded_at):
        # The ledger's own form, ``YYYY-MM-DDTHH:MM:SS.ffffff+00:00``, rewritten as text: the
        # same result as the general case below, without a datetime per event.
        hour = recorded_at[:13]
        recorded_on = _REPORTING_DATES.get(hour)
        if recorded_on is None:
            recorded_on = _reporting_date(hour)
        return recorded_at[:26] + "Z", recorded_on
    moment = datetime.fromisoformat(recorded_at)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    utc_text = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return utc_text, moment.astimezone(REPORTING_TZ).date().isoformat()


_utc_iso = re.compile(
    r"\d{4}-\d\d-\d\dT([01]\d|2[0-3]):[0-5]\d:[0-5]\d\.\d{6}\+00:00", re.ASCII
).fullmatch
#: From 17:00 UTC it is already the next day in the reporting zone (UTC+7).
_UTC_HOUR_OF_NEXT_DAY = f"{24 - 7:02d}"


def _reporting_date(utc_hour: str) -> str:
    """The reporting date of an hour ``YYYY-MM-DDTHH`` in UTC (a few thousand a year), kept
    in ``_REPORTING_DATES``."""
    day = date.fromisoformat(utc_hour[:10])
    next_day = utc_hour[11:13] >= _UTC_HOUR_OF_NEXT_DAY
    found = (day + timedelta(days=1) if next_day else day).isoformat()
    if len(_REPORTING_DATES) >= _MAX_CACHED:
        _REPORTING_DATES.clear()
    _REPORTING_DATES[utc_hour] = found
    return found


_REPORTING_DATES: dict[str, str] = {}


@lru_cache(maxsize=65536)
def days_between(earlier: str, later: str) -> int:
    return (date.fromisoformat(later) - date.fromisoformat(earlier)).days
