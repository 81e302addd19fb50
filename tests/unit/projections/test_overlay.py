"""The runners' context: reads see a batch's writes; each key is flushed once."""

from __future__ import annotations

from typing import Any

import pytest

from capledger.projections import Overlay
from capledger.projections.rows import PlanSourceRow, Row

pytestmark = pytest.mark.unit


class CountingSource:
    def __init__(self, rows: list[Row]) -> None:
        self.rows = {(type(row), row.key()): row for row in rows}
        self.loads = 0

    def load(self, kind: type[Any], key: tuple[Any, ...]) -> Any:
        self.loads += 1
        return self.rows.get((kind, key))


def test_reads_see_earlier_writes_and_the_store_is_asked_once_per_key() -> None:
    source = CountingSource([PlanSourceRow("P", "central_budget", 100, 10)])
    overlay = Overlay()
    overlay.bind(source)

    first = overlay.get(PlanSourceRow, ("P", "central_budget"))
    assert first == PlanSourceRow("P", "central_budget", 100, 10)
    overlay.put([PlanSourceRow("P", "central_budget", 100, 60)])
    assert overlay.get(PlanSourceRow, ("P", "central_budget")) == PlanSourceRow(
        "P", "central_budget", 100, 60
    )
    assert overlay.get(PlanSourceRow, ("P", "local_budget")) is None
    assert overlay.get(PlanSourceRow, ("P", "local_budget")) is None
    assert source.loads == 2


def test_pending_rows_hold_each_key_once_with_its_last_value() -> None:
    overlay = Overlay(complete=True)
    overlay.put([PlanSourceRow("P", "oda", 1, 0), PlanSourceRow("Q", "oda", 5, 0)])
    overlay.put([PlanSourceRow("P", "oda", 1, 1)])

    assert overlay.take_pending() == [
        PlanSourceRow("P", "oda", 1, 1),
        PlanSourceRow("Q", "oda", 5, 0),
    ]
    assert overlay.take_pending() == []


def test_a_complete_cache_answers_misses_without_a_store() -> None:
    overlay = Overlay(complete=True)

    assert overlay.get(PlanSourceRow, ("P", "oda")) is None


def test_an_incomplete_cache_without_a_store_refuses_to_guess() -> None:
    with pytest.raises(RuntimeError, match="needs a row source"):
        Overlay().get(PlanSourceRow, ("P", "oda"))


def test_a_cache_grown_past_its_bound_is_emptied_and_no_longer_complete() -> None:
    overlay = Overlay(complete=True, max_rows=1)
    overlay.put([PlanSourceRow("P", "oda", 1, 0), PlanSourceRow("Q", "oda", 1, 0)])
    overlay.take_pending()

    assert not overlay.complete
    source = CountingSource([PlanSourceRow("P", "oda", 1, 0)])
    overlay.bind(source)
    assert overlay.get(PlanSourceRow, ("P", "oda")) == PlanSourceRow("P", "oda", 1, 0)
    assert source.loads == 1
