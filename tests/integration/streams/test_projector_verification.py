"""The Kafka projector folds only verified records (the real broker): a forged record produced
to the events topic, whose hash headers do not continue its stream's chain, stops the
projector at that record, which the read model records with its partition and offset."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator

import pytest
from builders import BILLION, approve_annual_plan, funded_project, pay
from kafka import KafkaProducer

from capledger.application.ledger import Ledger
from capledger.domain.ids import project_id
from capledger.projections import ReadModelStore
from capledger.projections.verification import UnverifiedEvent
from capledger.streams import wire
from capledger.streams.projector import Projector
from capledger.streams.relay import Relay
from capledger.streams.settings import KafkaSettings, ProjectorSettings

from .broker import delete_topics, requires_kafka, unique_settings, wait_for

pytestmark = requires_kafka

STOPPED_S = 120.0
FORGED_HASH = "f" * 64


@pytest.fixture
def kafka() -> Iterator[KafkaSettings]:
    settings = unique_settings("verification")
    yield settings
    delete_topics(settings)


@pytest.fixture
def projector_settings() -> ProjectorSettings:
    return ProjectorSettings(
        group=f"test-verification-{uuid.uuid4().hex[:10]}",
        batch_size=200,
        batch_within_s=0.05,
        retry_backoff_s=0.1,
    )


def forged_payment(ledger: Ledger, kafka: KafkaSettings) -> wire.WireMessage:
    """The project's last payment as the relay sent it, for a much larger amount, as the next
    version of its stream, with hash headers that link to nothing the stream holds."""
    stamp = wire.WireFormat(kafka.ce_source, kafka.schema_base_uri)
    notes = ledger.recorder.select_notifications(1, 10**6)
    last = max(n.originator_version for n in notes if n.originator_id == project_id("DA-001"))
    payment = next(n for n in reversed(notes) if n.topic.endswith("CompletedWorkPaid"))
    message = wire.to_message(payment, stamp)
    value = json.loads(message.value or b"{}")
    value["amount"] = 1_000_000 * BILLION
    changed = {
        wire.POSITION: str(len(notes) + 1).encode(),
        wire.STREAM_VERSION: str(last + 1).encode(),
        wire.CE_ID: wire.event_id(payment.originator_id, last + 1).encode(),
        wire.HASH: ("e" * 64).encode(),
        wire.PREV_HASH: FORGED_HASH.encode(),
    }
    headers = [(name, changed.get(name, found)) for name, found in message.headers]
    return wire.WireMessage(len(notes) + 1, message.key, json.dumps(value).encode(), headers)


def test_a_forged_record_stops_the_projector_at_its_partition_and_offset(
    ledger: Ledger,
    kafka: KafkaSettings,
    projector_settings: ProjectorSettings,
    read_models: Callable[[], ReadModelStore],
) -> None:
    approve_annual_plan(ledger)
    funded_project(ledger, code="DA-001", amount=100 * BILLION)
    pay(ledger, project_code="DA-001", amount=7 * BILLION)
    Relay(ledger.recorder, kafka).run(until_caught_up=True)
    forged = forged_payment(ledger, kafka)
    producer = KafkaProducer(bootstrap_servers=kafka.bootstrap_servers)
    try:
        sent = producer.send(
            kafka.events_topic, key=forged.key, value=forged.value, headers=forged.headers
        ).get(timeout=30)
    finally:
        producer.close()
    read_model = read_models()

    with Projector(kafka, read_model, projector_settings) as projector:
        wait_for(lambda: projector.fatal is not None, STOPPED_S, "the projector to stop", 0.2)

    assert isinstance(projector.fatal, UnverifiedEvent)
    breach = read_model.breach()
    assert breach is not None and breach == projector.fatal.breach
    assert (breach.stream, breach.subject) == (str(project_id("DA-001")), "project:DA-001")
    assert breach.version == ledger.project("DA-001").version + 1
    assert breach.source == f"{kafka.events_topic}[{sent.partition}]@{sent.offset}"
    assert breach.reason == "link to the previous event does not match"
    assert breach.found == FORGED_HASH
    last = ledger.recorder.select_events(project_id("DA-001"), desc=True, limit=1)[0]
    assert breach.expected == json.loads(last.state)["_chain"]["hash"]
