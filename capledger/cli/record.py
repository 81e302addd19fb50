"""``capledger record FILE``: record commands from JSON lines (an operator's, a Treasury batch).

One command per line, in the API's words: the command's type name (``command``, the OpenAPI
document's ``x-capledger-command``), its id (``command_id``, what the API takes as the
``Idempotency-Key``), and the fields of the command's request body, validated by the API's own
models (``capledger.api.routers.commands.request_bodies``), with the codes the API takes from
the path under the command's names (``project_code``; ``code`` for a plan's adjustment)::

    {"command": "PayCompletedWork", "command_id": "KBNN-HP-2021-06-01-0001",
     "project_code": "HP-001", "plan_code": "HP-KHV-2021", "source": "central_budget",
     "amount": 1200000000, "treasury_ref": "KBNN-0001", "effective_on": "2021-06-01"}

Every line gets one result line on stdout, in order: its number, its command id, and its
outcome, ``recorded`` or ``replayed`` (with the streams and position, as the API answers) or
``refused`` (with the problem ``code`` and ``detail``). A refused line, malformed or refused by
the ledger, records nothing and the lines after it go on: a batch's lines are independent
commands, and the result says which to fix. A rerun replays every recorded line and records
nothing again (ids are the operator principal's, ``operator:<OS user>``, as ``correct``).

Three parts, so that the transport can change (#15's bulk endpoint) and the rest stays:
``read_lines`` turns lines into commands or refusals, a ``Transport`` records a batch of
commands and answers one result each, ``write_result`` writes a result line.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import IO, Any, Protocol, TextIO

import orjson
from pydantic import BaseModel, ValidationError, create_model

from capledger.api.types import Code
from capledger.application.commands import Command
from capledger.application.errors import ApplicationError, InvalidCommand
from capledger.application.ledger import Ledger
from capledger.domain import DomainError
from capledger.progress import Progress, ProgressReporter

from .api import operator
from .context import CliContext
from .errors import EXIT_LINES_REFUSED, EXIT_OK, EXIT_USAGE, CliError
from .export_import import count_lines
from .subcommands import Subcommands

STDIN = "-"
#: Commands handed to the transport at once: results are written, and progress reported,
#: after each batch.
BATCH_SIZE = 100
#: A line that is not a JSON object (not JSON, not UTF-8, an array...).
MALFORMED_JSON = "malformed-json"
#: A line whose fields the command's request body refuses (the API's 422 code).
VALIDATION_ERROR = "validation-error"


class Outcome(StrEnum):
    RECORDED = "recorded"
    REPLAYED = "replayed"
    REFUSED = "refused"


@dataclass(frozen=True)
class LineCommand:
    """A line read as a command: what the transport records."""

    line: int
    command_id: str
    command: Command


@dataclass(frozen=True)
class LineResult:
    """What became of one line: the JSON line ``record`` writes for it."""

    line: int
    command_id: str | None
    outcome: Outcome
    command: str | None = None
    streams: dict[str, int] | None = None
    position: int | None = None
    code: str | None = None
    detail: str | None = None
    errors: list[dict[str, str]] = field(default_factory=list)

    @classmethod
    def refused(
        cls,
        line: int,
        command_id: str | None,
        code: str,
        detail: str,
        *,
        command: str | None = None,
        errors: list[dict[str, str]] | None = None,
    ) -> LineResult:
        return cls(line, command_id, Outcome.REFUSED, command=command, code=code, detail=detail,
                   errors=errors or [])  # fmt: skip

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "line": self.line,
            "command_id": self.command_id,
            "outcome": self.outcome.value,
            "command": self.command,
        }
        if self.outcome is Outcome.REFUSED:
            document |= {"code": self.code, "detail": self.detail}
            if self.errors:
                document["errors"] = self.errors
        else:
            document |= {"streams": self.streams, "position": self.position}
        return document


# -- reading lines -----------------------------------------------------------------------------


@functools.cache
def line_models() -> dict[str, type[BaseModel]]:
    """Each command's line model: its API request body plus the codes the API's path carries
    (the command's fields the body lacks), validated as the path validates them."""
    # Imported here: building the API's routes takes a noticeable part of a second, which the
    # CLI's other commands must not pay at every start.
    from capledger.api.routers.commands import request_bodies

    models: dict[str, type[BaseModel]] = {}
    for name, body in request_bodies().items():
        path = {
            each.name: (Code, ...)
            for each in dataclasses.fields(body.command)
            if each.name not in body.model_fields
        }
        models[name] = create_model(f"{name}Line", __base__=body, **path)  # type: ignore[call-overload]
    return models


@functools.cache
def _command_id() -> re.Pattern[str]:
    """What a command id may be: the API's ``Idempotency-Key`` pattern."""
    from capledger.api.routers.commands import KEY_PATTERN

    return re.compile(KEY_PATTERN)


def parse_line(number: int, raw: bytes | str) -> LineCommand | LineResult:
    """One line as a command, or its refusal (nothing recorded)."""
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        detail = f"not JSON: {error.msg} at character {error.pos + 1}"
        return LineResult.refused(number, None, MALFORMED_JSON, detail)
    if not isinstance(document, dict):
        return LineResult.refused(number, None, MALFORMED_JSON, "a line is one JSON object")
    command_id = document.pop("command_id", None)
    name = document.pop("command", None)
    shown_id = command_id if isinstance(command_id, str) else None
    if not isinstance(command_id, str) or not _command_id().fullmatch(command_id):
        problem = {
            "field": "command_id",
            "message": "the command's id: 1–200 visible ASCII characters (the API's "
            "Idempotency-Key)",
            "type": "string_pattern_mismatch",
        }
        return LineResult.refused(
            number, shown_id, VALIDATION_ERROR, problem["message"], errors=[problem]
        )
    model = line_models().get(name) if isinstance(name, str) else None
    if model is None:
        known = ", ".join(sorted(line_models()))
        what = "a line names its command type in `command`" if name is None else (
            f"{name!r} is not a command clients send")  # fmt: skip
        detail = f"{what} (one of {known})"
        return LineResult.refused(number, command_id, InvalidCommand.code, detail)
    try:
        body = model.model_validate(document)
    except ValidationError as error:
        # The API's problem module brings FastAPI; only a refused line needs it, and by then
        # the request models (``request_bodies``) have brought it anyway.
        from capledger.api.problems import field_problem

        errors = [field_problem(each).model_dump() for each in error.errors()]
        detail = "; ".join(f"{each['field']}: {each['message']}" for each in errors)
        return LineResult.refused(number, command_id, VALIDATION_ERROR, detail, command=name,
                                  errors=errors)  # fmt: skip
    except (DomainError, ApplicationError) as error:
        return LineResult.refused(number, command_id, error.code, str(error), command=name)
    return LineCommand(number, command_id, body.to_command())  # type: ignore[attr-defined]


def read_lines(lines: Iterable[bytes | str]) -> Iterator[LineCommand | LineResult]:
    """Every line read, numbered from 1; blank lines are skipped (they get no result)."""
    for number, raw in enumerate(lines, start=1):
        if raw.strip():
            yield parse_line(number, raw)


# -- recording ---------------------------------------------------------------------------------


class Transport(Protocol):
    """Records a batch of commands; one result per command, in the batch's order."""

    def record(self, batch: Sequence[LineCommand]) -> list[LineResult]: ...


@dataclass(frozen=True)
class InProcess:
    """Each command through ``Ledger.execute`` in this process, as ``principal``."""

    ledger: Ledger
    principal: str

    def record(self, batch: Sequence[LineCommand]) -> list[LineResult]:
        return [self._one(each) for each in batch]

    def _one(self, line: LineCommand) -> LineResult:
        name = type(line.command).__name__
        try:
            outcome = self.ledger.execute(
                line.command, command_id=line.command_id, principal=self.principal
            )
        except (DomainError, ApplicationError) as error:
            return LineResult.refused(line.line, line.command_id, error.code, str(error),
                                      command=name)  # fmt: skip
        return LineResult(
            line.line,
            line.command_id,
            Outcome.REPLAYED if outcome.replayed else Outcome.RECORDED,
            command=outcome.command,
            streams=dict(outcome.streams),
            position=outcome.position,
        )


def write_result(result: LineResult, out: TextIO) -> None:
    out.write(orjson.dumps(result.to_json()).decode())
    out.write("\n")


@dataclass
class Tally:
    """How many lines had each outcome."""

    counts: dict[Outcome, int] = field(default_factory=lambda: dict.fromkeys(Outcome, 0))

    def add(self, result: LineResult) -> None:
        self.counts[result.outcome] += 1

    @property
    def lines(self) -> int:
        return sum(self.counts.values())

    @property
    def refused(self) -> int:
        return self.counts[Outcome.REFUSED]

    def summary(self) -> str:
        parts = ", ".join(f"{count:,} {outcome.value}" for outcome, count in self.counts.items())
        return f"{self.lines:,} lines: {parts}"


def record_lines(
    lines: Iterable[bytes | str],
    transport: Transport,
    out: TextIO,
    progress: Progress | None = None,
    *,
    total: int = 0,
    batch_size: int = BATCH_SIZE,
) -> Tally:
    """Record every line through ``transport``, writing one result per line in order."""
    tally = Tally()
    pending: list[LineCommand | LineResult] = []

    def flush() -> None:
        recorded = iter(
            transport.record([each for each in pending if isinstance(each, LineCommand)])
        )
        for each in pending:
            result = each if isinstance(each, LineResult) else next(recorded)
            write_result(result, out)
            tally.add(result)
        if progress is not None and pending:
            progress(pending[-1].line, total)  # lines read so far, blank ones too
        pending.clear()
        out.flush()

    commands = 0
    for item in read_lines(lines):
        pending.append(item)
        commands += isinstance(item, LineCommand)
        if commands >= batch_size:
            flush()
            commands = 0
    flush()
    return tally


# -- the command -------------------------------------------------------------------------------


def register(subparsers: Subcommands) -> None:
    parser = subparsers.add_parser(
        "record",
        help="record commands from JSON lines (one command per line, as the API's bodies)",
        description=(
            "Record the commands of FILE, one JSON object per line: `command` (the command's "
            "type, e.g. PayCompletedWork), `command_id` (its idempotency key) and the fields "
            "of the API's request body for it, with the path's codes under the command's "
            "names (project_code; code for AdjustPlan). Writes one JSON line per input line "
            "to stdout: line, command_id, outcome (recorded, replayed or refused, with code "
            "and detail). A refused line records nothing; the others go on. Running the same "
            "file again records nothing twice. Commands are recorded as operator:<OS user>. "
            "Exits 0 when every line was recorded or replayed, 7 when some were refused, "
            "2 when FILE cannot be read."
        ),
    )
    parser.add_argument("file", metavar="FILE|-", help="the JSON lines to record; '-' is stdin")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, context: CliContext) -> int:
    with _input(args.file, context) as (lines, total):
        transport = InProcess(context.ledger(), operator())
        with ProgressReporter("record") as reporter:
            tally = record_lines(lines, transport, context.stdout, reporter, total=total)
    print(f"record: {tally.summary()}", file=context.stderr)
    return EXIT_LINES_REFUSED if tally.refused else EXIT_OK


@contextmanager
def _input(source: str, context: CliContext) -> Iterator[tuple[Iterable[bytes | str], int]]:
    """The lines to read (bytes, so one line that is not UTF-8 is refused alone) and their
    number (0 when unknown, as on a pipe)."""
    if source == STDIN:
        stdin: IO[Any] = getattr(context.stdin, "buffer", context.stdin)
        yield stdin, 0
        return
    path = Path(source)
    if not path.is_file():
        raise CliError("file-not-found", f"no file at {source}", EXIT_USAGE)
    try:
        stream = path.open("rb")
    except OSError as error:
        raise CliError("file-unreadable", f"cannot read {source}: {error.strerror}",
                       EXIT_USAGE) from None  # fmt: skip
    with stream:
        yield stream, count_lines(path)
