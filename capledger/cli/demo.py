"""``capledger demo``: record the demonstration scenario and print its figures.

The demo's command ids are fixed, so running it again on the same store records nothing new
(each command replays its first outcome) and prints the same figures.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from capledger.application.ledger import Ledger
from capledger.progress import ProgressReporter
from capledger.projections import EmbeddedRunner
from capledger.settings import Persistence

from .context import CliContext
from .errors import EXIT_FAILURE, EXIT_OK, EXIT_REFUSED, CliError
from .subcommands import Subcommands

if TYPE_CHECKING:
    from capledger.demo import DemoReport

RunDemo = Callable[[Ledger, EmbeddedRunner, Callable[[int, int], None] | None], "DemoReport"]
#: Files SQLite keeps next to the store while it is in use.
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")


def register(subparsers: Subcommands) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="record the demonstration scenario and print its figures",
        description=(
            "Record a demonstration of plans, allocations, transfers, cuts, advances, payments, "
            "corrections, extensions and lapses, bring the read models up to date, then print "
            "the figures they give. Running it again on the same store records nothing new and "
            "prints the same figures."
        ),
    )
    parser.add_argument(
        "--fresh",
        action="store_true",
        help="start from an empty store: an existing SQLite file is moved aside (never "
        "deleted); a PostgreSQL store that holds events is refused",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, context: CliContext) -> int:
    run_demo = _load_run_demo()
    if args.fresh:
        _start_fresh(context)
    ledger = context.ledger()
    if args.fresh:
        _refuse_non_empty(ledger, context)
    runner = context.runner()
    with ProgressReporter("demo") as progress:
        report = run_demo(ledger, runner, progress)
    print(report.render(), file=context.stdout)
    return EXIT_OK


def _load_run_demo() -> RunDemo:
    # Imported late: the scenario's data is only needed by this command.
    try:
        from capledger.demo import run_demo
    except ImportError as error:
        if error.name not in ("capledger.demo", "capledger"):
            raise
        raise CliError(
            "demo-unavailable", "this installation has no demo (capledger.demo)", EXIT_FAILURE
        ) from None
    return run_demo


def _start_fresh(context: CliContext) -> None:
    if context.settings.store.persistence is not Persistence.SQLITE:
        return
    store = context.settings.store.sqlite_path
    if store.exists() and store.stat().st_size > 0:
        aside = move_aside(store)
        context.notice(f"moved the existing store aside to {aside}")
    # The read models were made from the store moved aside: they go with it.
    read_model = context.settings.readmodel_path
    if read_model.exists():
        aside = move_aside(read_model)
        context.notice(f"moved its read models aside to {aside}")


def move_aside(store: Path) -> Path:
    """Rename a SQLite store (and its companion files) with a timestamp; return its new path."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    aside = store.with_name(f"{store.stem}.aside-{stamp}{store.suffix}")
    for suffix in SQLITE_COMPANIONS:
        companion = store.with_name(store.name + suffix)
        if companion.exists():
            companion.rename(aside.with_name(aside.name + suffix))
    store.rename(aside)
    return aside


def _refuse_non_empty(ledger: Ledger, context: CliContext) -> None:
    if ledger.recorder.max_notification_id():
        raise CliError(
            "store-not-empty",
            f"--fresh needs an empty store, and {context.location} holds events; point "
            "CAPLEDGER_POSTGRES_SCHEMA (or CAPLEDGER_DATA_DIR) at an empty one",
            EXIT_REFUSED,
        )
