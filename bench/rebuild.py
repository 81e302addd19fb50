"""Rebuild benchmark: the Kafka rebuild and the embedded runner against their raw read rates.

    python bench/rebuild.py [--quick] [--events N] [--read-model auto|postgres|sqlite]

Needs the Kafka broker (``bash deploy/kafka/kafka.sh start``; ``CAPLEDGER_KAFKA_BOOTSTRAP``)
and, for a PostgreSQL read model, the server (``eval "$(bash deploy/postgres/pg.sh env)"``).
In one run, in a temporary directory and on fresh topics:

(a) fills a SQLite ledger store with N events (default 1,000,000; ``--quick``: 100,000). A seed
    of about ``--seed-events`` events is recorded through the Ledger's own commands (plans,
    projects, allocations, contracts, payments, reversals, transfers, extensions: every
    command checked by the domain, every event hash-chained). The seed is then multiplied with
    ``capledger.demo.copies``: each copy is the seed's export with every code renamed (project,
    plan, investor, command ids carry a ``BX<k>`` tag), its streams those of the renamed codes,
    every hash chain re-sealed, imported with ``import_events`` (which checks every chain, and
    the rules on every event). The last copy
    is cut to reach N exactly (a prefix of a log is a valid history). Not timed;
(b) relays the N events with the real outbox ``Relay`` to a fresh events topic (P partitions,
    default 6) — timed as ``relay_eps``, for information;
(c) ``raw_eps``: a raw kafka-python consumer (``read_committed``, no group, no processing)
    reads the whole topic, in a subprocess;
(d) ``kafka_eps``: ``rebuild_from_kafka`` — its replay workers reading the topic from offset 0
    into a fresh namespace of a fresh read model (PostgreSQL if reachable, else SQLite: see
    ``read_model`` in the result), then the switch — in a subprocess. Rate = records / seconds
    from the first batch to the switch (``kafka_wall_eps`` includes the workers' start-up;
    ``kafka_workers`` says how many there were);
(e) ``embedded_eps``: the embedded runner's ``rebuild`` over the same N on the SQLite
    notification log, into a fresh SQLite read model, in a subprocess, once the load average
    shows an idle core again (by default the rebuild then folds in worker processes, one per
    CPU: ``projections/shards.py``; ``embedded_shards`` says how many);
(f) ``embedded_raw_eps``: raw ``select_notifications`` pages of 1,000 over the same log, no
    processing, in a subprocess.

Both runners handle every record (command receipts included: half the log). Memory of a phase
is the larger of its process's peak RSS (``ru_maxrss``) and the peak, sampled every 0.1 s, of
the summed PSS of its processes (itself and its children: a rebuild's workers share forked
pages, which PSS divides among them rather than counting in each); ``peak_rss_mb`` is the
larger of the two runners' (``kafka_rss_mb``, ``embedded_rss_mb``). ``kafka_ratio`` and
``embedded_ratio`` are each runner's rate over its raw read rate. The last line of output is one
JSON object.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import structlog
from kafka import KafkaConsumer, TopicPartition

from capledger.application.ledger import Ledger
from capledger.bootstrap import build_ledger, build_relay
from capledger.demo.copies import renamed_copy
from capledger.demo.volume import record_year
from capledger.exchange import export_events, import_events
from capledger.projections import ReadModelStore, rebuild
from capledger.settings import Persistence, Settings, StoreSettings
from capledger.streams.projector_rebuild import rebuild_from_kafka
from capledger.streams.relay import quiet_kafka_client_logs
from capledger.streams.settings import KafkaSettings, ProjectorSettings
from capledger.streams.topics import admin_client, ensure_topics

FULL_EVENTS = 1_000_000
QUICK_EVENTS = 100_000
SEED_EVENTS = 20_000
PARTITIONS = 6
#: Notifications per ``select_notifications`` call of the raw reference.
PAGE = 1_000
TAG = "BX0"  # in every code of the seed; copy k renames it BX<k>


def say(message: str) -> None:
    print(message, flush=True)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (Linux ``/proc``; threads' children included)."""
    found, index = [pid], 0
    while index < len(found):
        for task in Path(f"/proc/{found[index]}/task").glob("*/children"):
            try:
                found.extend(int(child) for child in task.read_text().split())
            except OSError:
                continue
        index += 1
    return found


def pss_kib(pid: int) -> int:
    """Proportional set size: shared pages (a forked worker's) divided among their sharers,
    so the sum over processes is the memory they take together."""
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:  # gone, or not Linux
        return 0
    match = re.search(r"^Pss:\s+(\d+) kB", text, re.MULTILINE)
    return int(match.group(1)) if match else 0


def quiet() -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    logging.basicConfig(level=logging.WARNING)
    quiet_kafka_client_logs()
    # kafka-python's selector warns whenever its pure-Python CRC work holds its I/O loop.
    logging.getLogger("kafka.net.selector").setLevel(logging.ERROR)


# -- (a) the ledger store -------------------------------------------------------------------


def record_seed(ledger: Ledger, target: int, seed: int = 7) -> None:
    """A year of a province through the Ledger: about ``target`` events, every code tagged."""
    record_year(ledger, target, seed=seed, tag=TAG)


def ledger_settings(directory: Path) -> Settings:
    """Always a SQLite file of this run (whatever ``CAPLEDGER_PERSISTENCE`` says)."""
    return Settings(store=StoreSettings(persistence=Persistence.SQLITE, data_dir=directory))


def fill(ledger: Ledger, directory: Path, events: int, seed_events: int) -> int:
    if ledger.recorder.max_notification_id():
        raise SystemExit("the benchmark's ledger store is not empty")
    started = time.perf_counter()
    record_seed(ledger, min(events, seed_events))
    seeded = ledger.recorder.max_notification_id() or 0
    say(f"(a) recorded {seeded:,} events through the Ledger in "
        f"{time.perf_counter() - started:.1f} s")  # fmt: skip
    seed = directory / "seed.jsonl"
    with seed.open("w", encoding="utf-8") as out:
        export_events(ledger, out)
    copies = 0
    while (have := ledger.recorder.max_notification_id() or 0) < events:
        copies += 1
        renamed = directory / "copy.jsonl"
        renamed_copy(seed, renamed, tag=TAG, renamed=f"BX{copies}", limit=events - have)
        with renamed.open(encoding="utf-8") as lines:
            import_events(ledger, lines)
        renamed.unlink()
        say(f"    copy {copies}: {ledger.recorder.max_notification_id():,} events")
    seed.unlink()
    total = ledger.recorder.max_notification_id() or 0
    say(f"(a) {total:,} events ({copies} renamed copies imported) in "
        f"{time.perf_counter() - started:.1f} s")  # fmt: skip
    return total


# -- (b) the relay --------------------------------------------------------------------------


def relay(ledger: Ledger, kafka: KafkaSettings) -> float:
    ensure_topics(kafka)
    stats = build_relay(Settings(kafka=kafka), ledger).run(until_caught_up=True)
    say(f"(b) relayed {stats.events:,} events: {stats.events_per_s:,.0f}/s")
    return stats.events_per_s


# -- the measured phases, each in its own process ---------------------------------------------


def phase_raw_kafka(config: dict[str, Any]) -> dict[str, Any]:
    topic = config["topic"]
    consumer = KafkaConsumer(
        bootstrap_servers=config["bootstrap"],
        group_id=None,
        enable_auto_commit=False,
        isolation_level="read_committed",
        client_id="capledger-bench-raw",
        max_poll_records=config["batch_size"],
        fetch_max_bytes=50 * 1024 * 1024,
        max_partition_fetch_bytes=4 * 1024 * 1024,
    )
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        ends = consumer.end_offsets(tps)
        count, first = 0, None
        while any(consumer.position(tp) < ends[tp] for tp in tps):
            batches = consumer.poll(timeout_ms=500)
            if first is None and batches:
                first = time.perf_counter()
            for records in batches.values():
                count += len(records)
        seconds = time.perf_counter() - (first or time.perf_counter())
    finally:
        consumer.close()
    return {"records": count, "seconds": seconds, "rss_mb": peak_rss_mb()}


def phase_kafka(config: dict[str, Any]) -> dict[str, Any]:
    kafka = KafkaSettings(bootstrap=config["bootstrap"], events_topic=config["topic"],
                          client_id="capledger-bench")  # fmt: skip
    store = open_read_model(config)
    try:
        settings = ProjectorSettings(
            group=f"bench-rebuild-{uuid.uuid4().hex[:8]}", batch_size=config["batch_size"],
            max_poll_records=config["batch_size"], lag_log_interval_s=3600,
        )  # fmt: skip
        report = rebuild_from_kafka(kafka, store, settings)
    finally:
        store.close()
    return {
        "records": report.records,
        "events": report.events,
        "seconds": report.processing_seconds,
        "wall_seconds": report.seconds,
        "tail_records": report.tail_records,
        "workers": report.workers,
        "rss_mb": peak_rss_mb(),
    }


def phase_embedded(config: dict[str, Any]) -> dict[str, Any]:
    ledger = build_ledger(ledger_settings(Path(config["ledger_dir"])))
    store = ReadModelStore.sqlite(Path(config["dir"]) / "embedded.sqlite3")
    try:
        report = rebuild(store, ledger.recorder)  # its own batches (see projections/README.md)
    finally:
        store.close()
        ledger.close()
    return {
        "records": report.notifications,
        "seconds": report.seconds,
        "rss_mb": peak_rss_mb(),
        "shards": report.shards,
    }


def phase_embedded_raw(config: dict[str, Any]) -> dict[str, Any]:
    ledger = build_ledger(ledger_settings(Path(config["ledger_dir"])))
    try:
        started, position, count = time.perf_counter(), 0, 0
        while notes := ledger.recorder.select_notifications(position + 1, PAGE):
            count += len(notes)
            position = notes[-1].id
        seconds = time.perf_counter() - started
    finally:
        ledger.close()
    return {"records": count, "seconds": seconds, "rss_mb": peak_rss_mb()}


PHASES: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "raw_kafka": phase_raw_kafka,
    "kafka": phase_kafka,
    "embedded": phase_embedded,
    "embedded_raw": phase_embedded_raw,
}


def settle(limit_s: float = 120.0) -> None:
    """Wait (at most ``limit_s``) for the 1-minute load average to show an idle core again:
    the Kafka phase keeps both cores busy, and the load average lags behind by a minute."""
    cpus = os.cpu_count() or 1
    started = time.monotonic()
    while os.getloadavg()[0] >= cpus - 0.5 and time.monotonic() - started < limit_s:
        time.sleep(2.0)
    say(f"    load average {os.getloadavg()[0]:.2f} after {time.monotonic() - started:.0f} s")


def run_phase(name: str, config: dict[str, Any]) -> dict[str, Any]:
    """Run one measured phase in a fresh Python process; its result."""
    command = [sys.executable, __file__, "--phase", name, "--config", json.dumps(config)]
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen(command, stdout=out, stderr=err, text=True)
        # The phase's processes together (a rebuild's workers too), sampled as they run.
        tree_peak = 0
        while process.poll() is None:
            tree_peak = max(tree_peak, sum(pss_kib(pid) for pid in process_tree(process.pid)))
            time.sleep(0.1)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if process.returncode != 0:
        sys.stderr.write(stdout + stderr)
        raise SystemExit(f"phase {name} failed with status {process.returncode}")
    result: dict[str, Any] = json.loads(stdout.strip().splitlines()[-1])
    rate = result["records"] / result["seconds"] if result["seconds"] > 0 else 0.0
    result["eps"] = rate
    # A process's own peak is exact; the sampled sum covers processes that run side by side.
    result["memory_mb"] = max(result["rss_mb"], tree_peak / 1024)
    say(f"    {name}: {result['records']:,} records in {result['seconds']:.2f} s = "
        f"{rate:,.0f}/s, peak RSS {result['rss_mb']:.0f} MB, "
        f"peak of its processes' PSS {tree_peak / 1024:.0f} MB")  # fmt: skip
    return result


# -- read models ----------------------------------------------------------------------------


def postgres_conninfo() -> dict[str, Any]:
    settings = Settings(store=StoreSettings(persistence=Persistence.POSTGRES))
    return {
        "host": settings.store.postgres.host,
        "port": settings.store.postgres.port,
        "user": settings.store.postgres.user,
        "password": settings.store.postgres.password.get_secret_value(),
        "dbname": settings.store.postgres.dbname,
        "connect_timeout": 5,
    }


def postgres_available() -> bool:
    try:
        with psycopg.connect(**postgres_conninfo()) as connection:
            connection.execute("SELECT 1")
    except psycopg.Error:
        return False
    return True


def open_read_model(config: dict[str, Any]) -> ReadModelStore:
    if config["read_model"] == "postgres":
        return ReadModelStore.postgres(postgres_conninfo(), base_schema=config["schema"])
    return ReadModelStore.sqlite(Path(config["dir"]) / "kafka.sqlite3")


def drop_postgres_schemas(base: str) -> None:
    store = ReadModelStore.postgres(postgres_conninfo(), base_schema=base)
    try:
        store.destroy()
    finally:
        store.close()


def delete_topics(kafka: KafkaSettings) -> None:
    with admin_client(kafka) as admin:
        present = set(admin.list_topics())
        names = [t for t in (kafka.events_topic, kafka.positions_topic) if t in present]
        if names:
            admin.delete_topics(names)


# -- the run --------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_EVENTS:,} events")
    parser.add_argument("--events", type=int, default=None)
    parser.add_argument("--seed-events", type=int, default=SEED_EVENTS)
    parser.add_argument("--partitions", type=int, default=PARTITIONS)
    parser.add_argument("--batch-size", type=int, default=5_000)
    parser.add_argument("--read-model", choices=("auto", "postgres", "sqlite"), default="auto")
    parser.add_argument(
        "--keep",
        type=Path,
        default=None,
        help="work in DIR and keep it; a ledger of exactly N events already there is reused",
    )
    parser.add_argument("--phase", choices=sorted(PHASES), help=argparse.SUPPRESS)
    parser.add_argument("--config", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    quiet()
    if args.phase:
        print(json.dumps(PHASES[args.phase](json.loads(args.config))), flush=True)
        return 0
    events = args.events or (QUICK_EVENTS if args.quick else FULL_EVENTS)
    read_model = args.read_model
    if read_model == "auto":
        read_model = "postgres" if postgres_available() else "sqlite"
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
        return run(args, events, read_model, args.keep)
    with tempfile.TemporaryDirectory(prefix="capledger-bench-rebuild-") as directory:
        return run(args, events, read_model, Path(directory))


def run(args: argparse.Namespace, events: int, read_model: str, directory: Path) -> int:
    started = time.perf_counter()
    suffix = uuid.uuid4().hex[:8]
    kafka = KafkaSettings(
        events_topic=f"bench.rebuild.events.{suffix}",
        positions_topic=f"bench.rebuild.positions.{suffix}",
        relay_name=f"bench-rebuild-{suffix}",
        partitions=args.partitions,
        batch_size=2_000,
    )
    ledger_dir = directory / "ledger"
    schema = f"bench_rebuild_{suffix}"
    say(f"capledger rebuild benchmark: {events:,} events, {args.partitions} partitions, "
        f"Kafka rebuild's read model on {read_model}")  # fmt: skip
    try:
        ledger = build_ledger(ledger_settings(ledger_dir))
        try:
            have = ledger.recorder.max_notification_id() or 0
            if args.keep is not None and have == events:
                say(f"(a) reusing the {have:,} events of {ledger_dir}")
                total = have
            else:
                total = fill(ledger, directory, events, args.seed_events)
            relay_eps = relay(ledger, kafka)
        finally:
            ledger.close()
        config = {
            "bootstrap": kafka.bootstrap,
            "topic": kafka.events_topic,
            "batch_size": args.batch_size,
            "ledger_dir": str(ledger_dir),
            "dir": str(directory),
            "read_model": read_model,
            "schema": schema,
        }
        say("(c)-(f) measured phases, each in its own process")
        raw = run_phase("raw_kafka", config)
        if raw["records"] != total:
            raise SystemExit(f"the topic holds {raw['records']} records, not {total}")
        replay = run_phase("kafka", config)
        settle()  # the embedded rebuild shards only when a core looks idle, as in production
        embedded = run_phase("embedded", config)
        embedded_raw = run_phase("embedded_raw", config)
    finally:
        delete_topics(kafka)
        if read_model == "postgres":
            drop_postgres_schemas(schema)
    kafka_wall_eps = replay["records"] / replay["wall_seconds"]
    result = {
        "events": total,
        "kafka_eps": round(replay["eps"], 1),
        "embedded_eps": round(embedded["eps"], 1),
        "raw_eps": round(raw["eps"], 1),
        "embedded_raw_eps": round(embedded_raw["eps"], 1),
        "kafka_ratio": round(replay["eps"] / raw["eps"], 3),
        "embedded_ratio": round(embedded["eps"] / embedded_raw["eps"], 3),
        "peak_rss_mb": round(max(replay["memory_mb"], embedded["memory_mb"]), 1),
        "kafka_rss_mb": round(replay["memory_mb"], 1),
        "embedded_rss_mb": round(embedded["memory_mb"], 1),
        "embedded_shards": embedded.get("shards", 0),
        "kafka_wall_eps": round(kafka_wall_eps, 1),
        "kafka_tail_records": replay["tail_records"],
        "kafka_workers": replay["workers"],
        "relay_eps": round(relay_eps, 1),
        "read_model": read_model,
        "partitions": args.partitions,
        "seconds": round(time.perf_counter() - started, 1),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
    }
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
