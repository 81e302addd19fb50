"""The write model: an eventsourcing Application that executes the ledger's commands.

``Ledger.execute(command, command_id=...)`` runs any command (``capledger.application.commands``)
the same way: its handler (``capledger.application.handlers``) loads the few aggregates it
touches and lets them check their invariants; their events are recorded together with the
command's receipt in one atomic write (the event store's ``put``: one transaction), retried on
fresh state when another writer got there first.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar
from uuid import UUID

import structlog
from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate, DomainEventProtocol
from eventsourcing.persistence import (
    IntegrityError,
    JSONTranscoder,
    Mapper,
    StoredEvent,
    Transcoder,
)
from eventsourcing.utils import Environment

from capledger.domain import ApiKey, CapitalPlan, DomainError, Project, RuleBook
from capledger.domain.ids import api_key_id, plan_id, project_id

from .chain import unseal
from .commands import Command
from .errors import (
    ConcurrencyConflict,
    IdempotencyConflict,
    InvalidCommand,
    UnknownApiKey,
    UnknownPlan,
    UnknownProject,
)
from .eventstore import (
    CanonicalJSONTranscoder,
    ChainedEventStore,
    DateAsISO,
    DecisionAsDict,
    LedgerMapper,
)
from .handlers import HANDLERS, Handler
from .positions import position_of
from .receipts import (
    CommandReceipt,
    accepted,
    command_name,
    fingerprint,
    fingerprint_matches,
    fingerprinted,
    own_receipt_id,
    receipt_id,
    recorded_names,
)
from .storage import MEMORY_MODULE


class _ConfiguredLogger:
    """structlog's logger for this module, assembled once per logging configuration.

    structlog's proxy (``structlog.get_logger``, not cached on first use so that a later
    ``structlog.configure`` reaches it) assembles a new logger, its context and its output for
    every line, a dropped one too: every command writes a debug line, which production filters
    out. This assembles the logger again only when the configuration has changed (its wrapper
    class, logger factory, processors or context class differ), so a later configuration
    still reaches it.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._made_of: tuple[object, ...] = ()
        self._logger: Any = None

    def __call__(self) -> Any:
        config = structlog.get_config()
        made_of = (config["wrapper_class"], config["logger_factory"], config["processors"],
                   config["context_class"])  # fmt: skip
        if made_of != self._made_of:
            self._logger = structlog.get_logger(self.name).bind()
            self._made_of = made_of
        return self._logger


log = _ConfiguredLogger(__name__)

SYSTEM = "system"
MAX_ATTEMPTS = 5
A = TypeVar("A", bound=Aggregate)
T = TypeVar("T")


@dataclass(frozen=True)
class CommandOutcome:
    """What a command recorded: the new version of each stream it touched and its position."""

    command_id: str
    command: str
    streams: dict[str, int]
    position: int | None
    replayed: bool = False


@dataclass(frozen=True)
class _Envelope:
    """A command with the id and the principal it was issued under."""

    command: Command
    command_id: str
    principal: str
    #: The name its receipt records (``receipts.command_name``).
    name: str


@dataclass
class _UnitOfWork:
    """The aggregates one command loads or creates; saved together, or evicted on failure."""

    ledger: Ledger
    touched: dict[UUID, Aggregate] = field(default_factory=dict)
    labels: dict[UUID, str] = field(default_factory=dict)
    #: Whether an aggregate came from the cache as is, without reading the store.
    from_cache: bool = False

    @property
    def rules(self) -> RuleBook:
        return self.ledger.rules

    def project(self, code: str) -> Project:
        return self._load(Project, project_id(code), f"project:{code}", UnknownProject)

    def plan(self, code: str) -> CapitalPlan:
        return self._load(CapitalPlan, plan_id(code), f"plan:{code}", UnknownPlan)

    def api_key(self, key_id: str) -> ApiKey:
        return self._load(ApiKey, api_key_id(key_id), f"api-key:{key_id}", UnknownApiKey)

    def add(self, aggregate: A, label: str) -> A:
        self.touched[aggregate.id] = aggregate
        self.labels[aggregate.id] = label
        return aggregate

    def _load(self, kind: type[A], aggregate_id: UUID, label: str, missing: type[Exception]) -> A:
        if aggregate_id in self.touched:
            return self.touched[aggregate_id]  # type: ignore[return-value]
        aggregate: Aggregate | None = self.ledger.cached(aggregate_id)
        self.from_cache |= aggregate is not None
        if aggregate is None:
            try:
                aggregate = self.ledger.repository.get(aggregate_id, deepcopy_from_cache=False)
            except AggregateNotFoundError:
                raise missing(f"no {label.replace(':', ' ')} is recorded") from None
        if not isinstance(aggregate, kind):
            raise missing(f"{label} is not a {kind.__name__}")
        return self.add(aggregate, label)

    def exists(self, aggregate_id: UUID) -> bool:
        try:
            self.ledger.repository.get(aggregate_id, deepcopy_from_cache=False)
        except AggregateNotFoundError:
            return False
        return True

    def pending_events(self) -> list[DomainEventProtocol[UUID]]:
        """The events of every aggregate touched, in order, taken from them to be recorded."""
        return [
            event for aggregate in self.touched.values() for event in aggregate.collect_events()
        ]

    def evict(self) -> None:
        cache = self.ledger.repository.cache
        if cache is None:
            return
        for aggregate_id in self.touched:
            with contextlib.suppress(KeyError):
                cache.get(aggregate_id, evict=True)


class Ledger(Application[UUID]):
    name = "capledger"
    env: ClassVar[dict[str, str]] = {
        "AGGREGATE_CACHE_MAXSIZE": "20000",
        # The store in memory unless told otherwise, with the ledger's recorder.
        "PERSISTENCE_MODULE": MEMORY_MODULE,
    }

    def __init__(self, env: Mapping[str, str] | None = None, *, rules: RuleBook) -> None:
        super().__init__(dict(env) if env is not None else None)
        self.rules = rules
        # One command at a time per process: cached aggregates are mutated in place. Other
        # processes are kept honest by the store's optimistic concurrency on stream versions.
        self._lock = threading.RLock()

    def exclusively(self) -> contextlib.AbstractContextManager[Any]:
        """Hold the command lock: no command of this process runs until it is released (an
        import writes past the aggregates, which must not change meanwhile)."""
        return self._lock

    # -- infrastructure wiring -----------------------------------------------------------

    def construct_env(self, name: str, env: Mapping[str, str] | None = None) -> Environment:
        # The library reads "CAPLEDGER_<KEY>" before "<KEY>", so a CAPLEDGER_POSTGRES_SCHEMA or
        # CAPLEDGER_SQLITE_DBNAME left in os.environ would beat the settings passed in: those
        # passed in must win.
        environment = super().construct_env(name, env)
        for key, value in (env or {}).items():
            for lookup in environment.create_keys(key):
                environment[lookup] = value
        return environment

    def construct_mapper(self) -> Mapper[UUID]:
        return LedgerMapper(transcoder=self.construct_transcoder())

    def construct_transcoder(self) -> Transcoder:
        # Canonical JSON, as the hash chain hashes it: the event store seals it as written.
        transcoder = CanonicalJSONTranscoder()
        self.register_transcodings(transcoder)
        return transcoder

    def construct_event_store(self) -> ChainedEventStore:
        return ChainedEventStore(mapper=self.mapper, recorder=self.recorder)

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())
        transcoder.register(DecisionAsDict())

    # -- commands ------------------------------------------------------------------------

    def execute(
        self, command: Command, *, command_id: str, principal: str = SYSTEM
    ) -> CommandOutcome:
        """Run ``command`` once under the client's ``command_id``, as ``principal``.

        Its handler (``HANDLERS``, by the command's type) changes the aggregates it loads; they
        are recorded together with the command's receipt in one atomic write. The same id
        again from the same principal with the same command returns the first outcome and
        records nothing; with another command it is refused (``IdempotencyConflict``). Ids are
        scoped per principal: the same id from another principal is another command. A
        receipt is never deleted, so an id is remembered for as long as the store is kept.
        """
        if not isinstance(command_id, str) or not command_id.strip():
            raise IdempotencyConflict("every command needs a non-empty command id")
        try:
            handler = HANDLERS[type(command)]
        except KeyError:
            name = type(command).__name__
            raise InvalidCommand(f"{name} is not a command of the ledger") from None
        envelope = _Envelope(command, command_id, principal, command_name(command))
        return self._execute(envelope, handler)

    # -- reading the write model ---------------------------------------------------------

    def project(self, code: str) -> Project:
        with self._lock:
            return self._get(Project, project_id(code), f"project {code}", UnknownProject)

    def plan(self, code: str) -> CapitalPlan:
        with self._lock:
            return self._get(CapitalPlan, plan_id(code), f"plan {code}", UnknownPlan)

    def peek_project(self, code: str, read: Callable[[Project], T]) -> T:
        """``read(project)`` on the project's current state, without the copy :meth:`project`
        hands out: for a check of a field or two before a command (the API's scope checks).
        The copy is of the whole state, every entry included, so it grows with the project's
        history; ``read`` runs under the command lock and must not change the project."""
        with self._lock:
            project = self._get(Project, project_id(code), f"project {code}", UnknownProject,
                                copy=False)  # fmt: skip
            return read(project)

    def peek_plan(self, code: str, read: Callable[[CapitalPlan], T]) -> T:
        """``read(plan)`` on the plan's current state, uncopied (see :meth:`peek_project`)."""
        with self._lock:
            plan = self._get(CapitalPlan, plan_id(code), f"plan {code}", UnknownPlan, copy=False)
            return read(plan)

    def stored_stream(self, aggregate_id: UUID) -> list[StoredEvent]:
        assert isinstance(self.events, ChainedEventStore)
        return self.events.select_stored(aggregate_id)

    # -- command execution ---------------------------------------------------------------

    def cached(self, aggregate_id: UUID) -> Aggregate | None:
        """The cached aggregate as this process last saved or read it, without asking the store.

        Commands use it as is (the repository would first read the stream for newer events):
        this process records every change it makes, and a change recorded by another process
        makes the save collide on the stream version, which evicts the aggregate and retries
        the command on fresh state. So no decision is ever recorded on stale state.
        """
        cache = self.repository.cache
        if cache is None:
            return None
        try:
            aggregate = cache.get(aggregate_id)
        except KeyError:
            return None
        return aggregate if isinstance(aggregate, Aggregate) else None

    def _get(
        self,
        kind: type[A],
        aggregate_id: UUID,
        label: str,
        missing: type[Exception],
        *,
        copy: bool = True,
    ) -> A:
        try:
            aggregate: Aggregate = self.repository.get(aggregate_id, deepcopy_from_cache=copy)
        except AggregateNotFoundError:
            raise missing(f"no {label} is recorded") from None
        if not isinstance(aggregate, kind):
            raise missing(f"{label} is not a {kind.__name__}")
        return aggregate

    def _execute(self, command: _Envelope, handle: Handler) -> CommandOutcome:
        digest = fingerprint(*fingerprinted(command.command))
        # The receipt's slot: the id's shared one first, the principal's own once another
        # principal is found holding the shared one (``_receipt``). The happy path reads
        # nothing to choose it.
        slot = receipt_id(command.command_id)
        with self._lock:
            attempts, rechecked = 0, False
            while attempts < MAX_ATTEMPTS:
                uow = _UnitOfWork(self)
                try:
                    handle(command.command, uow)
                except Exception as error:
                    uow.evict()
                    receipt, slot = self._receipt(command)
                    if receipt is not None:
                        return self._replay(command, digest, receipt)
                    if isinstance(error, DomainError) and uow.from_cache and not rechecked:
                        # Refused on cached state that another process may have moved on
                        # (a reversal, an allocation): judge it once more on the store's state.
                        rechecked = True
                        continue
                    if isinstance(error, DomainError):
                        log().info("command_refused", command=command.name,
                                 command_id=command.command_id, error=error.code)  # fmt: skip
                    raise
                try:
                    return self._save_with_receipt(command, digest, uow, slot)
                except IntegrityError:
                    receipt, free = self._receipt(command)
                    if receipt is not None:
                        return self._replay(command, digest, receipt)
                    if free != slot:
                        # The shared slot is another principal's: this principal's command
                        # is its own, recorded in its own slot (not a conflict, no attempt).
                        slot = free
                        continue
                    log().info("command_version_conflict", command=command.name,
                             command_id=command.command_id)  # fmt: skip
                attempts += 1
            raise ConcurrencyConflict(
                f"command {command.command_id} conflicted with other writers "
                f"{MAX_ATTEMPTS} times; retry it with the same command id"
            )

    def _save_with_receipt(
        self, command: _Envelope, digest: str, uow: _UnitOfWork, slot: UUID
    ) -> CommandOutcome:
        """Record what ``uow`` touched with the command's receipt in ``slot``, in one write;
        on ``IntegrityError`` (a stream version or the receipt's slot taken) nothing is."""
        # Only the streams the command records in: a plan loaded only to check that it exists
        # (the one an annual plan implements) is not one of them.
        streams = {
            uow.labels[aggregate_id]: aggregate.version
            for aggregate_id, aggregate in uow.touched.items()
            if aggregate.pending_events
        }
        receipt = accepted(
            command_id=command.command_id,
            command=command.name,
            fingerprint=digest,
            streams=streams,
            principal=command.principal,
            slot=slot,
        )
        metadata = {
            "command": command.name,
            "command_id": command.command_id,
            "principal": command.principal,
            "correlation_id": structlog.contextvars.get_contextvars().get("correlation_id"),
        }
        subjects = {**uow.labels, receipt.originator_id: f"command:{command.command_id}"}
        try:
            # The event store's ``put``, which ``Application.save`` calls once it has told the
            # aggregates it is given from events by ``isinstance`` checks against runtime-
            # checkable protocols: Python 3.11 walks a protocol's members on every such check,
            # which made them a large share of a command's CPU time (bench/README.md, "The
            # write path after the fix"). Nothing else of ``save`` applies: the repository
            # fast-forwards its cache, so a saved aggregate is not put in it, and the ledger
            # takes no snapshots (a unit test holds both).
            recordings = self.events.put(
                [*uow.pending_events(), receipt], metadata=metadata, subjects=subjects
            )
        except BaseException:
            # Not recorded (a conflict, a lost connection, a locked database...): the
            # aggregates, already mutated, must not stay cached ahead of the store.
            uow.evict()
            raise
        position = max((r.notification.id for r in recordings), default=None)
        log().debug("command_recorded", command=command.name, command_id=command.command_id,
                  position=position)  # fmt: skip
        return CommandOutcome(command.command_id, command.name, streams, position)

    def _receipt(self, command: _Envelope) -> tuple[CommandReceipt | None, UUID]:
        """This principal's receipt of the command id, if recorded, and the slot its receipt
        takes (or would take).

        Ids are scoped per principal: the first principal to use an id holds its shared slot
        (``receipt_id``; every receipt recorded before the scoping is there), any other
        principal its own (``own_receipt_id``). Slots are never freed, so an own slot is only
        ever filled after the shared one, and a free shared slot means no receipt at all.
        """
        shared = receipt_id(command.command_id)
        first = self._stored_receipt(shared)
        if first is None:
            return None, shared
        if first.principal == command.principal:
            return first, shared
        own = own_receipt_id(command.principal, command.command_id)
        return self._stored_receipt(own), own

    def _stored_receipt(self, slot: UUID) -> CommandReceipt | None:
        try:
            receipt: Aggregate = self.repository.get(slot)
        except AggregateNotFoundError:
            return None
        assert isinstance(receipt, CommandReceipt)
        return receipt

    def _replay(self, command: _Envelope, digest: str, receipt: CommandReceipt) -> CommandOutcome:
        """The first outcome of the command this principal recorded under this id; refused
        (``IdempotencyConflict``) if that was another command."""
        if receipt.command not in recorded_names(command.command) or not fingerprint_matches(
            receipt.fingerprint, *fingerprinted(command.command), digest
        ):
            raise IdempotencyConflict(
                f"command id {command.command_id} was already used for a different "
                f"{receipt.command} command"
            )
        position = position_of(self.recorder, receipt.id, 1)
        return CommandOutcome(
            command.command_id, command.name, dict(receipt.streams), position, replayed=True
        )


def chain_hash(stored: StoredEvent) -> str:
    return unseal(stored.state).hash
