"""The read side folds only verified events: each event's hash link is checked as it is folded.

Whoever holds the event store's database can change a stored event behind the ledger's back;
``capledger verify`` finds it, but a read model that folded it would serve the forged numbers
meanwhile. So both runners check every event they fold, with the hash chain's own definitions
(``application.chain``: one hash function, no second implementation):

- **its link** (both runners, in ``batch.fold``): the event's stream version follows the last
  one folded from its stream and its ``prev`` equals that event's hash. The last hash of each
  stream is a row of the read model (:class:`~.rows.StreamHeadRow`), written in the same
  transaction as the rows the event changed, so it survives restarts and rebuilds;
- **its content** (where the stored form is at hand: the embedded runner's readers of the
  notification log): the hash recomputed from the stored state equals the stored hash. A Kafka
  record carries the published form, not the stored one, so the Kafka projector checks links
  only (its ``capledger_hash`` / ``capledger_prev_hash`` headers, see docs/kafka.md).

An event that fails either check raises :class:`UnverifiedEvent`; the runner folds nothing of
its batch, records the :class:`ChainBreach` in the read model (``ReadModelStore.record_breach``)
and stops. From then on ``/readyz``, the API's read endpoints and the CLI's read commands report
the ledger as failing verification (``ReadModelStore.breach``) until a rebuild folds the whole
log again without a breach.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from uuid import UUID

import orjson
import structlog

from capledger.application.chain import CHAIN_KEY, GENESIS, META_KEY, event_hash
from capledger.application.published import PublishedEvent

from .context import Overlay
from .rows import StreamHeadRow

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class ChainBreach:
    """Where the read side met an event it cannot trust, and why."""

    stream: str
    #: What the stream is about (``project:HP-001``), when the event says so.
    subject: str | None
    version: int
    #: The event's position in the ledger's notification log (as the record says, on Kafka).
    position: int
    #: Where the runner read it: ``notification log``, ``<topic>[<partition>]@<offset>``.
    source: str
    expected: str
    found: str
    reason: str
    detected_at: str = ""

    def describe(self) -> str:
        about = f" ({self.subject})" if self.subject else ""
        return (
            f"stream {self.stream}{about} version {self.version} at position {self.position} "
            f"({self.source}): {self.reason}: expected {self.expected}, found {self.found}"
        )


class UnverifiedEvent(ValueError):
    """An event whose hash link or content does not check out; nothing of its batch folds."""

    def __init__(self, breach: ChainBreach) -> None:
        super().__init__(breach)
        self.breach = breach

    def __str__(self) -> str:
        return f"the ledger fails verification: {self.breach.describe()}"

    def at(self, source: str) -> UnverifiedEvent:
        """The same breach, read at ``source`` (a Kafka record's partition and offset)."""
        return UnverifiedEvent(replace(self.breach, source=source))


def log_breach(breach: ChainBreach, *, runner: str, namespace: str | None) -> None:
    """The one log line of a runner that stopped at ``breach`` (both runners write it)."""
    log.error("ledger_verification_failed", runner=runner, namespace=namespace, **asdict(breach))


NOTIFICATION_LOG_SOURCE = "notification log"


@lru_cache(maxsize=65_536)
def stream_text(stream: UUID) -> str:
    """A stream id's text as hashed (each event is checked by it: one text per stream)."""
    return str(stream)


def checked_link(event: PublishedEvent, overlay: Overlay) -> StreamHeadRow | None:
    """The stream's new head once ``event`` is folded, or None if an event of this version was
    folded already (a Kafka record delivered again after its offset was moved back: folding it
    twice would count it twice); :class:`UnverifiedEvent` if the event does not continue the
    stream's chain as folded so far (``overlay``: the runner's rows)."""
    stream = stream_text(event.stream)
    head = overlay.get(StreamHeadRow, (stream,))
    version, prev = (0, GENESIS) if head is None else (head.version, head.hash)
    if event.stream_version != version + 1:
        if 1 <= event.stream_version <= version:
            return None
        raise UnverifiedEvent(
            _breach(event, "the stream's versions do not follow", str(version + 1),
                    str(event.stream_version))
        )  # fmt: skip
    if event.prev != prev:
        reason = "link to the previous event does not match"
        raise UnverifiedEvent(_breach(event, reason, prev, event.prev))
    return StreamHeadRow(stream, event.stream_version, event.hash)


def check_content(position: int, stream: str, version: int, topic: str, state: bytes) -> None:
    """:class:`UnverifiedEvent` unless the stored state's recomputed hash is its stored hash."""
    # Read by orjson, written by orjson: the canonical form unless a float or an integer beyond
    # 64 bits hides in the state (the ledger stores neither), so a mismatch is confirmed the
    # reference way (the standard library's reading and writing) before it is reported.
    try:
        recomputed, stored, meta = _rehash(orjson.loads(state), stream, version, topic, exact=True)
    except (orjson.JSONDecodeError, TypeError, AttributeError):
        recomputed, stored = "", None
    if recomputed == stored:
        return
    try:
        recomputed, stored, meta = _rehash(json.loads(state), stream, version, topic, exact=False)
    except (ValueError, TypeError, AttributeError) as error:
        raise UnverifiedEvent(
            ChainBreach(stream, None, version, position, NOTIFICATION_LOG_SOURCE,
                        "a JSON object", f"{type(error).__name__}", "state is not a JSON object")
        ) from None  # fmt: skip
    if recomputed == stored:
        return
    subject = meta.get("subject") if isinstance(meta, dict) else None
    raise UnverifiedEvent(
        ChainBreach(
            stream, subject if isinstance(subject, str) else None, version, position,
            NOTIFICATION_LOG_SOURCE, stored, recomputed, "content does not match its hash",
        )
    )  # fmt: skip


def _rehash(
    document: Any, stream: str, version: int, topic: str, *, exact: bool
) -> tuple[str, str, Any]:
    """The hash recomputed from a stored state's values, the hash it stores, its metadata."""
    data = document if type(document) is dict else dict(document)  # parsed here: ours
    chain = data.pop(CHAIN_KEY, None) or {}
    meta = data.pop(META_KEY, None) or {}
    recomputed = event_hash(
        stream=stream, version=version, topic=topic, data=data, meta=meta,
        prev=str(chain.get("prev", "")), exact=exact,
    )  # fmt: skip
    return recomputed, str(chain.get("hash", "")), meta


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _breach(event: PublishedEvent, reason: str, expected: str, found: str) -> ChainBreach:
    return ChainBreach(
        str(event.stream), event.subject, event.stream_version, event.position,
        NOTIFICATION_LOG_SOURCE, expected, found, reason,
    )  # fmt: skip
