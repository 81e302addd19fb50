"""The test vectors of docs/verifiable-log.md hold: every expected byte and hash is recomputed.

The vectors were written from events recorded through the ledger
(tests/fixtures/make_tlog_vectors.py); here each is recomputed from its inputs the way the
document tells an outside verifier to, with nothing but hashlib and json, and by the ledger's
own code.
"""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from capledger.application.chain import event_hash, unseal
from capledger.application.tlog.entry import LogEntry
from capledger.application.tlog.merkle import (
    EMPTY_ROOT,
    verify_consistency,
    verify_inclusion,
)

pytestmark = pytest.mark.unit

VECTORS = Path(__file__).resolve().parents[2] / "fixtures" / "tlog"


def load(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((VECTORS / name).read_text(encoding="utf-8"))
    return document


EVENTS: list[dict[str, Any]] = load("events.json")["events"]
TREE = load("tree.json")


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def canonical(value: Any) -> bytes:
    """docs/verifiable-log.md's canonical JSON, from its definition."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def mth(leaves: list[bytes]) -> bytes:
    if not leaves:
        return sha256(b"")
    if len(leaves) == 1:
        return leaves[0]
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return sha256(b"\x01" + mth(leaves[:k]) + mth(leaves[k:]))


def test_the_vectors_come_from_a_recorded_ledger_with_library_wrappers_in_the_hashed_data() -> None:
    assert len(EVENTS) > 40
    assert [event["position"] for event in EVENTS] == list(range(1, len(EVENTS) + 1))
    envelopes = "".join(event["hashed_envelope"] for event in EVENTS)
    assert '{"_data_":"2025-01-02","_type_":"date_iso"}' in envelopes
    assert '"originator_topic":' in envelopes and '"timestamp":{"_data_":' in envelopes


@pytest.mark.parametrize("event", EVENTS, ids=lambda event: f"position-{event['position']}")
def test_each_events_hash_is_the_sha256_of_the_documented_envelope(event: dict[str, Any]) -> None:
    state = json.loads(event["state"])
    chain, meta = state.pop("_chain"), state.pop("_meta")
    envelope = canonical({
        "data": state, "meta": meta, "prev": chain["prev"], "stream": event["stream"],
        "topic": event["topic"], "version": event["version"],
    })  # fmt: skip

    assert envelope == event["hashed_envelope"].encode("utf-8")
    assert sha256(envelope).hex() == event["event_hash"] == chain["hash"]
    unsealed = unseal(event["state"].encode("utf-8"))
    assert event["event_hash"] == event_hash(
        stream=event["stream"], version=event["version"], topic=event["topic"],
        data=unsealed.data, meta=unsealed.meta, prev=unsealed.prev,
    )  # fmt: skip


@pytest.mark.parametrize("event", EVENTS, ids=lambda event: f"position-{event['position']}")
def test_each_log_entry_is_the_documented_65_bytes_and_its_leaf_hash(event: dict[str, Any]) -> None:
    entry = (
        b"\x01"
        + struct.pack(">Q", event["position"])
        + UUID(event["stream"]).bytes
        + struct.pack(">Q", event["version"])
        + bytes.fromhex(event["event_hash"])
    )

    assert entry.hex() == event["entry"]
    assert sha256(b"\x00" + entry).hex() == event["leaf_hash"]
    stored = LogEntry.of_stored(
        event["position"], event["stream"], event["version"], event["state"].encode("utf-8")
    )
    assert stored.encode() == entry and LogEntry.decode(entry) == stored


def test_the_tree_vectors_are_rfc_9162_over_the_event_leaves() -> None:
    leaves = [bytes.fromhex(event["leaf_hash"]) for event in EVENTS]
    assert TREE["leaf_hashes"] == [leaf.hex() for leaf in leaves]
    assert TREE["roots"]["0"] == EMPTY_ROOT.hex()
    for size, digest in TREE["roots"].items():
        assert mth(leaves[: int(size)]).hex() == digest, size
    for case in TREE["inclusion"]:
        verify_inclusion(
            case["index"],
            case["size"],
            leaves[case["index"]],
            [bytes.fromhex(node) for node in case["proof"]],
            mth(leaves[: case["size"]]),
        )
    for case in TREE["consistency"]:
        old, new = case["old_size"], case["new_size"]
        verify_consistency(
            old, new, [bytes.fromhex(node) for node in case["proof"]],
            mth(leaves[:old]), mth(leaves[:new]),
        )  # fmt: skip
