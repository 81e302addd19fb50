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

import re
import struct
from dataclasses import dataclass
from uuid import UUID

import orjson

from ..chain import unseal

ENTRY_VERSION = 1
ENTRY_SIZE = 65
_LAYOUT = struct.Struct(">BQ16sQ32s")
_HEX_DIGEST = re.compile(r"[0-9a-f]{64}")


class EntryError(ValueError):
    """Bytes that are not a log entry, or an event that cannot become one."""


@dataclass(frozen=True)
class LogEntry:
    position: int
    stream: UUID
    version: int
    event_hash: str  # hex, as the hash chain stores it

    def encode(self) -> bytes:
        if not _HEX_DIGEST.fullmatch(self.event_hash):
            raise EntryError(f"event hash is not 64 lower-case hex digits: {self.event_hash!r}")
        try:
            return _LAYOUT.pack(
                ENTRY_VERSION,
                self.position,
                self.stream.bytes,
                self.version,
                bytes.fromhex(self.event_hash),
            )
        except struct.error as error:
            raise EntryError(f"position or version out of range: {error}") from error

    @classmethod
    def decode(cls, entry: bytes) -> LogEntry:
        if len(entry) != ENTRY_SIZE or entry[0] != ENTRY_VERSION:
            raise EntryError(f"not a version {ENTRY_VERSION} log entry ({len(entry)} bytes)")
        _, position, stream, version, digest = _LAYOUT.unpack(entry)
        return cls(position, UUID(bytes=stream), version, digest.hex())

    @classmethod
    def of_stored(cls, position: int, stream: str | UUID, version: int, state: bytes) -> LogEntry:
        """The entry of a stored event: its chain hash as stored (``_chain.hash``)."""
        try:
            digest = unseal(orjson.loads(state)).hash
        except (ValueError, TypeError, AttributeError) as error:
            raise EntryError(f"event at position {position} is not a JSON object") from error
        return cls(position, stream if isinstance(stream, UUID) else UUID(stream), version, digest)
