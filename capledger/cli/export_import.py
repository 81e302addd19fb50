"""``capledger export`` and ``capledger import``: stored events as JSON lines, verbatim.

The format and its guarantees belong to :mod:`capledger.exchange`; this module only opens the
files, reports progress and makes sure a failed export leaves no half-written file behind.
"""

from __future__ import annotations

import argparse
import io
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from capledger.application.tlog.checkpoint import Checkpoint
from capledger.exchange import ImportRefused, export_events, import_events
from capledger.progress import Progress, ProgressReporter

from .context import CliContext
from .errors import EXIT_OK, EXIT_REFUSED, EXIT_USAGE, CliError
from .subcommands import Subcommands
from .verify import log_keys, open_kept

STDIO = "-"
COUNT_CHUNK = 1 << 20


def register(subparsers: Subcommands) -> None:
    export = subparsers.add_parser(
        "export",
        help="write every stored event as JSON lines",
        description=(
            "Write every stored event, in recording order, as one JSON object per line with "
            "its stored state verbatim (hash chain included), to a file or stdout."
        ),
    )
    export.add_argument(
        "--output",
        "-o",
        default=STDIO,
        metavar="FILE|-",
        help="where to write; '-' (the default) is stdout. A file is replaced only once the "
        "export is complete",
    )
    export.set_defaults(handler=run_export)

    import_ = subparsers.add_parser(
        "import",
        help="record the events of an export, all or none",
        description=(
            "Restore or migrate a ledger: record the events of an export file verbatim, "
            "principals included. Before anything is recorded, every line's hash-chain link "
            "is checked, every event must name its principal, every stream must be new to "
            "this store (an import never continues a stored stream), and every project and "
            "plan is replayed through the ledger's own commands and rules (the rules audit of "
            "verify --rules). On the first refusal (bad line, stored stream, event breaking a "
            "rule: its line, stream, version and rule are named) nothing at all is recorded "
            "and the command exits 4. The read models are brought up to date before the "
            "command ends. With --checkpoint, a signed checkpoint of the source: the file's "
            "first lines must be exactly the entries of its log (the same tree root at its "
            "size), checked in the same pass, or nothing is recorded (checkpoint-mismatch, "
            "exit 4); lines after its size are imported, not covered by it."
        ),
    )
    import_.add_argument("file", metavar="FILE|-", help="the export to read; '-' is stdin")
    source = import_.add_argument_group("against a signed checkpoint of the source")
    source.add_argument("--checkpoint", type=Path, metavar="CP",
                        help="a signed checkpoint of the source the file must match")  # fmt: skip
    source.add_argument("--key", metavar="VKEY", help="the source log's verifier key")
    source.add_argument("--witness", action="append", default=[], metavar="VKEY",
                        help="a witness's verifier key: its cosignature must be on the "
                        "checkpoint (repeatable)")  # fmt: skip
    import_.set_defaults(handler=run_import)


def run_export(args: argparse.Namespace, context: CliContext) -> int:
    ledger = context.ledger(must_exist=True)
    with ProgressReporter("export") as reporter, _output(args.output, context) as stream:
        written = export_events(ledger, stream, reporter)
    where = "stdout" if args.output == STDIO else args.output
    summary = f"exported {written:,} events from {context.location} to {where}"
    print(summary, file=context.stderr if args.output == STDIO else context.stdout)
    return EXIT_OK


def run_import(args: argparse.Namespace, context: CliContext) -> int:
    checkpoint = _source_checkpoint(args)
    with _input(args.file, context) as (stream, total):
        ledger = context.ledger()
        with ProgressReporter("import") as reporter:
            imported = import_events(
                ledger, stream, _with_total(reporter, total), checkpoint=checkpoint
            )
    # Read-your-writes: the read models show the imported events before this command ends.
    store = context.caught_up()
    print(f"imported {imported:,} events into {context.location}", file=context.stdout)
    if checkpoint is not None:
        beyond = imported - checkpoint.size
        covered = f"the first {checkpoint.size:,} are the entries of the source's checkpoint"
        more = f"; the last {beyond:,} are not covered by it" if beyond else ""
        print(f"{covered}{more}", file=context.stdout)
    print(
        f"read models up to date at position {store.position():,}",
        file=context.stdout,
    )
    return EXIT_OK


def _source_checkpoint(args: argparse.Namespace) -> Checkpoint | None:
    """The source's checkpoint of ``--checkpoint``, its signatures checked; a refused one
    refuses the import (exit 4) before the file is read."""
    if args.checkpoint is None:
        if args.key is not None or args.witness:
            raise CliError("usage", "--key and --witness go with --checkpoint", EXIT_USAGE)
        return None
    log_key, witnesses = log_keys(args)
    try:
        return open_kept(args.checkpoint, log_key, witnesses, EXIT_REFUSED)
    except CliError as error:
        if error.exit_status != EXIT_REFUSED:
            raise
        message = f"import refused, nothing recorded: {error.code}: {error.message}"
        raise CliError(ImportRefused.code, message, EXIT_REFUSED) from error


def _with_total(reporter: Progress, lines: int) -> Progress:
    """An import cannot know its total while it streams; the CLI counted the file's lines."""

    def report(done: int, total: int) -> None:
        reporter(done, total or lines)

    return report


@contextmanager
def _output(target: str, context: CliContext) -> Iterator[TextIO]:
    if target == STDIO:
        stream = _utf8(context.stdout)
        yield stream
        stream.flush()
        return
    path = Path(target)
    if path.is_dir():
        raise CliError("bad-output", f"{target} is a directory", EXIT_USAGE)
    # Written aside and renamed at the end: a failed export never leaves a truncated file.
    partial = path.with_name(f".{path.name}.partial")
    try:
        stream = partial.open("w", encoding="utf-8", newline="\n")
    except OSError as error:
        message = f"cannot write {target}: {error.strerror}"
        raise CliError("bad-output", message, EXIT_USAGE) from None
    try:
        with stream:
            yield stream
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)


@contextmanager
def _input(source: str, context: CliContext) -> Iterator[tuple[TextIO, int]]:
    """The export to read and its number of lines (0 when unknown, as on a pipe)."""
    if source == STDIO:
        yield _utf8(context.stdin), 0
        return
    path = Path(source)
    if not path.is_file():
        raise CliError("file-not-found", f"no export file at {source}", EXIT_USAGE)
    with path.open(encoding="utf-8", newline="\n") as stream:
        yield stream, count_lines(path)


def count_lines(path: Path) -> int:
    count = 0
    with path.open("rb") as raw:
        while chunk := raw.read(COUNT_CHUNK):
            count += chunk.count(b"\n")
    return count


def _utf8(stream: TextIO) -> TextIO:
    # The export format is UTF-8 whatever the locale says.
    if isinstance(stream, io.TextIOWrapper) and stream.encoding.lower() not in ("utf-8", "utf8"):
        stream.reconfigure(encoding="utf-8")
    return stream
