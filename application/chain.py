"""The hash chain over stored events, in a form an outside party can recompute.

Each stored event's state is canonical JSON (keys sorted, no insignificant white space, UTF-8)
holding the event data plus two reserved keys: ``_meta`` (who recorded it, under which command)
and ``_chain`` (``prev``: the hash of the previous event of the same stream, ``hash``: this one's).

    hash = SHA-256(canonical({"data": data, "meta": meta, "prev": prev,
                              "stream": originator_id, "topic": topic, "version": version}))

The first event of a stream chains to ``GENESIS``. See docs/hash-chain.md.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

GENESIS = "0" * 64
CHAIN_KEY = "_chain"
META_KEY = "_meta"
RESERVED_KEYS = (CHAIN_KEY, META_KEY)


# What json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False) builds per call.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_json(value: Any) -> bytes:
    return _CANONICAL.encode(value).encode()


def canonical_json_exact(value: Any, *, default: Callable[[Any], Any] | None = None) -> bytes:
    """:func:`canonical_json` of JSON values of exact types holding no float, by orjson.

    For keys and strings, integers within 64 bits, booleans, null, objects and arrays, orjson
    with sorted keys writes what ``json.dumps(sort_keys=True, separators=(",", ":"),
    ensure_ascii=False)`` writes, byte for byte: keys in code point order (UTF-8 byte order is
    code point order), the same escapes (``\\"``, ``\\\\``, ``\\b\\f\\n\\r\\t``, ``\\u00xx``
    for the other control characters, nothing else). Floats are where they part (``1e-07``
    against ``1e-7``): callers vouch for their absence. What orjson refuses (an integer beyond
    64 bits, a key that is not a str, a lone surrogate, nesting deeper than it writes) is
    written by the standard library, with ``default`` for other values (orjson writes dates
    as ISO text itself).
    """
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError:
        encoder = _CANONICAL if default is None else json.JSONEncoder(
            sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=default
        )  # fmt: skip
        return encoder.encode(value).encode()


def event_hash(
    *,
    stream: str,
    version: int,
    topic: str,
    data: Mapping[str, Any],
    meta: Mapping[str, Any],
    prev: str,
) -> str:
    envelope = {
        "data": data,
        "meta": meta,
        "prev": prev,
        "stream": stream,
        "topic": topic,
        "version": version,
    }
    return hashlib.sha256(canonical_json(envelope)).hexdigest()


def seal(
    *,
    stream: str,
    version: int,
    topic: str,
    data: dict[str, Any],
    meta: Mapping[str, Any],
    prev: str,
) -> tuple[bytes, str]:
    """Return the stored state for an event and its hash."""
    digest = event_hash(
        stream=stream, version=version, topic=topic, data=data, meta=meta, prev=prev
    )
    state = {**data, META_KEY: dict(meta), CHAIN_KEY: {"hash": digest, "prev": prev}}
    return canonical_json(state), digest


@dataclass(frozen=True)
class Unsealed:
    data: dict[str, Any]
    meta: dict[str, Any]
    prev: str
    hash: str


def unseal(state: bytes) -> Unsealed:
    """Split a stored state into its data, metadata and chain link (no checking)."""
    document = json.loads(state)
    chain = document.pop(CHAIN_KEY, None) or {}
    meta = document.pop(META_KEY, None) or {}
    return Unsealed(document, meta, str(chain.get("prev", "")), str(chain.get("hash", "")))


@dataclass(frozen=True)
class BrokenLink:
    position: int
    stream: str
    version: int
    reason: str


@dataclass
class ChainVerifier:
    """Checks stored events in notification order; remembers each stream's head."""

    heads: dict[str, tuple[int, str]]
    checked: int = 0

    @classmethod
    def new(cls) -> ChainVerifier:
        return cls(heads={})

    def check(
        self, position: int, stream: str, version: int, topic: str, state: bytes
    ) -> BrokenLink | None:
        self.checked += 1
        try:
            unsealed = unseal(state)
        except (ValueError, AttributeError) as error:
            return BrokenLink(position, stream, version, f"state is not a JSON object: {error}")
        last_version, last_hash = self.heads.get(stream, (0, GENESIS))
        if version != last_version + 1:
            return BrokenLink(
                position,
                stream,
                version,
                f"expected version {last_version + 1} after {last_version}",
            )
        if unsealed.prev != last_hash:
            return BrokenLink(
                position, stream, version, "link to the previous event does not match"
            )
        recomputed = event_hash(
            stream=stream,
            version=version,
            topic=topic,
            data=unsealed.data,
            meta=unsealed.meta,
            prev=unsealed.prev,
        )
        if recomputed != unsealed.hash:
            return BrokenLink(position, stream, version, "content does not match its hash")
        self.heads[stream] = (version, unsealed.hash)
        return None

    def heads_digest(self) -> str:
        """One digest over every stream head, for an outside party to keep and compare later."""
        return heads_digest(
            (stream, version, digest) for stream, (version, digest) in self.heads.items()
        )


def heads_digest(heads: Iterable[tuple[str, int, str]]) -> str:
    lines = sorted(f"{stream}:{version}:{digest}" for stream, version, digest in heads)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()
