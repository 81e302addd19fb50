"""Measure the embedded rebuild against the raw notification-log read rate on the same store.

    python tests/integration/projections/measure_rebuild.py [--notifications 100000]
        [--dir DIR] [--postgres]

Records a year of a province's capital through the Ledger until the log holds about the asked
number of notifications (kept in DIR, reused on the next run), then times on that store:

1. the raw read: ``select_notifications`` pages with no processing;
2. the raw read plus decoding each notification into its published form;
3. ``rebuild``: read, decode, reduce, upsert, track, switch.

With ``--postgres`` the ledger and the read model live on the PostgreSQL server that
``CAPLEDGER_POSTGRES_*`` name (a schema per run, dropped afterwards).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path
from typing import Any
from uuid import uuid4

import psycopg
import structlog

from capledger.application.ledger import Ledger
from capledger.application.published import publish
from capledger.bootstrap import build_ledger
from capledger.demo.volume import record_year as record
from capledger.projections import ReadModelStore, rebuild
from capledger.settings import Persistence, PostgresSettings, Settings, StoreSettings

PAGE = 1_000


def raw_read(ledger: Ledger, *, decode: bool) -> tuple[int, float]:
    started, position, count = time.perf_counter(), 0, 0
    while notes := ledger.recorder.select_notifications(position + 1, PAGE):
        count += len(notes)
        position = notes[-1].id
        if decode:
            for note in notes:
                publish(note.id, note.originator_id, note.originator_version, note.topic,
                        note.state)  # type: ignore[arg-type]  # fmt: skip
    return count, time.perf_counter() - started


def postgres_conninfo(settings: Settings) -> dict[str, Any]:
    return {
        "host": settings.store.postgres.host,
        "port": settings.store.postgres.port,
        "user": settings.store.postgres.user,
        "password": settings.store.postgres.password.get_secret_value(),
        "dbname": settings.store.postgres.dbname,
    }


def stores(args: argparse.Namespace) -> tuple[Settings, ReadModelStore, list[str]]:
    if not args.postgres:
        settings = Settings(store=StoreSettings(persistence=Persistence.SQLITE, data_dir=args.dir))
        return settings, ReadModelStore.sqlite(args.dir / "projections.sqlite3"), []
    schema = f"measure_{uuid4().hex[:10]}"
    settings = Settings(
        store=StoreSettings(
            persistence=Persistence.POSTGRES, postgres=PostgresSettings(schema_name=schema)
        )
    )
    with psycopg.connect(**postgres_conninfo(settings), autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    read_model = ReadModelStore.postgres(postgres_conninfo(settings), base_schema=f"{schema}_rm")
    return settings, read_model, [schema, f"{schema}_rm"]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notifications", type=int, default=100_000)
    parser.add_argument("--dir", type=Path, default=Path("var/measure-rebuild"))
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args(argv)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    settings, read_model, schemas = stores(args)
    ledger = build_ledger(settings)
    try:
        if (ledger.recorder.max_notification_id() or 0) < args.notifications:
            started = time.perf_counter()
            record(ledger, args.notifications)
            print(f"recorded {ledger.recorder.max_notification_id()} notifications "
                  f"in {time.perf_counter() - started:.1f} s")  # fmt: skip
        for decode in (False, True):
            count, seconds = raw_read(ledger, decode=decode)
            label = "raw read + decode" if decode else "raw read (pages of 1,000)"
            print(f"{label:28s}: {count:>7} notifications in {seconds:6.2f} s = "
                  f"{count / seconds:>9,.0f}/s")  # fmt: skip
        report = rebuild(read_model, ledger.recorder)
        print(f"{'rebuild (fold + write)':28s}: {report.notifications:>7} notifications in "
              f"{report.seconds:6.2f} s = {report.notifications_per_second:>9,.0f}/s")  # fmt: skip
    finally:
        read_model.close()
        ledger.close()
        if schemas:
            with psycopg.connect(**postgres_conninfo(settings), autocommit=True) as conn:
                for schema in [*schemas, *(f"{schemas[1]}_rm{n}" for n in range(1, 4))]:
                    conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
