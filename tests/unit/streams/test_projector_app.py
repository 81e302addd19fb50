"""The projector's Faust app is configured through Faust's public settings only, and those
settings still mean what the projector relies on (no broker: the app is built, not started).

These fail when faust-streaming changes what a setting does; the broker tests
(``tests/integration/streams/test_projector_broker.py``) show the behaviour itself.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Iterator
from pathlib import Path

import faust
import pytest
from faust.sensors import Monitor

from capledger.projections import ReadModelStore
from capledger.streams.projector import (
    Projector,
    ProjectorMonitor,
    ProjectorSettings,
    RecordSchema,
)
from capledger.streams.settings import KafkaSettings

pytestmark = pytest.mark.unit

TOPIC = "test.events.projector-app"


@pytest.fixture
def app(tmp_path: Path) -> Iterator[faust.App]:
    store = ReadModelStore.sqlite(tmp_path / "read-model.sqlite")
    projector = Projector(KafkaSettings(events_topic=TOPIC), store, ProjectorSettings())
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        yield projector.build_app(tmp_path / "faust")
    finally:
        asyncio.set_event_loop(None)
        loop.close()
        store.close()


def test_the_app_reads_only_committed_transactions(app: faust.App) -> None:
    """Faust's aiokafka consumer asks for ``read_committed`` exactly when ``in_transaction``."""
    assert app.conf.processing_guarantee == faust.types.enums.ProcessingGuarantee.EXACTLY_ONCE
    assert app.in_transaction is True


def test_one_agent_reads_the_events_topic_without_acks(app: faust.App) -> None:
    """No ack, so Faust commits no offset to the group and its seek to them leaves ours."""
    (agent,) = app.agents.values()
    assert agent.channel.get_topic_name() == TOPIC
    assert agent.channel.acks is False
    assert isinstance(agent.channel.schema, RecordSchema)
    assert app.conf.stream_wait_empty is False


def test_the_assignment_seek_is_connected_to_the_rebalance_signals(app: faust.App) -> None:
    assert len(list(app.on_rebalance_complete.iter_receivers(app))) == 1
    assert len(list(app.on_partitions_revoked.iter_receivers(app))) == 1


def test_the_record_schema_overrides_the_decoding_hooks_faust_calls() -> None:
    for name in ("loads_key", "loads_value"):
        ours = inspect.signature(getattr(RecordSchema, name)).parameters
        theirs = inspect.signature(getattr(faust.Schema, name)).parameters
        assert list(ours) == list(theirs), name


def test_the_quiet_monitor_overrides_hooks_faust_still_calls(app: faust.App) -> None:
    assert isinstance(app.monitor, ProjectorMonitor)
    overridden = {
        name for name, value in vars(ProjectorMonitor).items() if inspect.isfunction(value)
    }
    assert overridden == {
        "on_message_in",
        "on_stream_event_in",
        "on_stream_event_out",
        "on_message_out",
        "track_tp_end_offset",
    }
    for name in overridden:
        ours = inspect.signature(getattr(ProjectorMonitor, name)).parameters
        theirs = inspect.signature(getattr(Monitor, name)).parameters
        assert list(ours) == list(theirs), name
