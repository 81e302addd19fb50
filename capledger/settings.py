"""The one configuration of capledger, read from the environment once, by the composition root.

:class:`Settings` is the only ``BaseSettings``. It is made of sections, one per concern, each
read from its own variables:

- ``store`` (``CAPLEDGER_PERSISTENCE``, ``CAPLEDGER_DATA_DIR``, ``CAPLEDGER_SQLITE_FILE``): the
  event store, a SQLite file under the data directory or PostgreSQL; ``store.postgres``
  (``CAPLEDGER_POSTGRES_*``): the PostgreSQL connection and pool;
- ``read_model`` (``CAPLEDGER_READMODEL_*``, ``CAPLEDGER_PROJECTIONS_RUNNER``): where the read
  models live and which runner writes them;
- ``log`` (``CAPLEDGER_LOG_*``): log format and level;
- ``kafka`` (``CAPLEDGER_KAFKA_*``): brokers, topics, relay, subscriber;
- ``projector`` (``CAPLEDGER_PROJECTOR_*``): the Kafka stream projector;
- ``api`` (``CAPLEDGER_API_*``): the HTTP API;
- ``tlog`` (``CAPLEDGER_TLOG_*``): the verifiable log's key, schedule, topic and witnesses;

plus ``rules_file`` (``CAPLEDGER_RULES_FILE``). A section's field ``f`` is read from its
prefix + ``F`` (:data:`ENV_PREFIXES`); the few names older than the sections are in
:data:`ENV_NAMES`.

Layers: the sections of the edges are their own plain models (:class:`~capledger.streams.
settings.KafkaSettings`, :class:`~capledger.streams.settings.ProjectorSettings`,
:class:`~capledger.api.settings.ApiSettings`); they read no environment, and ``streams`` never
imports this module. Only the root (``capledger.bootstrap``, the CLI) reads the environment and
hands each part its section. Code and tests pass values through the same constructors:
``Settings(store=StoreSettings(data_dir=...), kafka=KafkaSettings(...))``; a value given there
wins over the environment field by field, the other fields still come from the environment.
Settings are no place for knobs only tests turn: a test that needs a fault wraps the part it
tests (``tests/integration/streams/paused_relay.py``).

With no settings at all everything runs embedded: a SQLite file under the data directory, no
Kafka, no server.
"""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from capledger.api.settings import ApiSettings
from capledger.streams.settings import KafkaSettings, ProjectorSettings


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


class PostgresSettings(BaseModel):
    """The PostgreSQL connection of the event store, the read models and the API's store."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = "127.0.0.1"
    port: int = 5432
    user: str = "capledger"
    password: SecretStr = SecretStr("capledger")
    dbname: str = "capledger"
    #: The event store's schema (the read models and the API have schemas of their own).
    schema_name: str = "public"
    pool_size: int = 5

    def conninfo(self) -> dict[str, str | int]:
        return {
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "password": self.password.get_secret_value(),
            "dbname": self.dbname,
        }


class StoreSettings(BaseModel):
    """The event store: a SQLite file in the data directory, or a PostgreSQL schema."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    persistence: Persistence = Persistence.SQLITE
    #: Holds every file capledger writes on one machine (store, read models, API keys).
    data_dir: Path = Field(default_factory=default_data_dir)
    sqlite_file: str = "ledger.sqlite3"
    postgres: PostgresSettings = Field(default_factory=PostgresSettings)

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / self.sqlite_file


class ReadModelSettings(BaseModel):
    """Where the read models live (beside the store) and which kind of runner writes them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: SQLite: this file in the data directory.
    file: str = "projections.sqlite3"
    #: PostgreSQL: the base name of the read models' schemas (``<schema>_<namespace>``).
    schema_name: str = "capledger_readmodel"
    #: A read model has one writer kind: with ``kafka`` no process here runs the embedded
    #: runner on it (the CLI and the API only read it, and report the projector's lag).
    runner: ProjectionsRunner = ProjectionsRunner.EMBEDDED

    @property
    def projected_from_kafka(self) -> bool:
        return self.runner is ProjectionsRunner.KAFKA


class LogSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    format: str = "auto"  # auto | json | console
    level: str = "INFO"


class TlogSettings(BaseModel):
    """The verifiable log (``CAPLEDGER_TLOG_*``, docs/verifiable-log.md): the log process's
    signing key and schedule, the Kafka topic of its checkpoints, the witnesses it accepts."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: The file holding the log's signer key (``PRIVATE+KEY+<origin>+…``, made by
    #: ``capledger log keygen``); never stored in the ledger.
    key_file: Path | None = None
    #: Or the signer key itself, as a secret (e.g. from a secret store's environment).
    key: SecretStr | None = None
    #: A checkpoint is issued when this many entries are new since the last one…
    checkpoint_entries: int = Field(default=1_000, ge=1)
    #: …or when this many seconds have passed since it and at least one entry is new.
    checkpoint_interval_s: float = Field(default=10.0, gt=0)
    #: How long the log process sleeps when the event store has nothing new.
    poll_interval_s: float = Field(default=0.5, gt=0)
    #: Kafka topic of the checkpoints (published when ``CAPLEDGER_KAFKA_ENABLED``).
    checkpoint_topic: str = "capledger.checkpoints"
    #: Verifier keys (``<name>+<id>+<key>``, cosignature/v1) of the witnesses whose
    #: cosignatures the API accepts, separated by commas or spaces.
    witnesses: str = ""

    @property
    def witness_keys(self) -> list[str]:
        return [key for key in self.witnesses.replace(",", " ").split() if key]


class Settings(BaseSettings):
    """Everything capledger is told, by section (see the module docstring)."""

    model_config = SettingsConfigDict(extra="forbid", frozen=True)

    store: StoreSettings = Field(default_factory=StoreSettings)
    read_model: ReadModelSettings = Field(default_factory=ReadModelSettings)
    #: The law's rules as JSON (default: the rules built in).
    rules_file: Path | None = None
    log: LogSettings = Field(default_factory=LogSettings)
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    projector: ProjectorSettings = Field(default_factory=ProjectorSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    tlog: TlogSettings = Field(default_factory=TlogSettings)

    @property
    def readmodel_path(self) -> Path:
        return self.store.data_dir / self.read_model.file

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Values given to the constructor win, field by field, over the environment.
        return ExplicitValues(init_settings), SectionedEnvironment(settings_cls)


#: Each section's environment prefix: its field ``f`` is ``<prefix><F>``.
ENV_PREFIXES: dict[tuple[str, ...], str] = {
    (): "CAPLEDGER_",
    ("store",): "CAPLEDGER_",
    ("store", "postgres"): "CAPLEDGER_POSTGRES_",
    ("read_model",): "CAPLEDGER_READMODEL_",
    ("log",): "CAPLEDGER_LOG_",
    ("kafka",): "CAPLEDGER_KAFKA_",
    ("projector",): "CAPLEDGER_PROJECTOR_",
    ("api",): "CAPLEDGER_API_",
    ("tlog",): "CAPLEDGER_TLOG_",
}
#: Fields whose variable does not follow their section's prefix (names older than sections).
ENV_NAMES: dict[tuple[str, ...], str] = {
    ("store", "postgres", "schema_name"): "CAPLEDGER_POSTGRES_SCHEMA",
    ("read_model", "schema_name"): "CAPLEDGER_READMODEL_SCHEMA",
    ("read_model", "runner"): "CAPLEDGER_PROJECTIONS_RUNNER",
}


def env_name(location: tuple[str | int, ...]) -> str:
    """The environment variable of a field, from its location (``("kafka", "partitions")``)."""
    path = tuple(str(part) for part in location)
    if path in ENV_NAMES:
        return ENV_NAMES[path]
    section = path[:-1]
    while section not in ENV_PREFIXES:
        section = section[:-1]
    return ENV_PREFIXES[section] + path[-1].upper()


def environment(settings: Settings) -> dict[str, str]:
    """The variables that give another process these settings (``None`` values left out)."""
    found: dict[str, str] = {}

    def walk(model: BaseModel, path: tuple[str, ...]) -> None:
        for name in type(model).model_fields:
            value = getattr(model, name)
            if isinstance(value, BaseModel):
                walk(value, (*path, name))
            elif isinstance(value, SecretStr):
                found[env_name((*path, name))] = value.get_secret_value()
            elif isinstance(value, StrEnum):
                found[env_name((*path, name))] = value.value
            elif value is not None:
                found[env_name((*path, name))] = str(value)

    walk(settings, ())
    return found


class ExplicitValues(PydanticBaseSettingsSource):
    """The constructor's values, a section given as a model reduced to the fields it was given
    (``StoreSettings(data_dir=...)`` changes the data directory and keeps the rest of the
    environment's store section, as a flat field would)."""

    def __init__(self, given: PydanticBaseSettingsSource) -> None:
        super().__init__(given.settings_cls)
        self.given = given

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ passes the values on

    def __call__(self) -> dict[str, Any]:
        return {
            name: value.model_dump(exclude_unset=True) if isinstance(value, BaseModel) else value
            for name, value in self.given().items()
        }


class SectionedEnvironment(PydanticBaseSettingsSource):
    """Reads every section from its own ``CAPLEDGER_<SECTION>_*`` variables (names are not
    case-sensitive), through pydantic-settings' public source hook."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ reads whole sections

    def __call__(self) -> dict[str, Any]:
        variables = {name.upper(): value for name, value in os.environ.items()}
        return _read(self.settings_cls, (), variables)


def _read(
    model: type[BaseModel], path: tuple[str, ...], variables: dict[str, str]
) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            section = _read(annotation, (*path, name), variables)
            if section:
                values[name] = section
        elif (variable := env_name((*path, name))) in variables:
            values[name] = variables[variable]
    return values
