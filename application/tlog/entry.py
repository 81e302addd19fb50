"""A log entry: the bytes of one recorded event that the Merkle tree's leaf hashes.

Version 1 (docs/verifiable-log.md gives it byte for byte), 65 bytes of fixed width::

    0x01                     format version
    position   8 bytes       the event's notification id, unsigned big-endian
    stream    16 bytes       the stream's UUID, its 16 bytes in RFC 9562 order
    version    8 bytes       the stream version, unsigned big-endian
    event hash 32 bytes      the SHA-256 digest of the hash chain (docs/hash-chain.md), raw

Every field has a fixed width, so no two different entries have the same bytes; a later format
starts with another version byte.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from uuid import UUID

import orjson

from ..chain import CHAIN_KEY, unseal

ENTRY_VERSION = 1
ENTRY_SIZE = 65
_LAYOUT = struct.Struct(">BQ16sQ32s")
HASH_BYTES = 32


class EntryError(ValueError):
    """Bytes that are not a log entry, or an event that cannot become one."""


@dataclass(frozen=True)
class LogEntry:
    position: int
    stream: UUID
    version: int
    event_hash: str  # hex, as the hash chain stores it

    def encode(self) -> bytes:
        return encode_entry(self.position, self.stream.bytes, self.version, self.event_hash)

    @classmethod
    def decode(cls, entry: bytes) -> LogEntry:
        if len(entry) != ENTRY_SIZE or entry[0] != ENTRY_VERSION:
            raise EntryError(f"not a version {ENTRY_VERSION} log entry ({len(entry)} bytes)")
        _, position, stream, version, digest = _LAYOUT.unpack(entry)
        return cls(position, UUID(bytes=stream), version, digest.hex())

    @classmethod
    def of_stored(cls, position: int, stream: str | UUID, version: int, state: bytes) -> LogEntry:
        """The entry of a stored event: its chain hash as stored (``_chain.hash``)."""
        digest = stored_hash(position, state)
        return cls(position, stream if isinstance(stream, UUID) else UUID(stream), version, digest)


def encode_entry(position: int, stream: bytes, version: int, event_hash: str) -> bytes:
    """The bytes of the entry of these fields (``stream``: the UUID's 16 bytes)."""
    try:
        digest = bytes.fromhex(event_hash)
    except (ValueError, TypeError):
        digest = b""
    # fromhex also reads upper case and skips white space: only 64 lower-case digits give
    # 32 bytes whose hex is the text itself.
    if len(digest) != HASH_BYTES or digest.hex() != event_hash:
        raise EntryError(f"event hash is not 64 lower-case hex digits: {event_hash!r}")
    try:
        return _LAYOUT.pack(ENTRY_VERSION, position, stream, version, digest)
    except struct.error as error:
        raise EntryError(f"position or version out of range: {error}") from error


def stored_hash(position: int, state: bytes) -> str:
    """The chain hash a stored event's state holds (``_chain.hash``), read as
    :func:`~capledger.application.chain.unseal` reads it from the whole parsed state: a JSON
    object is looked into directly (unseal's copy of it and its split into data and metadata
    are not needed for one value); anything else is handed to unseal itself."""
    try:
        document = orjson.loads(state)
        if type(document) is dict:
            chain = document.get(CHAIN_KEY) or {}
            return str(chain.get("hash", ""))
        return unseal(document).hash
    except (ValueError, TypeError, AttributeError) as error:
        raise EntryError(f"event at position {position} is not a JSON object") from error
