"""Rendered pages of the hottest reads, kept per state of the read model, with HTTP validators.

A read's answer is a function of three things: the state of the read model (its live namespace
and the positions it has consumed), the caller's scope (role, investors, provinces) and the
validated query. :class:`ResponseCache` keeps rendered bodies under the last two, each with the
state it was rendered from, and serves one only while the read model is still in that state:
any new position (a command's read-your-writes, the runner following the ledger, a Kafka
projector) or a switch of the live namespace (a rebuild) makes every older entry unusable.

* The state a body was rendered from is read **in the same read snapshot** as the body
  (:class:`Snapshot`), so a body is never filed under a state it does not show.
* The current state is checked without a query when the embedded runner runs in this process and
  follows the live namespace: its position and namespace are in memory (it is the read model's
  only writer then, and a command waits for it before answering). Otherwise (an external
  projector) one small query reads the live namespace and the tracking positions.
* Every answer carries a strong ``ETag`` derived from the state and the key; a request whose
  ``If-None-Match`` holds it is answered ``304`` without a body. A request sending
  ``Cache-Control: no-cache`` (or ``Pragma: no-cache``) is rendered anew (and refreshes the
  entry); ``no-store`` renders anew and stores nothing.
* The cache is a bounded LRU (``CAPLEDGER_API_RESPONSE_CACHE_SIZE`` entries; 0 turns it off,
  validators stay).

An endpoint answers through :func:`cached_read`, an ordinary helper it calls once FastAPI has
solved its dependencies: a kept page goes only to a caller authenticated, within scope and with
a valid query, exactly as a rendered one does, whatever dependencies are overridden.

See docs/api.md ("Response cache and validators").
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, cast

from fastapi import Request, Response
from starlette.concurrency import run_in_threadpool

from capledger import __version__
from capledger.projections import ReadModelStore
from capledger.projections.store import NOTIFICATION_LOG, Reader

from .roles import Caller

if TYPE_CHECKING:
    from .context import ApiContext

T = TypeVar("T")

#: Bodies larger than this are answered but not kept (a cache of big pages would hold
#: megabytes for a few hits).
MAX_CACHED_BODY = 1 << 20
#: Sent with every answer of a cached route: the answer depends on the API key (``private``:
#: no shared cache may keep it) and may change with any new position (``no-cache``: clients
#: revalidate, cheaply, with ``If-None-Match``).
CACHE_CONTROL = "private, no-cache"
#: The answer depends on the key, sent in either header.
VARY = "X-API-Key, Authorization"
_JSON = "application/json"
_TRACKING = "SELECT log, log_partition, position FROM {tracking} ORDER BY log, log_partition"

Positions = tuple[tuple[str, int, int], ...]


@dataclass(frozen=True, slots=True)
class ReadState:
    """What identifies the read model's contents: its live namespace and every position it
    has consumed (the embedded runner's notification log, or a Kafka projector's partitions)."""

    namespace: str
    positions: Positions

    @property
    def notification_position(self) -> int:
        for log_name, partition, position in self.positions:
            if log_name == NOTIFICATION_LOG and partition == 0:
                return position
        return 0


def read_state(reader: Reader) -> ReadState:
    """The state of the namespace ``reader`` reads, in its snapshot."""
    rows = reader.rows(_TRACKING)
    positions = tuple((str(name), int(partition), int(at)) for name, partition, at in rows)
    return ReadState(reader.namespace, positions)


#: The current state as the embedded runner knows it, in memory: (namespace, position).
RunnerState = tuple[str, int]


@dataclass(frozen=True, slots=True)
class Entry:
    state: ReadState
    etag: str
    body: bytes

    def current(self, now: ReadState | RunnerState) -> bool:
        state = self.state
        if isinstance(now, ReadState):
            return state == now
        namespace, position = now
        return state.namespace == namespace and state.notification_position == position


class ResponseCache:
    """A bounded LRU of rendered bodies; ``size`` 0 keeps nothing. Safe across threads."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.hits = 0
        self.misses = 0
        self._entries: OrderedDict[Hashable, Entry] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.size > 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Hashable, now: ReadState | RunnerState) -> Entry | None:
        """The entry for ``key`` if it was rendered from the state ``now``; an entry of an
        older state is dropped."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                if entry.current(now):
                    self._entries.move_to_end(key)
                    self.hits += 1
                    return entry
                del self._entries[key]
            self.misses += 1
            return None

    def put(self, key: Hashable, entry: Entry) -> None:
        if not self.enabled or len(entry.body) > MAX_CACHED_BODY:
            return
        with self._lock:
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def entries(self) -> list[tuple[Hashable, Entry]]:
        """What is kept, least recently used first (for tests and diagnostics)."""
        with self._lock:
            return list(self._entries.items())

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


class Snapshot:
    """Stands in for the read model while a page is rendered: each read also reads the state
    it saw, in its own snapshot. ``state`` is that state if every read saw the same one."""

    def __init__(self, store: ReadModelStore) -> None:
        self._store = store
        self._states: list[ReadState] = []

    def read(self, query: Callable[[Reader], T], *, namespace: str | None = None) -> T:
        def with_state(reader: Reader) -> tuple[T, ReadState]:
            return query(reader), read_state(reader)

        result, state = self._store.read(with_state, namespace=namespace)
        self._states.append(state)
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    @property
    def store(self) -> ReadModelStore:
        """This stand-in, typed as the store the queries take."""
        return cast(ReadModelStore, self)

    @property
    def state(self) -> ReadState | None:
        states = set(self._states)
        return states.pop() if len(states) == 1 else None


def caller_key(caller: Caller) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """What of the caller a read's answer depends on: its role and scope (never its name)."""
    scope = caller.scope
    return caller.role.value, tuple(sorted(scope.investors)), tuple(sorted(scope.provinces))


def etag_of(state: ReadState, key: Hashable) -> str:
    """A strong validator: the same state and key render the same bytes (the version is in it
    too, since another release may render them differently)."""
    digest = hashlib.blake2b(repr((__version__, state, key)).encode(), digest_size=16)
    return f'"{digest.hexdigest()}"'


def _directives(request: Request) -> tuple[bool, bool]:
    """(render anew, store nothing) from ``Cache-Control`` (or ``Pragma``) of the request."""
    headers = request.headers
    control = headers.get("cache-control")
    if control is None:
        pragma = headers.get("pragma")
        return (pragma is not None and "no-cache" in pragma.lower()), False
    tokens = {part.strip().split("=", 1)[0].lower() for part in control.split(",")}
    no_store = "no-store" in tokens
    return ("no-cache" in tokens or no_store), no_store


def _matches(request: Request, etag: str) -> bool:
    """Whether ``If-None-Match`` names ``etag`` (weak comparison, as RFC 9110 says for it)."""
    header = request.headers.get("if-none-match")
    if header is None:
        return False
    for candidate in header.split(","):
        tag = candidate.strip()
        if tag == "*" or tag.removeprefix("W/") == etag:
            return True
    return False


def _answer(request: Request, etag: str, body: bytes) -> Response:
    headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL, "Vary": VARY}
    if _matches(request, etag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=_JSON, headers=headers)


async def cached_read(
    request: Request,
    ctx: ApiContext,
    caller: Caller,
    key: Hashable,
    render: Callable[[ReadModelStore], bytes],
) -> Response:
    """The answer of a read whose JSON body ``render(store)`` writes from the read model:
    from the cache when it holds the page for the read model's current state, else rendered
    in the thread pool (and kept). ``key`` identifies the route and its normalised query; the
    caller's scope is added here."""
    cache: ResponseCache = ctx.responses
    full_key = (key, caller_key(caller))
    fresh, no_store = _directives(request)
    if cache.enabled and not fresh:
        now: ReadState | RunnerState | None = ctx.runner_state()
        if now is None:
            now = await run_in_threadpool(ctx.read_state)
        entry = cache.get(full_key, now)
        if entry is not None:
            return _answer(request, entry.etag, entry.body)
    body, state = await run_in_threadpool(_render, ctx.read_model, render)
    if state is None:
        # The reads saw different states (the read model moved between them): answer, but
        # neither keep the page nor vouch for it with a validator.
        return Response(
            body, media_type=_JSON, headers={"Cache-Control": CACHE_CONTROL, "Vary": VARY}
        )
    etag = etag_of(state, full_key)
    if not no_store:
        cache.put(full_key, Entry(state, etag, body))
    return _answer(request, etag, body)


def _render(
    store: ReadModelStore, render: Callable[[ReadModelStore], bytes]
) -> tuple[bytes, ReadState | None]:
    snapshot = Snapshot(store)
    body = render(snapshot.store)
    return body, snapshot.state
