"""Audit from the source of truth: a project's stored events, read in pages, folded in order.

Nothing here reads a whole long history at once: events are selected from the recorder a page
at a time (``select_events(stream, gt, lte, limit)``) and folded into the project's state as
they come. The state at the end of each page read is kept in a small cache, so the next page of
a history starts from it instead of from the first event.

Three ways to name a point in a project's life:

- a **stream version** (the state right after that event, as the domain replays it);
- a **recording time** (the state after the last event recorded by then: what the ledger held);
- an **effective date**, optionally with the date by which it was known (the movements that
  took effect by that date, as the projections date them: a late entry counts once known).
"""

from __future__ import annotations

import copy
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from capledger.application.chain import ChainVerifier, unseal
from capledger.application.errors import UnknownProject
from capledger.application.ledger import Ledger
from capledger.application.published import PublishedEvent, publish
from capledger.domain import Project, project_id
from capledger.projections import MemoryReadModel
from capledger.projections.events import REPORTING_TZ
from capledger.projections.rows import Movement, MovementRow

PAGE = 500
STATE_CACHE_SIZE = 256
#: Fields of event data that are amounts of VND (rendered as strings).
MONEY_KEYS = frozenset(
    {"amount", "value", "total_investment", "settled_value", "advance_recovered"}
)
#: Events that change what a project is (not its money), applied by effective date.
ATTRIBUTE_EVENTS = frozenset(
    {"Registered", "InvestorChanged", "StatusChanged", "TotalInvestmentAdjusted", "Settled"}
)


@dataclass(frozen=True)
class Balances:
    allocated: int = 0
    transferred_in: int = 0
    transferred_out: int = 0
    cut: int = 0
    disbursed: int = 0
    lapsed: int = 0
    extended: int = 0
    advances_outstanding: int | None = 0

    @property
    def capital(self) -> int:
        return self.allocated + self.transferred_in - self.transferred_out - self.cut

    @property
    def undisbursed(self) -> int:
        return self.capital - self.disbursed - self.lapsed

    def minus(self, other: Balances) -> Balances:
        advances = (
            None
            if self.advances_outstanding is None or other.advances_outstanding is None
            else self.advances_outstanding - other.advances_outstanding
        )
        return Balances(
            allocated=self.allocated - other.allocated,
            transferred_in=self.transferred_in - other.transferred_in,
            transferred_out=self.transferred_out - other.transferred_out,
            cut=self.cut - other.cut,
            disbursed=self.disbursed - other.disbursed,
            lapsed=self.lapsed - other.lapsed,
            extended=self.extended - other.extended,
            advances_outstanding=advances,
        )


@dataclass(frozen=True)
class LineState:
    plan_code: str
    source: str
    fiscal_year: int | None
    balances: Balances


@dataclass(frozen=True)
class ContractState:
    contract_no: str
    contractor: str
    value: int
    advanced: int
    advance_outstanding: int
    completed_paid: int


@dataclass(frozen=True)
class ProjectState:
    """A project at one point: what it is and its capital, per line and in total."""

    code: str
    version: int
    name: str
    investor_code: str
    investor_name: str
    program: str
    sector: str
    province: str
    total_investment: int
    status: str
    review_class: str | None
    settled_value: int | None
    lines: tuple[LineState, ...]
    contracts: tuple[ContractState, ...] | None
    totals: Balances


@dataclass(frozen=True)
class HistoryEntry:
    version: int
    event: str
    class_version: int
    effective_on: date | None
    recorded_at: datetime | None
    lateness_days: int | None
    principal: str | None
    command: str | None
    command_id: str | None
    correlation_id: str | None
    decision: dict[str, Any] | None
    amount: int | None
    plan_code: str | None
    source: str | None
    data: dict[str, Any]
    hash: str
    prev: str
    balances: Balances

    @property
    def late(self) -> bool:
        return self.lateness_days is not None and self.lateness_days > 0


@dataclass(frozen=True)
class StreamCheck:
    checked: int
    head_version: int
    head_hash: str | None
    broken_version: int | None
    reason: str | None


@dataclass
class Auditor:
    """Reads projects' histories and past states from the ledger's store."""

    ledger: Ledger
    page: int = PAGE
    cache_size: int = STATE_CACHE_SIZE
    _states: OrderedDict[tuple[UUID, int], Project] = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # -- reading the stream in pages -----------------------------------------------------

    def stored(
        self, stream: UUID, *, after: int = 0, until: int | None = None
    ) -> Iterator[StoredEvent]:
        """Stored events of a stream after ``after`` up to ``until``, a page at a time."""
        position = after
        while until is None or position < until:
            batch = self.ledger.recorder.select_events(
                stream, gt=position, lte=until, limit=self.page
            )
            if not batch:
                return
            yield from batch
            position = batch[-1].originator_version
            if len(batch) < self.page:
                return

    def head_version(self, code: str) -> int:
        latest = self.ledger.recorder.select_events(project_id(code), desc=True, limit=1)
        if not latest:
            raise UnknownProject(f"no project {code} is recorded")
        return int(latest[0].originator_version)

    # -- states by version ---------------------------------------------------------------

    def state_at(self, code: str, version: int) -> Project | None:
        """A private copy of the project right after ``version`` (None for version 0)."""
        stream = project_id(code)
        if version <= 0:
            return None
        start, project = self._nearest(stream, version)
        for stored in self.stored(stream, after=start, until=version):
            project = self._apply(stored, project)
        if project is None or project.version != version:
            raise UnknownProject(f"project {code} has no version {version}")
        self._remember(stream, project)
        return copy.deepcopy(project)

    def steps(self, code: str, *, after: int, limit: int) -> Iterator[tuple[StoredEvent, Project]]:
        """Events after ``after`` (at most ``limit``) with the project right after each one.

        The project is mutated in place by the next step: read it before moving on.
        """
        stream = project_id(code)
        project = self.state_at(code, after) if after > 0 else None
        last: Project | None = None
        for stored in self.stored(stream, after=after, until=after + limit):
            project = self._apply(stored, project)
            last = project
            yield stored, project
        if last is not None:
            self._remember(stream, last)

    def _apply(self, stored: StoredEvent, project: Project | None) -> Project:
        domain_event = self.ledger.mapper.to_domain_event(stored)
        mutated = domain_event.mutate(project)  # type: ignore[attr-defined]
        assert isinstance(mutated, Project)
        return mutated

    def _nearest(self, stream: UUID, version: int) -> tuple[int, Project | None]:
        with self._lock:
            best = max((v for s, v in self._states if s == stream and v <= version), default=0)
            if best == 0:
                return 0, None
            self._states.move_to_end((stream, best))
            return best, copy.deepcopy(self._states[(stream, best)])

    def _remember(self, stream: UUID, project: Project) -> None:
        snapshot = copy.deepcopy(project)
        with self._lock:
            self._states[(stream, snapshot.version)] = snapshot
            self._states.move_to_end((stream, snapshot.version))
            while len(self._states) > self.cache_size:
                self._states.popitem(last=False)

    # -- points in time ------------------------------------------------------------------

    def version_recorded_by(self, code: str, moment: datetime) -> int:
        """The last version recorded at or before ``moment`` (0 if none)."""
        moment = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
        found = 0
        for stored in self.stored(project_id(code)):
            recorded = recorded_at(stored)
            if recorded is not None and recorded > moment:
                break
            found = stored.originator_version
        return found

    def state_by_version(self, code: str, version: int) -> ProjectState | None:
        project = self.state_at(code, version)
        return None if project is None else project_state(project)

    def state_by_effective_date(
        self, code: str, effective: date, known: date | None = None
    ) -> ProjectState | None:
        """Movements effective by ``effective`` and recorded (Vietnam time) by ``known``."""
        known_text = None if known is None else known.isoformat()
        effective_text = effective.isoformat()
        model = MemoryReadModel()
        sums: dict[tuple[str, str], dict[str, int]] = {}
        years: dict[tuple[str, str], int] = {}
        attributes: dict[str, Any] | None = None
        version = 0
        for stored in self.stored(project_id(code)):
            event = published(stored)
            model.fold([event])
            short = event.name.rpartition(".")[2]
            if short in ATTRIBUTE_EVENTS and _in_point(event, effective_text, known_text):
                attributes = _apply_attributes(attributes, short, event.data)
                version = stored.originator_version
            for movement in model.rows(MovementRow):
                if movement.effective_on > effective_text:
                    continue
                if known_text is not None and movement.recorded_on > known_text:
                    continue
                key = (movement.plan_code, movement.source)
                line = sums.setdefault(key, {})
                line[movement.kind] = line.get(movement.kind, 0) + movement.amount
                years[key] = movement.fiscal_year
                version = max(version, stored.originator_version)
            model.tables.pop(MovementRow, None)
        if attributes is None:
            return None
        lines = tuple(
            LineState(plan, source, years[(plan, source)], _balances(values))
            for (plan, source), values in sorted(sums.items())
        )
        return ProjectState(
            code=code,
            version=version,
            lines=lines,
            # Contracts' running figures are not dated by effect: only versions give them.
            contracts=None,
            totals=_total(line.balances for line in lines),
            **attributes,
        )

    # -- history -------------------------------------------------------------------------

    def history(self, code: str, *, after: int, limit: int) -> list[HistoryEntry]:
        return [
            history_entry(stored, project)
            for stored, project in self.steps(code, after=after, limit=limit)
        ]

    # -- chain ---------------------------------------------------------------------------

    def verify(self, code: str) -> StreamCheck:
        """Recompute the hash chain of one project's stream."""
        stream = project_id(code)
        verifier = ChainVerifier.new()
        head_version, head_hash = 0, None
        for stored in self.stored(stream):
            broken = verifier.check(
                stored.originator_version,
                str(stored.originator_id),
                stored.originator_version,
                stored.topic,
                stored.state,
            )
            if broken is not None:
                return StreamCheck(verifier.checked, head_version, head_hash, broken.version,
                                   broken.reason)  # fmt: skip
            head_version, head_hash = stored.originator_version, unseal(stored.state).hash
        if verifier.checked == 0:
            raise UnknownProject(f"no project {code} is recorded")
        return StreamCheck(verifier.checked, head_version, head_hash, None, None)


# -- pure conversions ------------------------------------------------------------------------


def published(stored: StoredEvent) -> PublishedEvent:
    """The plain-JSON form of a stored event (the stream version stands in for the position,
    which folding one stream does not need)."""
    stream = stored.originator_id
    stream = stream if isinstance(stream, UUID) else UUID(str(stream))
    return publish(
        stored.originator_version, stream, stored.originator_version, stored.topic, stored.state
    )


def recorded_at(stored: StoredEvent) -> datetime | None:
    text = unseal(stored.state).data.get("timestamp")
    if isinstance(text, dict):  # a transcoded datetime: {"_type_": …, "_data_": "…"}
        text = text.get("_data_")
    if not isinstance(text, str):
        return None
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def project_balances(project: Project) -> Balances:
    lines = project.lines.values()
    return Balances(
        allocated=sum(line.allocated for line in lines),
        transferred_in=sum(line.transferred_in for line in lines),
        transferred_out=sum(line.transferred_out for line in lines),
        cut=sum(line.cut for line in lines),
        disbursed=sum(line.disbursed for line in lines),
        lapsed=sum(line.lapsed for line in lines),
        extended=sum(line.extended for line in lines),
        advances_outstanding=sum(c.advance_outstanding for c in project.contracts.values()),
    )


def project_state(project: Project) -> ProjectState:
    lines = tuple(
        LineState(
            line.plan_code,
            line.source,
            line.fiscal_year,
            Balances(
                allocated=line.allocated,
                transferred_in=line.transferred_in,
                transferred_out=line.transferred_out,
                cut=line.cut,
                disbursed=line.disbursed,
                lapsed=line.lapsed,
                extended=line.extended,
                # The domain keeps advances per contract, not per line.
                advances_outstanding=None,
            ),
        )
        for line in sorted(project.lines.values(), key=lambda item: (item.plan_code, item.source))
    )
    contracts = tuple(
        ContractState(
            contract.contract_no,
            contract.contractor,
            contract.value,
            contract.advanced,
            contract.advance_outstanding,
            contract.completed_paid,
        )
        for contract in sorted(project.contracts.values(), key=lambda item: item.contract_no)
    )
    return ProjectState(
        code=project.code,
        version=project.version,
        name=project.name,
        investor_code=project.investor_code,
        investor_name=project.investor_name,
        program=project.program,
        sector=project.sector,
        province=project.province,
        total_investment=project.total_investment,
        status=project.status,
        review_class=project.review_class,
        settled_value=project.settled_value,
        lines=lines,
        contracts=contracts,
        totals=project_balances(project),
    )


def history_entry(stored: StoredEvent, project: Project) -> HistoryEntry:
    event = published(stored)
    meta = event.meta
    data = event.data
    short = event.name.rpartition(".")[2]
    effective = _date(data.get("effective_on") or data.get("as_of"))
    recorded = _moment(event.recorded_at)
    lateness = None
    if effective is not None and recorded is not None:
        lateness = (recorded.astimezone(REPORTING_TZ).date() - effective).days
    amount, plan_code, source = _summary(short, data, project)
    decision = data.get("decision")
    return HistoryEntry(
        version=stored.originator_version,
        event=short,
        class_version=event.class_version,
        effective_on=effective,
        recorded_at=recorded,
        lateness_days=lateness,
        principal=_text(meta.get("principal")),
        command=_text(meta.get("command")),
        command_id=_text(meta.get("command_id")),
        correlation_id=_text(meta.get("correlation_id")),
        decision=decision if isinstance(decision, dict) else None,
        amount=amount,
        plan_code=plan_code,
        source=source,
        data=data,
        hash=event.hash,
        prev=event.prev,
        balances=project_balances(project),
    )


def _summary(
    short: str, data: dict[str, Any], project: Project
) -> tuple[int | None, str | None, str | None]:
    """The amount an event moves (negative for what leaves the project's capital or cash),
    and the plan and source it moves on."""
    if short == "EntryReversed":
        entry = project.entries.get(int(data.get("entry_version", 0)))
        if entry is None:
            return None, None, None
        plan_code, _, source = entry.line_key.partition("|")
        return -entry.net, plan_code, source
    if short == "Registered":
        return _int(data.get("total_investment")), None, None
    if short == "TotalInvestmentAdjusted":
        return _int(data.get("total_investment")), None, None
    if short == "Settled":
        return _int(data.get("settled_value")), None, None
    if short == "ContractSigned":
        return _int(data.get("value")), None, None
    amount = _int(data.get("amount"))
    if amount is not None and short in ("CapitalTransferredOut", "AllocationCut", "CapitalLapsed"):
        amount = -amount
    if amount is not None and short == "CompletedWorkPaid":
        amount -= _int(data.get("advance_recovered")) or 0
    return amount, _text(data.get("plan_code")), _text(data.get("source"))


def _in_point(event: PublishedEvent, effective: str, known: str | None) -> bool:
    day = event.data.get("effective_on")
    if day is None or str(day) > effective:
        return False
    if known is None:
        return True
    recorded = _moment(event.recorded_at)
    return recorded is None or recorded.astimezone(REPORTING_TZ).date().isoformat() <= known


def _apply_attributes(
    attributes: dict[str, Any] | None, short: str, data: dict[str, Any]
) -> dict[str, Any] | None:
    if short == "Registered":
        return {
            "name": str(data["name"]),
            "investor_code": str(data.get("investor_code", data.get("investor", ""))),
            "investor_name": str(data.get("investor_name", data.get("investor", ""))),
            "program": str(data.get("program", "")),
            "sector": str(data["sector"]),
            "province": str(data["province"]),
            "total_investment": int(data["total_investment"]),
            "status": "on_track",
            "review_class": None,
            "settled_value": None,
        }
    if attributes is None:
        return None
    changed = dict(attributes)
    if short == "InvestorChanged":
        changed.update(investor_code=data["investor_code"], investor_name=data["investor_name"])
    elif short == "StatusChanged":
        changed.update(status=data["status"], review_class=data.get("review_class"))
    elif short == "TotalInvestmentAdjusted":
        changed.update(total_investment=int(data["total_investment"]))
    elif short == "Settled":
        changed.update(status="settled", settled_value=int(data["settled_value"]))
    return changed


def _balances(values: dict[str, int]) -> Balances:
    return Balances(**{kind.value: values.get(kind.value, 0) for kind in Movement})


def _total(balances: Iterator[Balances] | Any) -> Balances:
    total = Balances()
    for item in balances:
        total = Balances(
            allocated=total.allocated + item.allocated,
            transferred_in=total.transferred_in + item.transferred_in,
            transferred_out=total.transferred_out + item.transferred_out,
            cut=total.cut + item.cut,
            disbursed=total.disbursed + item.disbursed,
            lapsed=total.lapsed + item.lapsed,
            extended=total.extended + item.extended,
            advances_outstanding=(total.advances_outstanding or 0)
            + (item.advances_outstanding or 0),
        )
    return total


def _date(value: Any) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        return None


def _moment(text: str) -> datetime | None:
    if not text:
        return None
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
