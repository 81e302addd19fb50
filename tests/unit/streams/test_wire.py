"""Recorded events as CloudEvents in the Kafka binary content mode (no broker needed)."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cloudevents.core.bindings import kafka as ce_kafka
from cloudevents.core.formats.json import JSONFormat
from cloudevents.v1 import kafka as ce_kafka_v1
from eventsourcing.persistence import Notification
from jsonschema import Draft202012Validator, FormatChecker

from capledger.application.chain import GENESIS, seal
from capledger.application.ledger import Ledger
from capledger.application.published import publish
from capledger.bootstrap import build_ledger, load_rules
from capledger.domain import project_id
from capledger.settings import Persistence, Settings, StoreSettings
from capledger.streams import schemas, wire
from capledger.streams.settings import DEFAULT_SCHEMA_BASE_URI, KafkaSettings
from capledger.streams.source import LogRow, PollingSource

from .stream_scenario import record_every_event_type

pytestmark = pytest.mark.unit

WIRE = wire.WireFormat("/capledger/capledger", DEFAULT_SCHEMA_BASE_URI)


@pytest.fixture(scope="module")
def notifications() -> Iterator[list[Notification]]:
    ledger = Ledger(rules=load_rules())  # in memory
    record_every_event_type(ledger)
    yield list(ledger.recorder.select_notifications(1, 10_000))
    ledger.close()


@pytest.fixture(scope="module")
def messages(notifications: list[Notification]) -> list[wire.WireMessage]:
    return [wire.to_message(notification, WIRE) for notification in notifications]


def test_the_scenario_records_every_event_type(messages: list[wire.WireMessage]) -> None:
    seen = {dict(message.headers)[wire.CE_TYPE].decode() for message in messages}
    assert seen == {event_type.ce_type for event_type in schemas.event_types()}


def test_every_message_value_is_valid_against_its_dataschema(
    messages: list[wire.WireMessage],
) -> None:
    validators: dict[str, Draft202012Validator] = {}
    for message in messages:
        dataschema = dict(message.headers)[wire.CE_DATASCHEMA].decode()
        file_name = dataschema.removeprefix(DEFAULT_SCHEMA_BASE_URI)
        if file_name not in validators:
            validators[file_name] = Draft202012Validator(
                schemas.load(file_name), format_checker=FormatChecker()
            )
        validators[file_name].validate(json.loads(message.value))


def test_every_message_parses_with_the_cloudevents_sdk(
    messages: list[wire.WireMessage], notifications: list[Notification]
) -> None:
    for message, notification in zip(messages, notifications, strict=True):
        headers = dict(message.headers)
        event = ce_kafka.from_binary(
            ce_kafka.KafkaMessage(headers=headers, key=message.key, value=message.value),
            JSONFormat(),
        )
        assert event.get_specversion() == "1.0"
        assert event.get_id() == f"{notification.originator_id}:{notification.originator_version}"
        assert event.get_source() == "/capledger/capledger"
        assert event.get_type().startswith("vn.capledger.")
        assert event.get_subject() == message.key.decode()
        assert event.get_datacontenttype() == "application/json"
        assert event.get_dataschema() == headers[wire.CE_DATASCHEMA].decode()
        time = event.get_time()
        assert time is not None and time.tzinfo is not None
        assert event.get_data() == json.loads(message.value)
        assert event.get_extension("partitionkey") == message.key.decode()


#: The ledger's attributes as CloudEvents extension attributes, by their header names.
EXTENSIONS = ("position", "stream", "streamversion", "hash", "prevhash", "principal", "commandid")


def test_the_sdk_keeps_the_ledger_s_attributes_as_extension_attributes(
    messages: list[wire.WireMessage], notifications: list[Notification]
) -> None:
    for message, n in zip(messages, notifications, strict=True):
        event = ce_kafka.from_binary(
            ce_kafka.KafkaMessage(headers=dict(message.headers), key=message.key,
                                  value=message.value),
            JSONFormat(),
        )  # fmt: skip
        published = publish(n.id, n.originator_id, n.originator_version, n.topic, n.state)  # type: ignore[arg-type]
        assert event.get_extension("wireversion") == str(wire.WIRE_VERSION)
        assert event.get_extension("position") == str(n.id)
        assert event.get_extension("stream") == str(n.originator_id)
        assert event.get_extension("streamversion") == str(n.originator_version)
        assert event.get_extension("hash") == published.hash
        assert event.get_extension("prevhash") == published.prev
        assert event.get_extension("principal") == published.meta["principal"]
        assert event.get_extension("commandid") == published.meta["command_id"]


def test_extension_names_are_what_the_cloudevents_specification_allows() -> None:
    names = [*EXTENSIONS, "correlationid", "wireversion"]
    headers = [
        wire.POSITION, wire.STREAM, wire.STREAM_VERSION, wire.HASH, wire.PREV_HASH,
        wire.PRINCIPAL, wire.COMMAND_ID, wire.CORRELATION_ID, wire.WIRE_VERSION_HEADER,
    ]  # fmt: skip
    assert headers == [f"ce_{name}" for name in names]
    for name in names:
        assert re.fullmatch(r"[a-z0-9]{1,20}", name), name


def test_the_version_1_headers_are_still_sent_with_the_same_values(
    messages: list[wire.WireMessage],
) -> None:
    for message in messages:
        headers = dict(message.headers)
        for name, legacy in wire.LEGACY_HEADERS.items():
            if name in headers:
                assert headers[legacy] == headers[name], legacy


def test_a_version_1_message_reads_as_the_same_event(messages: list[wire.WireMessage]) -> None:
    """The topic keeps the messages published before the extension attributes forever: the
    projector and the subscriber read them as they read version 2."""
    for message in messages[:40]:
        extensions = {*wire.LEGACY_HEADERS, wire.WIRE_VERSION_HEADER}
        old = [(name, value) for name, value in message.headers if name not in extensions]
        assert wire.published_event(dict(old), message.value) == wire.published_event(
            dict(message.headers), message.value
        )
        assert wire.received("t", 0, 1, old, message.value) == wire.received(
            "t", 0, 1, message.headers, message.value
        )


def test_messages_parse_with_the_sdk_s_1_x_api_too(messages: list[wire.WireMessage]) -> None:
    message = messages[0]
    event = ce_kafka_v1.from_binary(
        ce_kafka_v1.KafkaMessage(dict(message.headers), message.key, message.value)
    )
    assert event["type"] == "vn.capledger.CapitalPlan.Approved.v1"
    assert event.data["code"] == "KH-2024"


def test_ledger_headers_carry_position_stream_and_chain(
    messages: list[wire.WireMessage], notifications: list[Notification]
) -> None:
    for message, notification in zip(messages, notifications, strict=True):
        headers = dict(message.headers)
        assert int(headers[wire.POSITION]) == notification.id == message.position
        assert headers[wire.STREAM].decode() == str(notification.originator_id)
        assert int(headers[wire.STREAM_VERSION]) == notification.originator_version
        assert len(headers[wire.HASH]) == 64
        if notification.originator_version == 1:
            assert headers[wire.PREV_HASH].decode() == GENESIS
        assert headers[wire.COMMAND_ID].decode().startswith("cmd-")
        assert headers[wire.PRINCIPAL]


def test_the_key_is_the_subject_and_streams_chain_within_a_key(
    messages: list[wire.WireMessage],
) -> None:
    keys = {message.key.decode().partition(":")[0] for message in messages}
    assert keys == {"plan", "project", "command", "api-key"}
    last: dict[bytes, tuple[int, bytes]] = {}
    for message in messages:
        headers = dict(message.headers)
        version = int(headers[wire.STREAM_VERSION])
        if message.key in last:
            previous_version, previous_hash = last[message.key]
            assert version == previous_version + 1
            assert headers[wire.PREV_HASH] == previous_hash
        last[message.key] = (version, headers[wire.HASH])


def test_messages_carry_exactly_the_published_form_of_each_event(
    messages: list[wire.WireMessage], notifications: list[Notification]
) -> None:
    for message, n in zip(messages, notifications, strict=True):
        published = publish(n.id, n.originator_id, n.originator_version, n.topic, n.state)  # type: ignore[arg-type]
        headers = dict(message.headers)
        assert json.loads(message.value) == published.data
        assert headers[wire.CE_TYPE].decode() == published.ce_type
        assert headers[wire.CE_TIME].decode() == published.recorded_at
        assert headers[wire.CE_SUBJECT].decode() == published.subject == message.key.decode()
        assert headers[wire.HASH].decode() == published.hash
        assert headers[wire.PREV_HASH].decode() == published.prev
        assert headers[wire.PRINCIPAL].decode() == published.meta["principal"]
        assert headers[wire.COMMAND_ID].decode() == published.meta["command_id"]


def test_a_message_is_the_same_every_time_it_is_built(
    notifications: list[Notification],
) -> None:
    first = [wire.to_message(n, WIRE) for n in notifications]
    again = [wire.to_message(n, WIRE) for n in notifications]
    assert first == again
    assert len({dict(m.headers)[wire.CE_ID] for m in first}) == len(first)


def test_amounts_stay_integers_and_dates_iso(messages: list[wire.WireMessage]) -> None:
    paid = [
        json.loads(m.value)
        for m in messages
        if dict(m.headers)[wire.CE_TYPE] == b"vn.capledger.Project.CompletedWorkPaid.v1"
    ]
    assert paid[0]["amount"] == 5_000_000_000
    assert paid[0]["effective_on"] == "2024-08-01"
    assert b"5000000000" in next(
        m.value
        for m in messages
        if dict(m.headers)[wire.CE_TYPE] == b"vn.capledger.Project.CompletedWorkPaid.v1"
    )


def test_an_event_recorded_as_an_older_version_is_published_upcast() -> None:
    stream = project_id("OLD-1")
    data = {
        "class_version": 1,
        "code": "OLD-1",
        "name": "Cầu cũ",
        "investor": "Ban QLDA cũ",
        "program": "giao thông",
        "sector": "transport",
        "province": "HN",
        "total_investment": 1_000,
        "decision": {
            "_type_": "decision",
            "_data_": {
                "number": "1/QĐ",
                "issued_on": {"_type_": "date_iso", "_data_": "2019-05-06"},
                "issuer": "UBND",
            },
        },
        "effective_on": {"_type_": "date_iso", "_data_": "2019-05-06"},
        "timestamp": {"_type_": "datetime_iso", "_data_": "2019-05-06T01:02:03+00:00"},
        "originator_topic": "capledger.domain.project:Project",
    }
    state, _ = seal(
        stream=str(stream),
        version=1,
        topic="capledger.domain.project:Project.Registered",
        data=data,
        meta={"subject": "project:OLD-1", "command_id": "c-1", "principal": "p"},
        prev=GENESIS,
    )
    notification = Notification(
        id=7,
        originator_id=stream,
        originator_version=1,
        topic="capledger.domain.project:Project.Registered",
        state=state,
    )
    message = wire.to_message(notification, WIRE)
    headers = dict(message.headers)
    assert headers[wire.CE_TYPE] == b"vn.capledger.Project.Registered.v2"
    dataschema = headers[wire.CE_DATASCHEMA].decode()
    assert dataschema == f"{DEFAULT_SCHEMA_BASE_URI}Project.Registered.v2.json"
    value = json.loads(message.value)
    assert value["investor_code"] == value["investor_name"] == "Ban QLDA cũ"
    assert value["decision"] == {"number": "1/QĐ", "issued_on": "2019-05-06", "issuer": "UBND"}
    Draft202012Validator(
        schemas.load("Project.Registered.v2.json"), format_checker=FormatChecker()
    ).validate(value)


def test_received_reads_a_message_back(messages: list[wire.WireMessage]) -> None:
    message = messages[-1]
    event = wire.received("capledger.events", 2, 41, message.headers, message.value)
    headers = dict(message.headers)
    assert event.id == headers[wire.CE_ID].decode()
    assert event.position == message.position
    assert event.name == wire.type_name(event.type)
    assert event.data == json.loads(message.value)
    assert (event.topic, event.partition, event.offset) == ("capledger.events", 2, 41)
    assert event.as_dict()["subject"] == message.key.decode()


def test_type_name_strips_prefix_and_version() -> None:
    assert wire.type_name("vn.capledger.Project.CompletedWorkPaid.v1") == (
        "Project.CompletedWorkPaid"
    )
    assert wire.type_name("something.else") == "something.else"


def test_settings_name_the_source_and_schema_base(notifications: list[Notification]) -> None:
    settings = KafkaSettings(ledger_name="hanam", schema_base_uri="https://example.org/s/")
    stamped = wire.WireFormat(settings.ce_source, settings.schema_base_uri)
    headers = dict(wire.to_message(notifications[0], stamped).headers)
    assert headers[wire.CE_SOURCE] == b"/capledger/hanam"
    assert headers[wire.CE_DATASCHEMA] == b"https://example.org/s/CapitalPlan.Approved.v1.json"


# -- the value: the published data, compact UTF-8 JSON, exact -----------------------------------

BEYOND_64_BITS = [2**64, 2**64 + 1, -(2**63) - 1, 10**30, -(10**40)]
WITHIN_64_BITS = [2**64 - 1, 2**63, -(2**63), 0, -1]
AWKWARD_TEXT = "".join(map(chr, range(32))) + '"\\/\u007f\u2028\u2029\ufeffé Đ 😀'


def resealed(notification: Notification, extra: dict[str, Any], **meta: Any) -> Notification:
    """``notification`` with ``extra`` data (and meta) added, stored as the ledger stores."""
    document = json.loads(notification.state)
    document.pop("_chain")
    stored_meta = {**document.pop("_meta"), **meta}
    state, _ = seal(
        stream=str(notification.originator_id),
        version=notification.originator_version,
        topic=notification.topic,
        data={**document, **extra},
        meta=stored_meta,
        prev=GENESIS,
    )
    return dataclasses.replace(notification, state=state)


def compact(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


@pytest.mark.parametrize(
    "extra",
    [
        {"amounts": BEYOND_64_BITS},
        {"nested": {"deep": [{"x": [1, {"y": BEYOND_64_BITS[-1]}]}]}},
        {"edges": WITHIN_64_BITS},
        {"text": AWKWARD_TEXT, AWKWARD_TEXT: [AWKWARD_TEXT]},
        {
            "nested": {
                "list": [
                    {"_type_": "date_iso", "_data_": "2024-01-02"},
                    {"_type_": "w", "_data_": {"_type_": "v", "_data_": [{"a": None}]}},
                    [[], {}, True, False, None, ""],
                ],
                "not_a_wrapper": {"_type_": "x", "_data_": 1, "other": 2},
                "half": {"_type_": "x"},
            }
        },
        {"deep": json.loads("[" * 300 + "]" * 300)},
    ],
    ids=[
        "beyond 64 bits",
        "nested beyond 64 bits",
        "64-bit edges",
        "awkward text",
        "wrappers",
        "deep",
    ],
)
def test_a_message_value_is_the_published_data_as_compact_utf8_json(
    notifications: list[Notification], extra: dict[str, Any]
) -> None:
    for notification in notifications[:12]:
        changed = resealed(notification, extra)
        event = publish(changed.id, changed.originator_id, changed.originator_version,  # type: ignore[arg-type]
                        changed.topic, changed.state)  # fmt: skip

        message = wire.to_message(changed, WIRE)

        assert message.value == compact(event.data)
        assert repr(json.loads(message.value)) == repr(event.data)


def test_metadata_of_any_json_type_becomes_header_text(notifications: list[Notification]) -> None:
    changed = resealed(notifications[0], {}, principal=2**70, correlation_id="corr-1")

    headers = dict(wire.to_message(changed, WIRE).headers)

    assert headers[wire.PRINCIPAL] == str(2**70).encode()
    assert headers[wire.CORRELATION_ID] == b"corr-1"


def test_a_state_with_surrounding_whitespace_reads_the_same(
    notifications: list[Notification],
) -> None:
    base = notifications[0]
    padded = dataclasses.replace(base, state=b" \t\r\n" + base.state + b"\n")

    assert wire.to_message(padded, WIRE) == wire.to_message(base, WIRE)


def test_a_lone_surrogate_cannot_be_published(notifications: list[Notification]) -> None:
    base = notifications[0]
    lone = dataclasses.replace(base, state=base.state[:-1] + b',"lone":"\\ud800"}')

    with pytest.raises(UnicodeEncodeError):
        wire.to_message(lone, WIRE)


def test_lean_sqlite_rows_give_the_messages_of_notifications(tmp_path: Path) -> None:
    store = Settings(
        store=StoreSettings(
            persistence=Persistence.SQLITE, data_dir=tmp_path, sqlite_file="s.sqlite3"
        )
    )
    ledger = build_ledger(store)
    try:
        record_every_event_type(ledger)
        reference = list(ledger.recorder.select_notifications(1, 10_000))
        source = PollingSource(ledger.recorder, after=0, poll_interval_s=0.001)
        rows: list[wire.LogEntry] = []
        while batch := source.next_batch(limit=7, wait_s=0):
            rows.extend(batch)
    finally:
        ledger.close()
    assert len(rows) == len(reference) > 0
    for row, notification in zip(rows, reference, strict=True):
        assert isinstance(row, LogRow)
        assert wire.to_message(row, WIRE) == wire.to_message(notification, WIRE)
