"""``capledger projector run`` pausing at random inside each database transaction: the crash test.

    python tests/integration/streams/paused_projector.py MAX_PAUSE_MS

Before a batch's transaction commits (its rows and offsets written), the worker sleeps up to
``MAX_PAUSE_MS`` (at random), so that a kill lands inside a transaction. The fault lives here, in
the tests, wrapped around the worker's ``OffsetApplier`` (``before_commit``, handed to the worker
through ``run_worker(applier=…)``); the projector's settings have no such knob. Settings,
logging and exit statuses are those of ``capledger projector run``.
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from capledger.application.published import PublishedEvent
from capledger.bootstrap import build_read_model, load_settings
from capledger.observability import configure_logging
from capledger.projections import ReadModelStore
from capledger.streams.projector import quiet_libraries, run_worker
from capledger.streams.projector_apply import Applied, OffsetApplier, Record


class PausingApplier(OffsetApplier):
    """The worker's applier, sleeping up to ``max_pause_s`` before each commit."""

    def __init__(
        self, store: ReadModelStore, topic: str, max_pause_s: float, **options: Any
    ) -> None:
        super().__init__(store, topic, **options)
        self.max_pause_s = max_pause_s

    def apply(
        self,
        records: Sequence[Record],
        *,
        decoded: Sequence[PublishedEvent | None] | None = None,
        before_commit: Callable[[], None] | None = None,
    ) -> Applied:
        def pause() -> None:
            time.sleep(random.uniform(0, self.max_pause_s))
            if before_commit is not None:
                before_commit()

        return super().apply(records, decoded=decoded, before_commit=pause)


def main(argv: list[str]) -> int:
    settings = load_settings()
    configure_logging(settings.log)
    quiet_libraries()
    store = build_read_model(settings)
    applier = PausingApplier(
        store,
        settings.kafka.events_topic,
        int(argv[0]) / 1000,
        max_cached_rows=settings.projector.max_cached_rows,
    )
    try:
        return run_worker(settings.kafka, store, settings.projector, applier=applier)
    finally:
        store.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
