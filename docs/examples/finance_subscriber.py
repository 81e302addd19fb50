"""A finance system following capledger's events topic: disbursements per project.

This is a self-contained example of a subscriber (kafka-python only; no capledger import):

- it joins a **consumer group**, so it can be restarted (or scaled out) and resumes where
  the group's committed offsets say;
- it reads with ``isolation_level="read_committed"``: it only ever sees events of committed
  relay transactions, never a copy from an attempt that was aborted;
- it **commits offsets by hand**, after the events are applied, and applies them
  idempotently (it remembers each event's CloudEvents ``id``), so a crash between applying and
  committing replays a few events without counting them twice;
- it **filters by type**: the topic carries every recorded event, the ledger's command
  receipts (``vn.capledger.CommandReceipt.Accepted.v1``) included;
- it reads the CloudEvents attributes from the Kafka headers (binary content mode) and the
  event's data from the value (JSON; amounts are integers of VND).

    python docs/examples/finance_subscriber.py --bootstrap 127.0.0.1:9092 \\
        --topic capledger.events --group treasury-hanoi

A real system would keep ``applied`` and the totals in its own database, in one transaction
with the offsets (then even the replay after a crash cannot double count). See docs/kafka.md.
"""

from __future__ import annotations

import argparse
import json
import signal
from collections import defaultdict
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

from kafka import KafkaConsumer, TopicPartition
from kafka.structs import OffsetAndMetadata

#: The event types this finance system acts on (name + version: a new version of an event
#: is a new contract, to be adopted deliberately).
PAYMENT = "vn.capledger.Project.CompletedWorkPaid.v1"
ADVANCE = "vn.capledger.Project.AdvancePaid.v1"
REVERSAL = "vn.capledger.Project.EntryReversed.v1"
WANTED = {PAYMENT, ADVANCE, REVERSAL}


@dataclass
class Treasury:
    """What this finance system keeps: cash paid out per project, and what it has applied."""

    paid: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    entries: dict[tuple[str, int], int] = field(default_factory=dict)  # (subject, version)
    applied: set[str] = field(default_factory=set)  # CloudEvents ids already applied

    def apply(self, headers: dict[str, bytes], data: dict[str, Any]) -> None:
        event_id = headers["ce_id"].decode()
        if event_id in self.applied:  # a redelivery after a crash: already counted
            return
        subject = headers["ce_subject"].decode()  # "project:HP-001"
        # The extension attribute (wire version 2); the plain header on older messages.
        version = int(headers.get("ce_streamversion") or headers["capledger_stream_version"])
        kind = headers["ce_type"].decode()
        if kind in (PAYMENT, ADVANCE):
            net = data["amount"] - data.get("advance_recovered", 0)
            self.paid[subject] += net
            self.entries[(subject, version)] = net
        elif kind == REVERSAL:  # points at the stream version of the entry it corrects
            self.paid[subject] -= self.entries.pop((subject, data["entry_version"]), 0)
        self.applied.add(event_id)


def follow(bootstrap: str, topic: str, group: str) -> Treasury:
    treasury = Treasury()
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        isolation_level="read_committed",  # never see an aborted attempt of the relay
        enable_auto_commit=False,  # commit only what has been applied
        auto_offset_reset="earliest",  # a new group starts at the first event ever recorded
    )
    running = True

    def stop(_signum: int, _frame: FrameType | None) -> None:
        nonlocal running
        running = False

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        while running:
            batches = consumer.poll(timeout_ms=1000)
            commits: dict[TopicPartition, OffsetAndMetadata] = {}
            for partition, records in batches.items():
                for record in records:  # in order within a partition: one project's history
                    headers = dict(record.headers or [])
                    if headers.get("ce_type", b"").decode() in WANTED:
                        treasury.apply(headers, json.loads(record.value))
                    commits[partition] = OffsetAndMetadata(record.offset + 1, "", -1)
            if commits:
                consumer.commit(commits)  # after applying: at least once, applied once
                for subject, amount in sorted(treasury.paid.items()):
                    print(f"{subject:<30} {amount:>22,} VND")
    finally:
        consumer.close(autocommit=False)
    return treasury


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument("--topic", default="capledger.events")
    parser.add_argument("--group", default="treasury-example")
    args = parser.parse_args()
    follow(args.bootstrap, args.topic, args.group)


if __name__ == "__main__":
    main()
