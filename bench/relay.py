"""Relay benchmark: the outbox relay against a raw kafka-python producer, and its latency.

    python bench/relay.py [--quick] [--events N] [--batch-size B]

Needs the Kafka broker (``bash deploy/kafka/kafka.sh start``; ``CAPLEDGER_KAFKA_BOOTSTRAP``).
In one run, on fresh topics and a temporary SQLite store:

(a) records N events through the Ledger (``PayCompletedWork`` commands: a payment and its command
    receipt per command) after setting up a plan and projects — not timed;
(b) relays all of them with ``Relay`` (transactions of ``batch_size`` events plus the position
    record): events/s from the first transaction's begin to the last commit;
(c) sends the very same messages (keys, headers, values, pre-built) with a raw kafka-python
    producer, transactional with the same batching (each transaction: ``batch_size`` events
    and one position record, same producer settings) to another topic: events/s, measured
    the same way. The ratio (b)/(c) is what the relay costs on top of Kafka itself;
(d) latency at low traffic: a relay process follows the store while this process records one
    command every 1/rate s; a ``read_committed`` consumer here notes when each command's
    payment event becomes visible. Latency = visible − command returned (same clock).

The last line of output is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import date
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from capledger.application.commands import Allocate, ApprovePlan, PayCompletedWork, RegisterProject
from capledger.application.ledger import Ledger
from capledger.bootstrap import build_ledger, build_relay
from capledger.settings import Persistence, Settings, StoreSettings
from capledger.streams import wire
from capledger.streams.positions import encode_position
from capledger.streams.relay import PRODUCER_BATCH_BYTES, quiet_kafka_client_logs
from capledger.streams.settings import KafkaSettings
from capledger.streams.topics import admin_client, ensure_topics

PLAN = "KH-2025-BENCH"
SOURCE = "central_budget"
DECISION = {"decision_no": "01/QĐ-BENCH", "decision_date": date(2025, 1, 2),
            "decision_issuer": "UBND"}  # fmt: skip
PROJECTS = 100
FULL_EVENTS = 50_000
QUICK_EVENTS = 10_000
FULL_LATENCY_COMMANDS = 600
QUICK_LATENCY_COMMANDS = 200


def say(message: str) -> None:
    print(message, flush=True)


# -- (a) recording --------------------------------------------------------------------------


def project_code(index: int) -> str:
    return f"BENCH-{index:03d}"


def set_up(ledger: Ledger) -> None:
    ledger.execute(ApprovePlan(
        code=PLAN, title="Benchmark plan", kind="annual", authority="provincial_council",
        jurisdiction="HN", start_year=2025, end_year=2025, envelopes={SOURCE: 10**16},
        effective_on=date(2025, 1, 2), **DECISION,
    ), command_id="bench-plan")  # fmt: skip
    for index in range(PROJECTS):
        code = project_code(index)
        ledger.execute(RegisterProject(
            code=code, name=f"Dự án {index}", investor_code="BQL-BENCH", investor_name="Ban QLDA",
            program="bench", sector="transport", province="HN", total_investment=10**14,
            effective_on=date(2025, 1, 2), **DECISION,
        ), command_id=f"bench-register-{code}")  # fmt: skip
        ledger.execute(Allocate(
            plan_code=PLAN, project_code=code, source=SOURCE, amount=10**13,
            effective_on=date(2025, 1, 3), **DECISION,
        ), command_id=f"bench-allocate-{code}")  # fmt: skip


def pay(ledger: Ledger, label: str, index: int) -> None:
    ledger.execute(PayCompletedWork(
        project_code=project_code(index % PROJECTS), plan_code=PLAN, source=SOURCE,
        amount=1_000_000, treasury_ref=f"KB-{index:08d}", effective_on=date(2025, 6, 30),
    ), command_id=f"{label}-{index}")  # fmt: skip


def record(ledger: Ledger, events: int) -> int:
    set_up(ledger)
    index = 0
    while (ledger.recorder.max_notification_id() or 0) < events:
        pay(ledger, "bench-pay", index)
        index += 1
    return ledger.recorder.max_notification_id() or 0


# -- (b) the relay --------------------------------------------------------------------------


def fresh_topics(settings: KafkaSettings, label: str) -> KafkaSettings:
    suffix = f"{label}.{uuid.uuid4().hex[:8]}"
    fresh = settings.model_copy(
        update={
            "events_topic": f"bench.events.{suffix}",
            "positions_topic": f"bench.positions.{suffix}",
            "relay_name": f"bench-relay-{suffix}",
        }
    )
    ensure_topics(fresh)  # created before timing, as in production
    return fresh


def bench_relay(ledger: Ledger, settings: KafkaSettings) -> tuple[float, float]:
    relay = build_relay(Settings(kafka=settings), ledger)
    started = time.perf_counter()
    stats = relay.run(until_caught_up=True)
    wall = time.perf_counter() - started
    say(f"(b) relay: {stats.events} events in {stats.batches} transactions, "
        f"{stats.events_per_s:,.0f} events/s publishing ({stats.events / wall:,.0f}/s "
        f"including the session start)")  # fmt: skip
    return stats.events_per_s, stats.events / wall


# -- (c) raw producer -----------------------------------------------------------------------


def bench_raw(ledger: Ledger, settings: KafkaSettings) -> float:
    topic, positions = settings.events_topic, settings.positions_topic
    stamp = wire.WireFormat(settings.ce_source, settings.schema_base_uri)
    notifications = ledger.recorder.select_notifications(1, 10**9)
    messages = [wire.to_message(notification, stamp) for notification in notifications]
    producer = KafkaProducer(
        bootstrap_servers=settings.bootstrap_servers,
        client_id="capledger-bench-raw",
        transactional_id=f"bench-raw-{uuid.uuid4().hex}",
        enable_idempotence=True,
        acks="all",
        linger_ms=settings.linger_ms,
        batch_size=PRODUCER_BATCH_BYTES,
        max_block_ms=settings.max_block_ms,
        request_timeout_ms=settings.request_timeout_ms,
        transaction_timeout_ms=settings.transaction_timeout_ms,
    )
    try:
        producer.init_transactions()
        key = b"bench-raw"
        started = time.perf_counter()
        for first in range(0, len(messages), settings.batch_size):
            batch = messages[first : first + settings.batch_size]
            producer.begin_transaction()
            for message in batch:
                producer.send(topic, key=message.key, value=message.value,
                              headers=message.headers)  # fmt: skip
            producer.send(positions, key=key, value=encode_position(batch[-1].position))
            producer.flush()
            producer.commit_transaction()
        elapsed = time.perf_counter() - started
    finally:
        producer.close(timeout=10)
    rate = len(messages) / elapsed
    say(f"(c) raw kafka-python, transactional, same batches: {len(messages)} events, "
        f"{rate:,.0f} events/s")  # fmt: skip
    return rate


# -- (d) latency ----------------------------------------------------------------------------


class Watcher(threading.Thread):
    """A read_committed consumer noting when each command's payment event becomes visible."""

    def __init__(self, settings: KafkaSettings) -> None:
        super().__init__(name="bench-watcher", daemon=True)
        self.settings = settings
        self.seen: dict[str, float] = {}
        self.ready = threading.Event()
        self.stop = threading.Event()

    def run(self) -> None:
        consumer = KafkaConsumer(
            bootstrap_servers=self.settings.bootstrap_servers,
            group_id=None,
            enable_auto_commit=False,
            isolation_level="read_committed",
            fetch_max_wait_ms=100,
        )
        try:
            topic = self.settings.events_topic
            partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
            consumer.assign(partitions)
            consumer.seek_to_end(*partitions)
            for partition in partitions:
                consumer.position(partition)
            self.ready.set()
            while not self.stop.is_set():
                for records in consumer.poll(timeout_ms=50).values():
                    now = time.monotonic()
                    for record in records:
                        headers = dict(record.headers or [])
                        if headers.get(wire.CE_TYPE, b"").endswith(b"CompletedWorkPaid.v1"):
                            self.seen[headers[wire.COMMAND_ID].decode()] = now
        finally:
            consumer.close()


def bench_latency(
    store: Settings, ledger: Ledger, settings: KafkaSettings, commands: int, rate: float
) -> tuple[float, float, float, int]:
    env = {
        **os.environ,
        "CAPLEDGER_PERSISTENCE": Persistence.SQLITE.value,
        "CAPLEDGER_DATA_DIR": str(store.store.data_dir),
        "CAPLEDGER_SQLITE_FILE": store.store.sqlite_file,
        "CAPLEDGER_LOG_LEVEL": "WARNING",
        "CAPLEDGER_KAFKA_BOOTSTRAP": settings.bootstrap,
        "CAPLEDGER_KAFKA_EVENTS_TOPIC": settings.events_topic,
        "CAPLEDGER_KAFKA_POSITIONS_TOPIC": settings.positions_topic,
        "CAPLEDGER_KAFKA_RELAY_NAME": settings.relay_name,
        "CAPLEDGER_KAFKA_BATCH_SIZE": str(settings.batch_size),
        "CAPLEDGER_KAFKA_POLL_INTERVAL_MS": str(settings.poll_interval_ms),
    }
    relay = subprocess.Popen([sys.executable, "-m", "capledger", "relay"], env=env)
    watcher = Watcher(settings)
    watcher.start()
    try:
        watcher.ready.wait(60)
        interval = 1 / rate
        # Warm up at the same pace until the relay process has caught up with the history
        # and publishes what is recorded now, then 20 more.
        index, deadline = 0, time.monotonic() + 120
        while "warm-up-0" not in watcher.seen and time.monotonic() < deadline:
            pay(ledger, "warm-up", index)
            index += 1
            time.sleep(interval)
        for extra in range(20):
            pay(ledger, "warm-up", index + extra)
            time.sleep(interval)
        recorded: dict[str, float] = {}
        next_at = time.monotonic()
        for index in range(commands):
            pay(ledger, "latency", index)
            recorded[f"latency-{index}"] = time.monotonic()
            next_at += interval
            time.sleep(max(0.0, next_at - time.monotonic()))
        deadline = time.monotonic() + 60
        while not set(recorded) <= set(watcher.seen) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        watcher.stop.set()
        relay.terminate()
        relay.wait(timeout=60)
    latencies = sorted(
        (watcher.seen[cid] - at) * 1000 for cid, at in recorded.items() if cid in watcher.seen
    )
    missing = len(recorded) - len(latencies)
    p50 = statistics.median(latencies)
    p99 = latencies[min(len(latencies) - 1, round(0.99 * len(latencies)) - 1)]
    say(f"(d) latency at {rate:g} commands/s, {len(latencies)} commands: p50 {p50:.1f} ms, "
        f"p99 {p99:.1f} ms, max {latencies[-1]:.1f} ms, not seen {missing}")  # fmt: skip
    return p50, p99, latencies[-1], missing


# -- main -----------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short run (about a minute)")
    parser.add_argument("--events", type=int, help="events to record and relay")
    parser.add_argument("--batch-size", type=int, help="events per transaction (default: "
                        "CAPLEDGER_KAFKA_BATCH_SIZE or 500)")  # fmt: skip
    parser.add_argument("--rate", type=float, default=20.0, help="commands/s in (d)")
    parser.add_argument("--rounds", type=int, default=3, help="(relay, raw) pairs; medians")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    quiet_kafka_client_logs()
    events = args.events or (QUICK_EVENTS if args.quick else FULL_EVENTS)
    commands = QUICK_LATENCY_COMMANDS if args.quick else FULL_LATENCY_COMMANDS
    base = KafkaSettings()
    settings = base.model_copy(update={"batch_size": args.batch_size or base.batch_size})
    say(f"relay benchmark: {events} events, batch size {settings.batch_size}, "
        f"linger {settings.linger_ms} ms, poll interval {settings.poll_interval_ms} ms, "
        f"partitions {settings.partitions}, broker {settings.bootstrap}, "
        f"{args.rounds} rounds of (relay, raw) in alternating order")  # fmt: skip
    used: list[KafkaSettings] = []
    relay_rates: list[float] = []
    wall_rates: list[float] = []
    raw_rates: list[float] = []
    with tempfile.TemporaryDirectory(prefix="capledger-bench-relay-") as directory:
        store = Settings(
            store=StoreSettings(
                persistence=Persistence.SQLITE,
                data_dir=Path(directory),
                sqlite_file="bench.sqlite3",
            )
        )
        ledger = build_ledger(store)
        try:
            started = time.perf_counter()
            recorded = record(ledger, events)
            say(f"(a) recorded {recorded} events in {time.perf_counter() - started:.1f}s")
            for round_ in range(args.rounds):
                relay_topics = fresh_topics(settings, f"relay{round_}")
                raw_topics = fresh_topics(settings, f"raw{round_}")
                used += [relay_topics, raw_topics]
                # Alternate the order so that both see the machine in the same state.
                if round_ % 2:
                    raw_rates.append(bench_raw(ledger, raw_topics))
                    relay_rate, wall_rate = bench_relay(ledger, relay_topics)
                else:
                    relay_rate, wall_rate = bench_relay(ledger, relay_topics)
                    raw_rates.append(bench_raw(ledger, raw_topics))
                relay_rates.append(relay_rate)
                wall_rates.append(wall_rate)
            latency_topics = fresh_topics(settings, "latency")
            used.append(latency_topics)
            p50, p99, worst, missing = bench_latency(
                store, ledger, latency_topics, commands, args.rate
            )
        finally:
            ledger.close()
            with admin_client(settings) as admin:
                admin.delete_topics(
                    [name for s in used for name in (s.events_topic, s.positions_topic)]
                )
    relay_eps = statistics.median(relay_rates)
    raw_eps = statistics.median(raw_rates)
    relay_wall_eps = statistics.median(wall_rates)
    ratio = relay_eps / raw_eps
    summary: dict[str, Any] = {
        "relay_eps": round(relay_eps, 1),
        "raw_eps": round(raw_eps, 1),
        "ratio": round(ratio, 3),
        "p99_latency_ms": round(p99, 1),
        "p50_latency_ms": round(p50, 1),
        "events": recorded,
        "batch_size": settings.batch_size,
        "relay_eps_with_startup": round(relay_wall_eps, 1),
        "max_latency_ms": round(worst, 1),
        "latency_commands": commands,
        "latency_not_seen": missing,
        "linger_ms": settings.linger_ms,
        "poll_interval_ms": settings.poll_interval_ms,
        "partitions": settings.partitions,
        "raw_mode": "transactional, same batches (events + 1 position record per transaction)",
        "rounds": args.rounds,
        "relay_eps_rounds": [round(rate, 1) for rate in relay_rates],
        "raw_eps_rounds": [round(rate, 1) for rate in raw_rates],
        "ratio_rounds": [round(r / w, 3) for r, w in zip(relay_rates, raw_rates, strict=True)],
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
    }
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
