"""Read-model rows: immutable named tuples, copied with ``evolve``, keyed and stored as tuples."""

from __future__ import annotations

import copy
import pickle
from typing import Any

import pytest

from capledger.projections.rows import (
    ALL_ROWS,
    ColumnType,
    EntryRow,
    LineRow,
    MovementRow,
    Row,
    columns,
)

pytestmark = pytest.mark.unit


def sample(kind: type[Row], seed: int = 1) -> dict[str, Any]:
    """A value for every field, distinct per field, of the field's type."""
    values: dict[str, Any] = {}
    for index, column in enumerate(columns(kind)):
        if column.type is ColumnType.FLAG:
            values[column.name] = bool((index + seed) % 2)
        elif column.type is ColumnType.INTEGER:
            values[column.name] = 1_000 * seed + index
        else:
            values[column.name] = f"{column.name}-{seed}"
    return values


@pytest.mark.parametrize("kind", ALL_ROWS, ids=lambda kind: kind.__name__)
def test_rows_are_immutable_hashable_and_picklable(kind: type[Row]) -> None:
    values = sample(kind)

    row = kind(**values)

    assert row == kind(*values.values())
    assert type(row) is kind
    assert row._asdict() == values  # type: ignore[attr-defined]
    assert hash(row) == hash(kind(**values))
    assert pickle.loads(pickle.dumps(row)) == row
    assert copy.copy(row) == row
    with pytest.raises(AttributeError):
        row.__setattr__(columns(kind)[0].name, "changed")


def test_defaults_and_argument_errors_are_those_of_the_dataclass() -> None:
    line = LineRow("P-1", "KH", "central_budget", "annual", 2021)

    assert (line.allocated, line.extended_until) == (0, None)
    with pytest.raises(TypeError):
        LineRow("P-1", "KH")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        LineRow("P-1", "KH", "central_budget", "annual", 2021, colour="red")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        line.evolve(colour="red")


@pytest.mark.parametrize("kind", ALL_ROWS, ids=lambda kind: kind.__name__)
def test_evolve_is_a_copy_with_the_changes(kind: type[Row]) -> None:
    row = kind(**sample(kind))
    changes = {name: value for name, value in sample(kind, seed=2).items() if name[0] < "p"}

    expected = kind(**{**sample(kind), **changes})
    assert row.evolve(**changes) == expected
    assert row == kind(**sample(kind))  # unchanged
    assert type(row.evolve(**changes)) is kind
    assert row.evolve() == row
    with pytest.raises(TypeError, match="no field 'colour'"):
        row.evolve(colour="red")


def test_key_and_values_give_the_key_columns_and_flags_as_integers() -> None:
    movement = MovementRow(**sample(MovementRow))
    entry = EntryRow(**sample(EntryRow))

    assert movement.key() == (movement.position, movement.seq)
    assert entry.key() == (entry.project_code, entry.stream_version)
    values = movement.values()
    assert values == tuple(int(value) if isinstance(value, bool) else value for value in movement)
    assert {type(values[12]), type(values[13])} == {int}
