"""The relay's transaction protocol, with an in-memory transactional producer."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import date

import pytest

from capledger.application.commands import RegisterProject
from capledger.application.ledger import Ledger
from capledger.bootstrap import load_rules
from capledger.streams import wire
from capledger.streams.positions import decode_position, encode_position
from capledger.streams.relay import Relay, RelayFenced
from capledger.streams.settings import KafkaSettings
from capledger.streams.source import PollingSource

from .fake_kafka import FakeBroker, no_drift
from .stream_scenario import DECISION, record_every_event_type

pytestmark = pytest.mark.unit

EVENTS = "t.events"
POSITIONS = "t.positions"


@pytest.fixture
def ledger() -> Iterator[Ledger]:
    ledger = Ledger(rules=load_rules())
    record_every_event_type(ledger)
    yield ledger
    ledger.close()


def settings(**overrides: object) -> KafkaSettings:
    values: dict[str, object] = {
        "events_topic": EVENTS,
        "positions_topic": POSITIONS,
        "relay_name": "relay-under-test",
        "batch_size": 7,
        "poll_interval_ms": 1,
        "retry_backoff_s": 0,
        **overrides,
    }
    return KafkaSettings(**values)  # type: ignore[arg-type]


def relay_for(ledger: Ledger, broker: FakeBroker, **overrides: object) -> Relay:
    return Relay(
        ledger.recorder,
        settings(**overrides),
        producer_factory=broker.producer,
        position_reader=broker.position,
        topic_ensurer=no_drift,
    )


def positions(broker: FakeBroker) -> list[int]:
    return [int(dict(r.headers)[wire.POSITION]) for r in broker.events(EVENTS)]


def all_positions(ledger: Ledger) -> list[int]:
    return list(range(1, (ledger.recorder.max_notification_id() or 0) + 1))


def test_every_recorded_event_is_published_once_in_order(ledger: Ledger) -> None:
    broker = FakeBroker()
    stats = relay_for(ledger, broker).run(until_caught_up=True)
    assert positions(broker) == all_positions(ledger)
    assert stats.events == len(all_positions(ledger))
    assert broker.position(settings()) == ledger.recorder.max_notification_id()


def test_each_transaction_holds_a_capped_batch_and_the_position_after_it(ledger: Ledger) -> None:
    broker = FakeBroker()
    relay_for(ledger, broker, batch_size=7).run(until_caught_up=True)
    for transaction in broker.transactions:
        events, (position,) = transaction[:-1], transaction[-1:]
        assert 1 <= len(events) <= 7
        assert all(record.topic == EVENTS for record in events)
        assert position.topic == POSITIONS
        assert position.key == b"relay-under-test"
        last = int(dict(events[-1].headers)[wire.POSITION])
        assert decode_position(position.value) == last


def test_command_receipts_are_published_too(ledger: Ledger) -> None:
    broker = FakeBroker()
    relay_for(ledger, broker).run(until_caught_up=True)
    keys = {record.key for record in broker.events(EVENTS)}
    assert any(key is not None and key.startswith(b"command:") for key in keys)


def test_a_failed_commit_is_aborted_and_the_next_session_resumes_after_the_committed_position(
    ledger: Ledger,
) -> None:
    broker = FakeBroker(fail_commit_at={3})
    relay = relay_for(ledger, broker, batch_size=5)
    stats = relay.run(until_caught_up=True)
    assert positions(broker) == all_positions(ledger)  # nothing lost, nothing twice
    assert stats.aborted == 1
    assert stats.sessions == 2
    assert broker.aborted  # the failed transaction's records were dropped


def test_an_event_that_fails_while_read_ahead_is_not_skipped(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The next batch is read and encoded while a commit waits; an error there ends the
    session once the commit is settled, and the next session reads that batch again."""
    from capledger.streams import relay as relay_module

    failures: list[int] = []
    to_message = relay_module.to_message

    def fails_once_at_12(entry: wire.LogEntry, stamp: wire.WireFormat) -> wire.WireMessage:
        if entry.id == 12 and not failures:
            failures.append(entry.id)
            raise ValueError("damaged")
        return to_message(entry, stamp)

    monkeypatch.setattr(relay_module, "to_message", fails_once_at_12)
    broker = FakeBroker()
    stats = relay_for(ledger, broker, batch_size=5).run(until_caught_up=True)
    assert failures == [12]
    assert positions(broker) == all_positions(ledger)  # nothing lost, nothing twice
    assert stats.sessions == 2
    assert stats.aborted == 0
    assert [decode_position(r.value) for r in broker.events(POSITIONS)][:3] == [5, 10, 15]


def test_a_failed_send_aborts_the_transaction(ledger: Ledger) -> None:
    broker = FakeBroker(fail_send_at={4, 20})
    stats = relay_for(ledger, broker, batch_size=6).run(until_caught_up=True)
    assert positions(broker) == all_positions(ledger)
    assert stats.aborted == 2


def test_a_relay_resumes_after_the_position_committed_by_its_predecessor(ledger: Ledger) -> None:
    broker = FakeBroker()
    relay_for(ledger, broker).run(until_caught_up=True, max_sessions=1)
    first = list(positions(broker))
    ledger.execute(RegisterProject(
        code="DA-LATE", name="Cầu mới", investor_code="BQL", investor_name="BQL", program="p",
        sector="transport", province="HNA", total_investment=1_000, effective_on=date(2025, 1, 2),
        **DECISION,
    ), command_id="late-1")  # fmt: skip
    successor = relay_for(ledger, broker)
    successor.run(until_caught_up=True)
    assert positions(broker) == all_positions(ledger)
    assert positions(broker)[: len(first)] == first
    assert successor.stats.events == 2  # the project's event and its command receipt


def test_a_fenced_relay_stops_with_relay_fenced(ledger: Ledger) -> None:
    broker = FakeBroker()
    first = relay_for(ledger, broker, batch_size=3)
    producer = broker.producer(first.settings)
    producer.init_transactions()
    batch = ledger.recorder.select_notifications(1, 3)
    first.publish_batch(producer, batch)
    broker.producer(first.settings).init_transactions()  # a second relay starts
    with pytest.raises(RelayFenced, match="fenced"):
        first.publish_batch(producer, ledger.recorder.select_notifications(4, 3))
    assert positions(broker) == [1, 2, 3]


def test_run_raises_relay_fenced_instead_of_retrying() -> None:
    ledger = Ledger(rules=load_rules())
    record_every_event_type(ledger)
    broker = FakeBroker()
    relay = relay_for(ledger, broker, batch_size=2)

    original = broker.producer

    def fenced_after_init(kafka_settings: KafkaSettings) -> object:
        producer = original(kafka_settings)
        init = producer.init_transactions

        def init_then_be_fenced() -> None:
            init()
            broker.epochs[producer.transactional_id] += 1  # someone else took over

        producer.init_transactions = init_then_be_fenced  # type: ignore[method-assign]
        return producer

    relay._producer_factory = fenced_after_init  # type: ignore[assignment]
    with pytest.raises(RelayFenced):
        relay.run(until_caught_up=True)
    assert relay.stats.sessions == 1
    ledger.close()


def test_lag_is_what_is_recorded_but_not_yet_relayed(ledger: Ledger) -> None:
    broker = FakeBroker()
    relay = relay_for(ledger, broker)
    latest = ledger.recorder.max_notification_id()
    assert relay.position is None
    assert relay.lag() == latest
    relay.run(until_caught_up=True)
    assert relay.lag() == 0
    assert relay.position == latest


def test_stop_ends_the_run_between_batches(ledger: Ledger) -> None:
    broker = FakeBroker()
    stop = threading.Event()
    stop.set()
    stats = relay_for(ledger, broker).run(stop)
    assert stats.sessions == 0
    assert broker.committed == []


def test_polling_hands_over_what_is_there_without_waiting_for_a_full_batch(
    ledger: Ledger,
) -> None:
    latest = ledger.recorder.max_notification_id() or 0
    source = PollingSource(ledger.recorder, after=latest - 2, poll_interval_s=0.001)
    batch = source.next_batch(limit=500, wait_s=60)
    assert [n.id for n in batch] == [latest - 1, latest]
    assert source.next_batch(limit=500, wait_s=0) == ()


def test_positions_are_json() -> None:
    assert encode_position(42) == b'{"position":42}'
    assert decode_position(b'{"position":42}') == 42
    assert decode_position(None) is None


def test_fencing_is_recognised_when_wrapped() -> None:
    from kafka.errors import KafkaError, ProducerFencedError

    from capledger.streams.relay import is_fenced

    wrapped = KafkaError("Cannot perform send because ...", ProducerFencedError())
    assert is_fenced(wrapped)
    assert is_fenced(ProducerFencedError())
    assert not is_fenced(KafkaError("broker gone"))
    try:
        raise RuntimeError("outer") from ProducerFencedError()
    except RuntimeError as chained:
        assert is_fenced(chained)


def test_a_commit_that_never_returns_is_given_up_and_the_session_restarted(
    ledger: Ledger,
) -> None:
    from kafka.errors import KafkaTimeoutError

    broker = FakeBroker()
    relay = relay_for(ledger, broker, request_timeout_ms=1_000)
    producer = broker.producer(relay.settings)
    producer.init_transactions()
    release = threading.Event()
    producer.commit_transaction = lambda: release.wait()  # type: ignore[assignment,method-assign,return-value]
    try:
        with pytest.raises(KafkaTimeoutError, match="commit_transaction"):
            relay.publish_batch(producer, ledger.recorder.select_notifications(1, 3))
    finally:
        release.set()
    assert relay.position is None  # nothing counted as committed
    assert relay.stats.aborted == 1
