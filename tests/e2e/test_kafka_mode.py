"""The command line with Kafka on: the relay, the Kafka projector and its read model.

A ledger recorded by ``capledger demo`` (SQLite file) is published by ``capledger relay`` to
topics of this test on the real broker, and a second read model, written only by the Kafka
projector (``CAPLEDGER_PROJECTIONS_RUNNER=kafka``), is rebuilt from offset 0 and followed by a
``capledger projector`` worker. The rates the city reported come out of it; a payment recorded
later reaches it through the relay and the worker; and the two runner kinds refuse to write
each other's read model.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from integration.streams.broker import delete_topics, kafka_env, requires_kafka, unique_settings

from capledger.application.commands import PayCompletedWork
from capledger.bootstrap import build_ledger
from capledger.demo.hai_phong_data import PROJECTS
from capledger.settings import Persistence, Settings, StoreSettings
from capledger.streams.settings import KafkaSettings

pytestmark = [*requires_kafka, pytest.mark.e2e]

HP_RATE = ("rate", "--jurisdiction", "HP", "--year", "2021",
           "--plan", "HP-KHV-2021-HDND", "--plan", "HP-KHV-2021-TTG")  # fmt: skip
CITY_PLAN = "HP-KHV-2021-HDND"
KAFKA_READ_MODEL = "kafka-projections.sqlite3"
CAUGHT_UP_S = 120.0


@dataclass(frozen=True)
class Setup:
    data_dir: Path
    kafka: KafkaSettings

    def env(self, runner: str = "kafka") -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CAPLEDGER_")}
        env.update(
            kafka_env(self.kafka),
            CAPLEDGER_DATA_DIR=str(self.data_dir),
            CAPLEDGER_PERSISTENCE="sqlite",
            CAPLEDGER_LOG_FORMAT="json",
            CAPLEDGER_PROJECTIONS_RUNNER=runner,
            CAPLEDGER_READMODEL_FILE=KAFKA_READ_MODEL if runner == "kafka" else "p.sqlite3",
            CAPLEDGER_PROJECTOR_GROUP=f"group-{self.kafka.events_topic}",
            CAPLEDGER_PROJECTOR_BATCH_WITHIN_S="0.05",
            PYTHONIOENCODING="utf-8",
        )
        return env

    def run(self, *args: str, runner: str = "kafka") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "capledger.cli", *args],
            env=self.env(runner),
            capture_output=True,
            text=True,
            timeout=300,
        )

    def lag(self) -> int:
        result = self.run("projector", "lag")
        assert result.returncode == 0, result.stderr
        return int(json.loads(result.stdout)["lag"])


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    kafka = unique_settings("cli")
    found = Setup(tmp_path_factory.mktemp("kafka-mode"), kafka)
    demo = found.run("demo", runner="embedded")
    assert demo.returncode == 0, demo.stderr
    relay = found.run("relay", "--until-caught-up")
    assert relay.returncode == 0, relay.stderr
    yield found
    delete_topics(kafka)


def percentages(stdout: str) -> dict[str, str]:
    rows = [line.split() for line in stdout.splitlines() if line.startswith("HP-")]
    return {row[0]: row[-1] for row in rows}


def error_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in result.stderr.splitlines() if not line.startswith("{")]


def test_a_rebuild_from_kafka_gives_the_rates_the_city_reported(setup: Setup) -> None:
    rebuilt = setup.run("projections", "rebuild", "--from", "kafka")
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "Kafka records" in rebuilt.stdout

    rate = setup.run(*HP_RATE)

    assert rate.returncode == 0, rate.stderr
    assert percentages(rate.stdout) == {"HP-KHV-2021-HDND": "33.8%", "HP-KHV-2021-TTG": "63.1%"}
    assert setup.lag() == 0
    status = setup.run("projections", "status")
    assert status.returncode == 0, status.stderr
    assert "projector lag: 0 records" in status.stdout
    assert "relay lag: 0 events" in status.stdout


def test_a_worker_folds_a_payment_relayed_after_the_rebuild_and_stops_on_sigterm(
    setup: Setup,
) -> None:
    assert setup.run("projections", "rebuild", "--from", "kafka").returncode == 0
    before = disbursed(setup)
    worker = subprocess.Popen(
        [sys.executable, "-m", "capledger.cli", "projector"],
        env=setup.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        project, amount = record_payment(setup.data_dir)
        assert setup.run("relay", "--until-caught-up").returncode == 0
        deadline = time.monotonic() + CAUGHT_UP_S
        while setup.lag() > 0 or disbursed(setup) == before:
            assert time.monotonic() < deadline, "the worker did not fold the payment"
            time.sleep(0.5)
    finally:
        worker.send_signal(signal.SIGTERM)
        _, stderr = worker.communicate(timeout=60)
    assert worker.returncode == 0, stderr
    assert disbursed(setup) == before + amount, project


def test_the_embedded_runner_and_the_projector_refuse_each_others_read_model(
    setup: Setup,
) -> None:
    from_log = setup.run("projections", "rebuild", "--from", "log")
    projector = setup.run("projector", "lag", runner="embedded")

    assert from_log.returncode == 2
    assert error_lines(from_log) == [
        "capledger: error: projector-owns-read-model: --from log: this read model is written "
        "by the kafka runner (CAPLEDGER_PROJECTIONS_RUNNER); a read model has one writer kind"
    ]
    assert projector.returncode == 2
    assert "embedded-runner-owns-read-model" in projector.stderr


# -- helpers ------------------------------------------------------------------------------------


def disbursed(setup: Setup) -> int:
    result = setup.run(*HP_RATE, "--format", "json")
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    return int(records[0]["disbursed"])


def record_payment(data_dir: Path) -> tuple[str, int]:
    """1 billion VND paid on the first Hải Phòng project whose city-plan line has it left."""
    amount = 1_000_000_000
    ledger = build_ledger(
        Settings(store=StoreSettings(data_dir=data_dir, persistence=Persistence.SQLITE))
    )
    try:
        for planned in PROJECTS:
            project = ledger.project(planned.code)
            for line in project.lines.values():
                if line.plan_code != CITY_PLAN or line.undisbursed < amount:
                    continue
                ledger.execute(PayCompletedWork(
                    project_code=planned.code, plan_code=line.plan_code, source=line.source,
                    amount=amount, treasury_ref="KBNN-HP-TEST-1", effective_on=date(2021, 6, 15),
                ), command_id=f"kafka-mode-pay-{planned.code}")  # fmt: skip
                return planned.code, amount
    finally:
        ledger.close()
    raise AssertionError("no Hải Phòng project has capital of the city's plan left")
