"""The composition root: the one place that turns settings into wired objects."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from capledger.application.ledger import Ledger
from capledger.application.storage import POSTGRES_MODULE, SQLITE_MODULE
from capledger.domain import RuleBook
from capledger.projections import EmbeddedRunner, ReadModelStore

from .settings import Persistence, Settings


def load_rules(path: Path | None = None) -> RuleBook:
    if path is None:
        text = resources.files("capledger.rules").joinpath("vn_public_investment.json").read_text()
    else:
        text = path.read_text(encoding="utf-8")
    return RuleBook.from_records(json.loads(text)["rules"])


def eventsourcing_env(settings: Settings) -> dict[str, str]:
    """Translate capledger's settings into the eventsourcing library's environment keys."""
    if settings.persistence is Persistence.POSTGRES:
        return {
            "PERSISTENCE_MODULE": POSTGRES_MODULE,
            "POSTGRES_HOST": settings.postgres_host,
            "POSTGRES_PORT": str(settings.postgres_port),
            "POSTGRES_USER": settings.postgres_user,
            "POSTGRES_PASSWORD": settings.postgres_password.get_secret_value(),
            "POSTGRES_DBNAME": settings.postgres_dbname,
            "POSTGRES_SCHEMA": settings.postgres_schema,
            "POSTGRES_POOL_SIZE": str(settings.postgres_pool_size),
            "CREATE_TABLE": "y",
        }
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return {
        "PERSISTENCE_MODULE": SQLITE_MODULE,
        "SQLITE_DBNAME": str(settings.sqlite_path),
        "CREATE_TABLE": "y",
    }


def build_ledger(settings: Settings | None = None) -> Ledger:
    settings = settings or Settings()
    return Ledger(eventsourcing_env(settings), rules=load_rules(settings.rules_file))


def build_read_model(settings: Settings | None = None) -> ReadModelStore:
    """The read-model store beside the event store: a SQLite file, or a PostgreSQL schema."""
    settings = settings or Settings()
    if settings.persistence is Persistence.POSTGRES:
        store = ReadModelStore.postgres(
            settings.postgres_conninfo(), base_schema=settings.readmodel_schema
        )
    else:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        store = ReadModelStore.sqlite(settings.readmodel_path)
    store.initialise()
    return store


def build_embedded_runner(ledger: Ledger, store: ReadModelStore) -> EmbeddedRunner:
    """Follows the ledger's notification log into the read models, in this process."""
    return EmbeddedRunner(store, ledger.recorder)
