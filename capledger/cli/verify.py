"""``capledger verify``: recompute every hash chain in the store, from the first event on."""

from __future__ import annotations

import argparse
import contextlib
from uuid import UUID

from capledger.application.chain import BrokenLink, unseal
from capledger.application.ledger import Ledger
from capledger.application.published import AGGREGATE_KINDS
from capledger.application.rules_audit import audit_rules
from capledger.application.verify import VerifyReport, notification_pages, verify_store
from capledger.progress import ProgressReporter

from .context import CliContext
from .errors import EXIT_CHAIN_BROKEN, EXIT_OK, EXIT_RULE_BROKEN, CliError
from .subcommands import Subcommands

#: How the first event of each kind of stream names what the stream is about.
STREAM_KINDS = {
    "Project.Registered": ("project", "code"),
    "CapitalPlan.Approved": ("plan", "code"),
    "CommandReceipt.Accepted": ("receipt of command", "command_id"),
    "ApiKey.Issued": (AGGREGATE_KINDS["ApiKey"], "key_id"),
}


def register(subparsers: Subcommands) -> None:
    parser = subparsers.add_parser(
        "verify",
        help="check the hash chain of every stored event",
        description=(
            "Walk the whole store in recording order and recompute each event's SHA-256 link "
            "to the previous event of its stream. Prints the number of events and streams "
            "checked and a digest over all stream heads (keep it: a later run must print the "
            "same digest for the same history). Exits 3 at the first broken link. With "
            "--rules, then replays every project and plan through the ledger's own commands "
            "and rules in force at each event's effective date, and exits 5 at the first "
            "event they would have refused or written otherwise."
        ),
    )
    parser.add_argument(
        "--rules",
        action="store_true",
        help="also judge every recorded event by the ledger's rules (the rules audit)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, context: CliContext) -> int:
    ledger = context.ledger(must_exist=True)
    with ProgressReporter("verify") as progress:
        report = verify_store(ledger.recorder, progress)
    print(f"store: {context.location}", file=context.stdout)
    if report.broken is None:
        _print_ok(report, context)
        return _audit_rules(ledger, context) if args.rules else EXIT_OK
    where = describe_link(ledger, report.broken)
    print(f"events checked: {report.checked:,} (stopped at the first broken link)",
          file=context.stdout)  # fmt: skip
    print(f"streams: {report.streams:,}", file=context.stdout)
    print(f"first broken link: {where}", file=context.stdout)
    print("BROKEN", file=context.stdout)
    context.stdout.flush()
    raise CliError("chain-broken", f"first broken link: {where}", EXIT_CHAIN_BROKEN)


def _print_ok(report: VerifyReport, context: CliContext) -> None:
    print(f"events checked: {report.checked:,}", file=context.stdout)
    print(f"streams: {report.streams:,}", file=context.stdout)
    print(f"heads digest: {report.heads_digest}", file=context.stdout)
    print("OK", file=context.stdout)


def _audit_rules(ledger: Ledger, context: CliContext) -> int:
    total = ledger.recorder.max_notification_id() or 0
    with ProgressReporter("rules audit") as progress:
        report = audit_rules(
            notification_pages(ledger.recorder),
            ledger.mapper,
            ledger.rules,
            lambda done: progress(done, total),
        )
    print(f"events judged by the rules: {report.judged:,}", file=context.stdout)
    if report.breach is None:
        print("RULES OK", file=context.stdout)
        return EXIT_OK
    breach = report.breach
    where = (
        f"position {breach.position}, stream {describe_stream(ledger, str(breach.stream))}, "
        f"version {breach.version}, {breach.event}: {breach.code}: {breach.reason}"
    )
    print(f"first event breaking a rule: {where}", file=context.stdout)
    print("RULES BROKEN", file=context.stdout)
    context.stdout.flush()
    raise CliError("rule-broken", f"first event breaking a rule: {where}", EXIT_RULE_BROKEN)


def describe_link(ledger: Ledger, broken: BrokenLink) -> str:
    stream = describe_stream(ledger, broken.stream)
    return f"position {broken.position}, stream {stream}, version {broken.version}: {broken.reason}"


def describe_stream(ledger: Ledger, stream: str) -> str:
    """The stream's id, and what it is about when that can be told (``… (project P-A)``)."""
    name = stream_name(ledger, stream)
    return f"{stream} ({name})" if name else stream


def stream_name(ledger: Ledger, stream: str) -> str | None:
    """What a stream is about, read from its first event; None when that cannot be told."""
    # The first event may itself be the damaged one: naming the stream is only a courtesy.
    with contextlib.suppress(Exception):
        first = ledger.recorder.select_events(UUID(stream), lte=1)
        if not first:
            return None
        kind = STREAM_KINDS.get(first[0].topic.rsplit(":", 1)[-1])
        if kind is None:
            return None
        label, key = kind
        value = unseal(first[0].state).data.get(key)
        return f"{label} {value}" if value is not None else None
    return None
