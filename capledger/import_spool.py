"""Where an import keeps the checked events of its file until the file is judged whole.

An import writes nothing to the store before every chain of the file is checked and every
stream has passed the rules audit, and the audit replays one stream at a time (its replica is
dropped before the next), so the file's events must be read twice: grouped by stream for the
audit, in file order for the store. The file may be larger than memory and may come from a
pipe, so the checked events wait in a scratch SQLite file of their own (the standard library's
``sqlite3``, in a temporary directory removed afterwards), never in memory and never in the
target store. Its cost is one write and two reads of each event's stored state on local disk.
"""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType

from capledger.application.storage import ImportRow

#: One event as spooled: the file's line number and the row as it will be inserted.
SpooledRow = tuple[int, str, int, str, bytes]


class ImportSpool:
    """A scratch file of checked events; a context manager that removes it."""

    def __init__(self) -> None:
        self._directory = tempfile.TemporaryDirectory(prefix="capledger-import-")
        path = Path(self._directory.name) / "spool.sqlite3"
        self._db = sqlite3.connect(path, isolation_level=None)
        # A scratch file: losing it in a crash loses nothing, so no journal and no syncing.
        self._db.execute("PRAGMA journal_mode=OFF")
        self._db.execute("PRAGMA synchronous=OFF")
        self._db.execute(
            "CREATE TABLE event (line INTEGER PRIMARY KEY, stream TEXT NOT NULL, "
            "version INTEGER NOT NULL, topic TEXT NOT NULL, state BLOB NOT NULL)"
        )
        self._db.execute("BEGIN")

    def __enter__(self) -> ImportSpool:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()
        self._directory.cleanup()

    def add(self, rows: Sequence[SpooledRow]) -> None:
        self._db.executemany("INSERT INTO event VALUES (?, ?, ?, ?, ?)", rows)

    def filled(self) -> None:
        """Every event is in: index them by stream (once, faster than row by row)."""
        self._db.execute("COMMIT")
        self._db.execute("CREATE INDEX event_stream ON event (stream, version)")

    def by_stream(self) -> Iterator[SpooledRow]:
        """Every event, each stream's together in version order (streams in no set order)."""
        yield from self._db.execute(
            "SELECT line, stream, version, topic, state FROM event ORDER BY stream, version"
        )

    def in_file_order(self, size: int) -> Iterator[tuple[int, list[ImportRow]]]:
        """The events as rows to insert, ``size`` at a time, with each batch's first line."""
        cursor = self._db.execute(
            "SELECT line, stream, version, topic, state FROM event ORDER BY line"
        )
        while rows := cursor.fetchmany(size):
            yield rows[0][0], [(stream, version, topic, state) for _, stream, version, topic,
                               state in rows]  # fmt: skip

    def state_at(self, line: int) -> bytes | None:
        found = self._db.execute("SELECT state FROM event WHERE line = ?", (line,)).fetchone()
        return None if found is None else bytes(found[0])
