"""The rules audit: every recorded event judged again by the domain's own commands.

The hash chain proves that the history was not changed after it was written; it cannot tell
whether what was written obeyed the law. The audit replays each project's and each plan's
stream in recording order through the same command methods that accepted the events in the
first place (``pay_completed_work``, ``transfer_out``, ``allocate``…), with the rule book in
force at each event's effective date, so every invariant (effective-time balances, deadlines,
advance caps, registration and plan dates) is checked by the code that states it, not by a
second copy of it. The command must be accepted and must produce the same event, field for
field; the first event that fails either way is named.

Streams that are not the ledger's aggregates (command receipts, key administration) are read
and counted, not judged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import Mapper, Notification
from eventsourcing.utils import TopicError, resolve_topic

from ..domain import CapitalPlan, DomainError, Project, RuleBook
from ..domain.project import AllocationLine

#: Fields of a recorded event that the replay cannot and need not reproduce.
UNJUDGED_FIELDS = frozenset({"timestamp"})

Judge = Callable[[Any, Any, RuleBook], None]


@dataclass(frozen=True)
class RuleBreach:
    position: int
    stream: UUID
    version: int
    event: str
    code: str
    reason: str


@dataclass(frozen=True)
class RulesAuditReport:
    events: int
    judged: int
    streams: int
    breach: RuleBreach | None

    @property
    def ok(self) -> bool:
        return self.breach is None


def _project_judges() -> dict[type[Any], Judge]:
    p = Project
    return {
        p.TotalInvestmentAdjusted: lambda a, e, r: a.adjust_total_investment(
            total_investment=e.total_investment, decision=e.decision, effective_on=e.effective_on
        ),
        p.InvestorChanged: lambda a, e, r: a.change_investor(
            investor_code=e.investor_code, investor_name=e.investor_name, reason=e.reason,
            effective_on=e.effective_on,
        ),
        p.StatusChanged: lambda a, e, r: a.change_status(
            status=e.status, reason=e.reason, effective_on=e.effective_on,
            review_class=e.review_class, decision=e.decision,
        ),
        p.Settled: lambda a, e, r: a.settle(
            settled_value=e.settled_value, decision=e.decision, effective_on=e.effective_on
        ),
        p.CapitalAllocated: lambda a, e, r: a.receive_allocation(
            plan_code=e.plan_code, plan_kind=e.plan_kind, fiscal_year=e.fiscal_year,
            source=e.source, amount=e.amount, decision=e.decision, effective_on=e.effective_on,
            rules=r,
        ),
        p.CapitalTransferredOut: lambda a, e, r: a.transfer_out(
            plan_code=e.plan_code, source=e.source, amount=e.amount, to_project=e.to_project,
            decision=e.decision, effective_on=e.effective_on, rules=r,
        ),
        p.CapitalTransferredIn: lambda a, e, r: a.transfer_in(
            from_line=AllocationLine(e.plan_code, e.plan_kind, e.fiscal_year, e.source),
            amount=e.amount, from_project=e.from_project, decision=e.decision,
            effective_on=e.effective_on, rules=r,
        ),
        p.AllocationCut: lambda a, e, r: a.cut(
            plan_code=e.plan_code, source=e.source, amount=e.amount, reason=e.reason,
            decision=e.decision, effective_on=e.effective_on, rules=r,
        ),
        p.DisbursementPeriodExtended: lambda a, e, r: a.extend_disbursement_period(
            plan_code=e.plan_code, source=e.source, amount=e.amount, until=e.until,
            decision=e.decision, effective_on=e.effective_on, rules=r,
        ),
        p.CapitalLapsed: lambda a, e, r: a.lapse(
            plan_code=e.plan_code, source=e.source, as_of=e.effective_on, rules=r
        ),
        p.ContractSigned: lambda a, e, r: a.sign_contract(
            contract_no=e.contract_no, contractor=e.contractor, value=e.value,
            effective_on=e.effective_on,
        ),
        p.AdvancePaid: lambda a, e, r: a.pay_advance(
            contract_no=e.contract_no, plan_code=e.plan_code, source=e.source, amount=e.amount,
            treasury_ref=e.treasury_ref, effective_on=e.effective_on, rules=r,
        ),
        p.CompletedWorkPaid: lambda a, e, r: a.pay_completed_work(
            plan_code=e.plan_code, source=e.source, amount=e.amount,
            treasury_ref=e.treasury_ref, effective_on=e.effective_on, rules=r,
            contract_no=e.contract_no, advance_recovered=e.advance_recovered,
        ),
        p.EntryReversed: lambda a, e, r: a.reverse_entry(
            entry_version=e.entry_version, reason=e.reason, effective_on=e.effective_on
        ),
        p.EntryCorrected: lambda a, e, r: a.correct_entry(
            entry_version=e.entry_version, reason=e.reason, effective_on=e.effective_on,
            decision=e.decision, counterpart_version=e.counterpart_version,
        ),
    }  # fmt: skip


def _plan_judges() -> dict[type[Any], Judge]:
    c = CapitalPlan
    return {
        c.Adjusted: lambda a, e, r: a.adjust(
            envelopes=e.envelopes, reason=e.reason, decision=e.decision,
            effective_on=e.effective_on,
        ),
        c.CapitalAllocated: lambda a, e, r: a.allocate(
            project_code=e.project_code, source=e.source, amount=e.amount, decision=e.decision,
            effective_on=e.effective_on,
        ),
        c.CapitalReturned: lambda a, e, r: a.take_back(
            project_code=e.project_code, source=e.source, amount=e.amount, decision=e.decision,
            effective_on=e.effective_on,
        ),
    }  # fmt: skip


def _registered(event: Project.Registered, rules: RuleBook) -> Aggregate:
    return Project.register(
        code=event.code, name=event.name, investor_code=event.investor_code,
        investor_name=event.investor_name, program=event.program, sector=event.sector,
        province=event.province, total_investment=event.total_investment,
        decision=event.decision, effective_on=event.effective_on,
    )  # fmt: skip


def _approved(event: CapitalPlan.Approved, rules: RuleBook) -> Aggregate:
    return CapitalPlan.approve(
        code=event.code, title=event.title, kind=event.kind, authority=event.authority,
        jurisdiction=event.jurisdiction, start_year=event.start_year, end_year=event.end_year,
        envelopes=event.envelopes, decision=event.decision, effective_on=event.effective_on,
        implements=event.implements,
    )  # fmt: skip


CREATORS: dict[type[Any], Callable[[Any, RuleBook], Aggregate]] = {
    Project.Registered: _registered,
    CapitalPlan.Approved: _approved,
}
JUDGES: dict[type[Any], Judge] = {**_project_judges(), **_plan_judges()}
JUDGED = frozenset({*CREATORS, *JUDGES})


class RulesAudit:
    """Replays notifications in order; ``judge`` returns the first breach, if any."""

    def __init__(self, mapper: Mapper[UUID], rules: RuleBook) -> None:
        self.mapper = mapper
        self.rules = rules
        self.replicas: dict[UUID, Aggregate] = {}
        self.streams: set[str] = set()
        self.events = 0
        self.judged = 0

    def judge(self, notification: Notification) -> RuleBreach | None:
        self.events += 1
        self.streams.add(str(notification.originator_id))
        # The class the topic names (renamed topics resolved as the mapper resolves them), so an
        # event the audit does not judge is not decoded at all.
        try:
            named = resolve_topic(notification.topic)
        except TopicError:
            reason = "the ledger knows no event of this topic"
            return self._breach(notification, notification.topic, "unknown-topic", reason)
        if named not in JUDGED:
            return None
        event = self.mapper.to_domain_event(notification)
        kind, name = type(event), type(event).__qualname__
        try:
            if kind in CREATORS:
                replica = CREATORS[kind](event, self.rules)
                self.replicas[event.originator_id] = replica
            else:
                found = self.replicas.get(event.originator_id)
                if found is None:
                    reason = "the stream's first event is not its creation"
                    return self._breach(notification, name, "no-creation", reason)
                replica = found
                JUDGES[kind](replica, event, self.rules)
        except DomainError as error:
            return self._breach(notification, name, error.code, str(error))
        self.judged += 1
        return self._differs(notification, event, name, replica)

    def _differs(
        self, notification: Notification, recorded: Any, name: str, replica: Aggregate
    ) -> RuleBreach | None:
        produced = replica.collect_events()
        if len(produced) != 1:
            reason = f"the command produced {len(produced)} events, not one"
            return self._breach(notification, name, "event-differs", reason)
        again = produced[0]
        differing = sorted(
            key
            for key in set(vars(recorded)) | set(vars(again))
            if key not in UNJUDGED_FIELDS and _field(recorded, key) != _field(again, key)
        )
        if type(again) is not type(recorded) or differing:
            fields = ", ".join(
                f"{key}: recorded {_field(recorded, key)!r}, by the rules {_field(again, key)!r}"
                for key in differing
            )
            reason = f"the rules give another event ({fields})"
            return self._breach(notification, name, "event-differs", reason)
        return None

    @staticmethod
    def _breach(notification: Notification, event: str, code: str, reason: str) -> RuleBreach:
        return RuleBreach(
            position=notification.id,
            stream=UUID(str(notification.originator_id)),
            version=notification.originator_version,
            event=event,
            code=code,
            reason=reason,
        )

    def report(self, breach: RuleBreach | None = None) -> RulesAuditReport:
        return RulesAuditReport(self.events, self.judged, len(self.streams), breach)


def _field(event: Any, name: str) -> Any:
    return getattr(event, name, None)


def audit_rules(
    pages: Iterable[Sequence[Notification]],
    mapper: Mapper[UUID],
    rules: RuleBook,
    progress: Callable[[int], None] | None = None,
) -> RulesAuditReport:
    """Judge every notification of ``pages`` in order; stop at the first breach."""
    audit = RulesAudit(mapper, rules)
    for page in pages:
        for notification in page:
            breach = audit.judge(notification)
            if breach is not None:
                return audit.report(breach)
        if progress is not None and page:
            progress(page[-1].id)
    return audit.report()
