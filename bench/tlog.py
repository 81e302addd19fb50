"""Verifiable-log benchmark: the sequencer's rate and an inclusion proof's latency at N leaves.

    python bench/tlog.py [--quick] [--events N]

In one run, in a temporary directory, on a SQLite store:

(a) imports N events (default 1,000,000; ``--quick``: 100,000) sealed in their hash chains
    over 1,000 streams, as ``capledger import`` writes them. Not timed;
(b) ``raw_eps``: the floor beneath the sequencer: every event read in pages of the same size
    (``read_rows``) and hashed once with SHA-256, nothing stored;
(c) ``sequence_eps``: a ``Sequencer`` appending the whole log to an empty tree: the same
    reading, each entry built from the stored chain hash, its leaf and the nodes it completes
    hashed, the page's tiles, runs and head stored, a transaction per page;
(d) ``proof_ms``: the latency of an inclusion proof (``inclusion_proof``: one read of the few
    tiles holding its nodes, the nodes computed from them, then the folds) of a random leaf in
    the tree of N leaves, over ``--proofs`` leaves; with a consistency proof's and a leaf's
    lookup by position (``leaf_index_of``: its run) beside it;
(e) ``checkpoint_us``: signing a checkpoint of the tree (C2SP note, Ed25519) and opening it;
(f) ``command_overhead``: what a sequencer running beside the command path costs the commands:
    a year of movements (``capledger.demo.volume``, ``--commands`` events) recorded through the
    Ledger into a fresh SQLite store, alone and with a sequencer process following the log
    (catching up every ``--follow-ms``) on the same store, alternating ``--repeats`` times;
    the medians of the wall time are compared;
(g) ``http_proof_ms``: an inclusion proof's latency over HTTP: ``GET /log/proof/inclusion`` of
    a random leaf in the tree of N leaves (the latest checkpoint's), from the API served by
    uvicorn on loopback in this process as ``capledger serve`` configures it, one client in a
    process of its own (as a real client is: one in this process would take the server's
    interpreter lock between its requests) on one kept-alive connection, ``--http-proofs``
    requests: the standard library's ``http.client``, which does little but the exchange, then
    (``http_proof_httpx_ms``) httpx, whose own work per request is in its figure;
(h) ``checkpoint_issue_ms``: what the log process does per checkpoint at N leaves: the root
    read from the stored tree, the note signed, the checkpoint stored;
(i) ``cpu_us_per_event_*``: CPU time (this process's, ``time.process_time``) per event of the
    command path (recording through the Ledger, as in (f) alone) and of the sequencer
    (appending to the tree, as in (c)); their ratio is the CPU the tree adds to each recorded
    event, wherever the sequencer runs.

The last line of output is one JSON object.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import logging
import multiprocessing
import os
import random
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from uuid import uuid4

import structlog

from capledger.api.server import uvicorn_config
from capledger.api.settings import ApiSettings
from capledger.application.chain import GENESIS, seal
from capledger.application.storage import (
    EventLog,
    ImportRow,
    checkpoint_store,
    event_log,
    log_tree,
)
from capledger.application.tlog.checkpoint import Checkpoint, open_checkpoint
from capledger.application.tlog.merkle import consistency_proof, inclusion_proof, root
from capledger.application.tlog.note import NoteSigner
from capledger.application.tlog.sequencer import BATCH, Sequencer
from capledger.bootstrap import build_app, build_ledger
from capledger.demo.volume import record_year
from capledger.settings import Persistence, Settings, StoreSettings

TOPIC = "capledger.domain.project:Project.CompletedWorkPaid"
STREAMS = 1_000
IMPORT_BATCH = 50_000


def say(message: str) -> None:
    print(message, flush=True)


def quiet() -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    logging.basicConfig(level=logging.WARNING)


def import_events(log: EventLog, count: int) -> None:
    streams = [uuid4() for _ in range(STREAMS)]
    heads = dict.fromkeys(streams, (0, GENESIS))
    meta = {"command": "PayCompletedWork", "command_id": "bench", "principal": "bench"}
    with log.bulk_import() as target:
        rows: list[ImportRow] = []
        for n in range(count):
            stream = streams[n % STREAMS]
            version, prev = heads[stream]
            data = {"amount": 1_000_000 + n, "contract_no": "HD-01/2025", "note": "thanh toán"}
            state, digest = seal(
                stream=str(stream), version=version + 1, topic=TOPIC, data=data, meta=meta,
                prev=prev,
            )  # fmt: skip
            rows.append((stream.hex, version + 1, TOPIC, state))
            heads[stream] = (version + 1, digest)
            if len(rows) == IMPORT_BATCH:
                target.insert(rows)
                rows = []
        target.insert(rows)


def raw_hash_all(log: EventLog) -> tuple[int, float]:
    started = time.perf_counter()
    after, count = 0, 0
    while rows := log.read_rows(after, BATCH):
        for row in rows:
            hashlib.sha256(row.state).digest()
        count += len(rows)
        after = rows[-1].id
    return count, time.perf_counter() - started


def follow(directory: str, stop: Any, interval: float) -> None:
    """A sequencer process following the store's log until ``stop`` is set."""
    quiet()
    store = StoreSettings(persistence=Persistence.SQLITE, data_dir=Path(directory))
    ledger = build_ledger(Settings(store=store))
    try:
        sequencer = Sequencer(event_log(ledger.recorder), log_tree(ledger.recorder))
        while not stop.is_set():
            sequencer.catch_up()
            stop.wait(interval)
        sequencer.catch_up()
    finally:
        ledger.close()


def record_commands(events: int, interval: float | None) -> tuple[float, float]:
    """Seconds (wall, and this process's CPU) to record ``events`` through the Ledger, with a
    following sequencer or not."""
    with tempfile.TemporaryDirectory(prefix="capledger-bench-tlog-cmd-") as directory:
        store = StoreSettings(persistence=Persistence.SQLITE, data_dir=Path(directory))
        ledger = build_ledger(Settings(store=store))
        stop = multiprocessing.Event()
        follower = None
        if interval is not None:
            follower = multiprocessing.Process(target=follow, args=(directory, stop, interval))
            follower.start()
        try:
            started, cpu = time.perf_counter(), time.process_time()
            record_year(ledger, events)
            return time.perf_counter() - started, time.process_time() - cpu
        finally:
            stop.set()
            if follower is not None:
                follower.join()
            ledger.close()


def request_proofs(port: int, size: int, count: int, client: str, results: Any) -> None:
    """The client of (g), in a process of its own as a real client is: milliseconds of each
    ``GET /log/proof/inclusion`` of a random leaf over one kept-alive connection, sent back on
    ``results``. ``client``: ``"http.client"`` (the standard library's, which does little
    beside the exchange) or ``"httpx"`` (whose own work per request is part of its figure)."""
    pick, latencies = random.Random(13), []
    if client == "httpx":
        import httpx

        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as session:
            for _ in range(count):
                index = pick.randrange(size)
                started = time.perf_counter()
                answer = session.get("/log/proof/inclusion", params={"index": index})
                body = answer.content
                latencies.append((time.perf_counter() - started) * 1000)
                assert answer.status_code == 200 and json.loads(body)["tree_size"] == size
    else:
        connection = http.client.HTTPConnection("127.0.0.1", port)
        try:
            for _ in range(count):
                index = pick.randrange(size)
                started = time.perf_counter()
                connection.request("GET", f"/log/proof/inclusion?index={index}")
                response = connection.getresponse()
                body = response.read()
                latencies.append((time.perf_counter() - started) * 1000)
                assert response.status == 200 and json.loads(body)["tree_size"] == size
        finally:
            connection.close()
    results.send(latencies)


def http_proofs(settings: Settings, ledger: Any, size: int, count: int) -> dict[str, list[float]]:
    """Milliseconds of each ``GET /log/proof/inclusion`` from the API on loopback, served as
    ``capledger serve`` serves it, by each client in turn."""
    import uvicorn

    app = build_app(settings, ledger=ledger)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    server = uvicorn.Server(uvicorn_config(app, settings.api, host="127.0.0.1", port=port))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    latencies: dict[str, list[float]] = {}
    try:
        for client in ("http.client", "httpx"):
            receive, send = multiprocessing.Pipe(duplex=False)
            process = multiprocessing.Process(
                target=request_proofs, args=(port, size, count, client, send)
            )
            process.start()
            try:
                latencies[client] = receive.recv()
            finally:
                process.join()
    finally:
        server.should_exit = True
        thread.join()
    return latencies


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="100,000 events, 1,000 proofs")
    parser.add_argument("--events", type=int, help="events in the log (default 1,000,000)")
    parser.add_argument("--proofs", type=int, help="proofs timed (default 10,000)")
    parser.add_argument("--commands", type=int, help="events recorded in (f) (default 50,000)")
    parser.add_argument("--repeats", type=int, help="alternating rounds of (f) (default 3)")
    parser.add_argument("--follow-ms", type=float, default=100.0, help="sequencer's pause")
    parser.add_argument("--http-proofs", type=int, help="proofs over HTTP in (g) (default 2,000)")
    args = parser.parse_args(argv)
    events = args.events or (100_000 if args.quick else 1_000_000)
    proofs = args.proofs or (1_000 if args.quick else 10_000)
    commands = args.commands or (10_000 if args.quick else 50_000)
    repeats = args.repeats or (2 if args.quick else 3)
    over_http = args.http_proofs or (500 if args.quick else 2_000)
    quiet()
    with tempfile.TemporaryDirectory(prefix="capledger-bench-tlog-") as directory:
        store = StoreSettings(persistence=Persistence.SQLITE, data_dir=Path(directory))
        settings = Settings(store=store, api=ApiSettings(embedded_runner=False))
        ledger = build_ledger(settings)
        try:
            log, tree = event_log(ledger.recorder), log_tree(ledger.recorder)
            started = time.perf_counter()
            import_events(log, events)
            say(f"(a) imported {events:,} events in {time.perf_counter() - started:.1f} s")

            count, raw_seconds = raw_hash_all(log)
            say(f"(b) read and hashed {count:,} events: {count / raw_seconds:,.0f}/s")

            sequencer = Sequencer(log, tree)
            started, cpu = time.perf_counter(), time.process_time()
            sequenced = sequencer.catch_up()
            sequence_seconds = time.perf_counter() - started
            sequence_cpu = time.process_time() - cpu
            say(f"(c) sequenced {sequenced:,} events: {sequenced / sequence_seconds:,.0f}/s")

            size, pick = sequencer.size, random.Random(12)
            inclusion, consistency, lookup = [], [], []
            for _ in range(proofs):
                index = pick.randrange(size)
                started = time.perf_counter()
                inclusion_proof(tree, index, size)
                inclusion.append((time.perf_counter() - started) * 1000)
                started = time.perf_counter()
                consistency_proof(tree, index + 1, size)
                consistency.append((time.perf_counter() - started) * 1000)
                started = time.perf_counter()
                tree.leaf_index_of(index + 1)
                lookup.append((time.perf_counter() - started) * 1000)
            p50, p99 = statistics.median(inclusion), percentile(inclusion, 0.99)
            say(f"(d) inclusion proof at {size:,} leaves: p50 {p50:.3f} ms, p99 {p99:.3f} ms")

            signer = NoteSigner.generate("bench.example/capledger")
            signing, opening = [], []
            for _ in range(200):
                started = time.perf_counter()
                note = Checkpoint(signer.name, size, sequencer.root()).sign(signer)
                signing.append((time.perf_counter() - started) * 1e6)
                started = time.perf_counter()
                open_checkpoint(note, signer.verifier)
                opening.append((time.perf_counter() - started) * 1e6)

            checkpoints, issuing = checkpoint_store(ledger.recorder), []
            checkpoints.create_checkpoint_tables()
            for past in range(size - 50, size + 1):  # the latest last: (g) proves in it
                started = time.perf_counter()
                digest = root(tree, past)
                note = Checkpoint(signer.name, past, digest).sign(signer)
                checkpoints.store_checkpoint(past, digest, note)
                issuing.append((time.perf_counter() - started) * 1000)
            say(f"(h) a checkpoint issued at {size:,} leaves: {statistics.median(issuing):.2f} ms")

            by_client = http_proofs(settings, ledger, size, over_http)
            http, httpx_client = by_client["http.client"], by_client["httpx"]
            for client, times in by_client.items():
                mid, tail = statistics.median(times), percentile(times, 0.99)
                say(f"(g) proof over HTTP at {size:,} ({client}): p50 {mid:.2f}, p99 {tail:.2f} ms")
        finally:
            ledger.close()
    alone: list[float] = []
    beside: list[float] = []
    command_cpu: list[float] = []
    for round_ in range(1, repeats + 1):
        wall, cpu_seconds = record_commands(commands, None)
        alone.append(wall)
        command_cpu.append(cpu_seconds)
        beside.append(record_commands(commands, args.follow_ms / 1000)[0])
        say(f"(f) round {round_}: {commands:,} events recorded in {alone[-1]:.1f} s alone, "
            f"{beside[-1]:.1f} s with a sequencer following")  # fmt: skip
    result: dict[str, Any] = {
        "events": events,
        "sequence_eps": round(sequenced / sequence_seconds, 1),
        "raw_eps": round(count / raw_seconds, 1),
        "ratio": round(raw_seconds / sequence_seconds, 3),
        "proof_ms_p50": round(statistics.median(inclusion), 4),
        "proof_ms_p99": round(percentile(inclusion, 0.99), 4),
        "consistency_ms_p99": round(percentile(consistency, 0.99), 4),
        "row_read_ms_p99": round(percentile(lookup, 0.99), 4),
        "checkpoint_sign_us": round(statistics.median(signing), 1),
        "checkpoint_open_us": round(statistics.median(opening), 1),
        "proofs": proofs,
        "command_seconds_alone": round(statistics.median(alone), 2),
        "command_seconds_with_sequencer": round(statistics.median(beside), 2),
        "command_overhead": round(statistics.median(beside) / statistics.median(alone) - 1, 3),
        "commands_events": commands,
        "http_proof_ms_p50": round(statistics.median(http), 3),
        "http_proof_ms_p99": round(percentile(http, 0.99), 3),
        "http_proof_httpx_ms_p50": round(statistics.median(httpx_client), 3),
        "http_proof_httpx_ms_p99": round(percentile(httpx_client, 0.99), 3),
        "http_proofs": over_http,
        "checkpoint_issue_ms": round(statistics.median(issuing), 3),
        "cpu_us_per_event_command_path": round(statistics.median(command_cpu) / commands * 1e6, 1),
        "cpu_us_per_event_sequencer": round(sequence_cpu / sequenced * 1e6, 2),
        "sequencer_cpu_ratio": round(
            (sequence_cpu / sequenced) / (statistics.median(command_cpu) / commands), 4
        ),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
