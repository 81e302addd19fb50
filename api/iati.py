"""IATI-style activities and transactions from a project's events.

One activity per project. IATI has no transaction type for an advance or its recovery, so the
ledger's cash is mapped so that every figure reconciles with the ledger:

| ledger event | IATI transaction type | value |
|---|---|---|
| capital allocated to the project by a plan | 11 incoming commitment | + amount |
| capital transferred in / out | 11 incoming commitment | + / − amount |
| capital cut; capital lapsed | 11 incoming commitment | − amount |
| contract signed | 2 outgoing commitment (receiver: contractor) | + contract value |
| advance paid by the Treasury | 1 incoming funds only | + amount |
| work paid under a contract | 1 incoming funds (net cash), 4 expenditure (gross) | + net, + gross |
| work paid without a contract (site clearance) | 1 incoming funds and 3 disbursement | + amount |
| reversal of an advance or payment | the reversed entry's transactions | − the same values |
| correction of an allocation, transfer, cut or lapse | 11 incoming commitment | − its value |

So Σ(1) = the ledger's disbursement (net cash), Σ(4) + Σ(3) = value of work paid, and
Σ(1) − Σ(4) − Σ(3) = advances not yet recovered. Advances appear as incoming funds with
``capledger.advance = true``; a payment's recovery as ``capledger.advance_recovered``.
Values are in VND, dated by the effective date (value date = transaction date); corrections
are the corrected values with the other sign on the date of the correction (the original
transaction stays). Corrections of an extension or of the project's record move no money and
make no transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from xml.etree import ElementTree

from capledger.application.published import PublishedEvent
from capledger.domain.capital import CAPITAL_MOVEMENTS

CURRENCY = "VND"
INCOMING_FUNDS = "1"
OUTGOING_COMMITMENT = "2"
DISBURSEMENT = "3"
EXPENDITURE = "4"
INCOMING_COMMITMENT = "11"
TRANSACTION_TYPES = {
    INCOMING_FUNDS: "Incoming Funds",
    OUTGOING_COMMITMENT: "Outgoing Commitment",
    DISBURSEMENT: "Disbursement",
    EXPENDITURE: "Expenditure",
    INCOMING_COMMITMENT: "Incoming Commitment",
}
#: IATI ActivityStatus codes for the ledger's project statuses.
ACTIVITY_STATUS = {
    "on_track": "2",
    "slow": "2",
    "under_violation_handling": "2",
    "suspended": "6",
    "completed": "3",
    "terminated": "5",
    "settled": "4",
}
#: Commitments move as capital does: the sign of each capital movement in the capital formula.
COMMITMENT_SIGNS = CAPITAL_MOVEMENTS
IATI_VERSION = "2.03"
EXTENSION_NS = "https://capledger.vn/ns/iati"


@dataclass(frozen=True)
class Org:
    ref: str | None
    name: str


@dataclass(frozen=True)
class Transaction:
    ref: str
    type_code: str
    date: str
    amount: int
    description: str
    provider: Org | None = None
    receiver: Org | None = None
    extension: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "transaction_type": {"code": self.type_code, "name": TRANSACTION_TYPES[self.type_code]},
            "transaction_date": {"iso_date": self.date},
            "value": {"amount": str(self.amount), "currency": CURRENCY, "value_date": self.date},
            "description": self.description,
            "provider_org": None if self.provider is None else vars(self.provider),
            "receiver_org": None if self.receiver is None else vars(self.receiver),
            "capledger": self.extension,
        }


@dataclass
class _Entry:
    kind: str
    amount: int
    recovered: int
    contract_no: str | None
    plan_code: str
    source: str


@dataclass
class ActivityBuilder:
    """Folds one project's events (in stream order) into its IATI transactions."""

    project_code: str
    plan_authorities: Mapping[str, str]
    transactions: list[Transaction] = field(default_factory=list)
    contractors: dict[str, str] = field(default_factory=dict)
    entries: dict[int, _Entry] = field(default_factory=dict)

    def add(self, event: PublishedEvent) -> None:
        name = event.name.rpartition(".")[2]
        data = event.data
        version = event.stream_version
        when = str(data.get("effective_on", ""))
        base = {
            "event": name,
            "stream_version": version,
            "recorded_at": event.recorded_at,
            "plan_code": data.get("plan_code"),
            "source": data.get("source"),
        }
        ref = f"{self.project_code}/v{version}"
        if name in COMMITMENT_SIGNS:
            amount = COMMITMENT_SIGNS[name] * int(data["amount"])
            self._add(ref, INCOMING_COMMITMENT, when, amount, _describe(name, data),
                      provider=self._plan(data), extension=base)  # fmt: skip
        elif name == "ContractSigned":
            contract_no, contractor = str(data["contract_no"]), str(data["contractor"])
            self.contractors[contract_no] = contractor
            self._add(ref, OUTGOING_COMMITMENT, when, int(data["value"]),
                      f"Contract {contract_no}", receiver=Org(None, contractor),
                      extension={**base, "contract_no": contract_no})  # fmt: skip
        elif name == "AdvancePaid":
            entry = _Entry("advance", int(data["amount"]), 0, str(data["contract_no"]),
                           str(data["plan_code"]), str(data["source"]))  # fmt: skip
            self.entries[version] = entry
            self._cash(ref, when, entry, sign=1, extension=base, reason=None)
        elif name == "CompletedWorkPaid":
            contract = data.get("contract_no")
            entry = _Entry("completed_work", int(data["amount"]),
                           int(data.get("advance_recovered") or 0),
                           None if contract is None else str(contract),
                           str(data["plan_code"]), str(data["source"]))  # fmt: skip
            self.entries[version] = entry
            self._cash(ref, when, entry, sign=1, extension=base, reason=None)
        elif name == "EntryCorrected" and data.get("corrects") in COMMITMENT_SIGNS:
            corrects = str(data["corrects"])
            amount = -COMMITMENT_SIGNS[corrects] * int(data["amount"])
            corrected = int(data["entry_version"])
            other = data.get("counterpart")
            named = {"plan_code": data.get("plan_code"), "from_project": other,
                     "to_project": other, "reason": f"see v{corrected}"}  # fmt: skip
            description = f"Correction of v{corrected} ({data.get('reason', '')}): "
            extension = {**base, "corrects": corrected, "correction": True}
            self._add(ref, INCOMING_COMMITMENT, when, amount,
                      description + _describe(corrects, named),
                      provider=self._plan(data), extension=extension)  # fmt: skip
        elif name == "EntryReversed":
            reversed_version = int(data["entry_version"])
            reversed_entry = self.entries.get(reversed_version)
            if reversed_entry is not None:
                extension = {**base, "plan_code": reversed_entry.plan_code,
                             "source": reversed_entry.source, "reverses": reversed_version,
                             "correction": True}  # fmt: skip
                self._cash(ref, when, reversed_entry, sign=-1, extension=extension,
                           reason=str(data.get("reason", "")))  # fmt: skip

    def _cash(
        self,
        ref: str,
        when: str,
        entry: _Entry,
        *,
        sign: int,
        extension: dict[str, Any],
        reason: str | None,
    ) -> None:
        provider = self.plan_org(entry.plan_code)
        prefix = "" if reason is None else f"Correction ({reason}): "
        if entry.kind == "advance":
            self._add(f"{ref}/funds", INCOMING_FUNDS, when, sign * entry.amount,
                      f"{prefix}Advance on contract {entry.contract_no}", provider=provider,
                      extension={**extension, "advance": True,
                                 "contract_no": entry.contract_no})  # fmt: skip
            return
        net = entry.amount - entry.recovered
        self._add(f"{ref}/funds", INCOMING_FUNDS, when, sign * net,
                  f"{prefix}Treasury payment for completed work", provider=provider,
                  extension={**extension, "advance_recovered": str(entry.recovered)})  # fmt: skip
        if entry.contract_no is not None:
            contractor = self.contractors.get(entry.contract_no, entry.contract_no)
            self._add(f"{ref}/spent", EXPENDITURE, when, sign * entry.amount,
                      f"{prefix}Completed work, contract {entry.contract_no}",
                      receiver=Org(None, contractor),
                      extension={**extension, "contract_no": entry.contract_no,
                                 "advance_recovered": str(entry.recovered)})  # fmt: skip
        else:
            self._add(f"{ref}/spent", DISBURSEMENT, when, sign * entry.amount,
                      f"{prefix}Payment without works contract (e.g. site clearance)",
                      extension=extension)  # fmt: skip

    def _plan(self, data: Mapping[str, Any]) -> Org | None:
        plan_code = data.get("plan_code")
        return None if plan_code is None else self.plan_org(str(plan_code))

    def plan_org(self, plan_code: str) -> Org:
        authority = self.plan_authorities.get(plan_code, "")
        return Org(plan_code, f"{authority} plan {plan_code}".strip())

    def _add(
        self,
        ref: str,
        type_code: str,
        when: str,
        amount: int,
        description: str,
        *,
        provider: Org | None = None,
        receiver: Org | None = None,
        extension: dict[str, Any] | None = None,
    ) -> None:
        clean = {key: value for key, value in (extension or {}).items() if value is not None}
        self.transactions.append(
            Transaction(ref, type_code, when, amount, description, provider, receiver, clean)
        )


def _describe(name: str, data: Mapping[str, Any]) -> str:
    plan = data.get("plan_code")
    if name == "CapitalAllocated":
        return f"Capital allocated from plan {plan}"
    if name == "CapitalTransferredIn":
        return f"Capital transferred in from project {data.get('from_project')}"
    if name == "CapitalTransferredOut":
        return f"Capital transferred out to project {data.get('to_project')}"
    if name == "AllocationCut":
        return f"Allocation cut: {data.get('reason', '')}"
    return "Capital lapsed (neither disbursed nor extended by the deadline)"


def transactions(
    project_code: str, events: Iterable[PublishedEvent], plan_authorities: Mapping[str, str]
) -> list[Transaction]:
    builder = ActivityBuilder(project_code, plan_authorities)
    for event in events:
        builder.add(event)
    return builder.transactions


def activity_identifier(province: str, project_code: str) -> str:
    return f"VN-{province}-{project_code}"


def activity_json(project: Mapping[str, Any], found: list[Transaction]) -> dict[str, Any]:
    return {
        "iati_identifier": activity_identifier(project["province"], project["project_code"]),
        "default_currency": CURRENCY,
        "reporting_org": {"ref": f"VN-{project['province']}", "name": project["province"]},
        "title": project["name"],
        "activity_status": {"code": ACTIVITY_STATUS.get(project["status"], "2")},
        "participating_org": [
            {"role": "4", "ref": project["investor_code"], "name": project["investor_name"]}
        ],
        "sector": {"vocabulary": "99", "code": project["sector"]},
        "capledger": {
            "project_code": project["project_code"],
            "program": project["program"],
            "status": project["status"],
            "total_investment": str(project["total_investment"]),
        },
        "transactions": [transaction.as_json() for transaction in found],
    }


def activities_xml(activities: list[dict[str, Any]], generated: str) -> bytes:
    """The same activities as IATI XML (``iati-activities``), with a capledger namespace."""
    ElementTree.register_namespace("capledger", EXTENSION_NS)
    root = ElementTree.Element(
        "iati-activities", {"version": IATI_VERSION, "generated-datetime": generated}
    )
    for activity in activities:
        node = ElementTree.SubElement(
            root,
            "iati-activity",
            {"default-currency": CURRENCY, "last-updated-datetime": generated},
        )
        ElementTree.SubElement(node, "iati-identifier").text = activity["iati_identifier"]
        reporting = ElementTree.SubElement(
            node, "reporting-org", {"ref": activity["reporting_org"]["ref"], "type": "10"}
        )
        _narrative(reporting, activity["reporting_org"]["name"])
        _narrative(ElementTree.SubElement(node, "title"), activity["title"])
        for org in activity["participating_org"]:
            element = ElementTree.SubElement(
                node, "participating-org", {"role": org["role"], "ref": org["ref"]}
            )
            _narrative(element, org["name"])
        ElementTree.SubElement(
            node, "activity-status", {"code": activity["activity_status"]["code"]}
        )
        ElementTree.SubElement(
            node,
            "sector",
            {"vocabulary": "99", "code": activity["sector"]["code"]},
        )
        for transaction in activity["transactions"]:
            _transaction_xml(node, transaction)
    return bytes(ElementTree.tostring(root, encoding="utf-8", xml_declaration=True))


def _transaction_xml(parent: ElementTree.Element, transaction: dict[str, Any]) -> None:
    node = ElementTree.SubElement(parent, "transaction", {"ref": transaction["ref"]})
    ElementTree.SubElement(
        node, "transaction-type", {"code": transaction["transaction_type"]["code"]}
    )
    ElementTree.SubElement(
        node, "transaction-date", {"iso-date": transaction["transaction_date"]["iso_date"]}
    )
    value = ElementTree.SubElement(
        node,
        "value",
        {"currency": CURRENCY, "value-date": transaction["value"]["value_date"]},
    )
    value.text = transaction["value"]["amount"]
    _narrative(ElementTree.SubElement(node, "description"), transaction["description"])
    for key, tag in (("provider_org", "provider-org"), ("receiver_org", "receiver-org")):
        org = transaction.get(key)
        if org:
            attributes = {"ref": org["ref"]} if org.get("ref") else {}
            _narrative(ElementTree.SubElement(node, tag, attributes), org["name"])
    extension = transaction.get("capledger") or {}
    if extension:
        ElementTree.SubElement(
            node,
            f"{{{EXTENSION_NS}}}entry",
            {key: str(value) for key, value in extension.items()},
        )


def _narrative(parent: ElementTree.Element, text: str) -> None:
    ElementTree.SubElement(parent, "narrative").text = text
