"""Rates are quotients of integer sums, rounded only for display."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from capledger.projections.queries import AsOf, Ratio
from capledger.projections.queries.types import RATE_CONTEXT, as_of_point

pytestmark = pytest.mark.unit

BILLION = 10**9


def test_hai_phong_figures_round_to_the_published_percentages() -> None:
    disbursed = 4_600 * BILLION

    assert Ratio(disbursed, 13_609 * BILLION).percent() == Decimal("33.8")
    assert Ratio(disbursed, 7_290 * BILLION).percent() == Decimal("63.1")


def test_a_rate_keeps_its_integer_terms_and_an_exact_fraction() -> None:
    ratio = Ratio(1, 3)

    assert (ratio.numerator, ratio.denominator, ratio.fraction) == (1, 3, Fraction(1, 3))
    assert ratio.rate == Decimal("0.3333333333333333333333333333")
    assert ratio.percent(2) == Decimal("33.33")


def test_percent_rounds_half_up() -> None:
    assert Ratio(1, 8).percent(0) == Decimal("13")  # 12.5 → 13
    assert Ratio(1, 16).percent(1) == Decimal("6.3")  # 6.25 → 6.3


def test_nothing_due_has_no_rate() -> None:
    ratio = Ratio(0, 0)

    assert (ratio.rate, ratio.fraction, ratio.percent()) == (None, None, None)


def test_a_date_is_as_of_that_day_both_effective_and_known() -> None:
    from datetime import date

    assert as_of_point(date(2021, 6, 20)) == AsOf(date(2021, 6, 20), date(2021, 6, 20))
    assert as_of_point(None) is None


@given(
    numerator=st.integers(min_value=-(10**18), max_value=10**18),
    denominator=st.integers(min_value=1, max_value=10**18),
    places=st.integers(min_value=0, max_value=6),
)
def test_percent_is_the_quotient_of_a_hundred_times_the_numerator(
    numerator: int, denominator: int, places: int
) -> None:
    # The percentage is taken from the rate's 28 digits, moved two places: the same number as
    # dividing a hundred times the numerator to 28 digits, rounded half up.
    exact = RATE_CONTEXT.divide(Decimal(numerator * 100), Decimal(denominator))
    expected = exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)

    percent = Ratio(numerator, denominator).percent(places)

    assert percent == expected
    assert str(percent) == str(expected)
