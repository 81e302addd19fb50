"""Readiness of the Kafka side, for ``/readyz`` and ``capledger projections status``.

Two questions, each answered from the broker itself rather than from a process's memory (the
relay and the projector run elsewhere):

- **relay lag**: events recorded in the store but not yet committed to the events topic — the
  store's last notification minus the position the relay last committed (its compacted
  positions topic);
- **projector lag**: committed records of the events topic not yet folded into the read model
  (the read model's stored offsets against the topic's ``read_committed`` end offsets).

Each probe opens a short-lived consumer and waits at most ``KafkaSettings.probe_timeout_s`` for
its topic; the answers are cached for ``ttl_s`` so that a readiness probe every second does not
keep the broker busy.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from capledger.projections import ReadModelStore

from .settings import KafkaSettings

#: Seconds a measured lag is reused before the broker is asked again.
DEFAULT_TTL_S = 2.0


@dataclass
class _Cached:
    """One probe's last answer (a lag, or the error that prevented it), for ``ttl_s``."""

    probe: Callable[[], int]
    ttl_s: float
    _at: float = -1e9
    _value: int | BaseException = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self) -> int:
        with self._lock:
            now = time.monotonic()
            if now - self._at >= self.ttl_s:
                try:
                    self._value = self.probe()
                except Exception as error:  # reported by the check, retried after the TTL
                    self._value = error
                self._at = now
            if isinstance(self._value, BaseException):
                raise self._value
            return self._value


def relay_lag(kafka: KafkaSettings, head: Callable[[], int]) -> int:
    """Events recorded (up to ``head()``) that the relay has not committed to Kafka yet."""
    from .positions import read_committed_position

    latest = head()
    return max(0, latest - read_committed_position(kafka, timeout_s=kafka.probe_timeout_s))


def projector_lag_total(kafka: KafkaSettings, store: ReadModelStore) -> int:
    """Committed records of the events topic the read model has not folded yet."""
    from .lag import projector_lag

    lags = projector_lag(kafka, store, timeout_s=kafka.probe_timeout_s)
    return sum(item.lag for item in lags.values())


def lag_check(
    name: str, probe: Callable[[], int], bound: int, ttl_s: float = DEFAULT_TTL_S
) -> Callable[[], str | None]:
    """A readiness check: None while ``probe()`` is within ``bound``, else what is wrong."""
    cached = _Cached(probe, ttl_s)

    def check() -> str | None:
        lag = cached.get()
        if lag > bound:
            return f"{name} {lag:,} behind (bound {bound:,})"
        return None

    return check
