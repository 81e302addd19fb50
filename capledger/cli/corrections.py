"""``capledger correct``: correct a wrong entry of any movement kind from the command line.

The same command the API's ``POST /projects/{code}/reversals`` sends (``ReverseEntry``), run by
the same handler: a payment or an advance is reversed, any other movement is corrected by a
compensating event (``capledger.domain.corrections``); a transfer on both its projects, an
allocation or a cut on its plan too. A refusal exits 4 with the rule's code, recording nothing.
"""

from __future__ import annotations

import argparse
from uuid import uuid4

from capledger.application.commands import ReverseEntry

from .api import operator
from .context import CliContext
from .errors import EXIT_OK, EXIT_USAGE, CliError
from .rules import iso_date
from .subcommands import Subcommands

MAX_VERSION = 2**31 - 1


def register(subparsers: Subcommands) -> None:
    parser = subparsers.add_parser(
        "correct",
        help="correct a wrong entry (payment, allocation, transfer, cut, extension, lapse, "
        "total investment, investor or status) by a compensating event",
        description=(
            "Record a correction of the entry at VERSION of PROJECT's stream (the version "
            "`history` shows). Nothing is edited or deleted: a compensating event points at the "
            "entry and takes effect on --on, on or after the entry. Corrections of allocations, "
            "transfers, cuts, extensions, lapses and total investment need the decision that "
            "takes them (--decision-no, --decision-date, --decision-issuer); corrections of a "
            "status or investor may name one; payments and advances are reversed without one. "
            "Exits 4 when the ledger refuses (e.g. undisbursed-exceeded: the capital is spent)."
        ),
    )
    parser.add_argument("project", help="the project's code, e.g. DA-001")
    parser.add_argument("version", type=_version, help="the stream version of the entry")
    parser.add_argument("--reason", required=True, help="why the entry was wrong")
    parser.add_argument(
        "--on", dest="effective_on", type=iso_date, required=True, metavar="YYYY-MM-DD",
        help="the day the correction takes effect",
    )  # fmt: skip
    parser.add_argument("--decision-no", help="the number of the decision, e.g. 901/QĐ-UBND")
    parser.add_argument("--decision-date", type=iso_date, metavar="YYYY-MM-DD")
    parser.add_argument("--decision-issuer", help="who issued the decision")
    parser.add_argument(
        "--command-id", help="the command's id (repeating it records nothing twice; default new)"
    )
    parser.set_defaults(handler=run)


def _version(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= MAX_VERSION:
        raise argparse.ArgumentTypeError(f"a stream version is a whole number from 1: {text!r}")
    return int(text)


def run(args: argparse.Namespace, context: CliContext) -> int:
    if (args.decision_no is None) != (args.decision_date is None):
        raise CliError("usage", "--decision-no and --decision-date go together", EXIT_USAGE)
    if args.decision_issuer is not None and args.decision_no is None:
        raise CliError("usage", "--decision-issuer needs --decision-no", EXIT_USAGE)
    command = ReverseEntry(
        project_code=args.project, entry_version=args.version, reason=args.reason,
        effective_on=args.effective_on, decision_no=args.decision_no,
        decision_date=args.decision_date, decision_issuer=args.decision_issuer,
    )  # fmt: skip
    ledger = context.ledger(must_exist=True)
    outcome = ledger.execute(
        command, command_id=args.command_id or str(uuid4()), principal=operator()
    )
    streams = ", ".join(f"{stream} v{version}" for stream, version in outcome.streams.items())
    done = "already recorded" if outcome.replayed else "recorded"
    print(f"{done}: {streams} (position {outcome.position})", file=context.stdout)
    return EXIT_OK
