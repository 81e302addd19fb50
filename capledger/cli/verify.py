"""``capledger verify``: recompute every hash chain in the store, from the first event on."""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING
from uuid import UUID

from capledger.application.chain import BrokenLink, unseal
from capledger.application.ledger import Ledger
from capledger.application.published import AGGREGATE_KINDS
from capledger.application.rules_audit import audit_rules
from capledger.application.verify import VerifyReport, notification_pages, verify_store
from capledger.progress import ProgressReporter

from .context import CliContext
from .errors import EXIT_CHAIN_BROKEN, EXIT_OK, EXIT_RULE_BROKEN, EXIT_USAGE, CliError
from .subcommands import Subcommands

if TYPE_CHECKING:
    from capledger.application.tlog.checkpoint import Checkpoint
    from capledger.application.tlog.note import NoteVerifier

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
            "event they would have refused or written otherwise. With --checkpoint (and "
            "--key), checks the store against a kept signed checkpoint; with --export FILE "
            "too, checks that export file instead, offline (no store is opened): exits 3 if "
            "it is not the checkpoint's entries (docs/verifiable-log.md)."
        ),
    )
    parser.add_argument(
        "--rules",
        action="store_true",
        help="also judge every recorded event by the ledger's rules (the rules audit)",
    )
    add_log_arguments(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, context: CliContext) -> int:
    if args.export is not None:
        return run_export_check(args, context)
    if args.checkpoint is not None or args.since is not None:
        return run_log_checks(args, context)
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


# -- the verifiable log: a ledger against a kept checkpoint (docs/verifiable-log.md) --------


def add_log_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("against a kept checkpoint (the verifiable log)")
    group.add_argument("--checkpoint", type=Path, metavar="FILE",
                       help="a signed checkpoint kept by an inspector: recompute every hash "
                       "and check the ledger holds exactly its entries, and more")  # fmt: skip
    group.add_argument("--since", type=Path, metavar="OLD_CHECKPOINT",
                       help="prove the ledger's checkpoint extends this older one")  # fmt: skip
    group.add_argument("--export", type=Path, metavar="FILE",
                       help="check this export file (from capledger export) against "
                       "--checkpoint instead of a store: no store is opened")  # fmt: skip
    group.add_argument("--key", metavar="VKEY", help="the log's verifier key")
    group.add_argument("--witness", action="append", default=[], metavar="VKEY",
                       help="a witness's verifier key: its cosignature must be on the "
                       "checkpoint (repeatable)")  # fmt: skip


def log_keys(args: argparse.Namespace) -> tuple[NoteVerifier, list[NoteVerifier]]:
    """The log's verifier key (``--key``) and the witnesses' (``--witness``)."""
    from capledger.application.tlog.note import NoteError, NoteVerifier

    if args.key is None:
        raise CliError("usage", "a checkpoint is opened with the log's --key", EXIT_USAGE)
    try:
        log_key = NoteVerifier.from_verifier_key(args.key)
        witnesses = [NoteVerifier.from_verifier_key(key) for key in args.witness]
    except NoteError as error:
        raise CliError("bad-key", str(error), EXIT_USAGE) from error
    return log_key, witnesses


def open_kept(
    path: Path, log_key: NoteVerifier, witnesses: Sequence[NoteVerifier], exit_status: int
) -> Checkpoint:
    """The checkpoint an inspector kept, once the log's signature and each required witness's
    cosignature verified; a refusal exits ``exit_status`` (``bad-checkpoint``,
    ``not-witnessed``)."""
    from capledger.application.tlog.check import NotWitnessed, open_witnessed
    from capledger.application.tlog.checkpoint import CheckpointError

    try:
        return open_witnessed(path.read_text(encoding="utf-8"), log_key, witnesses)
    except OSError as error:
        raise CliError("unreadable", f"cannot read {path}: {error}", EXIT_USAGE) from error
    except NotWitnessed as error:
        raise CliError("not-witnessed", f"{path}: {error}", exit_status) from error
    except CheckpointError as error:
        raise CliError("bad-checkpoint", f"{path}: {error}", exit_status) from error


def run_log_checks(args: argparse.Namespace, context: CliContext) -> int:
    from capledger.application.storage import checkpoint_store, event_log, log_tree
    from capledger.application.tlog.check import check_log
    from capledger.application.tlog.checkpoint import CheckpointError, open_checkpoint
    from capledger.application.tlog.merkle import ProofError, consistency_proof, verify_consistency

    from .errors import EXIT_FAILURE

    log_key, witnesses = log_keys(args)

    def opened(path: Path) -> Checkpoint:
        return open_kept(path, log_key, witnesses, EXIT_CHAIN_BROKEN)

    ledger = context.ledger(must_exist=True)
    print(f"store: {context.location}", file=context.stdout)
    if args.checkpoint is not None:
        kept = opened(args.checkpoint)
        with ProgressReporter("verify"):
            found = check_log(event_log(ledger.recorder), kept)
        cosigned = "".join(f", cosigned by {w.name}" for w in witnesses)
        print(f"checkpoint: {kept.size:,} entries, signed by {log_key.name}{cosigned}",
              file=context.stdout)  # fmt: skip
        print(f"entries in the ledger: {found.size:,}", file=context.stdout)
        if not found.ok:
            where = "" if found.position is None else f" (position {found.position})"
            raise mismatch(context, f"{found.problem}{where}")
        print("every hash recomputed; every entry of the checkpoint is in the ledger",
              file=context.stdout)  # fmt: skip
    if args.since is not None:
        old = opened(args.since)
        recorder = ledger.recorder
        store, tree = checkpoint_store(recorder), log_tree(recorder)
        store.create_checkpoint_tables()
        tree.create_log_tree()
        latest = store.latest_checkpoint()
        if latest is None:
            raise CliError("no-checkpoint", "the ledger has issued no checkpoint", EXIT_FAILURE)
        try:
            new = open_checkpoint(latest[2], log_key)
            proof = consistency_proof(tree, old.size, new.size) if old.size <= new.size else []
            verify_consistency(old.size, new.size, proof, old.root, new.root)
        except (CheckpointError, ProofError) as error:
            print("DOES NOT EXTEND THE OLD CHECKPOINT", file=context.stdout)
            context.stdout.flush()
            raise CliError(
                "not-consistent",
                f"the ledger's checkpoint of {latest[0]:,} entries does not extend the one of "
                f"{old.size:,}: {error}",
                EXIT_CHAIN_BROKEN,
            ) from error
        extends = f"the ledger's checkpoint of {new.size:,} entries extends the one of {old.size:,}"
        print(f"{extends} (consistency proof of {len(proof)} hashes)", file=context.stdout)
    print("OK", file=context.stdout)
    return EXIT_OK


def run_export_check(args: argparse.Namespace, context: CliContext) -> int:
    """An export file against a kept checkpoint, offline: no store is opened."""
    from capledger.application.tlog.check import check_rows
    from capledger.exchange import ImportRefused, export_rows

    if args.checkpoint is None or args.since is not None or args.rules:
        raise CliError("usage", "--export takes --checkpoint (and --key), nothing else",
                       EXIT_USAGE)  # fmt: skip
    log_key, witnesses = log_keys(args)
    kept = open_kept(args.checkpoint, log_key, witnesses, EXIT_CHAIN_BROKEN)
    cosigned = "".join(f", cosigned by {w.name}" for w in witnesses)
    print(f"export: {args.export}", file=context.stdout)
    print(f"checkpoint: {kept.size:,} entries, signed by {log_key.name}{cosigned}",
          file=context.stdout)  # fmt: skip
    try:
        with (
            args.export.open(encoding="utf-8", newline="\n") as lines,
            ProgressReporter("verify"),
        ):
            found = check_rows(export_rows(lines), kept)
    except OSError as error:
        raise CliError("unreadable", f"cannot read {args.export}: {error}", EXIT_USAGE) from error
    except (ImportRefused, UnicodeDecodeError) as error:
        raise mismatch(context, f"not an export: {error}") from error
    print(f"entries in the export: {found.size:,}", file=context.stdout)
    if not found.ok:
        where = "" if found.position is None else f" (the line of position {found.position})"
        raise mismatch(context, f"{found.problem}{where}")
    print("every hash recomputed; the export's first entries are the checkpoint's",
          file=context.stdout)  # fmt: skip
    if found.beyond:
        print(f"not covered by the checkpoint: the last {found.beyond:,} lines (after its "
              f"{kept.size:,} entries)", file=context.stdout)  # fmt: skip
    print("OK", file=context.stdout)
    return EXIT_OK


def mismatch(context: CliContext, detail: str) -> CliError:
    """The verdict on stdout, then the error to raise: what was checked does not match the
    checkpoint (exit 3)."""
    print("DOES NOT MATCH THE CHECKPOINT", file=context.stdout)
    context.stdout.flush()
    return CliError("checkpoint-mismatch", detail, EXIT_CHAIN_BROKEN)
