"""The runners keep the cyclic collector out of their batches, and always hand it back."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from capledger.projections import collector

pytestmark = pytest.mark.unit


@pytest.fixture(autouse=True)
def _collector_as_found() -> Iterator[None]:
    enabled, frozen = gc.isenabled(), gc.get_freeze_count()
    yield
    assert gc.isenabled() == enabled
    assert gc.get_freeze_count() == frozen


def test_paused_nests_and_restores_automatic_collection() -> None:
    gc.enable()
    with collector.paused():
        assert not gc.isenabled()
        with collector.paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer pause still holds
    assert gc.isenabled()


def test_paused_leaves_a_disabled_collector_disabled() -> None:
    gc.disable()
    try:
        with collector.paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_paused_restores_on_an_error() -> None:
    gc.enable()
    with pytest.raises(RuntimeError), collector.paused():
        raise RuntimeError("the batch failed")
    assert gc.isenabled()


def test_frozen_moves_objects_out_of_sight_and_back() -> None:
    if gc.get_freeze_count():
        pytest.skip("something in this process froze objects already")
    with collector.frozen():
        assert gc.get_freeze_count() > 0
        with collector.frozen():
            assert gc.get_freeze_count() > 0
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0


def test_frozen_leaves_someone_elses_freeze_alone() -> None:
    if gc.get_freeze_count():
        pytest.skip("something in this process froze objects already")
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with collector.frozen():
            pass
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()
