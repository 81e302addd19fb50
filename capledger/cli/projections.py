"""``capledger projections rebuild|status``: the read models beside the ledger.

The read models are derived from the ledger's notification log and can be rebuilt from it at
any time: a rebuild replays every notification from the first into a fresh namespace while the
live one keeps answering, then switches to it in one transaction.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from capledger.progress import ProgressReporter
from capledger.projections import rebuild

from .context import CliContext, read_model_location
from .errors import EXIT_OK, EXIT_USAGE, CliError
from .subcommands import Subcommands

#: Positions per transaction of a rebuild (each changed row is written once per batch).
REBUILD_BATCH = 20_000


def register(subparsers: Subcommands) -> None:
    parser = subparsers.add_parser(
        "projections",
        help="rebuild the read models, or show how far they have followed the ledger",
        description=(
            "The read models (balances, rates, watch lists) are projections of the ledger's "
            "notification log, kept beside the store. `rebuild` replays the whole log into a "
            "fresh copy and switches to it atomically when it has caught up; `status` shows the "
            "live copy's position and how far it lags behind the ledger."
        ),
    )
    parser.set_defaults(handler=_usage(parser))
    actions = parser.add_subparsers(dest="action", metavar="ACTION", title="actions")
    rebuild_parser = actions.add_parser(
        "rebuild",
        help="replay the log from notification 1 into a fresh read model, then switch to it",
        description=(
            "Replay the ledger's notification log from the first notification into a fresh "
            "namespace of the read model, with progress on stderr, while the live one keeps "
            "answering; once caught up, switch to the new one in one transaction and drop the "
            "old one. Prints the notifications applied and the rate."
        ),
    )
    rebuild_parser.add_argument(
        "--from",
        dest="source",
        choices=("log", "kafka"),
        help=(
            "replay the store's notification log from notification 1 (the embedded runner), or "
            "the Kafka events topic from offset 0 (the Kafka projector); default: whichever "
            "CAPLEDGER_PROJECTIONS_RUNNER names"
        ),
    )
    rebuild_parser.add_argument(
        "--keep-previous",
        action="store_true",
        help="keep the previous namespace instead of dropping it after the switch",
    )
    rebuild_parser.set_defaults(handler=run_rebuild)
    status_parser = actions.add_parser(
        "status",
        help="the live read model, its position and its lag behind the ledger",
        description=(
            "Print where the read model is, its live namespace, the last notification it "
            "applied, the ledger's last notification and the lag between them. Nothing is "
            "applied: a command that reads the read model catches it up first."
        ),
    )
    status_parser.set_defaults(handler=run_status)


def _usage(parser: argparse.ArgumentParser) -> Callable[[argparse.Namespace, CliContext], int]:
    def handler(args: argparse.Namespace, context: CliContext) -> int:
        parser.print_usage(context.stderr)
        raise CliError("usage", "an action is required: rebuild or status", EXIT_USAGE)

    return handler


def run_rebuild(args: argparse.Namespace, context: CliContext) -> int:
    from_kafka = context.settings.read_model.projected_from_kafka
    if args.source is not None and (args.source == "kafka") != from_kafka:
        runner = context.settings.read_model.runner.value
        raise CliError(
            "projector-owns-read-model",
            f"--from {args.source}: this read model is written by the {runner} runner "
            "(CAPLEDGER_PROJECTIONS_RUNNER); a read model has one writer kind",
            EXIT_USAGE,
        )
    if from_kafka:
        return _rebuild_from_kafka(args, context)
    ledger = context.ledger(must_exist=True)
    store = context.read_model()
    with ProgressReporter("rebuild") as progress:
        report = rebuild(store, ledger.recorder, batch_size=REBUILD_BATCH, progress=progress,
                         drop_previous=not args.keep_previous)  # fmt: skip
    rate = f"{round(report.notifications_per_second):,}"
    print(
        f"rebuilt the read model {report.namespace} from {report.notifications:,} "
        f"notifications (to position {report.position:,}) in {report.seconds:.1f} s: "
        f"{rate} events/s",
        file=context.stdout,
    )
    _print_switch(report.previous, report.namespace, args, context)
    return EXIT_OK


def _rebuild_from_kafka(args: argparse.Namespace, context: CliContext) -> int:
    from capledger.streams.projector_rebuild import rebuild_from_kafka
    from capledger.streams.relay import quiet_kafka_client_logs

    quiet_kafka_client_logs()
    store = context.read_model()
    with ProgressReporter("rebuild from kafka") as progress:
        report = rebuild_from_kafka(
            context.settings.kafka,
            store,
            context.settings.projector,
            progress=progress,
            drop_previous=not args.keep_previous,
        )
    offsets = ", ".join(f"{p}:{o:,}" for p, o in sorted(report.offsets.items()))
    print(
        f"rebuilt the read model {report.namespace} from {report.records:,} Kafka records "
        f"({report.events:,} events; offsets {offsets}) in {report.seconds:.1f} s: "
        f"{round(report.records_per_second):,} records/s",
        file=context.stdout,
    )
    _print_switch(report.previous, report.namespace, args, context)
    return EXIT_OK


def _print_switch(
    previous: str | None, namespace: str, args: argparse.Namespace, context: CliContext
) -> None:
    """What a rebuild did with the read model it replaced, and where the new one is."""
    if previous is not None and previous != namespace:
        verb = "kept" if args.keep_previous else "dropped"
        print(f"{verb} the previous read model {previous}", file=context.stdout)
    print(f"read model: {read_model_location(context.settings)}", file=context.stdout)


def run_status(args: argparse.Namespace, context: CliContext) -> int:
    if context.settings.read_model.projected_from_kafka:
        return _kafka_status(context)
    ledger = context.ledger(must_exist=True)
    store = context.read_model()
    namespace = store.current_namespace()
    position = store.position()
    head = ledger.recorder.max_notification_id() or 0
    lag = head - position
    print(f"read model: {read_model_location(context.settings)}", file=context.stdout)
    print(f"live namespace: {namespace}", file=context.stdout)
    print(f"position: {position:,}", file=context.stdout)
    print(f"ledger head: {head:,} ({context.location})", file=context.stdout)
    if lag >= 0:
        print(f"lag: {lag:,} notifications", file=context.stdout)
    else:
        print(
            f"lag: {lag:,} notifications: ahead of the ledger, made from another store; "
            "run `capledger projections rebuild`",
            file=context.stdout,
        )
    return EXIT_OK


def _kafka_status(context: CliContext) -> int:
    from capledger.streams.health import relay_lag
    from capledger.streams.lag import projector_lag
    from capledger.streams.projector import quiet_libraries

    quiet_libraries()
    kafka = context.settings.kafka
    store = context.read_model()
    ledger = context.ledger(must_exist=True)
    lags = projector_lag(kafka, store)
    print(f"read model: {read_model_location(context.settings)} (Kafka projector)",
          file=context.stdout)  # fmt: skip
    print(f"live namespace: {store.current_namespace()}", file=context.stdout)
    for item in lags.values():
        print(
            f"partition {item.partition}: applied to offset {item.stored:,} of {item.end:,}, "
            f"lag {item.lag:,}",
            file=context.stdout,
        )
    print(f"projector lag: {sum(i.lag for i in lags.values()):,} records", file=context.stdout)
    head = int(ledger.recorder.max_notification_id() or 0)
    relay = relay_lag(kafka, lambda: head)
    print(f"relay lag: {relay:,} events ({context.location})", file=context.stdout)
    return EXIT_OK
