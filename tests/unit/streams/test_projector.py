"""The stream projector's decoding: a record of the events topic back to the published event the
embedded runner folds (no broker, no database)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from eventsourcing.persistence import Notification

from capledger.application.ledger import Ledger
from capledger.application.published import event_topic, publish
from capledger.bootstrap import load_rules
from capledger.projections import MemoryReadModel, folds
from capledger.projections.rows import ProjectRow
from capledger.settings import Settings
from capledger.streams import wire
from capledger.streams.projector_apply import decode

from .stream_scenario import record_every_event_type

pytestmark = pytest.mark.unit

WIRE = wire.WireFormat("/capledger/capledger", "urn:capledger:schema:")


@pytest.fixture(scope="module")
def notifications() -> Iterator[list[Notification]]:
    ledger = Ledger(rules=load_rules())  # in memory
    record_every_event_type(ledger)
    yield list(ledger.recorder.select_notifications(1, 10_000))
    ledger.close()


def test_a_record_decodes_to_the_event_the_embedded_runner_folds(
    notifications: list[Notification],
) -> None:
    folded = 0
    for note in notifications:
        message = wire.to_message(note, WIRE)
        decoded = decode(message.headers, message.value)
        published = publish(note.id, note.originator_id, note.originator_version,  # type: ignore[arg-type]
                            note.topic, note.state)  # fmt: skip
        if not folds(published.name):
            assert decoded is None  # command receipts: skipped undecoded
            continue
        folded += 1
        assert decoded is not None
        # Everything but the metadata, which the wire carries in part (subject, principal,
        # command and correlation ids): reducers never read it.
        assert decoded._replace(meta={}) == published._replace(meta={})
        assert decoded.meta.items() <= published.meta.items()
        assert decoded.meta["subject"] == published.subject
    assert folded > 20


def test_types_name_the_event_and_its_version() -> None:
    assert wire.parse_type(b"vn.capledger.Project.CompletedWorkPaid.v1") == (
        "Project.CompletedWorkPaid",
        1,
    )
    assert wire.parse_type(b"vn.capledger.Project.Registered.v2") == ("Project.Registered", 2)
    assert wire.parse_type(b"vn.capledger.Odd") == ("Odd", 1)


def test_a_version_one_registration_read_from_kafka_takes_the_investor_name_as_its_code(
    notifications: list[Notification],
) -> None:
    registration = next(n for n in notifications if n.topic.endswith(":Project.Registered"))
    message = wire.to_message(registration, WIRE)
    data = json.loads(message.value)
    investor = data.pop("investor_name")
    del data["investor_code"]
    old_type = b"vn.capledger.Project.Registered.v1"
    headers = [(key, old_type if key == wire.CE_TYPE else value) for key, value in message.headers]

    decoded = decode(headers, json.dumps({**data, "investor": investor}).encode())

    assert decoded is not None
    assert decoded.class_version == 2
    model = MemoryReadModel().fold([decoded])
    (project,) = model.rows(ProjectRow)
    assert (project.investor_code, project.investor_name) == (investor, investor)


def test_event_topics_are_those_of_the_notification_log(
    notifications: list[Notification],
) -> None:
    for note in notifications:
        name = note.topic.rpartition(":")[2]
        if name.partition(".")[0] in {"Project", "CapitalPlan"}:
            assert event_topic(name) == note.topic
    assert event_topic("Project.NoSuchEvent") == "vn.capledger.Project.NoSuchEvent"


def test_a_record_without_a_type_is_an_error() -> None:
    with pytest.raises(ValueError, match="ce_type"):
        decode([(wire.CE_SUBJECT, b"project:DA-001")], b"{}")


def test_projector_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAPLEDGER_PROJECTOR_GROUP", "projector-b")
    monkeypatch.setenv("CAPLEDGER_PROJECTOR_BATCH_SIZE", "250")
    settings = Settings().projector
    assert (settings.group, settings.batch_size) == ("projector-b", 250)
