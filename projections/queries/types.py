"""Parameters and results shared by the queries: scopes, as-of points, ratios, pages."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Context, Decimal
from fractions import Fraction
from functools import cache
from typing import Generic, TypeVar

T = TypeVar("T")

#: Rates are quotients of integer sums, divided once with 28 significant digits.
RATE_CONTEXT = Context(prec=28)


class QueryError(LookupError):
    """A query names something the read model does not hold (a plan, a plan version)."""

    code = "not-found"


class UnknownPlanCode(QueryError):
    """A query names a plan the ledger has not recorded (or none in force at the date asked)."""

    code = "unknown-plan"


class NoAnnualPlan(QueryError):
    """A rate, series, bunching or watch list of a jurisdiction and fiscal year for which no
    annual plan is recorded: there is nothing to measure against, not a rate of 0."""

    code = "no-annual-plan"


class NotYetKnown(QueryError):
    """What a query names exists and was in force at the effective date asked about, but the
    ledger had not recorded it by the ``known`` date: back-filled history, recorded later.

    Distinct from "absent then" so that a client can ask again with a later ``known``:
    ``known_from`` is the first day the ledger knew it (the day it was recorded).
    """

    code = "not-yet-known"

    def __init__(self, what: str, as_of: AsOf, known_from: date) -> None:
        super().__init__(
            f"{what} was in force on {as_of.effective.isoformat()} but the ledger recorded it "
            f"on {known_from.isoformat()}, after known={as_of.known.isoformat()}: ask with "
            f"known={known_from.isoformat()} or later to see it"
        )
        self.what = what
        self.as_of = as_of
        self.known_from = known_from


class PlanOutsideScope(ValueError):
    """A rate's denominator is a plan of another jurisdiction, or of years that do not hold the
    scope's fiscal year: the quotient would mean nothing (Hải Phòng's 2021 disbursement over
    another province's 2024 plan)."""

    code = "plan-outside-scope"


@dataclass(frozen=True)
class Ratio:
    """``numerator / denominator`` of integer VND sums; ``rate`` is None when nothing is due."""

    numerator: int
    denominator: int
    rate: Decimal | None = field(init=False, compare=False)

    def __post_init__(self) -> None:
        rate = (
            None
            if self.denominator == 0
            else RATE_CONTEXT.divide(Decimal(self.numerator), Decimal(self.denominator))
        )
        object.__setattr__(self, "rate", rate)

    @property
    def fraction(self) -> Fraction | None:
        return None if self.denominator == 0 else Fraction(self.numerator, self.denominator)

    def percent(self, places: int = 1) -> Decimal | None:
        """The rate in percent, rounded half up (33.8 for 4,600 of 13,609)."""
        if self.denominator == 0:
            return None
        assert self.rate is not None
        # The rate's 28 significant digits, moved two places: the quotient of 100 × numerator
        # by the denominator to the same 28 digits (the same number), without dividing again.
        return self.rate.scaleb(2).quantize(_quantum(places), rounding=ROUND_HALF_UP)


@cache
def _quantum(places: int) -> Decimal:
    """``10 ** -places``, made once per number of places (a page asks it for every row)."""
    return Decimal(1).scaleb(-places)


@dataclass(frozen=True)
class Scope:
    """The capital of the annual plans of one jurisdiction for one fiscal year.

    ``members``: the jurisdictions whose plans the scope counts, when the jurisdiction is a level
    above others (the country holds every province and ministry: ``Jurisdictions.members``);
    empty for the jurisdiction's own plans alone.
    """

    jurisdiction: str
    fiscal_year: int
    members: tuple[str, ...] = ()

    @property
    def codes(self) -> tuple[str, ...]:
        """The jurisdictions whose plans are counted."""
        return self.members or (self.jurisdiction,)

    def holds(self, jurisdiction: str) -> bool:
        return jurisdiction in self.codes


@dataclass(frozen=True)
class AsOf:
    """What the ledger knew at the end of ``known`` (reporting time zone) about movements
    effective on or before ``effective``. ``AsOf.on(day)`` is "as of that day"."""

    effective: date
    known: date

    @classmethod
    def on(cls, day: date) -> AsOf:
        return cls(day, day)


AsOfLike = date | AsOf | None


def as_of_point(value: AsOfLike) -> AsOf | None:
    if value is None or isinstance(value, AsOf):
        return value
    return AsOf.on(value)


@dataclass(frozen=True)
class Denominator:
    """A plan's envelope as the denominator of a rate; its latest version as of the query's
    date unless a version is named."""

    plan_code: str
    plan_version: int | None = None


@dataclass(frozen=True)
class Exclusions:
    """Capital left out of a rate.

    ``extended``: capital extended into the next year (decided or automatic) leaves the
    denominator, and disbursement drawn on extended capital leaves the numerator.
    ``added_after``: envelope increases of the denominator plan by adjustments effective after
    this date leave the denominator.
    """

    extended: bool = False
    added_after: date | None = None


NO_EXCLUSIONS = Exclusions()


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    total: int
    limit: int | None
    offset: int
