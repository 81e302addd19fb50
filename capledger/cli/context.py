"""What every command needs: settings, output streams, and the ledger, opened only on demand."""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass, field
from typing import TextIO

from capledger.application.ledger import Ledger
from capledger.bootstrap import build_embedded_runner, build_ledger, build_read_model
from capledger.progress import ProgressReporter
from capledger.projections import EmbeddedRunner, ReadModelStore
from capledger.projections.verification import UnverifiedEvent
from capledger.settings import Persistence, Settings

from .errors import EXIT_CHAIN_BROKEN, EXIT_FAILURE, CliError


def store_location(settings: Settings) -> str:
    if settings.store.persistence is Persistence.POSTGRES:
        return (
            f"postgresql://{settings.store.postgres.user}@{settings.store.postgres.host}:"
            f"{settings.store.postgres.port}/{settings.store.postgres.dbname} "
            f"(schema {settings.store.postgres.schema_name})"
        )
    return f"sqlite file {settings.store.sqlite_path}"


def read_model_location(settings: Settings) -> str:
    if settings.store.persistence is Persistence.POSTGRES:
        return f"postgresql schema {settings.read_model.schema_name}_<namespace>"
    return f"sqlite file {settings.readmodel_path}"


@dataclass
class CliContext:
    settings: Settings
    stdin: TextIO
    stdout: TextIO
    stderr: TextIO
    _ledger: Ledger | None = field(default=None, init=False)
    _read_model: ReadModelStore | None = field(default=None, init=False)
    _runner: EmbeddedRunner | None = field(default=None, init=False)

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
            self.settings.store.persistence is Persistence.SQLITE
            and not self.settings.store.sqlite_path.exists()
        ):
            raise CliError(
                "no-store",
                f"no ledger is recorded at {self.settings.store.sqlite_path} "
                "(set CAPLEDGER_DATA_DIR, or record one first, e.g. with `capledger demo`)",
            )

    def read_model(self) -> ReadModelStore:
        """The read-model store beside the ledger (created on first use, never without one)."""
        if self._read_model is None:
            self.ledger(must_exist=True)
            self._read_model = build_read_model(self.settings)
        return self._read_model

    def runner(self) -> EmbeddedRunner:
        """The embedded runner that follows the ledger's log into the read model."""
        if self.settings.read_model.projected_from_kafka:
            raise CliError(
                "projector-owns-read-model",
                "the Kafka projector writes this read model (CAPLEDGER_PROJECTIONS_RUNNER="
                "kafka): the embedded runner must not fold it too",
                EXIT_FAILURE,
            )
        if self._runner is None:
            read_model = self.read_model()  # first: it refuses to create a missing store
            self._runner = build_embedded_runner(self.ledger(), read_model)
        return self._runner

    def caught_up(self) -> ReadModelStore:
        """The read model, first brought up to the head of the log (progress on stderr), so
        that it shows everything recorded so far: this process has no background runner.
        A read model kept by the Kafka projector is read as it is (it has one writer)."""
        if self.settings.read_model.projected_from_kafka:
            return self.verified(self.read_model())
        runner = self.runner()
        head = self.ledger().recorder.max_notification_id() or 0
        position = runner.stored_position()
        if position > head:
            raise CliError(
                "read-model-mismatch",
                f"the read model ({read_model_location(self.settings)}) is at position "
                f"{position:,} but the ledger ends at {head:,}: it was made from another "
                "store; run `capledger projections rebuild`",
                EXIT_FAILURE,
            )
        if position < head:
            with ProgressReporter("projections") as progress, suppress(UnverifiedEvent):
                runner.catch_up(progress, until=head)  # a breach is recorded: refused below
        return self.verified(runner.store)

    def verified(self, store: ReadModelStore) -> ReadModelStore:
        """``store``, unless a runner met an event that fails verification: then no figure is
        shown (:meth:`unverified`)."""
        breach = store.breach()
        if breach is None:
            return store
        raise self.unverified(breach.describe())

    def check_recorded_verdict(self) -> None:
        """Refuse (:meth:`unverified`) if the read model records a breach; a read model that
        does not exist yet is not made for it."""
        sqlite = self.settings.store.persistence is Persistence.SQLITE
        if sqlite and not self.settings.readmodel_path.exists():
            return
        self.verified(self.read_model())

    @staticmethod
    def unverified(where: str) -> CliError:
        """The one refusal of every read command while the ledger fails verification: no
        figure is shown (``ledger-verification-failed``, exit 3 as ``verify``'s)."""
        return CliError(
            "ledger-verification-failed",
            f"the ledger fails verification, so no figure is shown: {where}; run "
            "`capledger verify`, restore the store, then `capledger projections rebuild`",
            EXIT_CHAIN_BROKEN,
        )

    def notice(self, message: str) -> None:
        """A line for the person at the terminal, kept off stdout."""
        print(f"capledger: {message}", file=self.stderr)

    def close(self) -> None:
        self._runner = None
        if self._read_model is not None:
            self._read_model.close()
            self._read_model = None
        if self._ledger is not None:
            self._ledger.close()
            self._ledger = None
