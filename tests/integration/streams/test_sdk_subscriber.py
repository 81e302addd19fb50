"""A subscriber that knows nothing of capledger but the official CloudEvents SDK reads the real
topic and keeps everything: the ledger's attributes arrive as extension attributes, so it can
check every stream's hash links from the converted events alone, and it can fetch each event's
JSON Schema from the API at the address ``dataschema`` names."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from cloudevents.core.base import BaseCloudEvent
from cloudevents.core.bindings import kafka as ce_kafka
from cloudevents.core.formats.json import JSONFormat
from fastapi import FastAPI
from fastapi.testclient import TestClient
from jsonschema import Draft202012Validator, FormatChecker
from unit.streams.stream_scenario import record_every_event_type

from capledger.api.routers import schemas as schema_routes
from capledger.application.chain import GENESIS
from capledger.application.ledger import Ledger
from capledger.streams.relay import Relay
from capledger.streams.settings import KafkaSettings

from .broker import delete_topics, read_topic, requires_kafka, unique_settings

pytestmark = requires_kafka

#: Where the API answers (the TestClient's address), as an operator sets the schema base.
BASE = "http://testserver/schemas/"


@pytest.fixture
def kafka() -> Iterator[KafkaSettings]:
    settings = unique_settings("sdk", batch_size=17, schema_base_uri=BASE)
    yield settings
    delete_topics(settings)


def sdk_events(kafka: KafkaSettings) -> list[BaseCloudEvent]:
    """Every message of the topic converted by the SDK (its Kafka binding, JSON format)."""
    return [
        ce_kafka.from_binary(
            ce_kafka.KafkaMessage(headers=m.headers, key=m.key, value=m.value), JSONFormat()
        )
        for m in read_topic(kafka.bootstrap, kafka.events_topic)
    ]


def test_the_sdk_alone_checks_every_stream_s_hash_links_and_finds_each_schema(
    ledger: Ledger, kafka: KafkaSettings
) -> None:
    record_every_event_type(ledger)
    Relay(ledger.recorder, kafka).run(until_caught_up=True)
    events = sdk_events(kafka)
    assert len(events) == ledger.recorder.max_notification_id()

    by_stream: dict[str, list[tuple[int, str, str]]] = defaultdict(list)
    for event in events:
        by_stream[event.get_extension("stream")].append((
            int(event.get_extension("streamversion")),
            event.get_extension("prevhash"),
            event.get_extension("hash"),
        ))  # fmt: skip
        assert event.get_extension("principal") and event.get_extension("commandid")
    assert len(by_stream) > 10
    for stream, links in by_stream.items():
        links.sort()
        assert [version for version, _, _ in links] == list(range(1, len(links) + 1)), stream
        previous = GENESIS
        for _, prev, hash_ in links:
            assert prev == previous, stream
            assert len(hash_) == 64
            previous = hash_
    positions = sorted(int(event.get_extension("position")) for event in events)
    assert positions == list(range(1, len(events) + 1))

    app = FastAPI()
    app.include_router(schema_routes.router)
    app.state.ctx = SimpleNamespace(settings=SimpleNamespace(kafka=kafka))
    validators: dict[str, Draft202012Validator] = {}
    with TestClient(app) as api:
        for event in events:
            address = event.get_dataschema()
            assert address is not None and address.startswith(BASE)
            if address not in validators:
                served = api.get(address)
                assert served.status_code == 200, address
                schema: dict[str, Any] = served.json()
                assert schema["$id"] == address
                validators[address] = Draft202012Validator(schema, format_checker=FormatChecker())
            validators[address].validate(event.get_data())
