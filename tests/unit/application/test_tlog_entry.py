"""A log entry binds the chain hash the hash chain verified, read from the stored state, and
only a hash written as 64 lower-case hex digits."""

from __future__ import annotations

import json
from uuid import UUID

import pytest

from capledger.application.chain import GENESIS, seal, unseal
from capledger.application.tlog.entry import EntryError, LogEntry, encode_entry, stored_hash

pytestmark = pytest.mark.unit

STREAM = UUID(int=7)
A, B = "a" * 64, "b" * 64


def sealed() -> bytes:
    state, _ = seal(
        stream=str(STREAM), version=1, topic="t", data={"amount": 5, "note": "thanh toán"},
        meta={"command": "Pay"}, prev=GENESIS,
    )  # fmt: skip
    return state


@pytest.mark.parametrize(
    "state",
    [
        sealed(),
        # Not canonical: keys in another order, white space, escapes the ledger never writes.
        b'{"amount": 5, "_chain": {"prev": "'
        + GENESIS.encode()
        + b'", "hash": "'
        + A.encode()
        + b'"}}',
        b'{"\\u005fchain":{"hash":"' + A.encode() + b'"},"x":"\\u00e9"}',
        # Duplicate keys: the last one is the one a full parse keeps.
        b'{"_chain":{"hash":"' + A.encode() + b'"},"_chain":{"hash":"' + B.encode() + b'"}}',
        b'{"_chain":{"hash":"' + A.encode() + b'","hash":"' + B.encode() + b'"}}',
        b'{"_chain":{"hash":"' + A.encode() + b'"},"x":{"_chain":{"hash":"' + B.encode() + b'"}}}',
    ],
)
def test_the_entry_binds_the_hash_a_full_parse_of_the_state_reads(state: bytes) -> None:
    expected = unseal(json.loads(state)).hash  # what the chain verifier reads

    assert stored_hash(1, state) == expected
    assert LogEntry.of_stored(1, STREAM, 1, state).event_hash == expected


@pytest.mark.parametrize("state", [b"[1]", b"not json", b'{"_chain": [1]}', b'"text"'])
def test_a_state_that_is_not_an_object_with_a_chain_is_an_entry_error(state: bytes) -> None:
    with pytest.raises(EntryError, match="position 3 is not a JSON object"):
        stored_hash(3, state)


@pytest.mark.parametrize(
    "digest",
    ["", A.upper(), A[:-1], A + "a", "0x" + A[2:], "aa " + A[3:], " " + A[1:], A[:-1] + "g"],
)
def test_only_64_lower_case_hex_digits_are_an_event_hash(digest: str) -> None:
    with pytest.raises(EntryError, match="64 lower-case hex digits"):
        encode_entry(1, STREAM.bytes, 1, digest)
    with pytest.raises(EntryError, match="64 lower-case hex digits"):
        LogEntry.of_stored(1, STREAM, 1, b'{"_chain":{"hash":"' + digest.encode() + b'"}}').encode()


def test_an_entry_is_its_fields_at_fixed_widths() -> None:
    entry = encode_entry(2**40, STREAM.bytes, 3, A)

    assert entry == b"\x01" + (2**40).to_bytes(8, "big") + STREAM.bytes + (3).to_bytes(8, "big") + (
        bytes.fromhex(A)
    )
    assert LogEntry.decode(entry) == LogEntry(2**40, STREAM, 3, A)
    with pytest.raises(EntryError, match="out of range"):
        encode_entry(-1, STREAM.bytes, 3, A)
