"""What a correction can point at: every movement a project records, kept by stream version.

A wrong movement is never edited or deleted. It is corrected by a compensating event that
names it by its stream version (``Project.EntryReversed`` for a payment or an advance,
``Project.EntryCorrected`` for every other movement) and takes effect on its own date, on or
after the movement's: the movement stood until then, and the history shows both.

The kinds, and what their correction does:

- capital a project *received* (``CapitalAllocated``, ``CapitalTransferredIn``) is taken away
  again; refused if the project has spent it (at the correction's date or any later one);
- capital a project *gave up* (``CapitalTransferredOut``, ``AllocationCut``,
  ``CapitalLapsed``) comes back to it;
- an extension (``DisbursementPeriodExtended``) is withdrawn; refused if capital was already
  disbursed after the deadline on it;
- a change of the project's record (``TotalInvestmentAdjusted``, ``InvestorChanged``,
  ``StatusChanged``) is undone by putting back what it replaced; only the latest uncorrected
  change of its kind can be corrected (correct the later one first).

Corrections are final: a correction is not itself corrected. A wrong correction is repaired
by recording the movement again (a new allocation, a new cut…), which leaves the whole story in
the history. An entry is corrected at most once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

#: Corrections of these kinds are taken by a decision of the authority that took the original
#: (a lapse takes effect by law; its correction still needs the decision that restores it).
NEEDS_DECISION = frozenset(
    {
        "CapitalAllocated",
        "CapitalTransferredOut",
        "CapitalTransferredIn",
        "AllocationCut",
        "DisbursementPeriodExtended",
        "CapitalLapsed",
        "TotalInvestmentAdjusted",
    }
)
#: Corrections that take capital away from the project (it must still hold it).
TAKES_CAPITAL = frozenset({"CapitalAllocated", "CapitalTransferredIn"})
#: Corrections that give capital back to the project.
GIVES_CAPITAL = frozenset({"CapitalTransferredOut", "AllocationCut", "CapitalLapsed"})
#: The two sides of a transfer, each the other's counterpart.
TRANSFER_SIDES = {
    "CapitalTransferredOut": "CapitalTransferredIn",
    "CapitalTransferredIn": "CapitalTransferredOut",
}
#: Changes of the project's record, and the fields each sets (its correction puts them back).
RECORD_FIELDS: dict[str, tuple[str, ...]] = {
    "TotalInvestmentAdjusted": ("total_investment",),
    "InvestorChanged": ("investor_code", "investor_name"),
    "StatusChanged": ("status", "review_class"),
}
#: How a correction moves the plan's unallocated capital: an allocation's correction returns
#: it to the plan (``CapitalPlan.CapitalReturned``), a cut's takes it from the plan again
#: (``CapitalPlan.CapitalAllocated``); the other corrections do not touch the plan.
PLAN_RETURNS = "CapitalAllocated"
PLAN_ALLOCATES = "AllocationCut"
#: The figure of the allocation line each capital movement changed (and its correction undoes).
LINE_FIGURES = {
    "CapitalAllocated": "allocated",
    "CapitalTransferredIn": "transferred_in",
    "CapitalTransferredOut": "transferred_out",
    "AllocationCut": "cut",
    "CapitalLapsed": "lapsed",
}


@dataclass
class MovementEntry:
    """A correctable movement other than cash, as recorded at its stream version."""

    kind: str  # the name of the event, e.g. "CapitalAllocated"
    effective_on: date
    plan_code: str | None = None
    source: str | None = None
    amount: int = 0
    #: The other project of a transfer.
    counterpart: str | None = None
    #: For a change of the record: the values it replaced and the values it set.
    replaced: dict[str, object] = field(default_factory=dict)
    made: dict[str, object] = field(default_factory=dict)
    corrected: bool = False

    @property
    def is_transfer(self) -> bool:
        return self.kind in TRANSFER_SIDES
