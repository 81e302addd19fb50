"""Configuration, only from the environment (``CAPLEDGER_*``).

With no settings at all everything runs embedded: a SQLite file under the data directory, no
Kafka, no server.
"""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "capledger"


class Persistence(StrEnum):
    SQLITE = "sqlite"
    POSTGRES = "postgres"


class ProjectionsRunner(StrEnum):
    """Who writes the read models: the embedded runner (notification log, in the CLI's and the
    API's process) or the Kafka projector (``capledger projector``, a process of its own)."""

    EMBEDDED = "embedded"
    KAFKA = "kafka"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CAPLEDGER_", extra="ignore")

    data_dir: Path = Field(default_factory=default_data_dir)
    persistence: Persistence = Persistence.SQLITE
    sqlite_file: str = "ledger.sqlite3"

    postgres_host: str = "127.0.0.1"
    postgres_port: int = 5432
    postgres_user: str = "capledger"
    postgres_password: SecretStr = SecretStr("capledger")
    postgres_dbname: str = "capledger"
    postgres_schema: str = "public"
    postgres_pool_size: int = 5

    readmodel_file: str = "projections.sqlite3"
    readmodel_schema: str = "capledger_readmodel"
    #: A read model has one writer kind: with ``kafka`` no process here runs the embedded
    #: runner on it (the CLI and the API only read it, and report the projector's lag).
    projections_runner: ProjectionsRunner = ProjectionsRunner.EMBEDDED

    rules_file: Path | None = None
    log_format: str = "auto"  # auto | json | console
    log_level: str = "INFO"

    @property
    def projected_from_kafka(self) -> bool:
        return self.projections_runner is ProjectionsRunner.KAFKA

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / self.sqlite_file

    @property
    def readmodel_path(self) -> Path:
        return self.data_dir / self.readmodel_file

    def postgres_conninfo(self) -> dict[str, str | int]:
        return {
            "host": self.postgres_host,
            "port": self.postgres_port,
            "user": self.postgres_user,
            "password": self.postgres_password.get_secret_value(),
            "dbname": self.postgres_dbname,
        }
