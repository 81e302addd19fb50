"""Read models of the ledger: pure reducers, the SQL store, the embedded runner, queries.

- ``reduce(event, context)`` folds one published event into rows to upsert (no I/O);
  ``fold_batch(writer, overlay, events)`` is how every runner applies a batch with it.
- ``ReadModelStore`` holds the rows in SQLite or PostgreSQL, in namespaces switched atomically.
- ``EmbeddedRunner`` follows the notification log into the store; ``rebuild`` replays it all.
- ``capledger.projections.queries`` answers inspectors' questions.

See projections/README.md for the design.
"""

from .batch import fold_batch
from .context import Context, Overlay
from .events import MissingContext, ProjectionError, UnknownEvent
from .log import NotificationLog
from .memory import MemoryReadModel
from .rebuild import RebuildReport, rebuild
from .reducers import folds, reduce
from .runner import EmbeddedRunner, Progress
from .store import NOTIFICATION_LOG, NotInitialised, Reader, ReadModelStore, Writer

__all__ = [
    "NOTIFICATION_LOG",
    "Context",
    "EmbeddedRunner",
    "MemoryReadModel",
    "MissingContext",
    "NotInitialised",
    "NotificationLog",
    "Overlay",
    "Progress",
    "ProjectionError",
    "ReadModelStore",
    "Reader",
    "RebuildReport",
    "UnknownEvent",
    "Writer",
    "fold_batch",
    "folds",
    "rebuild",
    "reduce",
]
