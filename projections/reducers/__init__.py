"""Pure reducers: fold one published event, given its stream's earlier rows, into rows to upsert.

``reduce(event, context)`` does no I/O. The embedded runner and the Kafka runner both call it and
upsert what it returns; because a reducer reads only rows of the event's own stream, any order
that keeps each stream in order (one Kafka partition per key) yields the same read model.
"""

from __future__ import annotations

from capledger.application.published import PublishedEvent

from ..context import Context
from ..events import UnknownEvent
from . import capital, cash, corrections, plans, projects
from .common import Reducer, Rows

REDUCERS: dict[str, Reducer] = {
    **plans.REDUCERS,
    **projects.REDUCERS,
    **capital.REDUCERS,
    **cash.REDUCERS,
    **corrections.REDUCERS,
}
#: Aggregates whose every event must be understood; events of others (command receipts) are
#: bookkeeping and fold to nothing.
FOLDED_AGGREGATES = frozenset({"CapitalPlan", "Project"})
#: The newest class version of each event the reducers understand (1 unless listed).
VERSIONS: dict[str, int] = {**projects.VERSIONS}


def folds(name: str) -> bool:
    """Whether events of this name (or of its aggregate) can change the read model; runners
    may skip the others without decoding them."""
    return name in REDUCERS or name.partition(".")[0] in FOLDED_AGGREGATES


def reduce(event: PublishedEvent, ctx: Context) -> Rows:
    reducer = REDUCERS.get(event.name)
    if reducer is None:
        if event.name.partition(".")[0] in FOLDED_AGGREGATES:
            raise UnknownEvent(f"no reducer for {event.name} (position {event.position})")
        return []
    newest = VERSIONS.get(event.name, 1)
    if event.class_version > newest:
        raise UnknownEvent(
            f"{event.name} version {event.class_version} is newer than the reducers "
            f"understand (version {newest}); upgrade capledger before folding position "
            f"{event.position}"
        )
    return reducer(event, ctx)


__all__ = ["REDUCERS", "Reducer", "Rows", "folds", "reduce"]
