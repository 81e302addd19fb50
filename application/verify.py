"""Recompute every hash chain in the store and report the first broken link."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from eventsourcing.persistence import ApplicationRecorder

from .chain import BrokenLink, ChainVerifier

PAGE = 5_000


@dataclass(frozen=True)
class VerifyReport:
    checked: int
    streams: int
    broken: BrokenLink | None
    heads_digest: str

    @property
    def ok(self) -> bool:
        return self.broken is None


def verify_store(
    recorder: ApplicationRecorder, progress: Callable[[int, int], None] | None = None
) -> VerifyReport:
    """Walk the notification log in order; stop at the first event whose link or hash fails."""
    verifier = ChainVerifier.new()
    total = recorder.max_notification_id() or 0
    start = 1
    while True:
        page = recorder.select_notifications(start=start, limit=PAGE)
        if not page:
            break
        for notification in page:
            broken = verifier.check(
                notification.id,
                str(notification.originator_id),
                notification.originator_version,
                notification.topic,
                notification.state,
            )
            if broken is not None:
                return VerifyReport(verifier.checked, len(verifier.heads), broken, "")
        start = page[-1].id + 1
        if progress is not None:
            progress(page[-1].id, total)
    return VerifyReport(verifier.checked, len(verifier.heads), None, verifier.heads_digest())
