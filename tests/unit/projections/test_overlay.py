"""The runners' context: reads see a batch's writes; each key is flushed once."""

from __future__ import annotations

import gc
from typing import Any

import pytest

from capledger.projections import Overlay
from capledger.projections.rows import MovementRow, PlanSourceRow, Row

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


def movement(position: int, amount: int = 1) -> MovementRow:
    return MovementRow(
        position, 0, "P-1", "KH", "oda", 2021, "disbursed", amount, "2021-01-01",
        "2021-01-01T00:00:00.000000Z", "2021-01-01", 0, False, False, None, "BQL",
    )  # fmt: skip


def test_movement_facts_are_written_but_not_kept_in_the_cache() -> None:
    overlay = Overlay(complete=True)
    overlay.put([movement(1), PlanSourceRow("P", "oda", 1, 0), movement(2)])

    assert overlay.cached_count == 1
    tables = overlay.take_pending_tables()
    assert tables == {
        MovementRow: [movement(1), movement(2)],
        PlanSourceRow: [PlanSourceRow("P", "oda", 1, 0)],
    }
    assert overlay.pending_count == 0


def test_reading_a_movement_fact_sees_the_pending_one_or_asks_the_store_even_when_complete() -> (
    None
):
    source = CountingSource([movement(7, amount=70)])
    overlay = Overlay(complete=True)
    overlay.bind(source)
    overlay.put([movement(1, amount=10)])

    assert overlay.get(MovementRow, (1, 0)) == movement(1, amount=10)
    assert source.loads == 0
    assert overlay.get(MovementRow, (7, 0)) == movement(7, amount=70)
    assert source.loads == 1
    overlay.bind(None)
    with pytest.raises(RuntimeError, match="not cached"):
        overlay.get(MovementRow, (7, 0))


def tracked_objects() -> int:
    gc.collect()
    return len(gc.get_objects())


def test_rows_kept_by_an_overlay_are_not_walked_by_the_garbage_collector() -> None:
    overlay = Overlay(complete=True)
    before = tracked_objects()

    overlay.put(PlanSourceRow(f"P-{index}", "oda", index, 0) for index in range(2_000))
    overlay.put(movement(position) for position in range(2_000))

    # A cycle-free row kept as it was made (a named tuple) would be walked at every full
    # collection: two thousand rows would add two thousand objects here.
    assert tracked_objects() - before < 20
    assert overlay.get(PlanSourceRow, ("P-7", "oda")) == PlanSourceRow("P-7", "oda", 7, 0)


def test_pending_rows_are_made_as_they_are_read_and_compare_as_a_list() -> None:
    overlay = Overlay(complete=True)
    overlay.put([movement(1), movement(2), movement(3)])

    (taken,) = overlay.take_pending_tables().values()

    assert len(taken) == 3
    assert taken[1] == movement(2)
    assert taken[1:] == [movement(2), movement(3)]
    assert taken == [movement(1), movement(2), movement(3)]
    assert type(next(iter(taken))) is MovementRow
