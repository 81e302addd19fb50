"""Write-path benchmark: ledger commands against raw eventsourcing saves, and bulk import.

    python bench/write.py [--quick] [--events N] [--store sqlite|postgres]

In one run, on fresh stores in a temporary directory (or fresh PostgreSQL schemas, dropped at
the end):

(a) records N disbursements (``Ledger.execute(PayCompletedWork(...))``, one command id each) over
    ``--projects`` projects of one annual plan, after approving the plan, registering the
    projects and allocating them capital enough for every payment (the set-up is not timed);
(b) performs N single-event saves with a plain ``eventsourcing.application.Application`` and a
    trivial aggregate on the same persistence module with the library's default settings (the
    same journal mode and synchronous setting the ledger gets), into a separate store.
    (a) and (b) run in alternating rounds, so a change in the machine's load hits both alike;
(c) exports the ledger's store with ``capledger.exchange.export_events`` and imports the file
    into fresh stores with ``import_events`` (timed; the median of ``--import-repeats`` runs, in
    events per second of wall-clock time and of this process's CPU time).
    When the ledger's store holds fewer than ``--import-events`` events, it is first grown by
    importing renamed copies of its own history (``capledger.demo.copies``: new codes, new
    streams, chains re-sealed), so the import is measured at a meaningful size.

Human-readable lines go to stdout as the run proceeds; the last line is one JSON object.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
from eventsourcing.application import Application
from psycopg import sql
from raw_counter import Counter  # bench/ is first on sys.path

from capledger.application.commands import Allocate, ApprovePlan, PayCompletedWork, RegisterProject
from capledger.application.ledger import Ledger
from capledger.bootstrap import build_ledger, eventsourcing_env
from capledger.demo.copies import renamed_copy
from capledger.exchange import export_events, import_events
from capledger.observability import configure_logging
from capledger.settings import LogSettings, Persistence, PostgresSettings, Settings, StoreSettings

TAG = "BW0"  # in every code and command id; copy k of the log renames it BW<k>
PLAN = f"KH-2025-{TAG}"
FISCAL_YEAR = 2025
SOURCE = "central_budget"
DECISION: dict[str, Any] = {
    "decision_no": "01/QĐ-UBND",
    "decision_date": date(2025, 1, 2),
    "decision_issuer": "UBND thành phố",
}
PAY_DAY = date(2025, 6, 30)
PAYMENT = 1_000_000  # VND
FULL = {"events": 50_000, "import_events": 100_000, "import_repeats": 3}
QUICK = {"events": 2_000, "import_events": 20_000, "import_repeats": 1}
ROUNDS = 10


def say(message: str) -> None:
    print(message, flush=True)


# -- stores ---------------------------------------------------------------------------------


@dataclass
class Stores:
    """Where one run keeps its stores: a temporary directory, or fresh PostgreSQL schemas."""

    kind: Persistence
    directory: Path
    schemas: list[str] = field(default_factory=list)

    def settings(self, name: str) -> Settings:
        """Settings of a new, empty store (its schema created on PostgreSQL)."""
        if self.kind is Persistence.SQLITE:
            return Settings(
                store=StoreSettings(data_dir=self.directory, sqlite_file=f"{name}.sqlite3")
            )
        schema = f"bench_{name}_{uuid.uuid4().hex[:8]}"
        settings = Settings(
            store=StoreSettings(
                persistence=Persistence.POSTGRES, postgres=PostgresSettings(schema_name=schema)
            )
        )
        with connect(settings) as connection:
            connection.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        self.schemas.append(schema)
        return settings

    def drop_schemas(self) -> None:
        if not self.schemas:
            return
        with connect(Settings(store=StoreSettings(persistence=Persistence.POSTGRES))) as connection:
            for schema in self.schemas:
                statement = sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE")
                connection.execute(statement.format(sql.Identifier(schema)))


def connect(settings: Settings) -> psycopg.Connection[Any]:
    return psycopg.connect(
        host=settings.store.postgres.host,
        port=settings.store.postgres.port,
        user=settings.store.postgres.user,
        password=settings.store.postgres.password.get_secret_value(),
        dbname=settings.store.postgres.dbname,
        autocommit=True,
    )


@contextmanager
def fresh_stores(kind: Persistence) -> Iterator[Stores]:
    with tempfile.TemporaryDirectory(prefix="capledger-bench-") as directory:
        stores = Stores(kind, Path(directory))
        try:
            yield stores
        finally:
            stores.drop_schemas()


# -- (a) ledger commands --------------------------------------------------------------------


def project_code(index: int) -> str:
    return f"DA-{TAG}-{index:04d}"


def set_up_ledger(ledger: Ledger, projects: int, payments: int) -> None:
    """A plan, its projects and their allocations: enough capital for every payment."""
    per_project = (payments // projects + 1) * PAYMENT
    ledger.execute(ApprovePlan(
        code=PLAN, title="Kế hoạch vốn năm 2025 (benchmark)", kind="annual",
        authority="provincial_council", jurisdiction="HN", start_year=FISCAL_YEAR,
        end_year=FISCAL_YEAR, envelopes={SOURCE: per_project * projects},
        effective_on=date(2025, 1, 2), **DECISION,
    ), command_id=f"{TAG}-setup-plan")  # fmt: skip
    for index in range(projects):
        code = project_code(index)
        ledger.execute(RegisterProject(
            code=code, name=f"Dự án benchmark {index}", investor_code="BQLDA-BENCH",
            investor_name="Ban QLDA benchmark", program="bench", sector="transport", province="HN",
            total_investment=per_project * 2, effective_on=date(2025, 1, 2), **DECISION,
        ), command_id=f"{TAG}-setup-register-{code}")  # fmt: skip
        ledger.execute(Allocate(
            plan_code=PLAN, project_code=code, source=SOURCE, amount=per_project,
            effective_on=date(2025, 1, 3), **DECISION,
        ), command_id=f"{TAG}-setup-allocate-{code}")  # fmt: skip


def pay(ledger: Ledger, index: int, projects: int) -> None:
    ledger.execute(PayCompletedWork(
        project_code=project_code(index % projects), plan_code=PLAN, source=SOURCE, amount=PAYMENT,
        treasury_ref=f"KBNN-{index:08d}", effective_on=PAY_DAY,
    ), command_id=f"{TAG}-pay-{index}")  # fmt: skip


# -- (b) raw eventsourcing ------------------------------------------------------------------


@dataclass
class RawApp:
    """A plain Application and ``projects`` aggregates kept in memory: saves, no reads."""

    app: Application[uuid.UUID]
    counters: list[Counter]

    @classmethod
    def open(cls, settings: Settings, projects: int) -> RawApp:
        app: Application[uuid.UUID] = Application(eventsourcing_env(settings))
        counters = [Counter(f"counter-{index}") for index in range(projects)]
        app.save(*counters)
        return cls(app, counters)

    def save_one(self, index: int) -> None:
        counter = self.counters[index % len(self.counters)]
        counter.increment(PAYMENT)
        self.app.save(counter)


# -- (a) and (b) in alternating rounds ------------------------------------------------------


@dataclass
class Clock:
    """Seconds spent in one side of the comparison, summed over rounds."""

    seconds: float = 0.0
    cpu_seconds: float = 0.0
    done: int = 0

    def run(self, start: int, count: int, step: Callable[[int], None]) -> None:
        started, cpu_started = time.perf_counter(), time.process_time()
        for index in range(start, start + count):
            step(index)
        self.seconds += time.perf_counter() - started
        self.cpu_seconds += time.process_time() - cpu_started
        self.done += count

    @property
    def rate(self) -> float:
        return self.done / self.seconds if self.seconds else 0.0

    @property
    def cpu_us(self) -> float:
        """CPU microseconds of this process per step: comparable on a busy machine too."""
        return self.cpu_seconds / self.done * 1e6 if self.done else 0.0


def bench_writes(
    stores: Stores, ledger_settings: Settings, args: argparse.Namespace
) -> tuple[Clock, Clock]:
    events, projects = args.events, args.projects
    ledger = build_ledger(ledger_settings)
    raw = RawApp.open(stores.settings("raw"), projects)
    profiler = cProfile.Profile() if args.profile else None
    try:
        say(f"(a) ledger: approving a plan, registering and funding {projects} projects")
        set_up_ledger(ledger, projects, events)
        say(f"(a)+(b) {events} pay_completed_work commands and {events} raw single-event "
            f"saves, in {ROUNDS} alternating rounds")  # fmt: skip
        commands, saves = Clock(), Clock()
        for round_ in range(ROUNDS):
            start = round_ * events // ROUNDS
            count = (round_ + 1) * events // ROUNDS - start
            if profiler:
                profiler.enable()
            commands.run(start, count, lambda index: pay(ledger, index, projects))
            if profiler:
                profiler.disable()
            saves.run(start, count, raw.save_one)
            say(f"  round {round_ + 1}/{ROUNDS}: {commands.done} commands ({commands.rate:,.0f}/s),"
                f" {saves.done} raw saves ({saves.rate:,.0f}/s)")  # fmt: skip
        if profiler:
            write_profile(profiler, args.profile, "the command path")
        return commands, saves
    finally:
        raw.app.close()
        ledger.close()


def write_profile(profiler: cProfile.Profile, path: Path, what: str) -> None:
    report = io.StringIO()
    stats = pstats.Stats(profiler, stream=report)
    stats.sort_stats("cumulative").print_stats(50)
    stats.sort_stats("tottime").print_stats(30)
    path.write_text(report.getvalue(), encoding="utf-8")
    say(f"  profile of {what} written to {path}")


# -- (c) export and import ------------------------------------------------------------------


def grow(ledger: Ledger, directory: Path, wanted: int) -> int:
    """Import renamed copies of the ledger's history until its store holds ``wanted`` events."""
    seed = directory / "seed.jsonl"
    with seed.open("w", encoding="utf-8") as out:
        seeded = export_events(ledger, out)
    copies = 0
    while (ledger.recorder.max_notification_id() or 0) < wanted:
        copies += 1
        renamed = directory / f"copy-{copies}.jsonl"
        renamed_copy(seed, renamed, tag=TAG, renamed=f"BW{copies}")
        with renamed.open(encoding="utf-8") as lines:
            import_events(ledger, lines)
        renamed.unlink()
    seed.unlink()
    if copies:
        say(f"(c) grew the store with {copies} renamed copies of its {seeded} events")
    return copies


def bench_import(
    stores: Stores, ledger_settings: Settings, args: argparse.Namespace
) -> dict[str, Any]:
    export = stores.directory / "export.jsonl"
    source = build_ledger(ledger_settings)
    try:
        copies = grow(source, stores.directory, args.import_events)
        started = time.perf_counter()
        with export.open("w", encoding="utf-8") as out:
            exported = export_events(source, out)
        export_rate = exported / (time.perf_counter() - started)
    finally:
        source.close()
    say(f"(c) exported {exported} events ({export.stat().st_size / 1e6:.1f} MB) "
        f"at {export_rate:,.0f} events/s")  # fmt: skip
    runs = [
        import_once(stores, export, run, args.import_profile if run == 0 else None)
        for run in range(args.import_repeats)
    ]
    rates = [rate for rate, _ in runs]
    return {
        "import_events": exported,
        "import_events_per_s": round(statistics.median(rates), 1),
        "import_runs_events_per_s": [round(rate, 1) for rate in rates],
        "import_cpu_events_per_s": round(statistics.median(cpu for _, cpu in runs), 1),
        "import_grown_copies": copies,
        "export_events_per_s": round(export_rate, 1),
    }


def import_once(
    stores: Stores, export: Path, run: int, profile: Path | None
) -> tuple[float, float]:
    """Events per second of one import into a fresh store: of wall-clock time, of CPU time.

    The CPU-time rate (this process's, the database server's excluded) is what a busy machine
    leaves comparable: the wall-clock rate falls with the CPU time the import is given.
    """
    target = build_ledger(stores.settings(f"imported{run}"))
    profiler = cProfile.Profile() if profile else None
    try:
        started, cpu_started = time.perf_counter(), time.process_time()
        with export.open(encoding="utf-8") as lines:
            if profiler:
                profiler.enable()
            imported = import_events(target, lines)
            if profiler:
                profiler.disable()
        rate = imported / (time.perf_counter() - started)
        cpu_rate = imported / (time.process_time() - cpu_started)
    finally:
        target.close()
    say(f"(c) imported {imported} events into a fresh store at {rate:,.0f} events/s "
        f"({cpu_rate:,.0f} events per CPU second)")  # fmt: skip
    if profiler and profile:
        write_profile(profiler, profile, "the first import")
    return rate, cpu_rate


# -- main -----------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short run (about a minute)")
    parser.add_argument("--events", type=int, help="commands and raw saves to time")
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--projects", type=int, default=100)
    parser.add_argument("--import-events", type=int, help="least events to export and import")
    parser.add_argument("--import-repeats", type=int, help="imports to time (median reported)")
    parser.add_argument("--profile", type=Path, help="write a cProfile of the commands here")
    parser.add_argument(
        "--import-profile",
        type=Path,
        help="write a cProfile of the first import here (the profiler slows that run down)",
    )
    args = parser.parse_args(argv)
    defaults = QUICK if args.quick else FULL
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # As in production: the command path's debug lines are filtered out, not rendered.
    configure_logging(LogSettings(level="WARNING", format="json"))
    kind = Persistence(args.store)
    say(f"write-path benchmark: {args.events} events over {args.projects} projects "
        f"on {kind.value}, {os.cpu_count()} CPUs")  # fmt: skip
    started = time.perf_counter()
    with fresh_stores(kind) as stores:
        ledger_settings = stores.settings("ledger")
        commands, saves = bench_writes(stores, ledger_settings, args)
        imported = bench_import(stores, ledger_settings, args)
    commands_per_s, raw_per_s = commands.rate, saves.rate
    ratio = commands_per_s / raw_per_s
    say(f"commands {commands_per_s:,.0f}/s, raw saves {raw_per_s:,.0f}/s, ratio {ratio:.2f}; "
        f"import {imported['import_events_per_s']:,.0f} events/s")  # fmt: skip
    summary: dict[str, Any] = {
        "store": kind.value,
        "events": args.events,
        "projects": args.projects,
        "commands_per_s": round(commands_per_s, 1),
        "raw_saves_per_s": round(raw_per_s, 1),
        "ratio": round(ratio, 3),
        "command_cpu_us": round(commands.cpu_us, 1),
        "raw_save_cpu_us": round(saves.cpu_us, 1),
        "cpu_ratio": round(saves.cpu_us / commands.cpu_us, 3),
        **imported,
        "seconds": round(time.perf_counter() - started, 1),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
    }
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
