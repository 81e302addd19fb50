"""The relay and the subscriber on a real Kafka broker, over SQLite and PostgreSQL stores.

Every message the relay publishes for a history covering every event type is checked: once
each, in stream order, valid against its JSON Schema, and a CloudEvent to the official SDK.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from cloudevents.core.bindings import kafka as ce_kafka
from cloudevents.core.formats.json import JSONFormat
from jsonschema import Draft202012Validator, FormatChecker
from kafka.admin import ConfigResource, ConfigResourceType
from unit.streams.stream_scenario import SOURCE, record_every_event_type

from capledger.application.commands import PayCompletedWork
from capledger.application.ledger import Ledger
from capledger.settings import Persistence, Settings
from capledger.streams import schemas, topics, wire
from capledger.streams.positions import read_committed_position
from capledger.streams.relay import Relay
from capledger.streams.settings import KafkaSettings
from capledger.streams.source import PollingSource, SubscriptionSource, open_source
from capledger.streams.subscriber import Start, subscribe

from .broker import (
    REPO,
    admin,
    audit,
    delete_topics,
    read_topic,
    recorded_ids,
    requires_kafka,
    unique_settings,
    wait_for,
)

pytestmark = requires_kafka


@pytest.fixture
def kafka() -> Iterator[KafkaSettings]:
    settings = unique_settings("relay", batch_size=11)
    yield settings
    delete_topics(settings)


def relay_all(ledger: Ledger, settings: KafkaSettings) -> Relay:
    relay = Relay(ledger.recorder, settings)
    relay.run(until_caught_up=True)
    return relay


def notifications(ledger: Ledger) -> list[object]:
    return list(ledger.recorder.select_notifications(1, 1_000_000))


def pay(ledger: Ledger, index: int, project: str = "DA-001") -> None:
    ledger.execute(PayCompletedWork(
        project_code=project, plan_code="KH-2024", source=SOURCE, amount=1_000 + index,
        treasury_ref=f"KB-{index}", effective_on=date(2024, 9, 1),
    ), command_id=f"pay-{index}")  # fmt: skip


def test_every_event_type_reaches_the_topic_once_as_a_valid_cloudevent(
    ledger: Ledger, kafka: KafkaSettings
) -> None:
    record_every_event_type(ledger)
    relay = relay_all(ledger, kafka)
    messages = read_topic(kafka.bootstrap, kafka.events_topic)
    report = audit(recorded_ids(ledger.recorder.select_notifications(1, 100_000)), messages)
    assert report.exactly_once, report.summary()
    assert relay.position == ledger.recorder.max_notification_id()
    assert read_committed_position(kafka) == relay.position

    validators = {
        f"{kafka.schema_base_uri}{t.file_name}": Draft202012Validator(
            schemas.load(t.file_name), format_checker=FormatChecker()
        )
        for t in schemas.event_types()
    }
    seen_types = set()
    for message in messages:
        assert message.value is not None and message.key is not None
        event = ce_kafka.from_binary(
            ce_kafka.KafkaMessage(headers=message.headers, key=message.key, value=message.value),
            JSONFormat(),
        )
        assert event.get_id() == message.ce_id
        assert event.get_subject() == message.key.decode()
        assert event.get_source() == kafka.ce_source
        data = json.loads(message.value)
        validators[event.get_dataschema() or ""].validate(data)
        assert event.get_data() == data
        seen_types.add(event.get_type())
    assert seen_types == {t.ce_type for t in schemas.event_types()}


def test_the_topics_are_created_as_specified_and_drift_is_reported(
    ledger: Ledger, kafka: KafkaSettings
) -> None:
    record_every_event_type(ledger)
    relay_all(ledger, kafka)
    assert topics.ensure_topics(kafka) == []  # idempotent
    assert topics.check(kafka) == []
    with admin(kafka.bootstrap) as client:
        client.alter_configs(
            [
                ConfigResource(
                    ConfigResourceType.TOPIC, kafka.events_topic, {"retention.ms": "86400000"}
                )
            ]
        )
    wait_for(lambda: topics.check(kafka) != [], 30, "the altered config to be visible")
    drift = topics.check(kafka.model_copy(update={"partitions": 5}))
    assert {(d.setting, d.expected, d.actual) for d in drift} == {
        ("retention.ms", "-1", "86400000"),
        ("partitions", "5", "3"),
    }


def test_a_running_relay_follows_new_commands(ledger: Ledger, kafka: KafkaSettings) -> None:
    record_every_event_type(ledger)
    relay = Relay(ledger.recorder, kafka)
    stop = threading.Event()
    runner = threading.Thread(target=relay.run, args=(stop,))
    runner.start()
    try:
        for index in range(40):
            pay(ledger, index)
        latest = ledger.recorder.max_notification_id()
        wait_for(lambda: relay.position == latest, 60, "the relay to catch up")
        assert relay.lag() == 0
    finally:
        stop.set()
        runner.join()
    report = audit(
        recorded_ids(ledger.recorder.select_notifications(1, 100_000)),
        read_topic(kafka.bootstrap, kafka.events_topic),
    )
    assert report.exactly_once, report.summary()


def test_postgres_is_followed_by_its_subscription_and_sqlite_by_polling(
    ledger: Ledger, store: Settings
) -> None:
    source = open_source(ledger.recorder, 0, poll_interval_s=0.01, subscribe=True)
    try:
        postgres = store.store.persistence is Persistence.POSTGRES
        assert isinstance(source, SubscriptionSource if postgres else PollingSource)
        record_every_event_type(ledger)
        latest = ledger.recorder.max_notification_id() or 0
        seen: list[int] = []
        for _ in range(100):  # each call returns as soon as something is there
            seen.extend(n.id for n in source.next_batch(limit=7, wait_s=5))
            if seen and seen[-1] >= latest:
                break
        assert seen == list(range(1, latest + 1))
    finally:
        source.close()


def test_a_subscriber_filters_by_type_and_stops_after_max(
    ledger: Ledger, kafka: KafkaSettings
) -> None:
    record_every_event_type(ledger)
    relay_all(ledger, kafka)
    taken: list[wire.ReceivedEvent] = []
    count = subscribe(kafka, Start.beginning(), taken.append, stop_after=3,
                      types=["Project.CompletedWorkPaid", "Project.AdvancePaid"])  # fmt: skip
    assert count == 3
    assert {event.name for event in taken} <= {"Project.CompletedWorkPaid", "Project.AdvancePaid"}
    assert all(isinstance(event.data["amount"], int) for event in taken)


def test_a_consumer_group_resumes_where_it_committed(ledger: Ledger, kafka: KafkaSettings) -> None:
    record_every_event_type(ledger)
    relay_all(ledger, kafka)
    total = ledger.recorder.max_notification_id() or 0
    first: list[wire.ReceivedEvent] = []
    second: list[wire.ReceivedEvent] = []
    subscribe(kafka, Start.committed(), first.append, stop_after=10)
    subscribe(kafka, Start.committed(), second.append, stop_after=total - 10)
    ids = [event.id for event in first + second]
    assert len(ids) == len(set(ids)) == total


def test_a_subscriber_can_start_at_a_ledger_position(ledger: Ledger, kafka: KafkaSettings) -> None:
    record_every_event_type(ledger)
    relay_all(ledger, kafka)
    total = ledger.recorder.max_notification_id() or 0
    start = total - 12
    taken: list[wire.ReceivedEvent] = []
    subscribe(kafka, Start.from_position(start), taken.append, stop_after=13)
    assert sorted(event.position for event in taken) == list(range(start, total + 1))


def test_a_subscriber_from_now_sees_only_later_events(ledger: Ledger, kafka: KafkaSettings) -> None:
    record_every_event_type(ledger)
    relay = relay_all(ledger, kafka)
    before = relay.position or 0
    taken: list[wire.ReceivedEvent] = []
    done = threading.Event()

    def run() -> None:
        subscribe(kafka, Start.now(), taken.append, stop_after=2)
        done.set()

    reader = threading.Thread(target=run)
    reader.start()
    index = 0
    while not done.is_set() and index < 200:  # keep publishing until it has seen two
        pay(ledger, index)
        relay.run(until_caught_up=True)
        done.wait(0.2)
        index += 1
    reader.join(timeout=60)
    assert done.is_set()
    assert len(taken) == 2
    assert all(event.position > before for event in taken)


def test_the_documented_finance_subscriber_totals_payments(
    ledger: Ledger, kafka: KafkaSettings, tmp_path: Path
) -> None:
    record_every_event_type(ledger)
    relay_all(ledger, kafka)
    example = REPO / "docs" / "examples" / "finance_subscriber.py"
    output = tmp_path / "finance.out"
    with output.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, str(example), "--bootstrap", kafka.bootstrap,
             "--topic", kafka.events_topic, "--group", kafka.subscriber_group],
            stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
    try:
        wait_for(lambda: "project:DA-001" in output.read_text(), 60, "the example's totals")
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    last = [line for line in output.read_text().splitlines() if "project:DA-001" in line][-1]
    # An advance of 2 billion, a payment of 5 billion recovering 1 billion of it, and a
    # wrong payment that was reversed: 6 billion paid out.
    assert last.split()[-2] == "6,000,000,000"
