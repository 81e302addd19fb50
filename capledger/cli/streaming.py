"""``capledger relay``, ``capledger projector``, ``capledger subscribe`` and ``capledger topics``:
the Kafka side."""

from __future__ import annotations

import argparse
import json
import signal
import threading

from capledger.bootstrap import build_read_model, build_relay
from capledger.streams import topics
from capledger.streams.relay import EXIT_FENCED, RelayFenced, quiet_kafka_client_logs
from capledger.streams.subscriber import OutputFormat, Start, parse_types, run_subscribe

from .context import CliContext
from .errors import EXIT_OK, EXIT_USAGE, CliError
from .subcommands import Subcommands


def register(subparsers: Subcommands) -> None:
    _register_subscribe(subparsers)
    _register_relay(subparsers)
    _register_topics(subparsers)
    _register_projector(subparsers)


def _register_subscribe(subparsers: Subcommands) -> None:
    subscribe = subparsers.add_parser(
        "subscribe",
        help="print the ledger's events from Kafka (read_committed, consumer group)",
        description=(
            "Follow the events topic as a member of a consumer group, reading only committed "
            "relay transactions, and print each event (JSON lines or one readable line). "
            "Offsets are committed after each printed batch; without a start option the group "
            "resumes where it committed (a new group starts at the beginning)."
        ),
    )
    start = subscribe.add_mutually_exclusive_group()
    start.add_argument("--from-beginning", action="store_true", help="every event, from the first")
    start.add_argument("--from-now", action="store_true", help="only events published from now")
    start.add_argument(
        "--from-position", type=int, metavar="N", help="events at position N and later"
    )
    subscribe.add_argument(
        "--group", metavar="ID", help="consumer group (default CAPLEDGER_KAFKA_SUBSCRIBER_GROUP)"
    )
    subscribe.add_argument(
        "--types", metavar="T,...", help="e.g. Project.CompletedWorkPaid,Project.AdvancePaid"
    )
    subscribe.add_argument(
        "--format",
        choices=[f.value for f in OutputFormat],
        default="json",
        help="json (one object per line, default) or line",
    )
    subscribe.add_argument("--max", type=int, metavar="N", help="stop after N events")
    subscribe.set_defaults(handler=run_subscribe_command)


def _register_relay(subparsers: Subcommands) -> None:
    relay = subparsers.add_parser(
        "relay",
        help="publish every recorded event to Kafka, exactly once (runs until stopped)",
        description=(
            "Follow the store's notification log and publish it to the events topic in Kafka "
            "transactions, with the relay's position in the same transaction. Creates the "
            "topics if missing. Stops on SIGTERM/SIGINT; fails if another relay with the "
            "same transactional id takes over."
        ),
    )
    relay.add_argument(
        "--until-caught-up",
        action="store_true",
        help="stop once everything recorded is published",
    )
    relay.set_defaults(handler=run_relay_command)


def _register_topics(subparsers: Subcommands) -> None:
    topics_parser = subparsers.add_parser(
        "topics",
        help="create the Kafka topics, or check them against the settings",
        description="ensure: create missing topics; check: report drift (exit 1 if any).",
    )
    topics_parser.add_argument("action", choices=["ensure", "check"])
    topics_parser.set_defaults(handler=run_topics_command)


def _register_projector(subparsers: Subcommands) -> None:
    projector = subparsers.add_parser(
        "projector",
        help="fold the Kafka events topic into the read model (a worker), or show its lag",
        description=(
            "run: a Faust worker of the projector's consumer group; it reads the events topic "
            "(read_committed) in batches and writes each batch to the read model together with "
            "its offsets, in one transaction. Workers of one group share the partitions. Stops "
            "on SIGTERM/SIGINT. lag: per partition, the topic's end, the offset applied and the "
            "lag, as one JSON line. Needs CAPLEDGER_PROJECTIONS_RUNNER=kafka (a read model has "
            "one writer kind); settings CAPLEDGER_PROJECTOR_* (docs/projections-kafka.md)."
        ),
    )
    projector.add_argument("action", nargs="?", default="run", choices=["run", "lag"])
    projector.set_defaults(handler=run_projector_command)


def _start(args: argparse.Namespace) -> Start:
    if args.from_beginning:
        return Start.beginning()
    if args.from_now:
        return Start.now()
    if args.from_position is not None:
        if args.from_position < 1:
            raise CliError("usage", "--from-position must be 1 or more", EXIT_USAGE)
        return Start.from_position(args.from_position)
    return Start.committed()


def run_subscribe_command(args: argparse.Namespace, context: CliContext) -> int:
    quiet_kafka_client_logs()
    return run_subscribe(
        context.settings.kafka,
        start=_start(args),
        group=args.group,
        types=parse_types(args.types),
        output=OutputFormat(args.format),
        max_events=args.max,
        out=context.stdout,
    )


def run_relay_command(args: argparse.Namespace, context: CliContext) -> int:
    quiet_kafka_client_logs()
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    relay = build_relay(context.settings, context.ledger())
    try:
        relay.run(stop, until_caught_up=args.until_caught_up)
    except RelayFenced as error:
        raise CliError("relay-fenced", str(error), EXIT_FENCED) from error
    context.notice(f"relay stopped at position {relay.position}")
    return EXIT_OK


def run_topics_command(args: argparse.Namespace, context: CliContext) -> int:
    quiet_kafka_client_logs()
    settings = context.settings.kafka
    drifts = topics.ensure_topics(settings) if args.action == "ensure" else topics.check(settings)
    for drift in drifts:
        print(f"drift: {drift}", file=context.stdout)
    if drifts:
        raise CliError("topic-drift", f"{len(drifts)} difference(s) from the settings")
    print(
        f"{settings.events_topic}, {settings.positions_topic}: as configured",
        file=context.stdout,
    )
    return EXIT_OK


def run_projector_command(args: argparse.Namespace, context: CliContext) -> int:
    from capledger.streams.lag import lag_report
    from capledger.streams.projector import quiet_libraries, run_worker

    if not context.settings.read_model.projected_from_kafka:
        raise CliError(
            "embedded-runner-owns-read-model",
            "the embedded runner writes this read model: set CAPLEDGER_PROJECTIONS_RUNNER=kafka "
            "(and give the projector a read model of its own) to run the Kafka projector",
            EXIT_USAGE,
        )
    quiet_libraries()
    kafka = context.settings.kafka
    # The projector needs no ledger: only the read model (it may run on another machine).
    store = build_read_model(context.settings)
    try:
        if args.action == "lag":
            print(json.dumps(lag_report(kafka, store)), file=context.stdout)
            return EXIT_OK
        # A failed worker has written its one line to stderr; its status tells why (3: fatal).
        return run_worker(kafka, store, context.settings.projector)
    finally:
        store.close()
