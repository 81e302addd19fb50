"""The command path's shortcuts record exactly what the plain way records, and fail as safely.

A command works on the cached aggregate itself (no copy), writes events as canonical JSON with
orjson where that writes the same bytes as ``chain.canonical_json`` and seals that text as it is,
and builds its receipt's event without the aggregate. None of it may change a stored byte, weaken
a commit or leave the cache ahead of the store.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID, uuid4, uuid5

import pytest
from builders import BILLION, CENTRAL, PLAN, PROJECT, command_id, funded_project, pay, position
from eventsourcing.persistence import IntegrityError, OperationalError, StoredEvent
from hypothesis import given, settings
from hypothesis import strategies as st

from capledger.application.chain import canonical_json, event_hash, seal
from capledger.application.eventstore import CanonicalJSONTranscoder
from capledger.application.ledger import Ledger
from capledger.application.receipts import (
    CommandReceipt,
    accepted,
    fingerprint,
    legacy_fingerprint,
    receipt_id,
)
from capledger.application.verify import verify_store
from capledger.domain.errors import OverDisbursement
from capledger.domain.ids import NAMESPACE, project_id

pytestmark = pytest.mark.integration

LINE = f"{PLAN}|{CENTRAL}"

# JSON values of the exact types the mapper hands to orjson: no float, integers of any size
# (beyond 64 bits orjson refuses and the standard library writes them), any text.
_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=12,
)


@pytest.fixture
def funded(ledger: Ledger) -> Ledger:
    funded_project(ledger, amount=100 * BILLION)
    return ledger


def _fail_inserts(monkeypatch: pytest.MonkeyPatch, ledger: Ledger, error: Exception) -> None:
    """Make the store refuse the next inserts (a full disk, a lost connection...)."""

    def refuse(*_: Any, **__: Any) -> Any:
        raise error

    monkeypatch.setattr(ledger.recorder, "insert_events", refuse)


def test_a_save_the_store_refuses_leaves_no_cached_project_ahead_of_the_store(
    funded: Ledger, open_ledger: Callable[[], Ledger], monkeypatch: pytest.MonkeyPatch
) -> None:
    funded.project(PROJECT)  # cached
    before = position(funded)
    with monkeypatch.context() as patch:
        _fail_inserts(patch, funded, OperationalError("disk I/O error"))
        with pytest.raises(OperationalError):
            pay(funded, amount=10 * BILLION)

    assert position(funded) == before
    assert funded.cached(project_id(PROJECT)) is None
    assert vars(funded.project(PROJECT)) == vars(open_ledger().project(PROJECT))


def test_a_command_after_a_failed_save_sees_the_stores_state(
    funded: Ledger, open_ledger: Callable[[], Ledger], monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as patch:
        _fail_inserts(patch, funded, OperationalError("database is locked"))
        with pytest.raises(OperationalError):
            pay(funded, amount=60 * BILLION)

    # Had the failed payment stayed in the cache, 60 billion would be left, not 100.
    pay(funded, amount=100 * BILLION)

    assert funded.project(PROJECT).lines[LINE].undisbursed == 0
    assert open_ledger().project(PROJECT).lines[LINE].undisbursed == 0
    assert verify_store(funded.recorder).ok


def test_a_refused_command_leaves_the_cached_project_as_the_store_has_it(
    funded: Ledger, open_ledger: Callable[[], Ledger]
) -> None:
    pay(funded, amount=30 * BILLION)
    with pytest.raises(OverDisbursement):
        pay(funded, amount=71 * BILLION)

    assert vars(funded.project(PROJECT)) == vars(open_ledger().project(PROJECT))


def test_a_stream_version_taken_in_the_store_is_still_an_integrity_error_and_nothing_else_lands(
    funded: Ledger,
) -> None:
    stored = funded.stored_stream(project_id(PROJECT))
    last = stored[-1]
    fresh = StoredEvent(uuid4(), 1, "t", b"{}")
    taken = StoredEvent(last.originator_id, last.originator_version, last.topic, last.state)
    before = position(funded)

    with pytest.raises(IntegrityError):
        funded.events.recorder.insert_events([fresh, taken])

    assert position(funded) == before
    # The connection went back to the pool, its transaction rolled back: the ledger still
    # records.
    recorded = pay(funded, amount=BILLION).position
    assert recorded is not None
    assert recorded > before  # PostgreSQL's sequence skips the ids the refused insert took


def test_a_command_records_its_receipt_event_as_the_receipt_aggregate_would(
    funded: Ledger,
) -> None:
    cid = command_id("pay")
    outcome = pay(funded, amount=BILLION, cid=cid)

    receipt = funded.repository.get(receipt_id(cid))
    assert isinstance(receipt, CommandReceipt)
    assert (receipt.command_id, receipt.command, receipt.principal) == (
        cid,
        "PayCompletedWork",
        "system",
    )
    assert receipt.streams == outcome.streams
    assert receipt.version == 1


def test_the_receipt_event_is_the_one_the_aggregate_records() -> None:
    fields: dict[str, Any] = {
        "command_id": "pay-1",
        "command": "pay_completed_work",
        "fingerprint": "f" * 64,
        "streams": {"project:DA-001": 3},
        "principal": "alice",
    }
    (by_aggregate,) = CommandReceipt(**fields).collect_events()
    direct = accepted(**fields)

    assert type(direct) is type(by_aggregate)
    expected = {**vars(by_aggregate), "timestamp": direct.timestamp}
    assert vars(direct) == expected


@pytest.mark.parametrize("command_id_", ["", "pay-1", "Đường ế 😀", "x" * 500])
def test_receipt_ids_are_the_documented_uuid5(command_id_: str) -> None:
    assert receipt_id(command_id_) == uuid5(NAMESPACE, f"command:{command_id_}")


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _dates_as_iso(value: Any) -> str:
    assert isinstance(value, date)
    return value.isoformat()


@pytest.mark.parametrize(
    "args",
    [
        {"b": date(2025, 1, 2), "a": {"z": 1, "y": None}, "ế": "Đ", "l": [True, "\n"]},
        {"amount": 2**70, "on": date(2025, 1, 2)},  # beyond 64 bits: the standard library writes
        {"envelopes": {1: 5}},  # a key that is not a str: likewise
    ],
)
def test_a_fingerprint_is_the_digest_of_the_canonical_json_of_the_command(
    args: dict[str, Any],
) -> None:
    text = json.dumps(
        {"command": "x", "args": args}, sort_keys=True, separators=(",", ":"),
        ensure_ascii=False, default=_dates_as_iso,
    )  # fmt: skip

    assert fingerprint("x", args) == _digest(text)


def test_the_legacy_fingerprint_is_the_digest_of_the_spaced_sorted_json() -> None:
    args = {"b": date(2025, 1, 2), "a": {"z": 1, "y": None}, "ế": "Đ"}
    text = json.dumps({"command": "x", "args": args}, sort_keys=True, default=_dates_as_iso)

    assert legacy_fingerprint("x", args) == _digest(text)


@settings(max_examples=300, deadline=None)
@given(data=st.dictionaries(st.text(max_size=8), _json_values, max_size=6), meta=_json_values)
def test_a_seal_is_the_documented_hash_and_state_from_data_or_its_canonical_json(
    data: Any, meta: Any
) -> None:
    meta = meta if isinstance(meta, dict) else {"value": meta}
    args: dict[str, Any] = {
        "stream": str(uuid4()), "version": 3, "topic": "a.b:C", "meta": meta, "prev": "ab" * 32,
    }  # fmt: skip
    digest = event_hash(data=data, **args)
    expected = canonical_json(
        {**data, "_meta": meta, "_chain": {"hash": digest, "prev": "ab" * 32}}
    )

    encoded = CanonicalJSONTranscoder().encode(data)

    assert encoded == canonical_json(data)
    assert seal(data=encoded, **args) == seal(data=data, **args) == (expected, digest)


def test_an_event_holding_a_float_is_written_the_standard_librarys_way(ledger: Ledger) -> None:
    event = CommandReceipt.Accepted(
        originator_topic="t",
        originator_id=UUID(int=1),
        originator_version=1,
        timestamp=datetime(2025, 1, 1, tzinfo=UTC),
        command_id="c",
        command="x",
        fingerprint="f",
        streams={"rate": 1e-7},  # type: ignore[dict-item]
        principal="p",
    )
    stored = ledger.mapper.to_stored_event(event)

    assert b'"rate":1e-07' in stored.state
    assert canonical_json(json.loads(stored.state)) == stored.state
    state, _ = seal(stream="s", version=1, topic=stored.topic, data=stored.state, meta={},
                    prev="0" * 64)  # fmt: skip
    assert canonical_json(json.loads(state)) == state
