"""Value types of the domain: capital sources, authorities, statuses, decisions, money checks."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from enum import Enum, StrEnum
from typing import TypeVar

from .errors import InvalidAmount, InvalidValue


class CapitalSource(StrEnum):
    """Where capital comes from; capital of one source never silently becomes another."""

    CENTRAL_BUDGET = "central_budget"  # ngân sách trung ương
    LOCAL_BUDGET = "local_budget"  # ngân sách địa phương
    LAND_USE_REVENUE = "land_use_revenue"  # tiền sử dụng đất
    ODA = "oda"  # ODA / foreign loans
    OTHER = "other"


class Authority(StrEnum):
    NATIONAL_ASSEMBLY = "national_assembly"
    PRIME_MINISTER = "prime_minister"
    PROVINCIAL_COUNCIL = "provincial_council"  # HĐND
    PROVINCIAL_COMMITTEE = "provincial_committee"  # UBND
    MINISTRY = "ministry"


class PlanKind(StrEnum):
    MEDIUM_TERM = "medium_term"
    ANNUAL = "annual"


class ProjectStatus(StrEnum):
    ON_TRACK = "on_track"
    SLOW = "slow"  # chậm tiến độ
    UNDER_VIOLATION_HANDLING = "under_violation_handling"
    SUSPENDED = "suspended"
    TERMINATED = "terminated"
    COMPLETED = "completed"
    SETTLED = "settled"  # quyết toán


#: Statuses after which no capital may be paid out.
CLOSED_STATUSES = frozenset({ProjectStatus.TERMINATED, ProjectStatus.SETTLED})
#: Statuses from which a project may be settled.
SETTLEABLE_STATUSES = frozenset(
    {ProjectStatus.COMPLETED, ProjectStatus.SUSPENDED, ProjectStatus.TERMINATED}
)


@dataclass(frozen=True)
class Decision:
    """The legal decision behind a movement: its number, date and issuing authority."""

    number: str
    issued_on: date
    issuer: str

    def __post_init__(self) -> None:
        if not self.number.strip():
            raise InvalidValue("a decision needs a number")
        if not self.issuer.strip():
            raise InvalidValue("a decision needs an issuing authority")


E = TypeVar("E", bound=Enum)


def parse_enum(enum: type[E], value: str, what: str) -> E:
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(str(member.value) for member in enum)
        raise InvalidValue(f"unknown {what} {value!r}; expected one of: {allowed}") from None


#: The largest single amount the ledger records: 10^16 VND (ten million billion), far above any
#: plan (a year's national plan is under 10^15), and small enough that sums of many stay within
#: the stores' 64-bit integers. A power of ten, so documents that carry numbers as doubles (the
#: OpenAPI models do) state it exactly, and one limit for integers and digit strings.
MAX_VND = 10**16


def check_positive_vnd(amount: int, what: str = "amount") -> None:
    """Amounts are positive integers of VND; floats and bools are refused outright."""
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise InvalidAmount(f"{what} must be an integer number of VND, got {amount!r}")
    if amount <= 0:
        raise InvalidAmount(f"{what} must be positive, got {amount}")
    check_within_vnd_limit(amount, what)


def check_non_negative_vnd(amount: int, what: str = "amount") -> None:
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise InvalidAmount(f"{what} must be an integer number of VND, got {amount!r}")
    if amount < 0:
        raise InvalidAmount(f"{what} must not be negative, got {amount}")
    check_within_vnd_limit(amount, what)


def check_within_vnd_limit(amount: int, what: str = "amount") -> None:
    if amount > MAX_VND:
        raise InvalidAmount(f"{what} must be at most {MAX_VND} VND, got {amount}")


_CALENDAR_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def parse_calendar_date(text: str, what: str = "date") -> date:
    """A calendar date written ``YYYY-MM-DD``, and nothing else.

    ``date.fromisoformat`` alone also reads ``20230703`` and week dates (``2023-W27-1``), and
    libraries read ``1699228800`` as a Unix time; a movement's date is a day in the calendar,
    so every edge (API, CLI, import) reads it through this one grammar.
    """
    if not isinstance(text, str) or not _CALENDAR_DATE.fullmatch(text):
        raise InvalidValue(f"{what} must be a calendar date written YYYY-MM-DD, got {text!r}")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidValue(f"{what} {text!r} is not a day of the calendar") from None


def check_code(code: str, what: str) -> None:
    if not code or not code.strip() or code != code.strip():
        raise InvalidValue(f"{what} must be a non-empty code without surrounding spaces")
