"""The write model: an eventsourcing Application whose verbs are the ledger's commands.

Every verb takes a client-chosen ``command_id`` and primitives, loads the few aggregates it
touches, lets them check their invariants, and records their events together with the command's
receipt in one atomic ``save()``.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, ClassVar, TypeVar
from uuid import UUID

import structlog
from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import (
    IntegrityError,
    JSONTranscoder,
    Mapper,
    StoredEvent,
    Transcoder,
)
from eventsourcing.utils import Environment

from capledger.domain import CapitalPlan, Decision, DomainError, Project, RuleBook
from capledger.domain.ids import plan_id, project_id
from capledger.observability import debug_enabled

from .chain import unseal
from .errors import (
    ConcurrencyConflict,
    DuplicatePlan,
    DuplicateProject,
    IdempotencyConflict,
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
from .positions import position_of
from .receipts import CommandReceipt, accepted, fingerprint, fingerprint_matches, receipt_id
from .storage import MEMORY_MODULE

log = structlog.get_logger(__name__)

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
class _Command:
    name: str
    command_id: str
    principal: str
    args: dict[str, Any]

    def __post_init__(self) -> None:
        if not isinstance(self.command_id, str) or not self.command_id.strip():
            raise IdempotencyConflict("every command needs a non-empty command id")


@dataclass
class _UnitOfWork:
    """The aggregates one command loads or creates; saved together, or evicted on failure."""

    ledger: Ledger
    touched: dict[UUID, Aggregate] = field(default_factory=dict)
    labels: dict[UUID, str] = field(default_factory=dict)
    #: Whether an aggregate came from the cache as is, without reading the store.
    from_cache: bool = False

    def project(self, code: str) -> Project:
        return self._load(Project, project_id(code), f"project:{code}", UnknownProject)

    def plan(self, code: str) -> CapitalPlan:
        return self._load(CapitalPlan, plan_id(code), f"plan:{code}", UnknownPlan)

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

    # -- plans ---------------------------------------------------------------------------

    def approve_plan(
        self,
        *,
        command_id: str,
        code: str,
        title: str,
        kind: str,
        authority: str,
        jurisdiction: str,
        start_year: int,
        end_year: int,
        envelopes: Mapping[str, int],
        decision_no: str,
        decision_date: date,
        decision_issuer: str,
        effective_on: date,
        implements: str | None = None,
        principal: str = SYSTEM,
    ) -> CommandOutcome:
        args = {
            "code": code, "title": title, "kind": kind, "authority": authority,
            "jurisdiction": jurisdiction, "start_year": start_year, "end_year": end_year,
            "envelopes": dict(envelopes), "decision_no": decision_no,
            "decision_date": decision_date, "decision_issuer": decision_issuer,
            "effective_on": effective_on, "implements": implements,
        }  # fmt: skip

        def handle(uow: _UnitOfWork) -> None:
            if uow.exists(plan_id(code)):
                raise DuplicatePlan(f"plan {code} is already recorded")
            if implements is not None:
                uow.plan(implements)
            plan = CapitalPlan.approve(
                code=code, title=title, kind=kind, authority=authority,
                jurisdiction=jurisdiction, start_year=start_year, end_year=end_year,
                envelopes=envelopes,
                decision=_decision(decision_no, decision_date, decision_issuer),
                effective_on=effective_on, implements=implements,
            )  # fmt: skip
            uow.add(plan, f"plan:{code}")

        return self._execute(_Command("approve_plan", command_id, principal, args), handle)

    def adjust_plan(
        self,
        *,
        command_id: str,
        code: str,
        envelopes: Mapping[str, int],
        reason: str,
        decision_no: str,
        decision_date: date,
        decision_issuer: str,
        effective_on: date,
        principal: str = SYSTEM,
    ) -> CommandOutcome:
        args = {
            "code": code, "envelopes": dict(envelopes), "reason": reason,
            "decision_no": decision_no, "decision_date": decision_date,
            "decision_issuer": decision_issuer, "effective_on": effective_on,
        }  # fmt: skip

        def handle(uow: _UnitOfWork) -> None:
            uow.plan(code).adjust(
                envelopes=envelopes,
                reason=reason,
                decision=_decision(decision_no, decision_date, decision_issuer),
                effective_on=effective_on,
            )

        return self._execute(_Command("adjust_plan", command_id, principal, args), handle)

    # -- projects ------------------------------------------------------------------------

    def register_project(
        self,
        *,
        command_id: str,
        code: str,
        name: str,
        investor_code: str,
        investor_name: str,
        program: str,
        sector: str,
        province: str,
        total_investment: int,
        decision_no: str,
        decision_date: date,
        decision_issuer: str,
        effective_on: date,
        principal: str = SYSTEM,
    ) -> CommandOutcome:
        args = {
            "code": code, "name": name, "investor_code": investor_code,
            "investor_name": investor_name, "program": program, "sector": sector,
            "province": province, "total_investment": total_investment,
            "decision_no": decision_no, "decision_date": decision_date,
            "decision_issuer": decision_issuer, "effective_on": effective_on,
        }  # fmt: skip

        def handle(uow: _UnitOfWork) -> None:
            if uow.exists(project_id(code)):
                raise DuplicateProject(f"project {code} is already recorded")
            project = Project.register(
                code=code, name=name, investor_code=investor_code, investor_name=investor_name,
                program=program, sector=sector, province=province,
                total_investment=total_investment,
                decision=_decision(decision_no, decision_date, decision_issuer),
                effective_on=effective_on,
            )  # fmt: skip
            uow.add(project, f"project:{code}")

        return self._execute(_Command("register_project", command_id, principal, args), handle)

    def adjust_total_investment(
        self,
        *,
        command_id: str,
        project_code: str,
        total_investment: int,
        decision_no: str,
        decision_date: date,
        decision_issuer: str,
        effective_on: date,
        principal: str = SYSTEM,
    ) -> CommandOutcome:
        args = {
            "project_code": project_code, "total_investment": total_investment,
            "decision_no": decision_no, "decision_date": decision_date,
            "decision_issuer": decision_issuer, "effective_on": effective_on,
        }  # fmt: skip

        def handle(uow: _UnitOfWork) -> None:
            uow.project(project_code).adjust_total_investment(
                total_investment=total_investment,
                decision=_decision(decision_no, decision_date, decision_issuer),
                effective_on=effective_on,
            )

        return self._execute(
            _Command("adjust_total_investment", command_id, principal, args), handle
        )

    def change_investor(
        self,
        *,
        command_id: str,
        project_code: str,
        investor_code: str,
        investor_name: str,
        reason: str,
        effective_on: date,
        principal: str = SYSTEM,
    ) -> CommandOutcome:
        args = {
            "project_code": project_code, "investor_code": investor_code,
            "investor_name": investor_name, "reason": reason, "effective_on": effective_on,
        }  # fmt: skip

        def handle(uow: _UnitOfWork) -> None:
            uow.project(project_code).change_investor(
                investor_code=investor_code,
                investor_name=investor_name,
                reason=reason,
                effective_on=effective_on,
            )

        return self._execute(_Command("change_investor", command_id, principal, args), handle)

    def change_status(
        self,
        *,
        command_id: str,
        project_code: str,
        status: str,
        reason: str,
        effective_on: date,
        review_class: str | None = None,
        decision_no: str | None = None,
        decision_date: date | None = None,
        decision_issuer: str | None = None,
        principal: str = SYSTEM,
    ) -> CommandOutcome:
        args = {
            "project_code": project_code, "status": status, "reason": reason,
            "effective_on": effective_on, "review_class": review_class,
            "decision_no": decision_no, "decision_date": decision_date,
            "decision_issuer": decision_issuer,
        }  # fmt: skip

        def handle(uow: _UnitOfWork) -> None:
            decision = None
            if decision_no is not None and decision_date is not None:
                decision = _decision(decision_no, decision_date, decision_issuer or "")
            uow.project(project_code).change_status(
                status=status,
                reason=reason,
                effective_on=effective_on,
                review_class=review_class,
                decision=decision,
            )

        return self._execute(_Command("change_status", command_id, principal, args), handle)

    def settle(
        self,
        *,
        command_id: str,
        project_code: str,
        settled_value: int,
        decision_no: str,
        decision_date: date,
        decision_issuer: str,
        effective_on: date,
        principal: str = SYSTEM,
    ) -> CommandOutcome:
        args = {
            "project_code": project_code, "settled_value": settled_value,
            "decision_no": decision_no, "decision_date": decision_date,
            "decision_issuer": decision_issuer, "effective_on": effective_on,
        }  # fmt: skip

        def handle(uow: _UnitOfWork) -> None:
            uow.project(project_code).settle(
                settled_value=settled_value,
                decision=_decision(decision_no, decision_date, decision_issuer),
                effective_on=effective_on,
            )

        return self._execute(_Command("settle", command_id, principal, args), handle)

    # -- capital movements ---------------------------------------------------------------

    def allocate(
        self,
        *,
        command_id: str,
        plan_code: str,
        project_code: str,
        source: str,
        amount: int,
        decision_no: str,
        decision_date: date,
        decision_issuer: str,
        effective_on: date,
        principal: str = SYSTEM,
    ) -> CommandOutcome:
        args = {
            "plan_code": plan_code, "project_code": project_code, "source": source,
            "amount": amount, "decision_no": decision_no, "decision_date": decision_date,
            "decision_issuer": decision_issuer, "effective_on": effective_on,
        }  # fmt: skip

        def handle(uow: _UnitOfWork) -> None:
            decision = _decision(decision_no, decision_date, decision_issuer)
            plan, project = uow.plan(plan_code), uow.project(project_code)
            project.receive_allocation(
                plan_code=plan_code, plan_kind=plan.kind, fiscal_year=plan.fiscal_year,
                source=source, amount=amount, decision=decision, effective_on=effective_on,
                rules=self.rules,
            )  # fmt: skip
            plan.allocate(
                project_code=project_code, source=source, amount=amount, decision=decision,
                effective_on=effective_on,
            )  # fmt: skip

        return self._execute(_Command("allocate", command_id, principal, args), handle)

    def transfer(
        self,
        *,
        command_id: str,
        plan_code: str,
        source: str,
        from_project: str,
        to_project: str,
        amount: int,
        decision_no: str,
        decision_date: date,
        decision_issuer: str,
        effective_on: date,
        principal: str = SYSTEM,
    ) -> CommandOutcome:
        """Move undisbursed capital between two projects of the same plan and source."""
        args = {
            "plan_code": plan_code, "source": source, "from_project": from_project,
            "to_project": to_project, "amount": amount, "decision_no": decision_no,
            "decision_date": decision_date, "decision_issuer": decision_issuer,
            "effective_on": effective_on,
        }  # fmt: skip

        def handle(uow: _UnitOfWork) -> None:
            decision = _decision(decision_no, decision_date, decision_issuer)
            donor, recipient = uow.project(from_project), uow.project(to_project)
            line = donor.transfer_out(
                plan_code=plan_code, source=source, amount=amount, to_project=to_project,
                decision=decision, effective_on=effective_on, rules=self.rules,
            )  # fmt: skip
            recipient.transfer_in(
                from_line=line, amount=amount, from_project=from_project, decision=decision,
                effective_on=effective_on, rules=self.rules,
            )  # fmt: skip

        return self._execute(_Command("transfer", command_id, principal, args), handle)

    def cut(
        self,
        *,
        command_id: str,
        plan_code: str,
        project_code: str,
        source: str,
        reason: str,
        decision_no: str,
        decision_date: date,
        decision_issuer: str,
        effective_on: date,
        amount: int | None = None,
        principal: str = SYSTEM,
    ) -> CommandOutcome:
        """Cut a project's undisbursed allocation (all of it when no amount is given)."""
        args = {
            "plan_code": plan_code, "project_code": project_code, "source": source,
            "reason": reason, "decision_no": decision_no, "decision_date": decision_date,
            "decision_issuer": decision_issuer, "effective_on": effective_on, "amount": amount,
        }  # fmt: skip

        def handle(uow: _UnitOfWork) -> None:
            decision = _decision(decision_no, decision_date, decision_issuer)
            plan, project = uow.plan(plan_code), uow.project(project_code)
            cut_amount = project.cut(
                plan_code=plan_code, source=source, amount=amount, reason=reason,
                decision=decision, effective_on=effective_on, rules=self.rules,
            )  # fmt: skip
            plan.take_back(
                project_code=project_code, source=source, amount=cut_amount,
                decision=decision, effective_on=effective_on,
            )  # fmt: skip

        return self._execute(_Command("cut", command_id, principal, args), handle)

    def extend_disbursement_period(
        self,
        *,
        command_id: str,
        project_code: str,
        plan_code: str,
        source: str,
        amount: int,
        until: date,
        decision_no: str,
        decision_date: date,
        decision_issuer: str,
        effective_on: date,
        principal: str = SYSTEM,
    ) -> CommandOutcome:
        args = {
            "project_code": project_code, "plan_code": plan_code, "source": source,
            "amount": amount, "until": until, "decision_no": decision_no,
            "decision_date": decision_date, "decision_issuer": decision_issuer,
            "effective_on": effective_on,
        }  # fmt: skip

        def handle(uow: _UnitOfWork) -> None:
            uow.project(project_code).extend_disbursement_period(
                plan_code=plan_code, source=source, amount=amount, until=until,
                decision=_decision(decision_no, decision_date, decision_issuer),
                effective_on=effective_on, rules=self.rules,
            )  # fmt: skip

        return self._execute(_Command("extend", command_id, principal, args), handle)

    def lapse(
        self,
        *,
        command_id: str,
        project_code: str,
        plan_code: str,
        source: str,
        as_of: date,
        principal: str = SYSTEM,
    ) -> CommandOutcome:
        args = {
            "project_code": project_code, "plan_code": plan_code, "source": source,
            "as_of": as_of,
        }  # fmt: skip

        def handle(uow: _UnitOfWork) -> None:
            uow.project(project_code).lapse(
                plan_code=plan_code, source=source, as_of=as_of, rules=self.rules
            )

        return self._execute(_Command("lapse", command_id, principal, args), handle)

    # -- contracts and cash --------------------------------------------------------------

    def sign_contract(
        self,
        *,
        command_id: str,
        project_code: str,
        contract_no: str,
        contractor: str,
        value: int,
        effective_on: date,
        principal: str = SYSTEM,
    ) -> CommandOutcome:
        args = {
            "project_code": project_code, "contract_no": contract_no,
            "contractor": contractor, "value": value, "effective_on": effective_on,
        }  # fmt: skip

        def handle(uow: _UnitOfWork) -> None:
            uow.project(project_code).sign_contract(
                contract_no=contract_no, contractor=contractor, value=value,
                effective_on=effective_on,
            )  # fmt: skip

        return self._execute(_Command("sign_contract", command_id, principal, args), handle)

    def pay_advance(
        self,
        *,
        command_id: str,
        project_code: str,
        contract_no: str,
        plan_code: str,
        source: str,
        amount: int,
        treasury_ref: str,
        effective_on: date,
        principal: str = SYSTEM,
    ) -> CommandOutcome:
        args = {
            "project_code": project_code, "contract_no": contract_no, "plan_code": plan_code,
            "source": source, "amount": amount, "treasury_ref": treasury_ref,
            "effective_on": effective_on,
        }  # fmt: skip

        def handle(uow: _UnitOfWork) -> None:
            uow.project(project_code).pay_advance(
                contract_no=contract_no, plan_code=plan_code, source=source, amount=amount,
                treasury_ref=treasury_ref, effective_on=effective_on, rules=self.rules,
            )  # fmt: skip

        return self._execute(_Command("pay_advance", command_id, principal, args), handle)

    def pay_completed_work(
        self,
        *,
        command_id: str,
        project_code: str,
        plan_code: str,
        source: str,
        amount: int,
        treasury_ref: str,
        effective_on: date,
        contract_no: str | None = None,
        advance_recovered: int = 0,
        principal: str = SYSTEM,
    ) -> CommandOutcome:
        args = {
            "project_code": project_code, "plan_code": plan_code, "source": source,
            "amount": amount, "treasury_ref": treasury_ref, "effective_on": effective_on,
            "contract_no": contract_no, "advance_recovered": advance_recovered,
        }  # fmt: skip

        def handle(uow: _UnitOfWork) -> None:
            uow.project(project_code).pay_completed_work(
                plan_code=plan_code, source=source, amount=amount, treasury_ref=treasury_ref,
                effective_on=effective_on, rules=self.rules, contract_no=contract_no,
                advance_recovered=advance_recovered,
            )  # fmt: skip

        return self._execute(_Command("pay_completed_work", command_id, principal, args), handle)

    def reverse_entry(
        self,
        *,
        command_id: str,
        project_code: str,
        entry_version: int,
        reason: str,
        effective_on: date,
        principal: str = SYSTEM,
    ) -> CommandOutcome:
        args = {
            "project_code": project_code, "entry_version": entry_version, "reason": reason,
            "effective_on": effective_on,
        }  # fmt: skip

        def handle(uow: _UnitOfWork) -> None:
            uow.project(project_code).reverse_entry(
                entry_version=entry_version, reason=reason, effective_on=effective_on
            )

        return self._execute(_Command("reverse_entry", command_id, principal, args), handle)

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

    def replay_project(self, code: str) -> Iterator[tuple[StoredEvent, Project]]:
        """Each stored event of a project with the project's state right after it."""
        stored_events = self.stored_stream(project_id(code))
        if not stored_events:
            raise UnknownProject(f"no project {code} is recorded")
        project: Project | None = None
        for stored in stored_events:
            domain_event = self.mapper.to_domain_event(stored)
            project = domain_event.mutate(project)  # type: ignore[attr-defined]
            assert project is not None
            yield stored, project

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

    def _execute(self, command: _Command, handle: Callable[[_UnitOfWork], None]) -> CommandOutcome:
        digest = fingerprint(command.name, command.args)
        with self._lock:
            attempts, rechecked = 0, False
            while attempts < MAX_ATTEMPTS:
                uow = _UnitOfWork(self)
                try:
                    handle(uow)
                except Exception as error:
                    uow.evict()
                    replayed = self._replayed(command, digest)
                    if replayed is not None:
                        return replayed
                    if isinstance(error, DomainError) and uow.from_cache and not rechecked:
                        # Refused on cached state that another process may have moved on
                        # (a reversal, an allocation): judge it once more on the store's state.
                        rechecked = True
                        continue
                    if isinstance(error, DomainError):
                        log.info("command_refused", command=command.name,
                                 command_id=command.command_id, error=error.code)  # fmt: skip
                    raise
                outcome = self._save_with_receipt(command, digest, uow)
                if outcome is not None:
                    return outcome
                attempts += 1
            raise ConcurrencyConflict(
                f"command {command.command_id} conflicted with other writers "
                f"{MAX_ATTEMPTS} times; retry it with the same command id"
            )

    def _save_with_receipt(
        self, command: _Command, digest: str, uow: _UnitOfWork
    ) -> CommandOutcome | None:
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
        )
        metadata = {
            "command": command.name,
            "command_id": command.command_id,
            "principal": command.principal,
            "correlation_id": structlog.contextvars.get_contextvars().get("correlation_id"),
        }
        try:
            subjects = {**uow.labels, receipt.originator_id: f"command:{command.command_id}"}
            recordings = self.save(
                *uow.touched.values(), receipt, metadata=metadata, subjects=subjects
            )
        except IntegrityError:
            uow.evict()
            replayed = self._replayed(command, digest)
            if replayed is not None:
                return replayed
            log.info("command_version_conflict", command=command.name,
                     command_id=command.command_id)  # fmt: skip
            return None
        except BaseException:
            # Not recorded (a lost connection, a locked database...): the aggregates, already
            # mutated, must not stay cached ahead of the store.
            uow.evict()
            raise
        position = max((r.notification.id for r in recordings), default=None)
        if debug_enabled():
            log.debug("command_recorded", command=command.name, command_id=command.command_id,
                      position=position)  # fmt: skip
        return CommandOutcome(command.command_id, command.name, streams, position)

    def _replayed(self, command: _Command, digest: str) -> CommandOutcome | None:
        """The first outcome of a command already recorded under this id, if any."""
        try:
            receipt: Aggregate = self.repository.get(receipt_id(command.command_id))
        except AggregateNotFoundError:
            return None
        assert isinstance(receipt, CommandReceipt)
        if receipt.command != command.name or not fingerprint_matches(
            receipt.fingerprint, command.name, command.args, digest
        ):
            raise IdempotencyConflict(
                f"command id {command.command_id} was already used for a different "
                f"{receipt.command} command"
            )
        position = position_of(self.recorder, receipt.id, 1)
        return CommandOutcome(
            command.command_id, command.name, dict(receipt.streams), position, replayed=True
        )


def _decision(number: str, issued_on: date, issuer: str) -> Decision:
    return Decision(number=number, issued_on=issued_on, issuer=issuer)


def chain_hash(stored: StoredEvent) -> str:
    return unseal(stored.state).hash
