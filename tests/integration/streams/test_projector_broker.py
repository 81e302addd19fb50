"""The Faust projector against the real broker: the same read model as the embedded runner.

Histories are recorded through the Ledger, published by the real relay to a topic of this test
(3 partitions, small relay transactions, so offsets hold many commit markers), then folded by
the Faust projector (in this process, or as ``capledger projector run`` child
processes that are SIGKILLed at random points) into a read model on SQLite and, with
``CAPLEDGER_TEST_POSTGRES=1``, PostgreSQL. Every table must equal the embedded runner's fold of
the notification log, row for row; the rates Hải Phòng reported must come out of it.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from builders import record_year
from kafka import KafkaProducer

from capledger.application.ledger import Ledger
from capledger.demo.volume import record_year as record_volume
from capledger.projections import EmbeddedRunner, ReadModelStore
from capledger.projections.dialects import PostgresDialect
from capledger.projections.queries import Denominator, disbursement_rates
from capledger.settings import Persistence, Settings
from capledger.streams import wire
from capledger.streams.lag import projector_lag
from capledger.streams.projector import Projector
from capledger.streams.projector_rebuild import RebuildFailed, rebuild_from_kafka
from capledger.streams.relay import Relay
from capledger.streams.settings import KafkaSettings, ProjectorSettings

from ..projections.haiphong import CITY_PLAN, JUNE_20, PM_PLAN, SCOPE, record_hai_phong
from ..projections.support import Clock, dump
from .broker import REPO, delete_topics, process_env, requires_kafka, unique_settings, wait_for

pytestmark = requires_kafka

CAUGHT_UP_S = 120.0


@pytest.fixture
def kafka() -> Iterator[KafkaSettings]:
    settings = unique_settings("projector", batch_size=17)
    yield settings
    delete_topics(settings)


@pytest.fixture
def projector_settings() -> ProjectorSettings:
    return ProjectorSettings(
        group=f"test-projector-{uuid.uuid4().hex[:10]}",
        batch_size=200,
        batch_within_s=0.05,
        lag_log_interval_s=1.0,
        retry_backoff_s=0.1,
    )


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    import eventsourcing.domain

    fake = Clock()
    monkeypatch.setattr(eventsourcing.domain, "datetime_now_with_tzinfo", fake)
    return fake


def relay_all(ledger: Ledger, kafka: KafkaSettings) -> None:
    Relay(ledger.recorder, kafka).run(until_caught_up=True)


def embedded_fold(ledger: Ledger, read_model: ReadModelStore) -> dict[str, Any]:
    EmbeddedRunner(read_model, ledger.recorder, batch_size=50).catch_up()
    return dump(read_model)


def lag(kafka: KafkaSettings, read_model: ReadModelStore, namespace: str | None = None) -> int:
    return sum(item.lag for item in projector_lag(kafka, read_model, namespace=namespace).values())


def wait_caught_up(kafka: KafkaSettings, read_model: ReadModelStore) -> None:
    wait_for(lambda: lag(kafka, read_model) == 0, CAUGHT_UP_S, "the projector to catch up", 0.2)


# -- parity ------------------------------------------------------------------------------------


def test_the_faust_projector_folds_what_the_embedded_runner_folds_and_gives_the_rates(
    ledger: Ledger,
    clock: Clock,
    kafka: KafkaSettings,
    projector_settings: ProjectorSettings,
    read_models: Callable[[], ReadModelStore],
) -> None:
    record_hai_phong(ledger, clock)
    clock.set(date(2027, 7, 1))
    record_year(ledger)
    relay_all(ledger, kafka)
    faust_model = read_models()

    with Projector(kafka, faust_model, projector_settings) as projector:
        wait_caught_up(kafka, faust_model)
    assert projector.fatal is None

    assert dump(faust_model) == embedded_fold(ledger, read_models())
    city, prime_minister = disbursement_rates(
        faust_model, SCOPE, [Denominator(CITY_PLAN), Denominator(PM_PLAN)], as_of=JUNE_20
    )
    assert city.ratio.percent() == Decimal("33.8")
    assert prime_minister.ratio.percent() == Decimal("63.1")
    assert projector.stats.records == ledger.recorder.max_notification_id()
    assert projector.stats.duplicates == 0
    lags = projector_lag(kafka, faust_model)
    assert sorted(lags) == [0, 1, 2]
    assert all(item.lag == 0 and item.stored > 0 for item in lags.values())


def test_records_of_aborted_transactions_are_never_folded(
    ledger: Ledger,
    clock: Clock,
    kafka: KafkaSettings,
    projector_settings: ProjectorSettings,
    read_models: Callable[[], ReadModelStore],
) -> None:
    """A transaction of copies of real events (they would count every payment twice) is
    aborted on the topic before the relay publishes: ``read_committed`` never shows them."""
    record_hai_phong(ledger, clock)
    stamp = wire.WireFormat(kafka.ce_source, kafka.schema_base_uri)
    messages = [wire.to_message(n, stamp) for n in ledger.recorder.select_notifications(1, 10**6)]
    relay_all(ledger, kafka.model_copy(update={"batch_size": 10**6}))  # creates the topics
    producer = KafkaProducer(
        bootstrap_servers=kafka.bootstrap_servers,
        transactional_id=f"test-aborted-{uuid.uuid4().hex}",
        enable_idempotence=True,
    )
    try:
        producer.init_transactions()
        producer.begin_transaction()
        for message in messages:
            producer.send(kafka.events_topic, key=message.key, value=message.value,
                          headers=message.headers)  # fmt: skip
        producer.flush()
        producer.abort_transaction()
    finally:
        producer.close()
    faust_model = read_models()

    with Projector(kafka, faust_model, projector_settings) as projector:
        wait_caught_up(kafka, faust_model)

    assert dump(faust_model) == embedded_fold(ledger, read_models())
    assert projector.stats.records == len(messages)


# -- scaling and rebuild -------------------------------------------------------------------------


def test_two_workers_share_the_partitions_and_fold_them_once(
    ledger: Ledger,
    kafka: KafkaSettings,
    projector_settings: ProjectorSettings,
    read_models: Callable[[], ReadModelStore],
) -> None:
    record_volume(ledger, 1_500)
    relay_all(ledger, kafka)
    faust_model = read_models()
    first = Projector(kafka, faust_model, projector_settings)
    second = Projector(kafka, faust_model, projector_settings)

    with first, second:
        wait_for(lambda: len(first.assigned) + len(second.assigned) == 3 and
                 bool(first.assigned) and bool(second.assigned), CAUGHT_UP_S,
                 "both workers to hold partitions")  # fmt: skip
        wait_caught_up(kafka, faust_model)
        assert not set(first.assigned) & set(second.assigned)

    assert dump(faust_model) == embedded_fold(ledger, read_models())
    assert first.fatal is None and second.fatal is None


def test_a_rebuild_replays_into_a_fresh_namespace_and_live_workers_carry_on_after_the_switch(
    ledger: Ledger,
    kafka: KafkaSettings,
    projector_settings: ProjectorSettings,
    read_models: Callable[[], ReadModelStore],
) -> None:
    record_volume(ledger, 1_000)
    relay_all(ledger, kafka)
    faust_model = read_models()
    live = Projector(kafka, faust_model, projector_settings)
    progress: list[tuple[int, int]] = []

    recorded = ledger.recorder.max_notification_id()
    with live:
        wait_caught_up(kafka, faust_model)
        before = faust_model.current_namespace()
        report = rebuild_from_kafka(
            kafka, faust_model, projector_settings, progress=lambda d, t: progress.append((d, t))
        )
        # After the switch the live worker writes the new namespace; more events arrive.
        record_year(ledger)
        relay_all(ledger, kafka)
        wait_caught_up(kafka, faust_model)

    assert report.previous == before
    assert faust_model.current_namespace() == report.namespace != before
    assert before not in faust_model.namespaces()  # dropped after the switch
    assert report.records == recorded
    assert progress[-1][0] == progress[-1][1] > 0
    assert dump(faust_model) == embedded_fold(ledger, read_models())
    assert live.fatal is None


def rebuild_settings(projector_settings: ProjectorSettings, workers: int) -> ProjectorSettings:
    """Small batches, so that a replay takes many transactions; ``workers`` processes. (The
    tests below pass ``tail_threshold=0``: every record is the workers' to replay.)"""
    return projector_settings.model_copy(update={"batch_size": 20, "rebuild_workers": workers})


@pytest.fixture
def five_partitions() -> Iterator[KafkaSettings]:
    settings = unique_settings("rebuild", batch_size=17, partitions=5)
    yield settings
    delete_topics(settings)


def test_a_rebuild_in_three_workers_over_five_partitions_folds_what_the_embedded_runner_folds(
    ledger: Ledger,
    clock: Clock,
    five_partitions: KafkaSettings,
    projector_settings: ProjectorSettings,
    read_models: Callable[[], ReadModelStore],
) -> None:
    kafka = five_partitions
    record_hai_phong(ledger, clock)
    clock.set(date(2027, 7, 1))
    record_year(ledger)
    record_volume(ledger, 1_000)
    relay_all(ledger, kafka)
    kafka_model = read_models()

    report = rebuild_from_kafka(
        kafka, kafka_model, rebuild_settings(projector_settings, 3), tail_threshold=0
    )

    assert report.workers == 3
    assert report.tail_records == 0  # the workers replayed it all
    assert report.records == ledger.recorder.max_notification_id()
    assert kafka_model.current_namespace() == report.namespace
    assert report.offsets == {item.partition: item.stored
                              for item in projector_lag(kafka, kafka_model).values()}  # fmt: skip
    assert lag(kafka, kafka_model) == 0
    assert dump(kafka_model) == embedded_fold(ledger, read_models())
    city, prime_minister = disbursement_rates(
        kafka_model, SCOPE, [Denominator(CITY_PLAN), Denominator(PM_PLAN)], as_of=JUNE_20
    )
    assert city.ratio.percent() == Decimal("33.8")
    assert prime_minister.ratio.percent() == Decimal("63.1")


def replay_workers() -> list[multiprocessing.process.BaseProcess]:
    return [p for p in multiprocessing.active_children() if p.name.startswith("projector-rebuild")]


def test_a_replay_worker_killed_mid_replay_fails_the_rebuild_and_its_namespace_is_dropped(
    ledger: Ledger,
    five_partitions: KafkaSettings,
    projector_settings: ProjectorSettings,
    read_models: Callable[[], ReadModelStore],
) -> None:
    kafka = five_partitions
    record_volume(ledger, 4_000)
    relay_all(ledger, kafka)
    kafka_model = read_models()
    kafka_model.initialise()
    live = kafka_model.current_namespace()
    killed: list[tuple[int, int]] = []

    def kill_a_worker_once_under_way(done: int, total: int) -> None:
        if not killed and 0 < done < total:
            worker = replay_workers()[0]
            os.kill(worker.pid or 0, signal.SIGKILL)
            killed.append((done, total))

    with pytest.raises(RebuildFailed, match="stopped before catching up"):
        rebuild_from_kafka(kafka, kafka_model, rebuild_settings(projector_settings, 3),
                           progress=kill_a_worker_once_under_way, tail_threshold=0)  # fmt: skip

    assert killed, "the replay ended before a worker could be killed"
    assert kafka_model.namespaces() == [live]
    assert kafka_model.current_namespace() == live
    assert not replay_workers()


def test_a_record_a_replay_worker_cannot_fold_fails_the_rebuild_with_its_error(
    ledger: Ledger,
    five_partitions: KafkaSettings,
    projector_settings: ProjectorSettings,
    read_models: Callable[[], ReadModelStore],
) -> None:
    kafka = five_partitions
    record_volume(ledger, 1_000)
    relay_all(ledger, kafka)
    producer = KafkaProducer(bootstrap_servers=kafka.bootstrap_servers)
    try:  # a record no relay writes: no CloudEvents headers
        producer.send(kafka.events_topic, value=b"{}", partition=3).get(timeout=30)
    finally:
        producer.close()
    record_volume(ledger, 500)
    relay_all(ledger, kafka)
    kafka_model = read_models()
    kafka_model.initialise()
    live = kafka_model.current_namespace()

    with pytest.raises(RebuildFailed, match="ValueError: a record of the events topic has no"):
        rebuild_from_kafka(
            kafka, kafka_model, rebuild_settings(projector_settings, 3), tail_threshold=0
        )

    assert kafka_model.namespaces() == [live]
    assert kafka_model.current_namespace() == live
    assert not replay_workers()


# -- crashes -------------------------------------------------------------------------------------


@dataclass
class CrashReport:
    runs: int
    killed: int
    records: int
    offsets_applied_per_run: list[int]

    def publish(self) -> None:
        print(f"\nprojector crash test: {json.dumps(self.__dict__)}")


def stored_total(read_model: ReadModelStore, topic: str) -> int:
    return read_model.read(lambda reader: sum(reader.position(topic, p) for p in range(3)))


def advanced(read_model: ReadModelStore, topic: str, before: int) -> bool:
    return stored_total(read_model, topic) > before


def read_model_env(read_model: ReadModelStore, directory: Path, store: Settings) -> dict[str, str]:
    """``CAPLEDGER_*`` naming ``read_model`` for ``build_read_model`` in a child process."""
    if isinstance(read_model.dialect, PostgresDialect):
        return {
            "CAPLEDGER_PERSISTENCE": Persistence.POSTGRES.value,
            "CAPLEDGER_READMODEL_SCHEMA": read_model.dialect.base_schema,
            "CAPLEDGER_POSTGRES_HOST": store.store.postgres.host,
            "CAPLEDGER_POSTGRES_PORT": str(store.store.postgres.port),
            "CAPLEDGER_POSTGRES_USER": store.store.postgres.user,
            "CAPLEDGER_POSTGRES_PASSWORD": store.store.postgres.password.get_secret_value(),
            "CAPLEDGER_POSTGRES_DBNAME": store.store.postgres.dbname,
        }
    return {
        "CAPLEDGER_PERSISTENCE": Persistence.SQLITE.value,
        "CAPLEDGER_DATA_DIR": str(directory),
        "CAPLEDGER_READMODEL_FILE": "projections.sqlite3",
    }


#: ``capledger projector run`` pausing at random inside each database transaction.
PAUSED_PROJECTOR = Path(__file__).with_name("paused_projector.py")
#: Longest such pause: a kill lands mid-transaction.
MAX_PAUSE_MS = 100


class Worker:
    """``capledger projector run`` as a child process, logging to ``log``, pausing up to
    ``MAX_PAUSE_MS`` inside each transaction (``paused_projector.py``)."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.log = log
        self.assigned_before = self.assignments()
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, str(PAUSED_PROJECTOR), str(MAX_PAUSE_MS)],
                env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip

    def assignments(self) -> int:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return text.count('"projector_assigned"')

    def wait_assigned(self) -> None:
        wait_for(lambda: self.assignments() > self.assigned_before or
                 self.process.poll() is not None, CAUGHT_UP_S,
                 "the projector to be assigned its partitions")  # fmt: skip
        assert self.process.poll() is None, self.log.read_text(errors="replace")[-3000:]

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def terminate(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=60)


def test_a_projector_killed_at_random_points_never_loses_or_double_counts(
    ledger: Ledger,
    store: Settings,
    kafka: KafkaSettings,
    read_models: Callable[[], ReadModelStore],
    tmp_path: Path,
) -> None:
    record_volume(ledger, 2_000)
    relay_all(ledger, kafka)
    total = ledger.recorder.max_notification_id() or 0
    faust_model = read_models()  # the first: tmp_path / "read-model-0" on SQLite
    env = {
        **process_env(store, kafka),
        **read_model_env(faust_model, tmp_path / "read-model-0", store),
        "CAPLEDGER_PROJECTIONS_RUNNER": "kafka",
        "CAPLEDGER_PROJECTOR_GROUP": f"test-crash-{uuid.uuid4().hex[:10]}",
        # Static membership: a restarted worker takes its partitions back at once.
        "CAPLEDGER_PROJECTOR_INSTANCE_ID": "worker-1",
        "CAPLEDGER_PROJECTOR_SESSION_TIMEOUT_S": "10",
        "CAPLEDGER_PROJECTOR_BATCH_SIZE": "20",
        "CAPLEDGER_PROJECTOR_BATCH_WITHIN_S": "0.05",
        "CAPLEDGER_PROJECTOR_LAG_LOG_INTERVAL_S": "1",
    }
    topic, rng = kafka.events_topic, random.Random()
    report = CrashReport(runs=0, killed=0, records=total, offsets_applied_per_run=[])
    log = tmp_path / "projector.log"
    for _ in range(5):
        before = stored_total(faust_model, topic)
        worker = Worker(env, log)
        report.runs += 1
        try:
            worker.wait_assigned()
            wait_for(partial(advanced, faust_model, topic, before), CAUGHT_UP_S,
                     "the projector to apply a batch", 0.02)  # fmt: skip
            time.sleep(rng.uniform(0.0, 1.5))
        finally:
            worker.kill()
        report.killed += 1
        report.offsets_applied_per_run.append(stored_total(faust_model, topic) - before)
        if lag(kafka, faust_model) == 0:
            break
    worker = Worker(env, log)
    report.runs += 1
    try:
        worker.wait_assigned()
        wait_caught_up(kafka, faust_model)
        status = worker.terminate()
    finally:
        worker.kill()
    report.publish()

    assert status == 0, log.read_text(errors="replace")[-3000:]
    assert report.killed >= 3
    assert dump(faust_model) == embedded_fold(ledger, read_models())
    shown = subprocess.run(
        [sys.executable, "-m", "capledger", "projector", "lag"],
        env=env, cwd=REPO, capture_output=True, text=True, check=True, timeout=120,
    )  # fmt: skip
    document = json.loads(shown.stdout.strip().splitlines()[-1])
    assert document["lag"] == 0
    assert sorted(p["partition"] for p in document["partitions"]) == [0, 1, 2]
