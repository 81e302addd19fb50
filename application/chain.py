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
from json.encoder import encode_basestring
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
    data: Mapping[str, Any] | bytes,
    meta: Mapping[str, Any],
    prev: str,
    exact: bool = False,
) -> str:
    """The event's hash (see the module's docstring); ``data`` as JSON values or their canonical
    JSON. ``exact``: the caller's word that ``data`` and ``meta`` are JSON values of exact types
    holding no float, which orjson writes (see :func:`canonical_json_exact`)."""
    meta_json = _canonical_meta(meta, exact)
    return hashlib.sha256(
        _envelope(stream, version, topic, _data_json(data, exact), meta_json, prev)
    ).hexdigest()


def seal(
    *,
    stream: str,
    version: int,
    topic: str,
    data: Mapping[str, Any] | bytes,
    meta: Mapping[str, Any],
    prev: str,
) -> tuple[bytes, str]:
    """The stored state of an event and its hash.

    ``data`` is the event data, as JSON values or as their canonical JSON (what the ledger's
    transcoder writes: the data is then serialised once). Canonical JSON of a mapping is ``{`` +
    its items sorted by key + ``}``, so both documents are assembled from the canonical data: the
    envelope's keys (data, meta, prev, stream, topic, version) are in sorted order, and the
    reserved keys (_chain, _meta) come first in the state whenever every data key sorts after
    them, as the ledger's field names do; otherwise the state is written as a whole.
    """
    data_json = _data_json(data, exact=False)
    meta_json = _canonical_meta(meta, exact=False)
    digest = hashlib.sha256(
        _envelope(stream, version, topic, data_json, meta_json, prev)
    ).hexdigest()
    chain_json = b'{"hash":"' + digest.encode() + b'","prev":' + _scalar_json(prev) + b"}"
    if data_json == b"{}":
        return b'{"_chain":' + chain_json + b',"_meta":' + meta_json + b"}", digest
    if _first_key_after_meta(data_json):
        return b'{"_chain":' + chain_json + b',"_meta":' + meta_json + b"," + data_json[1:], digest
    values = json.loads(data_json) if isinstance(data, bytes) else data
    state = {**values, META_KEY: dict(meta), CHAIN_KEY: {"hash": digest, "prev": prev}}
    return canonical_json(state), digest


def _data_json(data: Mapping[str, Any] | bytes, exact: bool) -> bytes:
    if isinstance(data, bytes):
        return data
    return canonical_json_exact(data) if exact else canonical_json(data)


def _envelope(
    stream: str,
    version: int,
    topic: str,
    data_json: bytes,
    meta_json: bytes,
    prev: str,
) -> bytes:
    """Canonical JSON of the hashed envelope, from the data's: its keys are in sorted order."""
    return b"".join((
        b'{"data":', data_json, b',"meta":', meta_json,
        b',"prev":', _scalar_json(prev), b',"stream":', _scalar_json(stream),
        b',"topic":', _scalar_json(topic), b',"version":', _scalar_json(version), b"}",
    ))  # fmt: skip


def _first_key_after_meta(data_json: bytes) -> bool:
    """Whether the first (least) key of a canonical JSON object sorts after ``_meta``.

    UTF-8 byte order is code point order; a key with an escape is left to the slow way.
    """
    if not data_json.startswith(b'{"'):
        return False
    end = data_json.find(b'"', 2)
    key = data_json[2:end]
    return end > 2 and b"\\" not in key and key > META_KEY.encode()


def _canonical_meta(meta: Mapping[str, Any], exact: bool) -> bytes:
    """Canonical JSON of event metadata: by orjson when ``exact`` or flat str to str or None."""
    if exact or (
        type(meta) is dict
        and all(
            type(key) is str and (type(value) is str or value is None)
            for key, value in meta.items()
        )
    ):
        return canonical_json_exact(meta)
    return canonical_json(meta)


def _scalar_json(value: object) -> bytes:
    """Canonical JSON of a str or an int, without the encoder's per-call set-up."""
    if type(value) is str:
        return encode_basestring(value).encode()
    if type(value) is int:
        return str(value).encode()
    return canonical_json(value)


@dataclass(frozen=True)
class Unsealed:
    data: dict[str, Any]
    meta: dict[str, Any]
    prev: str
    hash: str


def unseal(state: bytes | dict[str, Any]) -> Unsealed:
    """Split a stored state (or the JSON values it holds) into its data, metadata and chain
    link (no checking)."""
    document = json.loads(state) if isinstance(state, bytes) else dict(state)
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
        self,
        position: int,
        stream: str,
        version: int,
        topic: str,
        state: bytes | dict[str, Any],
        *,
        exact: bool = False,
    ) -> BrokenLink | None:
        """Check one event: its stored state, or the JSON values it holds (read once by the
        caller; ``exact`` as in :func:`event_hash`)."""
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
            exact=exact,
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
