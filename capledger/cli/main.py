"""The ``capledger`` entry point: parse, configure logging, run one command, map its errors.

Exit statuses: 0 done; 1 failure that is not the user's (store unreachable, disk, bug);
2 usage or input error; 3 ``verify`` found a broken hash chain; 4 the ledger refused the
command (nothing was recorded), or a query names a project or plan the ledger does not hold;
5 ``verify --rules`` found an event the rules would have refused; 6 a checkpoint refused (a
fork met by ``log run``; one ``witness cosign`` cannot cosign); 7 ``record`` refused some lines.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import TextIO

import structlog
from eventsourcing.persistence import PersistenceError
from pydantic import ValidationError

from capledger import __version__
from capledger.application.errors import ApplicationError
from capledger.bootstrap import load_settings
from capledger.domain import DomainError
from capledger.observability import configure_logging, correlation
from capledger.settings import env_name

from . import (
    api,
    corrections,
    demo,
    export_import,
    history,
    projections,
    queries,
    record,
    rules,
    streaming,
    verify,
)
from .context import CliContext, store_location
from .errors import EXIT_FAILURE, EXIT_OK, EXIT_REFUSED, EXIT_USAGE, CliError
from .tlog import register_log_commands

log = structlog.get_logger(__name__)

PROG = "capledger"
EXIT_INTERRUPTED = 130

ENVIRONMENT_HELP = """\
configuration (environment):
  CAPLEDGER_DATA_DIR     directory of the SQLite store (default ~/.local/share/capledger)
  CAPLEDGER_PERSISTENCE  sqlite (default) or postgres, with CAPLEDGER_POSTGRES_HOST, _PORT,
                         _USER, _PASSWORD, _DBNAME, _SCHEMA
  CAPLEDGER_RULES_FILE   the law's rules as JSON (default: built in)
  CAPLEDGER_READMODEL_FILE, CAPLEDGER_READMODEL_SCHEMA
                         where the read models live beside the store (default:
                         projections.sqlite3 in the data directory; PostgreSQL schemas
                         capledger_readmodel_*)
  CAPLEDGER_LOG_FORMAT   auto (default), json or console; logs go to stderr
  CAPLEDGER_LOG_LEVEL    DEBUG, INFO (default), WARNING, ERROR
  CAPLEDGER_KAFKA_*, CAPLEDGER_PROJECTOR_*, CAPLEDGER_API_*
                         the relay and subscriber, the stream projector, the HTTP API
                         (docs/kafka.md, docs/projections-kafka.md, docs/api.md)

exit status: 0 done, 1 failure (e.g. store unreachable), 2 usage error,
             3 broken hash chain (verify), 4 refused by the ledger (nothing recorded) or
             names a project or plan the ledger does not hold, 7 record: some lines
             refused (the others recorded or replayed)
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="The event-sourced ledger of Vietnam's public investment capital.",
        epilog=f"{ENVIRONMENT_HELP}\nstore: {_where()}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    parser.add_argument("--where", action="store_true", help="print where the store is, then exit")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    for command in (
        demo,
        history,
        corrections,
        record,
        verify,
        rules,
        export_import,
        queries,
        projections,
        streaming,
        api,
    ):
        command.register(subparsers)
    register_log_commands(subparsers)  # capledger log, capledger witness
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.where:
        print(_where())
        return EXIT_OK
    if args.command is None:
        parser.print_usage(sys.stderr)
        return _fail("usage", "a command is required (see capledger --help)", EXIT_USAGE)
    try:
        settings = load_settings()
        configure_logging(settings.log)
    except (ValidationError, ValueError) as error:
        return _fail("bad-configuration", _configuration_problem(error), EXIT_FAILURE)
    context = CliContext(settings, sys.stdin, sys.stdout, sys.stderr)
    # "cli_command", not "command": the ledger logs the commands it runs under "command".
    with correlation(cli_command=args.command):
        return run(args, context)


def run(args: argparse.Namespace, context: CliContext) -> int:
    """Run one command; expected failures become one line on stderr and an exit status."""
    try:
        status: int = args.handler(args, context)
        context.stdout.flush()
        return status
    except CliError as error:
        return _fail(error.code, error.message, error.exit_status, context.stderr)
    except (DomainError, ApplicationError) as error:
        return _fail(error.code, str(error), EXIT_REFUSED, context.stderr)
    except PersistenceError as error:
        log.debug("store_error", exc_info=True)
        message = f"cannot use the store ({context.location}): {error}"
        return _fail("store-unavailable", message, EXIT_FAILURE, context.stderr)
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return _fail("interrupted", "stopped by the user", EXIT_INTERRUPTED, context.stderr)
    except OSError as error:
        log.debug("os_error", exc_info=True)
        return _fail("os-error", str(error), EXIT_FAILURE, context.stderr)
    except Exception as error:
        # A bug, not an expected failure: the traceback is kept for the debug log.
        log.debug("unexpected_error", exc_info=True)
        message = f"{type(error).__name__}: {error} (CAPLEDGER_LOG_LEVEL=DEBUG shows the traceback)"
        return _fail("unexpected-error", message, EXIT_FAILURE, context.stderr)
    finally:
        context.close()


def _fail(code: str, message: str, status: int, stream: TextIO | None = None) -> int:
    one_line = " ".join(message.split())
    print(f"{PROG}: error: {code}: {one_line}", file=stream or sys.stderr)
    return status


def _where() -> str:
    try:
        return store_location(load_settings())
    except ValidationError as error:
        return f"unknown: {_configuration_problem(error)}"


def _configuration_problem(error: ValidationError | ValueError) -> str:
    if isinstance(error, ValidationError):
        problems = [f"{env_name(problem['loc'])}: {problem['msg']}" for problem in error.errors()]
        return "; ".join(problems)
    return str(error)


def _silence_stdout() -> None:
    """The reader of stdout went away (``| head``): stop writing without another error."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
