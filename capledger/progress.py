"""Progress of long jobs (verifying, exporting, importing, the demo) on stderr.

On a terminal: one line redrawn in place with percent, count, rate and ETA. Elsewhere (CI, a
service, a pipe): a structured log line at a bounded rate, so a job of millions of events does
not flood the logs. The reporter is the ``(done, total)`` callable the jobs accept.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import TextIO

import structlog

Progress = Callable[[int, int], None]

log = structlog.get_logger(__name__)

LOG_INTERVAL_S = 2.0
REDRAW_INTERVAL_S = 0.1
CLEAR_TO_END_OF_LINE = "\x1b[K"


@dataclass(frozen=True)
class Snapshot:
    """Where a job stands; counts are integers, only the derived rate is fractional."""

    done: int
    total: int
    elapsed_s: float

    @property
    def known_total(self) -> bool:
        return self.total > 0

    @property
    def permille(self) -> int:
        if not self.known_total:
            return 0
        return min(1000, self.done * 1000 // self.total)

    @property
    def rate_per_s(self) -> float:
        return self.done / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def eta_s(self) -> int | None:
        rate = self.rate_per_s
        if not self.known_total or rate <= 0:
            return None
        return max(0, round((self.total - self.done) / rate))

    def line(self, label: str) -> str:
        rate = f"{round(self.rate_per_s):,}/s"
        if not self.known_total:
            return f"{label}: {self.done:,} {rate}"
        percent = f"{self.permille // 10}.{self.permille % 10}%"
        eta = "--:--" if self.eta_s is None else format_duration(self.eta_s)
        return f"{label}: {percent:>6} {self.done:,}/{self.total:,} {rate} ETA {eta}"

    def fields(self) -> dict[str, object]:
        return {
            "done": self.done,
            "total": self.total,
            "percent": f"{self.permille // 10}.{self.permille % 10}",
            "rate_per_s": round(self.rate_per_s),
            "eta_s": self.eta_s,
        }


def format_duration(seconds: int) -> str:
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


class ProgressReporter:
    """Call it with ``(done, total)`` as often as convenient; call ``finish()`` once at the end."""

    def __init__(
        self,
        label: str,
        *,
        stream: TextIO | None = None,
        interactive: bool | None = None,
        log_interval_s: float = LOG_INTERVAL_S,
        redraw_interval_s: float = REDRAW_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.label = label
        self._stream = stream
        self._interactive = interactive
        self._log_interval_s = log_interval_s
        self._redraw_interval_s = redraw_interval_s
        self._clock = clock
        self._started = clock()
        self._last_emit: float | None = None
        self._latest: Snapshot | None = None
        self._finished = False

    @property
    def stream(self) -> TextIO:
        # Looked up late, so a reporter made before stderr is redirected still follows it.
        return self._stream if self._stream is not None else sys.stderr

    @property
    def interactive(self) -> bool:
        if self._interactive is None:
            isatty = getattr(self.stream, "isatty", None)
            self._interactive = bool(isatty and isatty())
        return self._interactive

    def __call__(self, done: int, total: int) -> None:
        now = self._clock()
        self._latest = Snapshot(done, total, now - self._started)
        complete = total > 0 and done >= total
        if self.interactive:
            if complete or self._due(now, self._redraw_interval_s):
                self._draw(self._latest)
                self._last_emit = now
        elif self._due(now, self._log_interval_s):
            log.info("progress", job=self.label, **self._latest.fields())
            self._last_emit = now

    def finish(self) -> None:
        """Close the line on a terminal, or log the job's totals; later calls do nothing."""
        if self._finished:
            return
        self._finished = True
        if self._latest is None:
            return
        final = Snapshot(self._latest.done, self._latest.total, self._clock() - self._started)
        if self.interactive:
            self._draw(final)
            self.stream.write("\n")
            self.stream.flush()
        else:
            log.info(
                "progress_finished",
                job=self.label,
                done=final.done,
                total=final.total,
                elapsed_s=round(final.elapsed_s, 3),
                rate_per_s=round(final.rate_per_s),
            )

    def __enter__(self) -> ProgressReporter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.finish()

    def _due(self, now: float, interval_s: float) -> bool:
        if self._last_emit is None:
            # The first report waits one interval: short jobs stay silent until finish().
            return now - self._started >= interval_s
        return now - self._last_emit >= interval_s

    def _draw(self, snapshot: Snapshot) -> None:
        self.stream.write(f"\r{snapshot.line(self.label)}{CLEAR_TO_END_OF_LINE}")
        self.stream.flush()
