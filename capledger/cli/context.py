"""What every command needs: settings, output streams, and the ledger, opened only on demand."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TextIO

from capledger.application.ledger import Ledger
from capledger.bootstrap import build_ledger
from capledger.settings import Persistence, Settings

from .errors import CliError


def store_location(settings: Settings) -> str:
    if settings.persistence is Persistence.POSTGRES:
        return (
            f"postgresql://{settings.postgres_user}@{settings.postgres_host}:"
            f"{settings.postgres_port}/{settings.postgres_dbname} "
            f"(schema {settings.postgres_schema})"
        )
    return f"sqlite file {settings.sqlite_path}"


@dataclass
class CliContext:
    settings: Settings
    stdin: TextIO
    stdout: TextIO
    stderr: TextIO
    _ledger: Ledger | None = field(default=None, init=False)

    @property
    def location(self) -> str:
        return store_location(self.settings)

    def ledger(self, *, must_exist: bool = False) -> Ledger:
        """Open the ledger; reading commands pass ``must_exist`` so they never create a store."""
        if self._ledger is None:
            if must_exist:
                self.require_store()
            self._ledger = build_ledger(self.settings)
        return self._ledger

    def require_store(self) -> None:
        if (
            self.settings.persistence is Persistence.SQLITE
            and not self.settings.sqlite_path.exists()
        ):
            raise CliError(
                "no-store",
                f"no ledger is recorded at {self.settings.sqlite_path} "
                "(set CAPLEDGER_DATA_DIR, or record one first, e.g. with `capledger demo`)",
            )

    def notice(self, message: str) -> None:
        """A line for the person at the terminal, kept off stdout."""
        print(f"capledger: {message}", file=self.stderr)

    def close(self) -> None:
        if self._ledger is not None:
            self._ledger.close()
            self._ledger = None
