"""A project's history and its state at any point, from the write model's stored events.

The one service behind the API's audit routes and ``capledger history``. It reads a project's
stored events from the ledger's recorder a page at a time (``select_events(stream, gt, lte,
limit)``, the library's public API), turns each into its published form and folds it with the
read model's own reducers into a small in-memory read model of that one project. So a state in
the past is computed exactly as the read model computes the present, the running balance after
each event is a :class:`~capledger.domain.capital.Balance` (the one capital formula), and an old
stored event reads here as it reads everywhere else. The model at the end of each page read is
kept in a small cache, so the next page starts from it instead of from the first event.

Three ways to name a point in a project's life:

- a **stream version** (the state right after that event);
- a **recording time** (the state after the last event recorded by then: what the ledger held);
- an **effective date**, optionally with the date by which it was known (the movements that
  took effect by that date, as the projections date them: a late entry counts once known).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Protocol, TypeVar
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from capledger.application.chain import ChainVerifier, unseal
from capledger.application.errors import UnknownProject
from capledger.application.published import PublishedEvent, publish
from capledger.domain.capital import CAPITAL_MOVEMENTS, Balance, balance_of
from capledger.domain.ids import project_id

from .events import days_between, recording
from .memory import MemoryReadModel
from .queries.types import AsOf, NotYetKnown
from .rows import ContractRow, EntryRow, LineRow, MovementRow, ProjectRow, Row

R = TypeVar("R", bound=Row)
PAGE = 500
STATE_CACHE_SIZE = 256
#: Events that change what a project is (not its money): at an effective date, those that took
#: effect by then are folded.
ATTRIBUTE_EVENTS = frozenset(
    {
        "Project.Registered",
        "Project.InvestorChanged",
        "Project.StatusChanged",
        "Project.TotalInvestmentAdjusted",
        "Project.Settled",
    }
)


@dataclass(frozen=True)
class LineState:
    plan_code: str
    source: str
    fiscal_year: int
    balance: Balance


@dataclass(frozen=True)
class ProjectState:
    """A project at one point: what it is, its capital per line and in total, its contracts
    (None at an effective date: contracts' running figures are not dated by effect)."""

    version: int
    project: ProjectRow
    lines: tuple[LineState, ...]
    contracts: tuple[ContractRow, ...] | None
    totals: Balance


@dataclass(frozen=True)
class HistoryEntry:
    """One event of a project's history with the project's balance right after it."""

    version: int
    event: str  # the event's name within its aggregate: "CompletedWorkPaid"
    class_version: int
    topic: str
    effective_on: date | None
    recorded_at: datetime | None
    lateness_days: int | None
    principal: str | None
    command: str | None
    command_id: str | None
    correlation_id: str | None
    decision: dict[str, Any] | None
    amount: int | None  # what the event moves; negative when capital or cash leaves
    #: A payment's, an advance's or their reversal's gross value (the work or advance paid for,
    #: the event's ``data.amount``) and net cash (gross − advance recovered); None otherwise.
    gross_amount: int | None
    net_amount: int | None
    plan_code: str | None
    source: str | None
    reverses: EntryRow | None  # the payment or advance a reversal takes back
    data: dict[str, Any]
    hash: str
    prev: str
    balance: Balance

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


class StoredEvents(Protocol):
    """Where the ledger's events are read: the library's public ``select_events`` of any
    recorder (the ledger's ``recorder``)."""

    def select_events(
        self,
        originator_id: UUID | str,
        *,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> Sequence[StoredEvent]: ...


@dataclass
class ProjectHistory:
    """Reads projects' histories and past states from the ledger's recorder."""

    recorder: StoredEvents
    page: int = PAGE
    cache_size: int = STATE_CACHE_SIZE
    _models: OrderedDict[tuple[UUID, int], MemoryReadModel] = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # -- reading the stream in pages -----------------------------------------------------

    def stored(
        self, stream: UUID, *, after: int = 0, until: int | None = None
    ) -> Iterator[StoredEvent]:
        """Stored events of a stream after ``after`` up to ``until``, a page at a time."""
        position = after
        while until is None or position < until:
            batch = self.recorder.select_events(stream, gt=position, lte=until, limit=self.page)
            if not batch:
                return
            yield from batch
            position = batch[-1].originator_version
            if len(batch) < self.page:
                return

    def events(self, code: str) -> Iterator[PublishedEvent]:
        """A project's events in their published form, in stream order."""
        return (published(stored) for stored in self.stored(project_id(code)))

    def head_version(self, code: str) -> int:
        latest = self.recorder.select_events(project_id(code), desc=True, limit=1)
        if not latest:
            raise UnknownProject(f"no project {code} is recorded")
        return int(latest[0].originator_version)

    # -- history -------------------------------------------------------------------------

    def history(self, code: str, *, after: int = 0, limit: int | None = None) -> list[HistoryEntry]:
        """Events after version ``after`` (at most ``limit``), each with the balance after it."""
        stream = project_id(code)
        model = self._model_at(stream, code, after)
        until = None if limit is None else after + limit
        entries = []
        for stored in self.stored(stream, after=after, until=until):
            event = published(stored)
            model.fold([event])
            model.tables.pop(MovementRow, None)
            entries.append(history_entry(event, model))
        if entries:
            self._remember(stream, entries[-1].version, model)
        elif after == 0:
            raise UnknownProject(f"no project {code} is recorded")
        return entries

    # -- states --------------------------------------------------------------------------

    def state_by_version(self, code: str, version: int) -> ProjectState | None:
        """The project right after ``version`` (None for version 0)."""
        if version <= 0:
            return None
        stream = project_id(code)
        model = self._model_at(stream, code, version)
        self._remember(stream, version, model)
        return project_state(model, version)

    def version_recorded_by(self, code: str, moment: datetime) -> int:
        """The last version recorded at or before ``moment`` (0 if none)."""
        moment = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
        found = 0
        for event in self.events(code):
            recorded = _moment(event.recorded_at)
            if recorded is not None and recorded > moment:
                break
            found = event.stream_version
        return found

    def state_by_effective_date(
        self, code: str, effective: date, known: date | None = None
    ) -> ProjectState | None:
        """Movements effective by ``effective`` and recorded (Vietnam time) by ``known``; the
        project as the events that took effect by then (and were known) left it."""
        effective_text = effective.isoformat()
        known_text = None if known is None else known.isoformat()
        everything, attributes = MemoryReadModel(), MemoryReadModel()
        sums: dict[tuple[str, str], dict[str, int]] = {}
        years: dict[tuple[str, str], int] = {}
        version = 0
        for event in self.events(code):
            everything.fold([event])
            if event.name in ATTRIBUTE_EVENTS and _in_point(event, effective_text, known_text):
                registered = attributes.tables.get(ProjectRow)
                if registered or event.name == "Project.Registered":
                    attributes.fold([event])
                    version = event.stream_version
            for movement in everything.rows(MovementRow):
                if movement.effective_on > effective_text:
                    continue
                if known_text is not None and movement.recorded_on > known_text:
                    continue
                key = (movement.plan_code, movement.source)
                line = sums.setdefault(key, {})
                line[movement.kind] = line.get(movement.kind, 0) + movement.amount
                years[key] = movement.fiscal_year
                version = max(version, event.stream_version)
            everything.tables.pop(MovementRow, None)
        project = _only(attributes.rows(ProjectRow))
        if project is None:
            if known is not None:
                self._check_known(code, effective, known)
            return None
        lines = tuple(
            LineState(plan, source, years[(plan, source)], Balance(**values))
            for (plan, source), values in sorted(sums.items())
        )
        totals = Balance.total(line.balance for line in lines)
        return ProjectState(version, project, lines, None, totals)

    def _check_known(self, code: str, effective: date, known: date) -> None:
        """A project registered with effect by ``effective`` but recorded after ``known`` is
        :class:`NotYetKnown` (naming the day it was recorded), not absent: back-filled history
        is seen with a later ``known``. One registered with a later effect is absent then."""
        for event in self.events(code):
            if event.name != "Project.Registered":
                continue
            day, recorded_on = event.data.get("effective_on"), _recorded_on(event)
            if day is not None and str(day) <= effective.isoformat() and recorded_on:
                raise NotYetKnown(
                    f"project {code}", AsOf(effective, known), date.fromisoformat(recorded_on)
                )
            return

    # -- chain ---------------------------------------------------------------------------

    def verify(self, code: str) -> StreamCheck:
        """Recompute the hash chain of one project's stream."""
        verifier = ChainVerifier.new()
        head_version, head_hash = 0, None
        for stored in self.stored(project_id(code)):
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

    # -- the cache of models -------------------------------------------------------------

    def _model_at(self, stream: UUID, code: str, version: int) -> MemoryReadModel:
        """A private model of the project right after ``version`` (empty for version 0)."""
        start, model = self._nearest(stream, version)
        for stored in self.stored(stream, after=start, until=version):
            model.fold([published(stored)])
            model.tables.pop(MovementRow, None)
            start = stored.originator_version
        if start != version:
            raise UnknownProject(f"project {code} has no version {version}")
        return model

    def _nearest(self, stream: UUID, version: int) -> tuple[int, MemoryReadModel]:
        with self._lock:
            best = max((v for s, v in self._models if s == stream and v <= version), default=0)
            if best == 0:
                return 0, MemoryReadModel()
            self._models.move_to_end((stream, best))
            return best, _copy(self._models[(stream, best)])

    def _remember(self, stream: UUID, version: int, model: MemoryReadModel) -> None:
        snapshot = _copy(model)
        with self._lock:
            self._models[(stream, version)] = snapshot
            self._models.move_to_end((stream, version))
            while len(self._models) > self.cache_size:
                self._models.popitem(last=False)


# -- pure conversions ------------------------------------------------------------------------


def published(stored: StoredEvent) -> PublishedEvent:
    """The published form of a stored event (the stream version stands in for the position,
    which folding one stream does not need); the contract names the subject of an event stored
    before events named their subject."""
    stream = stored.originator_id
    stream = stream if isinstance(stream, UUID) else UUID(str(stream))
    return publish(
        stored.originator_version, stream, stored.originator_version, stored.topic, stored.state
    )


def project_state(model: MemoryReadModel, version: int) -> ProjectState:
    project = _only(model.rows(ProjectRow))
    if project is None:
        raise UnknownProject(f"version {version} of a project stream registers no project")
    lines = tuple(
        LineState(line.plan_code, line.source, line.fiscal_year, balance_of(line))
        for line in model.rows(LineRow)
    )
    totals = Balance.total(line.balance for line in lines)
    return ProjectState(version, project, lines, tuple(model.rows(ContractRow)), totals)


def history_entry(event: PublishedEvent, model: MemoryReadModel) -> HistoryEntry:
    """``event`` with the project's balance after it (``model`` has folded it)."""
    meta, data = event.meta, event.data
    short = event.name.rpartition(".")[2]
    effective = _date(data.get("effective_on") or data.get("as_of"))
    recorded = _moment(event.recorded_at)
    recorded_on = _recorded_on(event)
    lateness = None
    if effective is not None and recorded_on is not None:
        lateness = days_between(effective.isoformat(), recorded_on)
    reverses = None
    if short == "EntryReversed":
        code = event.subject_code or ""
        reverses = model.get(EntryRow, (code, int(data.get("entry_version", 0))))
    amount, plan_code, source = _moves(short, data, reverses)
    gross, net = _cash(short, data, reverses)
    decision = data.get("decision")
    return HistoryEntry(
        version=event.stream_version,
        event=short,
        class_version=event.class_version,
        topic=event.topic,
        effective_on=effective,
        recorded_at=recorded,
        lateness_days=lateness,
        principal=_text(meta.get("principal")),
        command=_text(meta.get("command")),
        command_id=_text(meta.get("command_id")),
        correlation_id=_text(meta.get("correlation_id")),
        decision=decision if isinstance(decision, dict) else None,
        amount=amount,
        gross_amount=gross,
        net_amount=net,
        plan_code=plan_code,
        source=source,
        reverses=reverses,
        data=data,
        hash=event.hash,
        prev=event.prev,
        balance=Balance.total(balance_of(line) for line in model.rows(LineRow)),
    )


def _moves(
    short: str, data: dict[str, Any], reverses: EntryRow | None
) -> tuple[int | None, str | None, str | None]:
    """The amount an event moves (negative for what leaves the project's capital or cash),
    and the plan and source it moves on."""
    if short == "EntryReversed":
        if reverses is None:
            return None, None, None
        return -reverses.net, reverses.plan_code, reverses.source
    if short == "EntryCorrected":
        # What the correction moves back: the corrected movement's amount with the other sign.
        moved = _int(data.get("amount"))
        if moved is None:
            return _int(data.get("total_investment")), None, None
        sign = CAPITAL_MOVEMENTS.get(str(data.get("corrects")), 1)
        return -sign * moved, _text(data.get("plan_code")), _text(data.get("source"))
    if short in ("Registered", "TotalInvestmentAdjusted"):
        return _int(data.get("total_investment")), None, None
    if short == "Settled":
        return _int(data.get("settled_value")), None, None
    if short == "ContractSigned":
        return _int(data.get("value")), None, None
    amount = _int(data.get("amount"))
    if amount is not None and short in CAPITAL_MOVEMENTS:
        amount *= CAPITAL_MOVEMENTS[short]
    if amount is not None and short == "CompletedWorkPaid":
        amount -= _int(data.get("advance_recovered")) or 0
    return amount, _text(data.get("plan_code")), _text(data.get("source"))


def _cash(
    short: str, data: dict[str, Any], reverses: EntryRow | None
) -> tuple[int | None, int | None]:
    """``(gross, net)`` of a cash event: the value paid for and the cash that left (the
    advance recovered out of a payment's value is not paid again); a reversal's negative."""
    if short == "EntryReversed":
        return (None, None) if reverses is None else (-reverses.amount, -reverses.net)
    if short not in ("AdvancePaid", "CompletedWorkPaid"):
        return None, None
    gross = _int(data.get("amount"))
    if gross is None:
        return None, None
    return gross, gross - (_int(data.get("advance_recovered")) or 0)


def _in_point(event: PublishedEvent, effective: str, known: str | None) -> bool:
    day = event.data.get("effective_on")
    if day is None or str(day) > effective:
        return False
    if known is None:
        return True
    recorded_on = _recorded_on(event)
    return recorded_on is None or recorded_on <= known


def _recorded_on(event: PublishedEvent) -> str | None:
    """The day (reporting time zone) the event was recorded, as the projections date it."""
    return recording(event)[1] if event.recorded_at else None


def _copy(model: MemoryReadModel) -> MemoryReadModel:
    """Rows are frozen: a copy of each table's dictionary is a private model."""
    copied = MemoryReadModel()
    copied.tables = {kind: dict(table) for kind, table in model.tables.items()}
    return copied


def _only(rows: list[R]) -> R | None:
    """The one row of a table of one project (its ``project`` row), if there is one."""
    return rows[0] if rows else None


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
