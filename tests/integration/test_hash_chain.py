"""The hash chain over stored events, checked against rows edited in the database itself.

Each stored state is canonical JSON holding the event's data, ``_meta`` and ``_chain``:

    hash = SHA-256(canonical({"data": data, "meta": meta, "prev": prev,
                              "stream": originator_id, "topic": topic, "version": version}))

with ``prev`` the hash of the previous event of the stream (64 zeros for the first). Someone
with write access to the database edits or deletes rows here with the database's own client
(sqlite3, psycopg); ``verify_store`` must name the first event that no longer holds.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from itertools import pairwise
from typing import Any

import pytest
from builders import BILLION, PROJECT, Year, record_year

from capledger.application.chain import seal
from capledger.application.ledger import Ledger
from capledger.application.verify import verify_store
from capledger.domain.ids import project_id

from .conftest import RawRow, RawStore

pytestmark = pytest.mark.integration

GENESIS = "0" * 64


def canonical(value: Any) -> bytes:
    """Canonical JSON as documented: sorted keys, no white space, UTF-8 (not ASCII-escaped)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )


def edited(row: RawRow, change: dict[str, Any]) -> bytes:
    """The row's state with top-level keys changed, written back as canonical JSON."""
    document = json.loads(row.state)
    document.update(change)
    return canonical(document)


@pytest.fixture
def year(ledger: Ledger) -> Year:
    return record_year(ledger)


@pytest.fixture
def payment(year: Year, raw_store: RawStore) -> RawRow:
    """The stored row of DA-001's 100 billion VND payment for completed work."""
    return raw_store.row(project_id(PROJECT), year.payment_version)


def test_the_events_table_edited_here_is_the_one_the_ledger_records_in(
    raw_store: RawStore, year: Year
) -> None:
    assert raw_store.table == year.ledger.recorder.events_table_name  # type: ignore[attr-defined]
    assert [row.position for row in raw_store.rows()] == list(
        range(1, (year.ledger.recorder.max_notification_id() or 0) + 1)
    )


def test_every_stored_event_links_to_the_previous_event_of_its_stream(
    year: Year, raw_store: RawStore
) -> None:
    streams: dict[str, list[RawRow]] = defaultdict(list)
    for row in raw_store.rows():
        streams[str(row.originator_id)].append(row)

    assert len(streams) > 20
    for rows in streams.values():
        assert [row.originator_version for row in rows] == list(range(1, len(rows) + 1))
        links = [json.loads(row.state)["_chain"] for row in rows]
        assert links[0]["prev"] == GENESIS
        for previous, link in pairwise(links):
            assert link["prev"] == previous["hash"]
        assert all(re.fullmatch("[0-9a-f]{64}", link["hash"]) for link in links)


def test_a_hash_recomputed_by_hand_from_the_documented_envelope_equals_the_stored_hash(
    payment: RawRow,
) -> None:
    document = json.loads(payment.state)
    chain = document.pop("_chain")
    meta = document.pop("_meta")
    envelope = {
        "data": document,
        "meta": meta,
        "prev": chain["prev"],
        "stream": str(payment.originator_id),
        "topic": payment.topic,
        "version": payment.originator_version,
    }

    assert hashlib.sha256(canonical(envelope)).hexdigest() == chain["hash"]
    # The stored state itself is canonical JSON, byte for byte.
    assert canonical(json.loads(payment.state)) == payment.state
    assert payment.topic == "capledger.domain.project:Project.CompletedWorkPaid"
    assert document["amount"] == 100 * BILLION
    assert meta["subject"] == f"project:{PROJECT}"


def test_verify_store_passes_a_clean_store_and_digests_every_stream_head(
    year: Year, raw_store: RawStore
) -> None:
    rows = raw_store.rows()

    report = verify_store(year.ledger.recorder)

    assert report.ok
    assert report.broken is None
    assert report.checked == len(rows)
    assert report.streams == len({row.originator_id for row in rows})
    assert re.fullmatch("[0-9a-f]{64}", report.heads_digest)


def test_an_amount_changed_in_the_database_is_reported_at_that_event(
    year: Year, raw_store: RawStore, payment: RawRow
) -> None:
    raw_store.update_state(
        payment.originator_id, payment.originator_version, edited(payment, {"amount": BILLION})
    )

    report = verify_store(year.ledger.recorder)

    assert not report.ok
    assert report.broken is not None
    assert report.broken.position == payment.position
    assert report.broken.stream == str(payment.originator_id)
    assert report.broken.version == payment.originator_version
    assert report.broken.reason == "content does not match its hash"


def test_a_principal_changed_in_the_metadata_is_reported_at_that_event(
    year: Year, raw_store: RawStore, payment: RawRow
) -> None:
    meta = json.loads(payment.state)["_meta"]
    assert meta["principal"] == "system"

    raw_store.update_state(
        payment.originator_id,
        payment.originator_version,
        edited(payment, {"_meta": {**meta, "principal": "someone-else"}}),
    )

    report = verify_store(year.ledger.recorder)
    assert report.broken is not None
    assert (report.broken.position, report.broken.stream, report.broken.version) == (
        payment.position,
        str(payment.originator_id),
        payment.originator_version,
    )
    assert report.broken.reason == "content does not match its hash"


def test_a_deleted_event_is_reported_as_a_version_gap_at_the_next_event_of_its_stream(
    year: Year, raw_store: RawStore, payment: RawRow
) -> None:
    following = raw_store.row(payment.originator_id, payment.originator_version + 1)

    raw_store.delete(payment.originator_id, payment.originator_version)

    report = verify_store(year.ledger.recorder)
    assert report.broken is not None
    assert report.broken.position == following.position
    assert report.broken.stream == str(payment.originator_id)
    assert report.broken.version == payment.originator_version + 1
    assert report.broken.reason == (
        f"expected version {payment.originator_version} after {payment.originator_version - 1}"
    )


def test_an_edit_resealed_with_a_fresh_hash_is_reported_at_the_next_event_of_its_stream(
    year: Year, raw_store: RawStore, payment: RawRow
) -> None:
    # A forger who recomputes the edited event's own hash still breaks the next link.
    document = json.loads(payment.state)
    chain, meta = document.pop("_chain"), document.pop("_meta")
    forged, _ = seal(
        stream=str(payment.originator_id),
        version=payment.originator_version,
        topic=payment.topic,
        data={**document, "amount": BILLION},
        meta=meta,
        prev=chain["prev"],
    )
    raw_store.update_state(payment.originator_id, payment.originator_version, forged)
    following = raw_store.row(payment.originator_id, payment.originator_version + 1)

    report = verify_store(year.ledger.recorder)

    assert report.broken is not None
    assert (report.broken.position, report.broken.version) == (
        following.position,
        following.originator_version,
    )
    assert report.broken.reason == "link to the previous event does not match"


def test_removing_the_last_event_of_a_stream_changes_the_digest_of_stream_heads(
    year: Year, raw_store: RawStore
) -> None:
    # A truncated stream still chains; the published digest of heads is what betrays it.
    published = verify_store(year.ledger.recorder).heads_digest
    project = year.ledger.project(PROJECT)

    raw_store.delete(project.id, project.version)

    report = verify_store(year.ledger.recorder)
    assert report.ok
    assert report.heads_digest != published


def test_verify_store_checks_every_event_up_to_the_first_broken_one_and_stops(
    year: Year, raw_store: RawStore, payment: RawRow
) -> None:
    raw_store.update_state(
        payment.originator_id, payment.originator_version, edited(payment, {"amount": 1})
    )

    report = verify_store(year.ledger.recorder)

    # Everything before the edited row was checked, and the edited row itself.
    assert report.checked == len([r for r in raw_store.rows() if r.position <= payment.position])
