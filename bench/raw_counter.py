"""The raw reference's aggregate: the simplest one the eventsourcing library can save.

``bench/write.py`` and ``bench/api.py`` compare the ledger with a plain ``Application`` saving
one ``Incremented`` event per call of this aggregate (the scripts run from ``bench/``, which is
then first on ``sys.path``).
"""

from __future__ import annotations

from eventsourcing.domain import Aggregate, event


class Counter(Aggregate):
    """The simplest aggregate: one event per increment."""

    @event("Created")
    def __init__(self, name: str) -> None:
        self.name = name
        self.count = 0

    @event("Incremented")
    def increment(self, by: int) -> None:
        self.count += by
