"""The read model computes with the domain's capital formula and Balance."""

from __future__ import annotations

import pytest

from capledger.domain import Balance
from capledger.domain.capital import BALANCE_FIELDS, balance_of
from capledger.projections.queries.sql import capital_sql, undisbursed_sql
from capledger.projections.rows import LineRow, Movement

pytestmark = pytest.mark.unit


def test_a_balance_has_one_amount_per_kind_of_movement_in_the_read_models_order() -> None:
    assert tuple(kind.value for kind in Movement) == BALANCE_FIELDS


def test_the_balance_of_a_line_reads_its_amounts_and_counts_the_missing_as_zero() -> None:
    row = LineRow("P", "PLAN", "oda", "annual", 2025, allocated=500, cut=100, disbursed=50)
    assert balance_of(row) == Balance(allocated=500, cut=100, disbursed=50)
    assert balance_of(object()) == Balance()


def test_the_read_model_renders_the_same_formula_as_sql() -> None:
    assert capital_sql() == (
        "SUM(l.allocated) + SUM(l.transferred_in) - SUM(l.transferred_out) - SUM(l.cut)"
    )
    assert undisbursed_sql("x") == (
        "SUM(x.allocated) + SUM(x.transferred_in) - SUM(x.transferred_out) - SUM(x.cut) "
        "- SUM(x.disbursed) - SUM(x.lapsed)"
    )
