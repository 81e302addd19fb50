"""``capledger history PROJECT``: a project's events in stream order, with running balances.

Read straight from the event store (not from a projection) through
:class:`~capledger.projections.history.ProjectHistory`, the service the API's audit routes use,
so it is what an auditor would see: who recorded each event under which command, and what the
project's balances were right after.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from capledger.domain import Balance
from capledger.projections.history import HistoryEntry, ProjectHistory, ProjectState

from .context import CliContext
from .errors import EXIT_OK
from .formatting import Column, json_line, render_table, vnd
from .subcommands import Subcommands


@dataclass(frozen=True)
class Summary:
    """The figure an event is about, where it applies, and the rest in words."""

    amount: int | None = None
    plan_code: str | None = None
    source: str | None = None
    detail: str = ""


def balances_json(balance: Balance) -> dict[str, int]:
    """A balance as this command has always written it."""
    return {
        "allocated": balance.allocated,
        "transferred_in": balance.transferred_in,
        "transferred_out": balance.transferred_out,
        "cut": balance.cut,
        "disbursed": balance.disbursed,
        "lapsed": balance.lapsed,
        "undisbursed": balance.undisbursed,
        "advance_outstanding": balance.advances_outstanding,
        "net_allocated": balance.capital,
    }


def entry_json(project_code: str, entry: HistoryEntry) -> str:
    summary = summarise(entry)
    return json_line(
        {
            "project": project_code,
            "version": entry.version,
            "event": entry.event,
            "topic": entry.topic,
            "effective_on": entry.effective_on,
            "recorded_at": entry.recorded_at,
            "principal": entry.principal,
            "command": entry.command,
            "command_id": entry.command_id,
            "correlation_id": entry.correlation_id,
            "amount": summary.amount,
            "plan_code": summary.plan_code,
            "source": summary.source,
            "detail": summary.detail,
            "data": entry.data,
            "balances": balances_json(entry.balance),
            "hash": entry.hash,
        }
    )


def register(subparsers: Subcommands) -> None:
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
    history = ProjectHistory(ledger.recorder)
    # What is shown is verified: the project's own chain, and the read side's verdict.
    check = history.verify(args.project)
    if check.broken_version is not None:
        where = f"project {args.project} version {check.broken_version}: {check.reason}"
        raise context.unverified(where)
    context.check_recorded_verdict()
    entries = history.history(args.project)
    if args.format == "json":
        for entry in entries:
            print(entry_json(args.project, entry), file=context.stdout)
    else:
        now = history.state_by_version(args.project, entries[-1].version) if entries else None
        print(render_history(args.project, now, entries), file=context.stdout)
    return EXIT_OK


def render_history(code: str, now: ProjectState | None, entries: list[HistoryEntry]) -> str:
    heading = f"Project {code}\n"
    if now is not None:
        project = now.project
        heading = (
            f"Project {code}: {project.name}\n"
            f"Investor {project.investor_code} ({project.investor_name}); status "
            f"{project.status}; total investment {vnd(project.total_investment)} VND\n"
        )
    heading += "Amounts in VND; balances are the project's, right after each event; times in UTC.\n"
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
    summary, balance = summarise(entry), entry.balance
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
        vnd(balance.capital),
        vnd(balance.disbursed),
        vnd(balance.undisbursed),
        vnd(balance.lapsed),
        vnd(balance.advances_outstanding),
        entry.principal or "",
        entry.command_id or "",
        summary.detail,
    ]


def _text(value: object) -> str | None:
    return None if value is None else str(value)


# -- what each event is about -------------------------------------------------------------

Summariser = Callable[[Mapping[str, Any], HistoryEntry], Summary]


def summarise(entry: HistoryEntry) -> Summary:
    fields = entry.data
    summariser = SUMMARISERS.get(entry.event)
    if summariser is not None:
        return summariser(fields, entry)
    # An event type this command does not know yet still shows its money and place.
    amount = fields.get("amount")
    return Summary(
        amount=amount if isinstance(amount, int) and not isinstance(amount, bool) else None,
        plan_code=_text(fields.get("plan_code")),
        source=_text(fields.get("source")),
    )


def _decided(fields: Mapping[str, Any]) -> str:
    decision = fields.get("decision")
    if isinstance(decision, Mapping):
        return f"decision {decision['number']} of {decision['issued_on']} ({decision['issuer']})"
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


def _registered(fields: Mapping[str, Any], _: HistoryEntry) -> Summary:
    detail = _joined(
        f"registered {fields['name']}",
        # Version 1 recorded the investor's name only, which stands as its code too.
        f"investor {fields.get('investor_code', fields.get('investor'))} "
        f"({fields.get('investor_name', fields.get('investor'))})",
        f"{fields['program']}, {fields['sector']}, {fields['province']}",
        "amount is its total investment",
        _decided(fields),
    )
    return Summary(amount=fields["total_investment"], detail=detail)


def _total_investment_adjusted(fields: Mapping[str, Any], _: HistoryEntry) -> Summary:
    return Summary(
        amount=fields["total_investment"],
        detail=_joined("total investment adjusted to the amount", _decided(fields)),
    )


def _investor_changed(fields: Mapping[str, Any], _: HistoryEntry) -> Summary:
    return Summary(
        detail=_joined(
            f"investor now {fields['investor_code']} ({fields['investor_name']})", fields["reason"]
        )
    )


def _status_changed(fields: Mapping[str, Any], _: HistoryEntry) -> Summary:
    review = f"review class {fields['review_class']}" if fields.get("review_class") else ""
    return Summary(
        detail=_joined(f"status {fields['status']}", review, fields["reason"], _decided(fields))
    )


def _allocated(fields: Mapping[str, Any], _: HistoryEntry) -> Summary:
    auto = fields.get("auto_extended_until")
    extended = f"extended automatically to {auto}" if auto else ""
    return _on_line(fields, _joined("allocated", extended, _decided(fields)))


def _transferred_out(fields: Mapping[str, Any], _: HistoryEntry) -> Summary:
    return _on_line(fields, _joined(f"transferred to {fields['to_project']}", _decided(fields)))


def _transferred_in(fields: Mapping[str, Any], _: HistoryEntry) -> Summary:
    auto = fields.get("auto_extended_until")
    extended = f"extended automatically to {auto}" if auto else ""
    detail = _joined(f"transferred from {fields['from_project']}", extended, _decided(fields))
    return _on_line(fields, detail)


def _cut(fields: Mapping[str, Any], _: HistoryEntry) -> Summary:
    return _on_line(fields, _joined(f"cut: {fields['reason']}", _decided(fields)))


def _contract_signed(fields: Mapping[str, Any], _: HistoryEntry) -> Summary:
    return Summary(
        amount=fields["value"],
        detail=f"contract {fields['contract_no']} signed with {fields['contractor']}",
    )


def _advance_paid(fields: Mapping[str, Any], _: HistoryEntry) -> Summary:
    extension = "from extended capital" if fields.get("from_extension") else ""
    detail = _joined(
        f"advance on contract {fields['contract_no']}",
        f"treasury ref {fields['treasury_ref']}",
        extension,
    )
    return _on_line(fields, detail)


def _completed_work_paid(fields: Mapping[str, Any], _: HistoryEntry) -> Summary:
    contract = fields.get("contract_no")
    recovered = fields.get("advance_recovered") or 0
    detail = _joined(
        f"completed work paid on contract {contract}" if contract else "completed work paid",
        f"recovers {vnd(recovered)} of advance" if recovered else "",
        f"treasury ref {fields['treasury_ref']}",
        "from extended capital" if fields.get("from_extension") else "",
    )
    return _on_line(fields, detail)


def _entry_reversed(fields: Mapping[str, Any], entry: HistoryEntry) -> Summary:
    version = fields["entry_version"]
    reversed_entry = entry.reverses
    if reversed_entry is None:
        return Summary(detail=_joined(f"reverses v{version}", fields["reason"]))
    kind = reversed_entry.kind.replace("_", " ")
    return Summary(
        # Negative: the correction takes the entry's net disbursement back out.
        amount=-reversed_entry.net,
        plan_code=reversed_entry.plan_code,
        source=reversed_entry.source,
        detail=_joined(f"reverses the {kind} of v{version}", fields["reason"]),
    )


def _entry_corrected(fields: Mapping[str, Any], entry: HistoryEntry) -> Summary:
    counterpart = fields.get("counterpart")
    other = (
        f"with {counterpart}'s v{fields['counterpart_version']}" if counterpart is not None else ""
    )
    restored = [
        f"{name.replace('_', ' ')} {fields[name]}"
        for name in ("total_investment", "investor_code", "status")
        if fields.get(name) is not None
    ]
    return Summary(
        # Signed as the history gives it: what the correction moves back.
        amount=entry.amount,
        plan_code=entry.plan_code,
        source=entry.source,
        detail=_joined(
            f"corrects the {fields['corrects']} of v{fields['entry_version']}",
            other,
            f"puts back {', '.join(restored)}" if restored else "",
            fields["reason"],
            _decided(fields),
        ),
    )


def _period_extended(fields: Mapping[str, Any], _: HistoryEntry) -> Summary:
    until = fields["until"]
    return _on_line(fields, _joined(f"disbursement extended until {until}", _decided(fields)))


def _lapsed(fields: Mapping[str, Any], _: HistoryEntry) -> Summary:
    return _on_line(fields, "lapsed: neither disbursed nor extended by the deadline")


def _settled(fields: Mapping[str, Any], _: HistoryEntry) -> Summary:
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
    "EntryCorrected": _entry_corrected,
    "DisbursementPeriodExtended": _period_extended,
    "CapitalLapsed": _lapsed,
    "Settled": _settled,
}
