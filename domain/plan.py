"""Capital plans: a medium-term or annual envelope per capital source, assigned by an authority.

A plan keeps ``allocated + unallocated = envelope`` per source at every version: allocation and
cut pass through it, adjustments may never take an envelope below what is already allocated.
It keeps it at every effective date too: the unallocated capital of each source is held by date
(a ``DatedAmount``), so an allocation backdated before an adjustment that left too little, or an
adjustment backdated under allocations already made, is refused as a late payment is on a
project.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from .capital import DatedAmount, unallocated
from .errors import (
    DatedOutOfRange,
    EnvelopeBelowAllocated,
    InsufficientUnallocatedCapital,
    InvalidValue,
    SourceNotInPlan,
)
from .ids import plan_id
from .values import (
    Authority,
    CapitalSource,
    Decision,
    PlanKind,
    check_code,
    check_non_negative_vnd,
    check_positive_vnd,
    parse_enum,
)

MEDIUM_TERM_YEARS = 5


class CapitalPlan(Aggregate):
    class Approved(Aggregate.Created):
        class_version = 1
        code: str
        title: str
        kind: str
        authority: str
        jurisdiction: str
        start_year: int
        end_year: int
        envelopes: dict[str, int]
        decision: Decision
        effective_on: date
        implements: str | None

    class Adjusted(Aggregate.Event):
        class_version = 1
        envelopes: dict[str, int]
        reason: str
        decision: Decision
        effective_on: date

    class CapitalAllocated(Aggregate.Event):
        class_version = 1
        project_code: str
        source: str
        amount: int
        decision: Decision
        effective_on: date

    class CapitalReturned(Aggregate.Event):
        """Undisbursed capital of a cut project went back to the unallocated envelope."""

        class_version = 1
        project_code: str
        source: str
        amount: int
        decision: Decision
        effective_on: date

    @staticmethod
    def create_id(code: str) -> UUID:
        return plan_id(code)

    @classmethod
    def approve(
        cls,
        *,
        code: str,
        title: str,
        kind: str,
        authority: str,
        jurisdiction: str,
        start_year: int,
        end_year: int,
        envelopes: Mapping[str, int],
        decision: Decision,
        effective_on: date,
        implements: str | None = None,
    ) -> CapitalPlan:
        check_code(code, "plan code")
        check_code(jurisdiction, "jurisdiction")
        plan_kind = parse_enum(PlanKind, kind, "plan kind")
        parse_enum(Authority, authority, "authority")
        cls.check_period(plan_kind, start_year, end_year)
        cls.check_envelopes(envelopes)
        if implements == code:
            raise InvalidValue("a plan cannot implement itself")
        return cls(
            code=code,
            title=title,
            kind=plan_kind.value,
            authority=authority,
            jurisdiction=jurisdiction,
            start_year=start_year,
            end_year=end_year,
            envelopes=dict(envelopes),
            decision=decision,
            effective_on=effective_on,
            implements=implements,
        )

    @event(Approved)
    def __init__(
        self,
        *,
        code: str,
        title: str,
        kind: str,
        authority: str,
        jurisdiction: str,
        start_year: int,
        end_year: int,
        envelopes: dict[str, int],
        decision: Decision,
        effective_on: date,
        implements: str | None,
    ) -> None:
        self.code = code
        self.title = title
        self.kind = kind
        self.authority = authority
        self.jurisdiction = jurisdiction
        self.start_year = start_year
        self.end_year = end_year
        self.envelopes = dict(envelopes)
        self.effective_from = effective_on
        self.allocated = dict.fromkeys(envelopes, 0)
        #: The unallocated capital of each source by effective date.
        self.dated_unallocated = {source: DatedAmount() for source in envelopes}
        for source, envelope in envelopes.items():
            self.dated_unallocated[source].record(effective_on, envelope)
        self.implements = implements
        self.plan_version = 1
        self.decisions = [decision]

    # -- queries -------------------------------------------------------------------------

    @property
    def is_annual(self) -> bool:
        return self.kind == PlanKind.ANNUAL.value

    @property
    def fiscal_year(self) -> int:
        return self.start_year

    def unallocated(self, source: str) -> int:
        return unallocated(self.envelopes.get(source, 0), self.allocated.get(source, 0))

    @property
    def total_envelope(self) -> int:
        return sum(self.envelopes.values())

    # -- commands ------------------------------------------------------------------------

    def adjust(
        self, *, envelopes: Mapping[str, int], reason: str, decision: Decision, effective_on: date
    ) -> None:
        """Set new envelopes for the named sources; the others keep theirs."""
        self.check_envelopes(envelopes, allow_zero=True)
        self.check_in_force(effective_on, "an adjustment")
        new_envelopes = {**self.envelopes, **envelopes}
        self.check_envelopes_cover_allocations(new_envelopes)
        if new_envelopes == self.envelopes:
            raise InvalidValue("the adjustment changes no envelope")
        self.check_envelopes_cover_allocations_on_every_date(new_envelopes, effective_on)
        self._adjusted(
            envelopes=new_envelopes, reason=reason, decision=decision, effective_on=effective_on
        )

    def allocate(
        self, *, project_code: str, source: str, amount: int, decision: Decision, effective_on: date
    ) -> None:
        check_positive_vnd(amount)
        self.check_source_in_plan(source)
        self.check_in_force(effective_on, "an allocation")
        self.check_unallocated_covers(source, amount)
        self.check_unallocated_on_every_date(source, amount, effective_on)
        self._capital_allocated(
            project_code=project_code,
            source=source,
            amount=amount,
            decision=decision,
            effective_on=effective_on,
        )

    def take_back(
        self, *, project_code: str, source: str, amount: int, decision: Decision, effective_on: date
    ) -> None:
        check_positive_vnd(amount)
        self.check_source_in_plan(source)
        self.check_in_force(effective_on, "a return of capital")
        if amount > self.allocated[source]:
            raise InvalidValue(
                f"plan {self.code} allocated only {self.allocated[source]} VND of {source}"
            )
        self._capital_returned(
            project_code=project_code,
            source=source,
            amount=amount,
            decision=decision,
            effective_on=effective_on,
        )

    # -- invariants ----------------------------------------------------------------------

    @staticmethod
    def check_period(kind: PlanKind, start_year: int, end_year: int) -> None:
        if not (1990 <= start_year <= 2200):
            raise InvalidValue(f"start year {start_year} is not plausible")
        if kind is PlanKind.ANNUAL and end_year != start_year:
            raise InvalidValue("an annual plan covers exactly one fiscal year")
        if kind is PlanKind.MEDIUM_TERM and end_year - start_year != MEDIUM_TERM_YEARS - 1:
            raise InvalidValue(f"a medium-term plan covers {MEDIUM_TERM_YEARS} years")

    @staticmethod
    def check_envelopes(envelopes: Mapping[str, int], *, allow_zero: bool = False) -> None:
        if not envelopes:
            raise InvalidValue("a plan needs an envelope for at least one capital source")
        for source, amount in envelopes.items():
            parse_enum(CapitalSource, source, "capital source")
            if allow_zero:
                check_non_negative_vnd(amount, f"envelope of {source}")
            else:
                check_positive_vnd(amount, f"envelope of {source}")

    def check_envelopes_cover_allocations(self, envelopes: Mapping[str, int]) -> None:
        for source, allocated in self.allocated.items():
            if envelopes.get(source, 0) < allocated:
                raise EnvelopeBelowAllocated(
                    f"plan {self.code}: {source} envelope {envelopes.get(source, 0)} VND is below "
                    f"the {allocated} VND already allocated"
                )

    def check_envelopes_cover_allocations_on_every_date(
        self, envelopes: Mapping[str, int], day: date
    ) -> None:
        for source, envelope in envelopes.items():
            change = envelope - self.envelopes.get(source, 0)
            dated = self.dated_unallocated.get(source)
            shortfall = None if dated is None else dated.first_shortfall(day, change)
            if shortfall is not None:
                when, left = shortfall
                raise EnvelopeBelowAllocated(
                    f"plan {self.code}: a {source} envelope of {envelope} VND from "
                    f"{day.isoformat()} is below what was allocated by {when.isoformat()} "
                    f"({-left} VND more)"
                )

    def check_unallocated_on_every_date(self, source: str, amount: int, day: date) -> None:
        """An allocation dated ``day`` must find the capital unallocated on that day and leave
        every later day whole (a later allocation, or a later adjustment that lowered the
        envelope, may have counted on it)."""
        shortfall = self.dated_unallocated[source].first_shortfall(day, -amount)
        if shortfall is not None:
            when, left = shortfall
            raise InsufficientUnallocatedCapital(
                f"plan {self.code}: {amount} VND of {source} allocated on {day.isoformat()} "
                f"would leave {left} VND unallocated on {when.isoformat()}"
            )

    def check_in_force(self, day: date, movement: str) -> None:
        if day < self.effective_from:
            raise DatedOutOfRange(
                f"{movement} dated {day.isoformat()} precedes plan {self.code}, in force from "
                f"{self.effective_from.isoformat()}"
            )

    def check_source_in_plan(self, source: str) -> None:
        if source not in self.envelopes:
            raise SourceNotInPlan(f"plan {self.code} has no envelope for capital source {source!r}")

    def check_unallocated_covers(self, source: str, amount: int) -> None:
        if amount > self.unallocated(source):
            raise InsufficientUnallocatedCapital(
                f"plan {self.code}: {amount} VND of {source} requested, "
                f"{self.unallocated(source)} VND unallocated"
            )

    # -- events applied ------------------------------------------------------------------

    @event(Adjusted)
    def _adjusted(
        self, envelopes: dict[str, int], reason: str, decision: Decision, effective_on: date
    ) -> None:
        for source, envelope in envelopes.items():
            self.allocated.setdefault(source, 0)
            change = envelope - self.envelopes.get(source, 0)
            if change:
                self.dated_unallocated.setdefault(source, DatedAmount()).record(
                    effective_on, change
                )
        self.envelopes = dict(envelopes)
        self.plan_version += 1
        self.decisions.append(decision)

    @event(CapitalAllocated)
    def _capital_allocated(
        self, project_code: str, source: str, amount: int, decision: Decision, effective_on: date
    ) -> None:
        self.allocated[source] += amount
        self.dated_unallocated[source].record(effective_on, -amount)

    @event(CapitalReturned)
    def _capital_returned(
        self, project_code: str, source: str, amount: int, decision: Decision, effective_on: date
    ) -> None:
        self.allocated[source] -= amount
        self.dated_unallocated[source].record(effective_on, amount)
