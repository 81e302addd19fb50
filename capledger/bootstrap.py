"""The composition root: the one place that turns settings into wired objects.

Every process starts from the ``capledger`` CLI, which reads :class:`Settings` once
(:func:`load_settings`) and builds what its command needs here: the ledger, the read-model
store and its embedded runner, the API's store and app, the Kafka relay and the stream
projector. Each part gets its own section of the settings (``settings.kafka``,
``settings.projector``, ``settings.api``), never the environment. The Kafka and HTTP pieces are
imported when built, so a command that needs neither does not load them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from capledger.application.ledger import Ledger
from capledger.application.storage import POSTGRES_MODULE, SQLITE_MODULE
from capledger.domain import RuleBook
from capledger.projections import EmbeddedRunner, ReadModelStore

from .settings import Persistence, Settings

if TYPE_CHECKING:
    from fastapi import FastAPI

    from capledger.api.store import ApiStore
    from capledger.application.tlog.issuer import CheckpointIssuer
    from capledger.streams.relay import Relay


def load_settings() -> Settings:
    """The settings of this process, from the environment (``CAPLEDGER_*``)."""
    return Settings()


def load_rules(path: Path | None = None) -> RuleBook:
    if path is None:
        text = resources.files("capledger.rules").joinpath("vn_public_investment.json").read_text()
    else:
        text = path.read_text(encoding="utf-8")
    return RuleBook.from_records(json.loads(text)["rules"])


def eventsourcing_env(settings: Settings) -> dict[str, str]:
    """Translate capledger's settings into the eventsourcing library's environment keys."""
    if settings.store.persistence is Persistence.POSTGRES:
        return {
            "PERSISTENCE_MODULE": POSTGRES_MODULE,
            "POSTGRES_HOST": settings.store.postgres.host,
            "POSTGRES_PORT": str(settings.store.postgres.port),
            "POSTGRES_USER": settings.store.postgres.user,
            "POSTGRES_PASSWORD": settings.store.postgres.password.get_secret_value(),
            "POSTGRES_DBNAME": settings.store.postgres.dbname,
            "POSTGRES_SCHEMA": settings.store.postgres.schema_name,
            "POSTGRES_POOL_SIZE": str(settings.store.postgres.pool_size),
            "CREATE_TABLE": "y",
        }
    settings.store.data_dir.mkdir(parents=True, exist_ok=True)
    return {
        "PERSISTENCE_MODULE": SQLITE_MODULE,
        "SQLITE_DBNAME": str(settings.store.sqlite_path),
        "CREATE_TABLE": "y",
    }


def build_ledger(settings: Settings | None = None) -> Ledger:
    settings = settings or Settings()
    return Ledger(eventsourcing_env(settings), rules=load_rules(settings.rules_file))


def build_read_model(settings: Settings | None = None) -> ReadModelStore:
    """The read-model store beside the event store: a SQLite file, or a PostgreSQL schema."""
    settings = settings or Settings()
    if settings.store.persistence is Persistence.POSTGRES:
        store = ReadModelStore.postgres(
            settings.store.postgres.conninfo(), base_schema=settings.read_model.schema_name
        )
    else:
        settings.store.data_dir.mkdir(parents=True, exist_ok=True)
        store = ReadModelStore.sqlite(settings.readmodel_path)
    store.initialise()
    return store


def build_embedded_runner(ledger: Ledger, store: ReadModelStore) -> EmbeddedRunner:
    """Follows the ledger's notification log into the read models, in this process."""
    return EmbeddedRunner(store, ledger.recorder)


def build_api_store(settings: Settings) -> ApiStore:
    """Where API keys and published digests live: beside the store (initialised)."""
    from capledger.api.store import ApiStore

    return ApiStore.from_settings(settings).initialise()


def build_app(
    settings: Settings,
    *,
    ledger: Ledger | None = None,
    read_model: ReadModelStore | None = None,
    store: ApiStore | None = None,
) -> FastAPI:
    """The HTTP API over this ledger. What is passed in is used as is (and left open); what is
    not is built from the settings and closed when the app shuts down."""
    from capledger.api.app import create_app

    closers: list[Callable[[], Any]] = []
    if ledger is None:
        ledger = build_ledger(settings)
        closers.append(ledger.close)
    if read_model is None:
        read_model = build_read_model(settings)
        closers.append(read_model.close)
    if store is None:
        store = build_api_store(settings)
        closers.append(store.close)
    runner: EmbeddedRunner | None = None
    if settings.api.embedded_runner and not settings.read_model.projected_from_kafka:
        runner = build_embedded_runner(ledger, read_model)
    return create_app(
        settings, ledger=ledger, read_model=read_model, store=store, runner=runner, closers=closers
    )


def build_relay(settings: Settings, ledger: Ledger) -> Relay:
    """The outbox relay publishing this ledger's log to Kafka."""
    from capledger.streams.relay import Relay

    return Relay(ledger.recorder, settings.kafka)


def build_log_issuer(
    settings: Settings, ledger: Ledger
) -> tuple[CheckpointIssuer, Callable[[], None]]:
    """The log process over this ledger (docs/verifiable-log.md): its sequencer, the log's key
    from ``settings.tlog``, and the Kafka publisher of its checkpoints when Kafka is enabled;
    with the closing of what it opened."""
    from capledger.application.storage import checkpoint_store, event_log, log_tree
    from capledger.application.tlog.issuer import CheckpointIssuer, load_signer

    tlog = settings.tlog
    secret = None if tlog.key is None else tlog.key.get_secret_value()
    signer = load_signer(tlog.key_file, secret)
    publisher = None
    if settings.kafka.enabled:
        from capledger.streams.checkpoints import CheckpointPublisher

        publisher = CheckpointPublisher(settings.kafka, tlog.checkpoint_topic)
    recorder = ledger.recorder
    issuer = CheckpointIssuer(
        event_log(recorder),
        log_tree(recorder),
        checkpoint_store(recorder),
        signer,
        every_entries=tlog.checkpoint_entries,
        every_s=tlog.checkpoint_interval_s,
        publish=publisher,
    )
    return issuer, (publisher.close if publisher is not None else lambda: None)
