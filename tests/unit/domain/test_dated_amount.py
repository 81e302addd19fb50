"""An amount held by effective date: a change is judged at the end of its own day and of every
later day on which the amount changes."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from capledger.domain.capital import DatedAmount

pytestmark = pytest.mark.unit

D1, D2, D3 = date(2025, 1, 1), date(2025, 2, 1), date(2025, 3, 1)


def held(*changes: tuple[date, int]) -> DatedAmount:
    amount = DatedAmount()
    for day, change in changes:
        amount.record(day, change)
    return amount


def test_a_change_before_anything_arrived_falls_short_on_its_own_day() -> None:
    assert held((D2, 100)).first_shortfall(D1, -10) == (D1, -10)


def test_a_change_is_judged_at_the_end_of_its_day_not_between_that_days_changes() -> None:
    assert held((D2, 100)).first_shortfall(D2, -100) is None
    assert held((D2, 100)).first_shortfall(D2, -101) == (D2, -1)


def test_a_backdated_change_falls_short_where_a_later_change_counted_on_it() -> None:
    amount = held((D1, 100), (D3, -80))

    assert amount.first_shortfall(D2, -30) == (D3, -10)
    assert amount.first_shortfall(D2, -20) is None


def naive(changes: list[tuple[date, int]], day: date, change: int) -> tuple[date, int] | None:
    days = sorted({day, *(when for when, _ in changes)})
    for when in days:
        if when < day:
            continue
        total = sum(amount for at, amount in changes if at <= when) + change
        if total < 0:
            return when, total
    return None


@given(
    changes=st.lists(st.tuples(st.integers(0, 30), st.integers(-50, 80)), max_size=25),
    day=st.integers(0, 35),
    change=st.integers(-120, 20),
)
def test_the_first_shortfall_is_the_first_negative_end_of_day_total(
    changes: list[tuple[int, int]], day: int, change: int
) -> None:
    dated = [(D1 + timedelta(days=offset), amount) for offset, amount in changes]

    found = held(*dated).first_shortfall(D1 + timedelta(days=day), change)

    assert found == naive(dated, D1 + timedelta(days=day), change)
