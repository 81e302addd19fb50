"""The capital formula and the Balance every layer shows."""

from __future__ import annotations

import pytest

from capledger.domain import Balance
from capledger.domain.capital import (
    BALANCE_FIELDS,
    FIGURES,
    capital,
    extended_remaining,
    extension_released,
    unallocated,
    undisbursed,
)

pytestmark = pytest.mark.unit

LINE = Balance(
    allocated=1_000,
    transferred_in=200,
    transferred_out=150,
    cut=50,
    disbursed=600,
    advances_outstanding=100,
    lapsed=40,
    extended=30,
)


def test_capital_is_what_was_given_less_what_moved_away() -> None:
    assert capital(1_000, 200, 150, 50) == 1_000
    assert LINE.capital == 1_000


def test_undisbursed_is_capital_less_what_was_paid_and_what_lapsed() -> None:
    assert undisbursed(1_000, 600, 40) == 360
    assert LINE.undisbursed == 360


def test_balances_add_and_subtract_amount_by_amount() -> None:
    doubled = LINE + LINE
    assert doubled.figures() == {name: 2 * value for name, value in LINE.figures().items()}
    assert (doubled - LINE) == LINE
    assert Balance.total([LINE, LINE, LINE]) == LINE + doubled
    assert Balance.total([]) == Balance()


def test_figures_are_every_amount_with_capital_and_undisbursed_in_report_order() -> None:
    figures = LINE.figures()
    assert tuple(figures) == FIGURES
    assert set(FIGURES) == {*BALANCE_FIELDS, "capital", "undisbursed"}
    assert LINE.net_transferred == 50


def test_an_extension_is_released_only_beyond_what_is_left() -> None:
    assert extended_remaining(100, 30) == 70
    assert extended_remaining(100, 130) == 0
    assert extension_released(70, 50) == 20
    assert extension_released(70, 90) == 0


def test_unallocated_is_the_envelope_less_what_is_allocated() -> None:
    assert unallocated(1_000, 600) == 400
