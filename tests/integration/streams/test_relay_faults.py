"""Faults against the real broker: the relay is SIGKILLed at random points (mid-transaction
too), two relays with one transactional id race, the broker restarts and crashes under load.

The relay runs as a child process (``capledger relay``) while a writer
process keeps recording commands through the Ledger. After each scenario a ``read_committed``
read of the events topic must hold every recorded event exactly once, in stream order, and
nothing that was not recorded. Counts are printed (``pytest -s``) and written to
``$CAPLEDGER_FAULT_REPORT`` when that is set.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pytest
from builders import sqlite_settings

from capledger.bootstrap import build_ledger
from capledger.settings import Persistence, Settings
from capledger.streams.positions import read_committed_position
from capledger.streams.relay import EXIT_FENCED
from capledger.streams.settings import KafkaSettings

from .broker import (
    REPO,
    Audit,
    audit,
    delete_topics,
    process_env,
    read_topic,
    recorded_ids,
    requires_kafka,
    start_relay,
    unique_settings,
    wait_for,
    wait_for_log,
)
from .writer_process import prepare_store

pytestmark = requires_kafka

WRITER = Path(__file__).with_name("writer_process.py")
KAFKA_SH = REPO / "deploy" / "kafka" / "kafka.sh"
KILL_RUNS = int(os.environ.get("CAPLEDGER_FAULT_KILL_RUNS", "25"))
RACE_ROUNDS = int(os.environ.get("CAPLEDGER_FAULT_RACE_ROUNDS", "4"))
SEED = int(os.environ.get("CAPLEDGER_FAULT_SEED", str(random.randrange(1 << 30))))


@dataclass
class FaultReport:
    scenario: str
    seed: int
    runs: int
    recorded: int
    published: int
    losses: int
    duplicates: int
    unexpected: int
    out_of_order: int
    aborted_records: int
    extra: dict[str, Any]

    @classmethod
    def of(cls, scenario: str, runs: int, report: Audit, uncommitted: int,
           **extra: Any) -> FaultReport:  # fmt: skip
        return cls(
            scenario=scenario, seed=SEED, runs=runs, recorded=report.recorded,
            published=report.published, losses=len(report.missing),
            duplicates=sum(n - 1 for n in report.duplicates.values()),
            unexpected=len(report.unexpected), out_of_order=len(report.out_of_order),
            aborted_records=uncommitted - report.published, extra=extra,
        )  # fmt: skip

    def publish(self) -> None:
        line = json.dumps(asdict(self))
        sys.stdout.write(f"\nFAULT REPORT {line}\n")
        target = os.environ.get("CAPLEDGER_FAULT_REPORT")
        if target:
            with Path(target).open("a", encoding="utf-8") as out:
                out.write(line + "\n")


@pytest.fixture
def children() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Child processes of a test, killed if still running when it ends (pass or fail)."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)


def prepared(settings: Settings) -> Settings:
    ledger = build_ledger(settings)
    prepare_store(ledger, projects=8)
    ledger.close()
    return settings


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Settings:
    # Explicitly SQLite: `make test` exports CAPLEDGER_PERSISTENCE=postgres.
    return prepared(sqlite_settings(tmp_path / "store"))


@pytest.fixture
def any_store(store: Settings) -> Settings:
    """The SQLite store, and the PostgreSQL one when CAPLEDGER_TEST_POSTGRES=1."""
    return prepared(store)


class Writer:
    """The writer process; ``stop()`` ends it and returns how many commands it recorded."""

    def __init__(self, env: dict[str, str], tmp_path: Path, rate: float) -> None:
        self.stop_file = tmp_path / f"stop-writer-{time.time_ns()}"
        self.process = subprocess.Popen(
            [sys.executable, str(WRITER), str(self.stop_file), "--rate", str(rate)],
            env=env,
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=(tmp_path / "writer.log").open("ab"),
        )

    def stop(self) -> int:
        self.stop_file.touch()
        out, _ = self.process.communicate(timeout=60)
        assert self.process.returncode == 0, "the writer failed (see writer.log)"
        return int(out.decode().strip().splitlines()[-1])


def finish(store: Settings, kafka: KafkaSettings, tmp_path: Path) -> None:
    """A last relay, run until everything recorded is relayed (fast settings)."""
    env = process_env(store, kafka, CAPLEDGER_KAFKA_BATCH_SIZE="500")
    relay = start_relay(env, tmp_path / "relay-final.log", "--until-caught-up")
    try:
        status = relay.wait(timeout=300)
    finally:
        if relay.poll() is None:
            relay.kill()
    assert status == 0, (tmp_path / "relay-final.log").read_text()[-3000:]


def check_topic(scenario: str, store: Settings, kafka: KafkaSettings, runs: int,
                **extra: Any) -> FaultReport:  # fmt: skip
    ledger = build_ledger(store)
    try:
        ids = recorded_ids(ledger.recorder.select_notifications(1, 10_000_000))
    finally:
        ledger.close()
    committed = read_topic(kafka.bootstrap, kafka.events_topic, "read_committed")
    uncommitted = read_topic(kafka.bootstrap, kafka.events_topic, "read_uncommitted")
    report = audit(ids, committed)
    fault_report = FaultReport.of(scenario, runs, report, len(uncommitted), **extra)
    fault_report.publish()
    assert report.exactly_once, report.summary()
    return fault_report


def test_a_relay_killed_at_random_points_publishes_every_event_exactly_once(
    any_store: Settings, tmp_path: Path, children: list[subprocess.Popen[bytes]]
) -> None:
    # Tiny batches, records sent at once (linger 0) and a random pause before each commit:
    # most kills land inside a transaction whose records are already in the broker's log.
    kafka = unique_settings("kill", batch_size=5, linger_ms=0, max_block_ms=20_000)
    rng = random.Random(SEED)
    env = process_env(any_store, kafka)
    writer = Writer(env, tmp_path, rate=40)
    children.append(writer.process)
    killed_after_start = 0
    runs = (
        KILL_RUNS if any_store.store.persistence is Persistence.SQLITE else max(1, KILL_RUNS // 2)
    )
    try:
        for run in range(runs):
            log = tmp_path / f"relay-{run}.log"
            relay = start_relay(env, log, pause_ms=40)
            children.append(relay)
            # Most kills land once the relay is publishing (hence mid-transaction, given the
            # pause inside each transaction); some land while it is still starting.
            if rng.random() < 0.8:
                wait_for_log(relay, log, "relay_session_started", 60, "the relay to publish")
                killed_after_start += 1
            time.sleep(rng.uniform(0.0, 0.6))
            relay.send_signal(signal.SIGKILL)
            relay.wait(timeout=30)
        commands = writer.stop()
        finish(any_store, kafka, tmp_path)
        report = check_topic(
            f"relay SIGKILLed at random points ({any_store.store.persistence.value})",
            any_store,
            kafka,
            runs,
            commands=commands,
            killed_while_publishing=killed_after_start,
        )
        # The kills did land inside transactions: their records are in the log, aborted.
        assert report.aborted_records > 0
    finally:
        delete_topics(kafka)


def test_two_relays_with_one_transactional_id_fence_each_other(
    sqlite_store: Settings, tmp_path: Path, children: list[subprocess.Popen[bytes]]
) -> None:
    kafka = unique_settings("race", batch_size=20, max_block_ms=20_000)
    env = process_env(sqlite_store, kafka)
    writer = Writer(env, tmp_path, rate=60)
    children.append(writer.process)
    fenced = 0
    try:
        for round_ in range(RACE_ROUNDS):
            logs = [tmp_path / f"race-{round_}-{side}.log" for side in "ab"]
            relays = [start_relay(env, log) for log in logs]
            children.extend(relays)
            wait_for(lambda relays=relays: any(r.poll() is not None for r in relays), 120,
                     "one of the two relays to be fenced")  # fmt: skip
            exited = [(r, log) for r, log in zip(relays, logs, strict=True) if r.poll() is not None]
            for relay, log in exited:
                assert relay.returncode == EXIT_FENCED, log.read_text()[-3000:]
                assert "was fenced" in log.read_text()
                fenced += 1
            for relay in relays:  # the survivor stops gracefully
                if relay.poll() is None:
                    relay.send_signal(signal.SIGTERM)
                    assert relay.wait(timeout=60) in (0, EXIT_FENCED)
        commands = writer.stop()
        finish(sqlite_store, kafka, tmp_path)
        check_topic("two relays, one transactional id", sqlite_store, kafka, RACE_ROUNDS,
                    commands=commands, fenced_exits=fenced)  # fmt: skip
        assert fenced >= RACE_ROUNDS
    finally:
        delete_topics(kafka)


# -- a broker of its own, restarted and crashed under load ----------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A second single-node broker on free ports and its own data directory."""
    env = {
        **os.environ,
        "KAFKA_PORT": str(free_port()),
        "KAFKA_CONTROLLER_PORT": str(free_port()),
        "KAFKA_DATA_DIR": str(tmp_path / "kafka"),
        "KAFKA_STOP_TIMEOUT": "30",
    }
    kafka_sh(env, "start")
    try:
        yield env
    finally:
        kafka_sh(env, "stop")


def kafka_sh(env: dict[str, str], command: str) -> None:
    subprocess.run(["bash", str(KAFKA_SH), command], env=env, check=True, timeout=180,
                   stdout=subprocess.DEVNULL)  # fmt: skip


def crash_broker(env: dict[str, str]) -> None:
    pid = int((Path(env["KAFKA_DATA_DIR"]) / "kafka.pid").read_text())
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not Path(f"/proc/{pid}").exists(), 30, "the broker to die")
    kafka_sh(env, "start")


def test_the_relay_survives_broker_restarts_and_a_crash_under_load(
    sqlite_store: Settings,
    tmp_path: Path,
    own_broker: dict[str, str],
    children: list[subprocess.Popen[bytes]],
) -> None:
    bootstrap = f"127.0.0.1:{own_broker['KAFKA_PORT']}"
    kafka = unique_settings("broker", bootstrap=bootstrap, batch_size=50,
                            max_block_ms=20_000, request_timeout_ms=10_000)  # fmt: skip
    env = process_env(sqlite_store, kafka)
    writer = Writer(env, tmp_path, rate=60)
    relay = start_relay(env, tmp_path / "relay.log")
    children.extend([writer.process, relay])
    restarts = 0
    wait_for_log(relay, tmp_path / "relay.log", "relay_session_started", 60, "the relay to start")
    for how in ("restart", "crash", "restart"):
        time.sleep(2)  # let load build up while the broker is up
        if how == "crash":
            crash_broker(own_broker)
        else:
            kafka_sh(own_broker, "restart")
        restarts += 1
    time.sleep(2)
    commands = writer.stop()
    ledger = build_ledger(sqlite_store)
    latest = ledger.recorder.max_notification_id()
    ledger.close()
    wait_for(lambda: read_committed_position(kafka) == latest, 180,
             "the relay to catch up after the restarts", interval_s=1)  # fmt: skip
    assert relay.poll() is None, "the relay died instead of riding out the restarts"
    relay.send_signal(signal.SIGTERM)
    assert relay.wait(timeout=60) == 0
    log_text = (tmp_path / "relay.log").read_text(errors="replace")
    check_topic("broker restarted twice and crashed once under load", sqlite_store, kafka,
                restarts, commands=commands,
                relay_sessions=log_text.count("relay_session_started"))  # fmt: skip
