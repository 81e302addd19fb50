"""Value types of the domain: capital sources, authorities, statuses, decisions, money checks."""

from __future__ import annotations

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


def check_positive_vnd(amount: int, what: str = "amount") -> None:
    """Amounts are positive integers of VND; floats and bools are refused outright."""
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise InvalidAmount(f"{what} must be an integer number of VND, got {amount!r}")
    if amount <= 0:
        raise InvalidAmount(f"{what} must be positive, got {amount}")


def check_non_negative_vnd(amount: int, what: str = "amount") -> None:
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise InvalidAmount(f"{what} must be an integer number of VND, got {amount!r}")
    if amount < 0:
        raise InvalidAmount(f"{what} must not be negative, got {amount}")


def check_code(code: str, what: str) -> None:
    if not code or not code.strip() or code != code.strip():
        raise InvalidValue(f"{what} must be a non-empty code without surrounding spaces")
