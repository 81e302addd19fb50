"""``capledger history PROJECT``: a project's events in stream order, with running balances.

Read straight from the event store (not from a projection), so it is what an auditor would see:
who recorded each event under which command, and what the project's balances were right after.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any

from capledger.application.chain import unseal
from capledger.application.ledger import Ledger
from capledger.domain import Decision, Project

from .context import CliContext
from .errors import EXIT_OK
from .formatting import Column, json_line, render_table, vnd

#: Keys of a decoded event that belong to the envelope, not to what the event says.
ENVELOPE_KEYS = frozenset({"originator_id", "originator_version", "originator_topic", "timestamp"})


@dataclass(frozen=True)
class Balances:
    """A project's capital right after one event, summed over its plans and sources (VND)."""

    allocated: int
    transferred_in: int
    transferred_out: int
    cut: int
    disbursed: int
    lapsed: int
    undisbursed: int
    advance_outstanding: int

    @property
    def net_allocated(self) -> int:
        """Capital the project holds: allocated, plus transfers in, less transfers out and cuts."""
        return self.allocated + self.transferred_in - self.transferred_out - self.cut

    @classmethod
    def of(cls, project: Project) -> Balances:
        lines = project.lines.values()
        return cls(
            allocated=sum(line.allocated for line in lines),
            transferred_in=sum(line.transferred_in for line in lines),
            transferred_out=sum(line.transferred_out for line in lines),
            cut=sum(line.cut for line in lines),
            disbursed=sum(line.disbursed for line in lines),
            lapsed=sum(line.lapsed for line in lines),
            undisbursed=sum(line.undisbursed for line in lines),
            advance_outstanding=sum(c.advance_outstanding for c in project.contracts.values()),
        )

    def as_dict(self) -> dict[str, int]:
        return {**asdict(self), "net_allocated": self.net_allocated}


@dataclass(frozen=True)
class Summary:
    """The figure an event is about, where it applies, and the rest in words."""

    amount: int | None = None
    plan_code: str | None = None
    source: str | None = None
    detail: str = ""


@dataclass(frozen=True)
class HistoryEntry:
    version: int
    event: str
    topic: str
    effective_on: date | None
    recorded_at: datetime | None
    principal: str | None
    command: str | None
    command_id: str | None
    correlation_id: str | None
    hash: str
    summary: Summary
    data: dict[str, Any]
    balances: Balances

    def as_json(self, project_code: str) -> str:
        return json_line(
            {
                "project": project_code,
                "version": self.version,
                "event": self.event,
                "topic": self.topic,
                "effective_on": self.effective_on,
                "recorded_at": self.recorded_at,
                "principal": self.principal,
                "command": self.command,
                "command_id": self.command_id,
                "correlation_id": self.correlation_id,
                "amount": self.summary.amount,
                "plan_code": self.summary.plan_code,
                "source": self.summary.source,
                "detail": self.summary.detail,
                "data": self.data,
                "balances": self.balances.as_dict(),
                "hash": self.hash,
            }
        )


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "history",
        help="a project's events in order, with running balances",
        description=(
            "Print every recorded event of one project in stream order: version, effective "
            "date, recording time, event, amount, who recorded it under which command, and the "
            "project's balances right after the event. Amounts are integer VND."
        ),
    )
    parser.add_argument("project", metavar="PROJECT", help="the project code")
    parser.add_argument(
        "--format",
        choices=("table", "json"),
        default="table",
        help="a table for people (default) or one JSON object per line for programs",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, context: CliContext) -> int:
    ledger = context.ledger(must_exist=True)
    entries = list(read_history(ledger, args.project))
    if args.format == "json":
        for entry in entries:
            print(entry.as_json(args.project), file=context.stdout)
    else:
        print(render_history(ledger.project(args.project), entries), file=context.stdout)
    return EXIT_OK


def read_history(ledger: Ledger, project_code: str) -> Iterator[HistoryEntry]:
    for stored, project in ledger.replay_project(project_code):
        # The replayed project is mutated in place: its balances must be read before moving on.
        domain_event = ledger.mapper.to_domain_event(stored)
        fields = dict(vars(domain_event))
        name = type(domain_event).__name__
        unsealed = unseal(stored.state)
        meta = unsealed.meta
        effective_on = fields.get("effective_on")
        recorded_at = fields.get("timestamp")
        yield HistoryEntry(
            version=stored.originator_version,
            event=name,
            topic=stored.topic,
            effective_on=effective_on if isinstance(effective_on, date) else None,
            recorded_at=recorded_at if isinstance(recorded_at, datetime) else None,
            principal=_text(meta.get("principal")),
            command=_text(meta.get("command")),
            command_id=_text(meta.get("command_id")),
            correlation_id=_text(meta.get("correlation_id")),
            hash=unsealed.hash,
            summary=summarise(name, fields, project),
            data={k: v for k, v in fields.items() if k not in ENVELOPE_KEYS},
            balances=Balances.of(project),
        )


def render_history(project: Project, entries: list[HistoryEntry]) -> str:
    heading = (
        f"Project {project.code}: {project.name}\n"
        f"Investor {project.investor_code} ({project.investor_name}); status {project.status}; "
        f"total investment {vnd(project.total_investment)} VND\n"
        "Amounts in VND; balances are the project's, right after each event; times in UTC.\n"
    )
    columns = [
        Column("v", numeric=True),
        Column("effective"),
        Column("recorded"),
        Column("event"),
        Column("amount", numeric=True),
        Column("plan / source"),
        Column("allocated (net)", numeric=True),
        Column("disbursed", numeric=True),
        Column("undisbursed", numeric=True),
        Column("lapsed", numeric=True),
        Column("advance out", numeric=True),
        Column("principal"),
        Column("command id"),
        Column("detail"),
    ]
    rows = [_row(entry) for entry in entries]
    return heading + "\n" + render_table(columns, rows)


def _row(entry: HistoryEntry) -> list[str]:
    summary, balances = entry.summary, entry.balances
    where = "/".join(part for part in (summary.plan_code, summary.source) if part)
    recorded = (
        entry.recorded_at.strftime("%Y-%m-%d %H:%M:%S") if entry.recorded_at is not None else ""
    )
    return [
        str(entry.version),
        entry.effective_on.isoformat() if entry.effective_on is not None else "",
        recorded,
        entry.event,
        vnd(summary.amount),
        where,
        vnd(balances.net_allocated),
        vnd(balances.disbursed),
        vnd(balances.undisbursed),
        vnd(balances.lapsed),
        vnd(balances.advance_outstanding),
        entry.principal or "",
        entry.command_id or "",
        summary.detail,
    ]


def _text(value: object) -> str | None:
    return None if value is None else str(value)


# -- what each event is about -------------------------------------------------------------

Summariser = Callable[[Mapping[str, Any], Project], Summary]


def summarise(event_name: str, fields: Mapping[str, Any], project: Project) -> Summary:
    summariser = SUMMARISERS.get(event_name)
    if summariser is not None:
        return summariser(fields, project)
    # An event type this command does not know yet still shows its money and place.
    amount = fields.get("amount")
    return Summary(
        amount=amount if isinstance(amount, int) and not isinstance(amount, bool) else None,
        plan_code=_text(fields.get("plan_code")),
        source=_text(fields.get("source")),
    )


def _decided(fields: Mapping[str, Any]) -> str:
    decision = fields.get("decision")
    if isinstance(decision, Decision):
        return f"decision {decision.number} of {decision.issued_on.isoformat()} ({decision.issuer})"
    return ""


def _joined(*parts: str) -> str:
    return "; ".join(part for part in parts if part)


def _on_line(fields: Mapping[str, Any], detail: str, amount_key: str = "amount") -> Summary:
    return Summary(
        amount=fields[amount_key],
        plan_code=fields["plan_code"],
        source=fields["source"],
        detail=detail,
    )


def _registered(fields: Mapping[str, Any], _: Project) -> Summary:
    detail = _joined(
        f"registered {fields['name']}",
        f"investor {fields['investor_code']} ({fields['investor_name']})",
        f"{fields['program']}, {fields['sector']}, {fields['province']}",
        "amount is its total investment",
        _decided(fields),
    )
    return Summary(amount=fields["total_investment"], detail=detail)


def _total_investment_adjusted(fields: Mapping[str, Any], _: Project) -> Summary:
    return Summary(
        amount=fields["total_investment"],
        detail=_joined("total investment adjusted to the amount", _decided(fields)),
    )


def _investor_changed(fields: Mapping[str, Any], _: Project) -> Summary:
    return Summary(
        detail=_joined(
            f"investor now {fields['investor_code']} ({fields['investor_name']})", fields["reason"]
        )
    )


def _status_changed(fields: Mapping[str, Any], _: Project) -> Summary:
    review = f"review class {fields['review_class']}" if fields.get("review_class") else ""
    return Summary(
        detail=_joined(f"status {fields['status']}", review, fields["reason"], _decided(fields))
    )


def _allocated(fields: Mapping[str, Any], _: Project) -> Summary:
    auto = fields.get("auto_extended_until")
    extended = f"extended automatically to {auto.isoformat()}" if isinstance(auto, date) else ""
    return _on_line(fields, _joined("allocated", extended, _decided(fields)))


def _transferred_out(fields: Mapping[str, Any], _: Project) -> Summary:
    return _on_line(fields, _joined(f"transferred to {fields['to_project']}", _decided(fields)))


def _transferred_in(fields: Mapping[str, Any], _: Project) -> Summary:
    auto = fields.get("auto_extended_until")
    extended = f"extended automatically to {auto.isoformat()}" if isinstance(auto, date) else ""
    detail = _joined(f"transferred from {fields['from_project']}", extended, _decided(fields))
    return _on_line(fields, detail)


def _cut(fields: Mapping[str, Any], _: Project) -> Summary:
    return _on_line(fields, _joined(f"cut: {fields['reason']}", _decided(fields)))


def _contract_signed(fields: Mapping[str, Any], _: Project) -> Summary:
    return Summary(
        amount=fields["value"],
        detail=f"contract {fields['contract_no']} signed with {fields['contractor']}",
    )


def _advance_paid(fields: Mapping[str, Any], _: Project) -> Summary:
    extension = "from extended capital" if fields.get("from_extension") else ""
    detail = _joined(
        f"advance on contract {fields['contract_no']}",
        f"treasury ref {fields['treasury_ref']}",
        extension,
    )
    return _on_line(fields, detail)


def _completed_work_paid(fields: Mapping[str, Any], _: Project) -> Summary:
    contract = fields.get("contract_no")
    recovered = fields.get("advance_recovered") or 0
    detail = _joined(
        f"completed work paid on contract {contract}" if contract else "completed work paid",
        f"recovers {vnd(recovered)} of advance" if recovered else "",
        f"treasury ref {fields['treasury_ref']}",
        "from extended capital" if fields.get("from_extension") else "",
    )
    return _on_line(fields, detail)


def _entry_reversed(fields: Mapping[str, Any], project: Project) -> Summary:
    version = fields["entry_version"]
    entry = project.entries.get(version)
    if entry is None:
        return Summary(detail=_joined(f"reverses v{version}", fields["reason"]))
    plan_code, source = entry.line_key.split("|", 1)
    kind = entry.kind.replace("_", " ")
    return Summary(
        # Negative: the correction takes the entry's net disbursement back out.
        amount=-entry.net,
        plan_code=plan_code,
        source=source,
        detail=_joined(f"reverses the {kind} of v{version}", fields["reason"]),
    )


def _period_extended(fields: Mapping[str, Any], _: Project) -> Summary:
    until = fields["until"]
    return _on_line(fields, _joined(f"disbursement extended until {until}", _decided(fields)))


def _lapsed(fields: Mapping[str, Any], _: Project) -> Summary:
    return _on_line(fields, "lapsed: neither disbursed nor extended by the deadline")


def _settled(fields: Mapping[str, Any], _: Project) -> Summary:
    return Summary(
        amount=fields["settled_value"], detail=_joined("settled at the amount", _decided(fields))
    )


SUMMARISERS: dict[str, Summariser] = {
    "Registered": _registered,
    "TotalInvestmentAdjusted": _total_investment_adjusted,
    "InvestorChanged": _investor_changed,
    "StatusChanged": _status_changed,
    "CapitalAllocated": _allocated,
    "CapitalTransferredOut": _transferred_out,
    "CapitalTransferredIn": _transferred_in,
    "AllocationCut": _cut,
    "ContractSigned": _contract_signed,
    "AdvancePaid": _advance_paid,
    "CompletedWorkPaid": _completed_work_paid,
    "EntryReversed": _entry_reversed,
    "DisbursementPeriodExtended": _period_extended,
    "CapitalLapsed": _lapsed,
    "Settled": _settled,
}
