"""The one ``Settings``: every section from its own ``CAPLEDGER_*`` variables, values given to
the constructor over the environment, and a process's variables from settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from capledger.settings import (
    Persistence,
    PostgresSettings,
    ProjectionsRunner,
    Settings,
    StoreSettings,
    env_name,
    environment,
)
from capledger.streams.settings import KafkaSettings

pytestmark = pytest.mark.unit


def test_each_section_reads_its_own_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "CAPLEDGER_PERSISTENCE": "postgres",
        "CAPLEDGER_DATA_DIR": "/srv/capledger",
        "CAPLEDGER_POSTGRES_HOST": "db.internal",
        "CAPLEDGER_POSTGRES_SCHEMA": "ledger",
        "CAPLEDGER_READMODEL_SCHEMA": "models",
        "CAPLEDGER_PROJECTIONS_RUNNER": "kafka",
        "CAPLEDGER_LOG_LEVEL": "DEBUG",
        "CAPLEDGER_KAFKA_PARTITIONS": "12",
        "CAPLEDGER_PROJECTOR_GROUP": "projector-b",
        "CAPLEDGER_API_PORT": "9000",
        "capledger_rules_file": "/srv/rules.json",
    }.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert settings.store.persistence is Persistence.POSTGRES
    assert settings.store.data_dir == Path("/srv/capledger")
    assert (settings.store.postgres.host, settings.store.postgres.schema_name) == (
        "db.internal",
        "ledger",
    )
    assert settings.read_model.schema_name == "models"
    assert settings.read_model.runner is ProjectionsRunner.KAFKA
    assert settings.log.level == "DEBUG"
    assert settings.kafka.partitions == 12
    assert settings.projector.group == "projector-b"
    assert settings.api.port == 9000
    assert settings.rules_file == Path("/srv/rules.json")


def test_given_values_win_field_by_field_over_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CAPLEDGER_POSTGRES_HOST", "db.internal")
    monkeypatch.setenv("CAPLEDGER_POSTGRES_SCHEMA", "ledger")
    settings = Settings(
        store=StoreSettings(
            persistence=Persistence.POSTGRES, postgres=PostgresSettings(schema_name="other")
        )
    )
    assert settings.store.persistence is Persistence.POSTGRES
    assert settings.store.postgres.schema_name == "other"
    assert settings.store.postgres.host == "db.internal"


def test_a_bad_value_is_refused_and_named_by_its_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CAPLEDGER_KAFKA_PARTITIONS", "0")
    with pytest.raises(ValueError, match="partitions"):
        Settings()
    assert env_name(("kafka", "partitions")) == "CAPLEDGER_KAFKA_PARTITIONS"
    assert env_name(("store", "data_dir")) == "CAPLEDGER_DATA_DIR"
    assert env_name(("store", "postgres", "pool_size")) == "CAPLEDGER_POSTGRES_POOL_SIZE"
    assert env_name(("read_model", "runner")) == "CAPLEDGER_PROJECTIONS_RUNNER"


def test_the_environment_of_settings_gives_another_process_the_same_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    given = Settings(
        store=StoreSettings(data_dir=tmp_path, sqlite_file="x.sqlite3"),
        kafka=KafkaSettings(events_topic="t.events", partitions=3),
    )
    for name, value in environment(given).items():
        monkeypatch.setenv(name, value)
    assert Settings() == given


def test_an_unknown_field_is_refused() -> None:
    with pytest.raises(ValueError):
        Settings(data_dir="/tmp")  # type: ignore[call-arg]
