"""The capital formula and the balance it applies to, written once for every layer.

A project's capital on a line is what it was given less what moved away; what is still
undisbursed is that capital less what was paid out and what lapsed. The write model checks its
invariants with these two functions, the read model's reducers and queries compute with them,
and the API, the CLI and the demo show the figures of one :class:`Balance`.

The functions use only ``+`` and ``-``, so the read model can also render them as SQL (it passes
column expressions that add and subtract as text) instead of writing the formula a second time.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from datetime import date
from itertools import accumulate
from typing import Protocol, Self, TypeVar


class Additive(Protocol):
    """An amount, or anything that adds and subtracts like one (an SQL expression)."""

    def __add__(self, other: Self, /) -> Self: ...

    def __sub__(self, other: Self, /) -> Self: ...


A = TypeVar("A", bound=Additive)


def capital(allocated: A, transferred_in: A, transferred_out: A, cut: A) -> A:
    """What a project was given: allocated, plus transfers in, less transfers out and cuts."""
    return allocated + transferred_in - transferred_out - cut


def undisbursed(held: A, disbursed: A, lapsed: A) -> A:
    """Capital (``held``) not yet paid out and not lapsed."""
    return held - disbursed - lapsed


def unallocated(envelope: A, allocated: A) -> A:
    """A plan's envelope of one source not yet allocated to projects (``allocated`` is net of
    what cuts returned)."""
    return envelope - allocated


def extended_remaining(extended: int, disbursed_after_deadline: int) -> int:
    """Extended capital not yet drawn on after the deadline."""
    return max(0, extended - disbursed_after_deadline)


def extension_released(remaining: int, left: int) -> int:
    """How much of the extension to release when the undisbursed capital ``left`` falls below
    what is still earmarked (``remaining``): capital moved away cannot stay earmarked."""
    return max(0, remaining - left)


#: The events that move a project's capital, by name, with the sign of their amount in the
#: project's undisbursed capital (the formula above, event by event).
CAPITAL_MOVEMENTS: dict[str, int] = {
    "CapitalAllocated": 1,
    "CapitalTransferredIn": 1,
    "CapitalTransferredOut": -1,
    "AllocationCut": -1,
    "CapitalLapsed": -1,
}


@dataclass(frozen=True, slots=True)
class Balance:
    """The capital figures of a line, a project or any group of them, in VND.

    The fields are the kinds of movement, in the read model's order; ``capital`` and
    ``undisbursed`` follow from them by the formula above.
    """

    allocated: int = 0
    transferred_in: int = 0
    transferred_out: int = 0
    cut: int = 0
    disbursed: int = 0
    advances_outstanding: int = 0
    lapsed: int = 0
    extended: int = 0

    @property
    def capital(self) -> int:
        return capital(self.allocated, self.transferred_in, self.transferred_out, self.cut)

    @property
    def undisbursed(self) -> int:
        return undisbursed(self.capital, self.disbursed, self.lapsed)

    def __add__(self, other: Balance) -> Balance:
        return Balance(*(a + b for a, b in zip(_amounts(self), _amounts(other), strict=True)))

    def __sub__(self, other: Balance) -> Balance:
        return Balance(*(a - b for a, b in zip(_amounts(self), _amounts(other), strict=True)))

    @property
    def net_transferred(self) -> int:
        """Transfers in less transfers out."""
        return self.transferred_in - self.transferred_out

    def figures(self) -> dict[str, int]:
        """Every figure by name, in the order of :data:`FIGURES`."""
        return {name: getattr(self, name) for name in FIGURES}

    @staticmethod
    def total(balances: Iterable[Balance]) -> Balance:
        result = Balance()
        for balance in balances:
            result = result + balance
        return result


#: The names of a balance's amounts, in field order.
BALANCE_FIELDS: tuple[str, ...] = tuple(field.name for field in fields(Balance))
#: Every figure of a balance as reports show them: each movement, with ``capital`` after what
#: makes it up and ``undisbursed`` last.
FIGURES: tuple[str, ...] = (
    "allocated", "transferred_in", "transferred_out", "cut", "capital", "disbursed",
    "advances_outstanding", "lapsed", "extended", "undisbursed",
)  # fmt: skip


def balance_of(figures: object) -> Balance:
    """The balance of anything that has a balance's amounts as attributes (a line of the write
    model or of the read model); an amount it does not keep counts as 0."""
    return Balance(*(getattr(figures, name, 0) for name in BALANCE_FIELDS))


def _amounts(balance: Balance) -> tuple[int, ...]:
    return tuple(getattr(balance, name) for name in BALANCE_FIELDS)


@dataclass
class DatedAmount:
    """An amount kept as its net change per effective date, so that a change can be judged at
    every date it touches, not only against today's total.

    A movement dated in the past changes the amount on its own date and on every later one: a
    payment backdated before the allocation it draws on leaves the line below zero in between,
    though the total today is fine. :meth:`first_shortfall` finds the first such date. A plan
    holds thousands of dated changes (one per allocation), so the days and their net changes
    are kept in two sorted lists and the walk over them is done by ``sum``, ``accumulate`` and
    ``min``, not by a Python loop.
    """

    days: list[date] = field(default_factory=list)
    nets: list[int] = field(default_factory=list)

    def record(self, day: date, change: int) -> None:
        index = bisect.bisect_left(self.days, day)
        if index < len(self.days) and self.days[index] == day:
            self.nets[index] += change
        else:
            self.days.insert(index, day)
            self.nets.insert(index, change)

    def first_shortfall(self, day: date, change: int) -> tuple[date, int] | None:
        """The first date, on or after ``day``, at whose end the amount would be negative with
        ``change`` made on ``day``, and the amount then; None when it stays whole throughout."""
        index = bisect.bisect_left(self.days, day)
        start = sum(self.nets[:index]) + change
        if (index == len(self.days) or self.days[index] != day) and start < 0:
            return day, start
        # The amount at the end of each recorded day from ``day`` on.
        totals = list(accumulate(self.nets[index:], initial=start))[1:]
        if not totals or min(totals) >= 0:
            return None
        days = self.days[index:]
        return next((when, total) for when, total in zip(days, totals, strict=True) if total < 0)
