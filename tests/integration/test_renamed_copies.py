"""Renamed copies of a log (``capledger.demo.copies``), as the benchmarks grow their stores:
each copy is a history the ledger could have recorded, so import takes it whole."""

from __future__ import annotations

from pathlib import Path

import pytest

from capledger.application.ledger import Ledger
from capledger.application.rules_audit import audit_rules
from capledger.application.verify import notification_pages, verify_store
from capledger.demo.copies import renamed_copy
from capledger.demo.volume import record_year
from capledger.exchange import ImportRefused, export_events, import_events

pytestmark = pytest.mark.integration


def test_a_renamed_copy_imports_beside_its_seed_and_passes_every_check(
    ledger: Ledger, tmp_path: Path
) -> None:
    record_year(ledger, 600, tag="T0")
    seed, copy = tmp_path / "seed.jsonl", tmp_path / "copy.jsonl"
    with seed.open("w", encoding="utf-8") as out:
        seeded = export_events(ledger, out)

    written = renamed_copy(seed, copy, tag="T0", renamed="T1")
    with copy.open(encoding="utf-8") as lines:
        imported = import_events(ledger, lines)

    assert written == imported == seeded
    assert verify_store(ledger.recorder).ok
    report = audit_rules(notification_pages(ledger.recorder), ledger.mapper, ledger.rules)
    assert report.ok, report.breach


def test_a_copy_whose_tag_is_not_renamed_lands_in_existing_streams_and_is_refused(
    ledger: Ledger, tmp_path: Path
) -> None:
    record_year(ledger, 200, tag="T0")
    seed, copy = tmp_path / "seed.jsonl", tmp_path / "copy.jsonl"
    with seed.open("w", encoding="utf-8") as out:
        export_events(ledger, out)
    stored = ledger.recorder.max_notification_id()

    renamed_copy(seed, copy, tag="T0", renamed="T0", limit=50)

    with copy.open(encoding="utf-8") as lines, pytest.raises(ImportRefused, match="stream"):
        import_events(ledger, lines)
    assert ledger.recorder.max_notification_id() == stored
