"""Recompute every hash chain in the store and report the first broken link."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from eventsourcing.persistence import ApplicationRecorder, Notification

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


def notification_pages(
    recorder: ApplicationRecorder, page: int = PAGE
) -> Iterator[Sequence[Notification]]:
    """The whole notification log in recording order, a page at a time."""
    start = 1
    while True:
        notifications = recorder.select_notifications(start=start, limit=page)
        if not notifications:
            return
        yield notifications
        start = notifications[-1].id + 1


def verify_store(
    recorder: ApplicationRecorder, progress: Callable[[int, int], None] | None = None
) -> VerifyReport:
    """Walk the notification log in order; stop at the first event whose link or hash fails."""
    verifier = ChainVerifier.new()
    total = recorder.max_notification_id() or 0
    for page in notification_pages(recorder):
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
        if progress is not None:
            progress(page[-1].id, total)
    return VerifyReport(verifier.checked, len(verifier.heads), None, verifier.heads_digest())
