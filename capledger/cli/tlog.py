"""``capledger log``: the verifiable log's process and keys (docs/verifiable-log.md).

- ``log keygen --name ORIGIN --out FILE``: a new Ed25519 key pair for the log; the signer key
  is written to FILE (mode 0600, never over an existing file), the verifier key printed;
- ``log run [--once]``: the sequencer and the checkpoint schedule, until interrupted;
- ``log checkpoint``: the latest stored checkpoint, with its cosignatures, as served.
"""

from __future__ import annotations

import argparse
import os
import signal
import threading
from pathlib import Path
from types import FrameType

from capledger.application.storage import checkpoint_store
from capledger.application.tlog.issuer import (
    ForkRefused,
    LogKeyError,
    signed_with_cosignatures,
)
from capledger.application.tlog.note import ED25519, NoteError, NoteSigner
from capledger.bootstrap import build_log_issuer

from .context import CliContext
from .errors import EXIT_CHECKPOINT_REFUSED, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, CliError
from .subcommands import Subcommands


def register(subparsers: Subcommands) -> None:
    parser = subparsers.add_parser(
        "log",
        help="the verifiable log: keys, the log process, checkpoints",
        description="The verifiable log (docs/verifiable-log.md): a Merkle tree over every "
        "recorded event and signed checkpoints of it. Settings: CAPLEDGER_TLOG_*.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    keygen = actions.add_parser("keygen", help="make the log's key pair")
    add_keygen_arguments(keygen, "the log's origin, e.g. ledger.example.vn/capledger")
    keygen.set_defaults(handler=run_keygen, key_kind=ED25519)
    run = actions.add_parser(
        "run",
        help="follow the ledger into the tree and issue signed checkpoints on the schedule",
    )
    run.add_argument(
        "--once", action="store_true", help="catch up, issue a checkpoint if due, then exit"
    )
    run.set_defaults(handler=run_log)
    latest = actions.add_parser("checkpoint", help="print the latest checkpoint, cosigned")
    latest.set_defaults(handler=run_checkpoint)


def register_log_commands(subparsers: Subcommands) -> None:
    """``capledger log`` and ``capledger witness``."""
    from . import witness

    register(subparsers)
    witness.register(subparsers)


def add_keygen_arguments(parser: argparse.ArgumentParser, name_help: str) -> None:
    parser.add_argument("--name", required=True, help=name_help)
    parser.add_argument("--out", required=True, type=Path, help="file for the signer key (0600)")


def run_keygen(args: argparse.Namespace, context: CliContext) -> int:
    try:
        signer = NoteSigner.generate(args.name, args.key_kind)
    except NoteError as error:
        raise CliError("invalid-key-name", str(error), EXIT_USAGE) from error
    write_secret(args.out, signer.signer_key() + "\n")
    print(signer.verifier.verifier_key(), file=context.stdout)
    context.notice(f"signer key written to {args.out} (keep it secret); verifier key above")
    return EXIT_OK


def write_secret(path: Path, text: str) -> None:
    """Create ``path`` readable by its owner only; never over an existing file."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as error:
        raise CliError("file-exists", f"{path} exists: not overwritten", EXIT_USAGE) from error
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(text)


def run_log(args: argparse.Namespace, context: CliContext) -> int:
    ledger = context.ledger(must_exist=True)
    try:
        issuer, close = build_log_issuer(context.settings, ledger)
    except LogKeyError as error:
        raise CliError("no-log-key", str(error), EXIT_USAGE) from error
    stop = threading.Event()
    try:
        if args.once:
            while True:
                appended, _ = issuer.step()
                if not appended:
                    break
            issuer.issue()
        else:
            with _StoppedBySignals(stop):
                issuer.run(stop, context.settings.tlog.poll_interval_s)
    except ForkRefused as error:
        raise CliError("fork-refused", str(error), EXIT_CHECKPOINT_REFUSED) from error
    finally:
        close()
    latest = checkpoint_store(ledger.recorder).latest_checkpoint()
    if latest is not None:
        print(f"tree size: {issuer.sequencer.size:,}", file=context.stdout)
        print(f"latest checkpoint: {latest[0]:,} entries", file=context.stdout)
    return EXIT_OK


class _StoppedBySignals:
    """SIGTERM (and SIGINT) set ``stop``: the loop ends after its current batch."""

    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop
        self.previous: dict[int, object] = {}

    def __enter__(self) -> None:
        for number in (signal.SIGTERM, signal.SIGINT):
            self.previous[number] = signal.signal(number, self._set)

    def _set(self, number: int, frame: FrameType | None) -> None:
        self.stop.set()

    def __exit__(self, *exc: object) -> None:
        for number, handler in self.previous.items():
            signal.signal(number, handler)  # type: ignore[arg-type]


def run_checkpoint(args: argparse.Namespace, context: CliContext) -> int:
    ledger = context.ledger(must_exist=True)
    store = checkpoint_store(ledger.recorder)
    store.create_checkpoint_tables()
    latest = store.latest_checkpoint()
    if latest is None:
        raise CliError("no-checkpoint", "no checkpoint issued yet (run `capledger log run`)",
                       EXIT_FAILURE)  # fmt: skip
    context.stdout.write(signed_with_cosignatures(latest[2], store.cosignatures(latest[0])))
    return EXIT_OK
