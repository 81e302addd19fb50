"""Namespaces of the read-model store: initialisation, switching, dropping."""

from __future__ import annotations

from pathlib import Path

import pytest

from capledger.projections import NotInitialised, ReadModelStore
from capledger.projections.rows import PlanSourceRow

from .support import rows

pytestmark = pytest.mark.integration


def test_a_store_serves_nothing_until_initialised_and_initialising_twice_is_harmless(
    tmp_path: Path,
) -> None:
    store = ReadModelStore.sqlite(tmp_path / "projections.sqlite3")
    try:
        with pytest.raises(NotInitialised):
            store.current_namespace()
        first = store.initialise()

        assert store.initialise() == first == store.current_namespace()
        assert store.position() == 0
    finally:
        store.close()


def test_a_switch_shows_readers_the_new_namespace_at_once(read_model: ReadModelStore) -> None:
    live = read_model.current_namespace()
    fresh = read_model.create_namespace()
    with read_model.writer(fresh) as writer:
        writer.put([PlanSourceRow("KH", "oda", 10, 4)])
        writer.set_position(42)
    assert rows(read_model, PlanSourceRow) == []

    with read_model.writer(fresh, lock_pointer=True) as writer:
        assert writer.switch_pointer() == live

    assert read_model.current_namespace() == fresh
    assert rows(read_model, PlanSourceRow) == [PlanSourceRow("KH", "oda", 10, 4)]
    assert read_model.position() == 42


def test_the_live_namespace_cannot_be_dropped_and_others_can(read_model: ReadModelStore) -> None:
    live = read_model.current_namespace()
    spare = read_model.create_namespace()

    with pytest.raises(ValueError, match="is live"):
        read_model.drop_namespace(live)
    read_model.drop_namespace(spare)

    assert read_model.namespaces() == [live]
    assert read_model.create_namespace() not in {live, spare}


def test_a_write_that_fails_leaves_rows_and_position_as_they_were(
    read_model: ReadModelStore,
) -> None:
    with pytest.raises(RuntimeError, match="midway"), read_model.writer() as writer:
        writer.put([PlanSourceRow("KH", "oda", 10, 4)])
        writer.set_position(7)
        raise RuntimeError("midway")

    assert (rows(read_model, PlanSourceRow), read_model.position()) == ([], 0)


def test_destroying_a_read_model_drops_every_namespace_and_its_control_tables(
    read_model: ReadModelStore,
) -> None:
    live = read_model.current_namespace()
    spare = read_model.create_namespace()
    with read_model.writer(spare) as writer:
        writer.put([PlanSourceRow("P", "central_budget", 10, 4)])

    read_model.destroy()

    with pytest.raises(NotInitialised):
        read_model.current_namespace()
    with pytest.raises(Exception):  # noqa: B017 - the table is gone (each driver says it its way)
        read_model.read(lambda reader: reader.position(), namespace=spare)
    assert read_model.initialise() == live  # starts anew: the first namespace again
    assert read_model.namespaces() == [live]
