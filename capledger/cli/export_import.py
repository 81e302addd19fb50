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

from capledger.exchange import export_events, import_events
from capledger.progress import Progress, ProgressReporter

from .context import CliContext
from .errors import EXIT_OK, EXIT_USAGE, CliError
from .subcommands import Subcommands

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
            "command ends."
        ),
    )
    import_.add_argument("file", metavar="FILE|-", help="the export to read; '-' is stdin")
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
    with _input(args.file, context) as (stream, total):
        ledger = context.ledger()
        with ProgressReporter("import") as reporter:
            imported = import_events(ledger, stream, _with_total(reporter, total))
    # Read-your-writes: the read models show the imported events before this command ends.
    store = context.caught_up()
    print(f"imported {imported:,} events into {context.location}", file=context.stdout)
    print(
        f"read models up to date at position {store.position():,}",
        file=context.stdout,
    )
    return EXIT_OK


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
