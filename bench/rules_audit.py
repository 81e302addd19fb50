"""Rules-audit benchmark: ``capledger verify --rules`` against the library's own decoding.

    python bench/rules_audit.py [--quick] [--events N]

In one run, in a temporary directory:

(a) records about N events (default 1,000,000; ``--quick``: 100,000) through the Ledger's own
    commands (``capledger.demo.volume``: a plan, projects, allocations, contracts, payments,
    reversals, transfers, extensions), on a SQLite store: one year's history, judged as one.
    Not timed;
(b) ``raw_eps``: the library beneath, alone: every notification read in pages and decoded into
    its domain event by the ledger's mapper (``Mapper.to_domain_event``), nothing judged;
(c) ``audit_eps``: ``audit_rules`` over the same log: the same reading and decoding, then every
    project and plan event replayed through the domain's commands with the rules in force at
    its effective date and compared field by field with the record.

(b) and (c) alternate ``--repeats`` times; the medians are reported. The last line of output is
one JSON object.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import structlog

from capledger.application.ledger import Ledger
from capledger.application.rules_audit import audit_rules
from capledger.application.verify import notification_pages
from capledger.bootstrap import build_ledger
from capledger.demo.volume import record_year
from capledger.settings import Persistence, Settings, StoreSettings


def say(message: str) -> None:
    print(message, flush=True)


def quiet() -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    logging.basicConfig(level=logging.WARNING)


def decode_all(ledger: Ledger) -> tuple[int, float]:
    started = time.perf_counter()
    count = 0
    for page in notification_pages(ledger.recorder):
        for notification in page:
            ledger.mapper.to_domain_event(notification)
            count += 1
    return count, time.perf_counter() - started


def audit_all(ledger: Ledger) -> tuple[int, int, float]:
    started = time.perf_counter()
    report = audit_rules(notification_pages(ledger.recorder), ledger.mapper, ledger.rules)
    elapsed = time.perf_counter() - started
    if report.breach is not None:
        raise SystemExit(f"the audit found a breach in a ledger-recorded history: {report.breach}")
    return report.events, report.judged, elapsed


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="100,000 events, 2 repeats")
    parser.add_argument("--events", type=int, help="events to record (default 1,000,000)")
    parser.add_argument("--repeats", type=int, help="alternating rounds (default 3)")
    args = parser.parse_args(argv)
    events = args.events or (100_000 if args.quick else 1_000_000)
    repeats = args.repeats or (2 if args.quick else 3)
    quiet()
    with tempfile.TemporaryDirectory(prefix="capledger-bench-audit-") as directory:
        store = StoreSettings(persistence=Persistence.SQLITE, data_dir=Path(directory))
        ledger = build_ledger(Settings(store=store))
        try:
            started = time.perf_counter()
            record_year(ledger, events)
            recorded = ledger.recorder.max_notification_id() or 0
            say(f"(a) recorded {recorded:,} events through the Ledger in "
                f"{time.perf_counter() - started:.1f} s")  # fmt: skip
            raw: list[float] = []
            audited: list[float] = []
            judged = 0
            for round_ in range(1, repeats + 1):
                count, seconds = decode_all(ledger)
                raw.append(count / seconds)
                count, judged, seconds = audit_all(ledger)
                audited.append(count / seconds)
                say(f"round {round_}: raw decode {raw[-1]:,.0f}/s, audit {audited[-1]:,.0f}/s")
        finally:
            ledger.close()
    result: dict[str, Any] = {
        "events": recorded,
        "judged": judged,
        "audit_eps": round(statistics.median(audited), 1),
        "raw_eps": round(statistics.median(raw), 1),
        "ratio": round(statistics.median(audited) / statistics.median(raw), 3),
        "audit_seconds_per_million": round(1_000_000 / statistics.median(audited), 1),
        "repeats": repeats,
        "load_average_1m": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
