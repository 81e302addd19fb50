"""Projects: where capital is allocated, moved, paid out, reversed, extended, lapsed and settled.

A project holds one allocation line per (plan, capital source). A payment touches only its
project, so every disbursement invariant is checked against this one small aggregate.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from .capital import (
    Balance,
    DatedAmount,
    balance_of,
    capital,
    extended_remaining,
    extension_released,
    undisbursed,
)
from .corrections import (
    GIVES_CAPITAL,
    LINE_FIGURES,
    NEEDS_DECISION,
    PLAN_ALLOCATES,
    PLAN_RETURNS,
    RECORD_FIELDS,
    TAKES_CAPITAL,
    TRANSFER_SIDES,
    MovementEntry,
)
from .errors import (
    AdvanceCapExceeded,
    AdvanceNotFullyRecovered,
    AdvanceOverRecovered,
    DatedOutOfRange,
    DeadlinePassed,
    DecisionRequired,
    DuplicateContract,
    EntryNotReversible,
    ExtensionNotAllowed,
    InvalidStatusChange,
    InvalidTransfer,
    InvalidValue,
    LapseNotDue,
    NoAllocation,
    NotAnAnnualPlan,
    OverDisbursement,
    ProjectClosed,
    TotalInvestmentExceeded,
    UndisbursedExceeded,
    UnknownContract,
)
from .ids import project_id
from .rules import RuleBook
from .values import (
    CLOSED_STATUSES,
    SETTLEABLE_STATUSES,
    CapitalSource,
    Decision,
    PlanKind,
    ProjectStatus,
    check_code,
    check_non_negative_vnd,
    check_positive_vnd,
    parse_enum,
)


@dataclass
class AllocationLine:
    """Capital of one plan and one source on this project, and what became of it."""

    plan_code: str
    plan_kind: str
    fiscal_year: int
    source: str
    allocated: int = 0
    transferred_in: int = 0
    transferred_out: int = 0
    cut: int = 0
    disbursed: int = 0
    lapsed: int = 0
    extended: int = 0
    extended_until: date | None = None
    disbursed_after_deadline: int = 0
    #: The undisbursed capital by effective date: every movement changes it from its own date.
    dated_undisbursed: DatedAmount = field(default_factory=DatedAmount, compare=False, repr=False)
    #: The end of each extension by the stream version that granted it, so that a corrected
    #: extension's end can be withdrawn and ``extended_until`` follow the others.
    extension_ends: dict[int, date] = field(default_factory=dict, compare=False, repr=False)

    @property
    def capital(self) -> int:
        return capital(self.allocated, self.transferred_in, self.transferred_out, self.cut)

    @property
    def undisbursed(self) -> int:
        return undisbursed(self.capital, self.disbursed, self.lapsed)

    @property
    def balance(self) -> Balance:
        """The line's figures (advances are kept per contract, not per line)."""
        return balance_of(self)

    @property
    def extended_remaining(self) -> int:
        return extended_remaining(self.extended, self.disbursed_after_deadline)

    def extend_until(self, amount: int, until: date, version: int) -> None:
        self.extended += amount
        self.extension_ends[version] = until
        self.extended_until = (
            until if self.extended_until is None else max(self.extended_until, until)
        )

    def withdraw_extension(self, amount: int, version: int) -> None:
        """Take back the extension granted at ``version`` (a correction of it)."""
        self.extended -= amount
        self.extension_ends.pop(version, None)
        self.extended_until = max(self.extension_ends.values(), default=None)

    def release_extension_beyond_undisbursed(self) -> None:
        # Capital moved away cannot stay earmarked for the extended period.
        self.extended -= extension_released(self.extended_remaining, self.undisbursed)


@dataclass
class Contract:
    contract_no: str
    contractor: str
    value: int
    advanced: int = 0
    advance_outstanding: int = 0
    completed_paid: int = 0


@dataclass
class PaymentEntry:
    """A reversible cash movement, kept by stream version so a correction can point at it."""

    kind: str  # "advance" | "completed_work"
    line_key: str
    contract_no: str | None
    amount: int
    advance_recovered: int
    after_deadline: bool
    reversed: bool = False
    effective_on: date = field(kw_only=True)

    @property
    def net(self) -> int:
        return self.amount - self.advance_recovered


#: The fields of ``EntryCorrected`` that say what capital a correction moves back, and those
#: that say what record fields it puts back.
MOVED_FIELDS = (
    "plan_code",
    "source",
    "amount",
    "extended_until",
    "counterpart",
    "counterpart_version",
)
RESTORED_FIELDS = ("total_investment", "investor_code", "investor_name", "status", "review_class")


def line_key(plan_code: str, source: str) -> str:
    return f"{plan_code}|{source}"


class Project(Aggregate):
    class Registered(Aggregate.Created):
        """v2 split the investor into a stable code and a name, to follow renames and mergers."""

        class_version = 2
        code: str
        name: str
        investor_code: str
        investor_name: str
        program: str
        sector: str
        province: str
        total_investment: int
        decision: Decision
        effective_on: date

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            # v1 recorded the investor's name only; that name stands as its code too.
            name = state.pop("investor")
            state["investor_name"] = name
            state["investor_code"] = name

    class TotalInvestmentAdjusted(Aggregate.Event):
        class_version = 1
        total_investment: int
        decision: Decision
        effective_on: date

    class InvestorChanged(Aggregate.Event):
        class_version = 1
        investor_code: str
        investor_name: str
        reason: str
        effective_on: date

    class StatusChanged(Aggregate.Event):
        class_version = 1
        status: str
        review_class: str | None
        reason: str
        decision: Decision | None
        effective_on: date

    class CapitalAllocated(Aggregate.Event):
        class_version = 1
        plan_code: str
        plan_kind: str
        fiscal_year: int
        source: str
        amount: int
        auto_extended_until: date | None
        decision: Decision
        effective_on: date

    class CapitalTransferredOut(Aggregate.Event):
        class_version = 1
        plan_code: str
        source: str
        amount: int
        to_project: str
        decision: Decision
        effective_on: date

    class CapitalTransferredIn(Aggregate.Event):
        class_version = 1
        plan_code: str
        plan_kind: str
        fiscal_year: int
        source: str
        amount: int
        from_project: str
        auto_extended_until: date | None
        decision: Decision
        effective_on: date

    class AllocationCut(Aggregate.Event):
        class_version = 1
        plan_code: str
        source: str
        amount: int
        reason: str
        decision: Decision
        effective_on: date

    class ContractSigned(Aggregate.Event):
        class_version = 1
        contract_no: str
        contractor: str
        value: int
        effective_on: date

    class AdvancePaid(Aggregate.Event):
        class_version = 1
        contract_no: str
        plan_code: str
        source: str
        amount: int
        from_extension: bool
        treasury_ref: str
        effective_on: date

    class CompletedWorkPaid(Aggregate.Event):
        """Payment for accepted work; ``advance_recovered`` of it repays the contract's advance."""

        class_version = 1
        contract_no: str | None
        plan_code: str
        source: str
        amount: int
        advance_recovered: int
        from_extension: bool
        treasury_ref: str
        effective_on: date

    class EntryReversed(Aggregate.Event):
        class_version = 1
        entry_version: int
        reason: str
        effective_on: date

    class EntryCorrected(Aggregate.Event):
        """A compensating event for a movement other than cash (``corrections``): it names the
        entry by its stream version and says what it moves back: ``amount`` of capital on the
        line ``plan_code``/``source``, or the record fields it puts back (the others None).
        A transfer's correction names the other side too (``counterpart``, at
        ``counterpart_version`` of that project's stream); an extension's, the end of the
        extended period it leaves (``extended_until``, None when no extension is left)."""

        class_version = 1
        entry_version: int
        corrects: str
        plan_code: str | None
        source: str | None
        amount: int | None
        extended_until: date | None
        counterpart: str | None
        counterpart_version: int | None
        total_investment: int | None
        investor_code: str | None
        investor_name: str | None
        status: str | None
        review_class: str | None
        reason: str
        decision: Decision | None
        effective_on: date

    class DisbursementPeriodExtended(Aggregate.Event):
        class_version = 1
        plan_code: str
        source: str
        amount: int
        until: date
        decision: Decision
        effective_on: date

    class CapitalLapsed(Aggregate.Event):
        class_version = 1
        plan_code: str
        source: str
        amount: int
        effective_on: date

    class Settled(Aggregate.Event):
        class_version = 1
        settled_value: int
        decision: Decision
        effective_on: date

    @staticmethod
    def create_id(code: str) -> UUID:
        return project_id(code)

    @classmethod
    def register(
        cls,
        *,
        code: str,
        name: str,
        investor_code: str,
        investor_name: str,
        program: str,
        sector: str,
        province: str,
        total_investment: int,
        decision: Decision,
        effective_on: date,
    ) -> Project:
        check_code(code, "project code")
        check_code(investor_code, "investor code")
        check_code(province, "province")
        check_code(sector, "sector")
        if not name.strip():
            raise InvalidValue("a project needs a name")
        check_positive_vnd(total_investment, "total investment")
        return cls(
            code=code,
            name=name,
            investor_code=investor_code,
            investor_name=investor_name,
            program=program,
            sector=sector,
            province=province,
            total_investment=total_investment,
            decision=decision,
            effective_on=effective_on,
        )

    @event(Registered)
    def __init__(
        self,
        *,
        code: str,
        name: str,
        investor_code: str,
        investor_name: str,
        program: str,
        sector: str,
        province: str,
        total_investment: int,
        decision: Decision,
        effective_on: date,
    ) -> None:
        self.code = code
        self.name = name
        self.investor_code = investor_code
        self.investor_name = investor_name
        self.program = program
        self.sector = sector
        self.province = province
        self.total_investment = total_investment
        self.registered_on = effective_on
        self.status = ProjectStatus.ON_TRACK.value
        self.review_class: str | None = None
        self.settled_value: int | None = None
        self.lines: dict[str, AllocationLine] = {}
        self.contracts: dict[str, Contract] = {}
        self.entries: dict[int, PaymentEntry] = {}
        self.movements: dict[int, MovementEntry] = {}

    # -- queries -------------------------------------------------------------------------

    @property
    def disbursed(self) -> int:
        return sum(line.disbursed for line in self.lines.values())

    @property
    def balance(self) -> Balance:
        """The project's figures over all its lines, with the advances its contracts owe."""
        total = Balance.total(line.balance for line in self.lines.values())
        outstanding = sum(contract.advance_outstanding for contract in self.contracts.values())
        return replace(total, advances_outstanding=outstanding)

    @property
    def is_closed(self) -> bool:
        return ProjectStatus(self.status) in CLOSED_STATUSES

    def line(self, plan_code: str, source: str) -> AllocationLine:
        try:
            return self.lines[line_key(plan_code, source)]
        except KeyError:
            raise NoAllocation(
                f"project {self.code} has no allocation from plan {plan_code} ({source})"
            ) from None

    # -- commands: project record --------------------------------------------------------

    def adjust_total_investment(
        self, *, total_investment: int, decision: Decision, effective_on: date
    ) -> None:
        check_positive_vnd(total_investment, "total investment")
        self.check_not_before_registration(effective_on, "an adjustment of total investment")
        if total_investment < self.disbursed:
            raise TotalInvestmentExceeded(
                f"project {self.code} has already disbursed {self.disbursed} VND, more than "
                f"the proposed total investment of {total_investment} VND"
            )
        self._total_investment_adjusted(
            total_investment=total_investment, decision=decision, effective_on=effective_on
        )

    def change_investor(
        self, *, investor_code: str, investor_name: str, reason: str, effective_on: date
    ) -> None:
        check_code(investor_code, "investor code")
        self.check_not_before_registration(effective_on, "a change of investor")
        if (investor_code, investor_name) == (self.investor_code, self.investor_name):
            raise InvalidValue(f"project {self.code} already has investor {investor_code}")
        self._investor_changed(
            investor_code=investor_code,
            investor_name=investor_name,
            reason=reason,
            effective_on=effective_on,
        )

    def change_status(
        self,
        *,
        status: str,
        reason: str,
        effective_on: date,
        review_class: str | None = None,
        decision: Decision | None = None,
    ) -> None:
        new_status = parse_enum(ProjectStatus, status, "project status")
        self.check_not_before_registration(effective_on, "a change of status")
        self.check_status_change(new_status)
        self._status_changed(
            status=new_status.value,
            review_class=review_class,
            reason=reason,
            decision=decision,
            effective_on=effective_on,
        )

    def settle(self, *, settled_value: int, decision: Decision, effective_on: date) -> None:
        check_non_negative_vnd(settled_value, "settled value")
        self.check_not_before_registration(effective_on, "a settlement")
        if ProjectStatus(self.status) not in SETTLEABLE_STATUSES:
            allowed = ", ".join(sorted(s.value for s in SETTLEABLE_STATUSES))
            raise InvalidStatusChange(
                f"project {self.code} is {self.status}; only a project that is {allowed} "
                "can be settled"
            )
        if settled_value > self.total_investment:
            raise TotalInvestmentExceeded(
                f"settled value {settled_value} VND exceeds the total investment "
                f"{self.total_investment} VND"
            )
        self._settled(settled_value=settled_value, decision=decision, effective_on=effective_on)

    # -- commands: capital ---------------------------------------------------------------

    def receive_allocation(
        self,
        *,
        plan_code: str,
        plan_kind: str,
        fiscal_year: int,
        source: str,
        amount: int,
        decision: Decision,
        effective_on: date,
        rules: RuleBook,
    ) -> None:
        check_positive_vnd(amount)
        parse_enum(CapitalSource, source, "capital source")
        self.check_open()
        self.check_not_before_registration(effective_on, "an allocation")
        if plan_kind == PlanKind.ANNUAL.value:
            # Capital allocated after the deadline could only be paid by being extended
            # automatically as "added after 30 September": refuse it rather than open that door.
            deadline = rules.deadline_rule(effective_on).deadline(fiscal_year)
            if effective_on > deadline:
                raise DeadlinePassed(
                    f"capital of plan {plan_code} could be allocated until {deadline.isoformat()}"
                )
        self._capital_allocated(
            plan_code=plan_code,
            plan_kind=plan_kind,
            fiscal_year=fiscal_year,
            source=source,
            amount=amount,
            auto_extended_until=_auto_extension(rules, plan_kind, fiscal_year, effective_on),
            decision=decision,
            effective_on=effective_on,
        )

    def transfer_out(
        self,
        *,
        plan_code: str,
        source: str,
        amount: int,
        to_project: str,
        decision: Decision,
        effective_on: date,
        rules: RuleBook,
    ) -> AllocationLine:
        check_positive_vnd(amount)
        if to_project == self.code:
            raise InvalidTransfer("a transfer needs two different projects")
        line = self.line(plan_code, source)
        self.check_not_before_registration(effective_on, "a transfer")
        self.check_before_deadline(line, effective_on, rules)
        self.check_within_undisbursed(line, amount, "transfer", effective_on)
        self._transferred_out(
            plan_code=plan_code,
            source=source,
            amount=amount,
            to_project=to_project,
            decision=decision,
            effective_on=effective_on,
        )
        return line

    def transfer_in(
        self,
        *,
        from_line: AllocationLine,
        amount: int,
        from_project: str,
        decision: Decision,
        effective_on: date,
        rules: RuleBook,
    ) -> None:
        self.check_open()
        self.check_not_before_registration(effective_on, "a transfer")
        self._transferred_in(
            plan_code=from_line.plan_code,
            plan_kind=from_line.plan_kind,
            fiscal_year=from_line.fiscal_year,
            source=from_line.source,
            amount=amount,
            from_project=from_project,
            auto_extended_until=_auto_extension(
                rules, from_line.plan_kind, from_line.fiscal_year, effective_on
            ),
            decision=decision,
            effective_on=effective_on,
        )

    def cut(
        self,
        *,
        plan_code: str,
        source: str,
        amount: int | None,
        reason: str,
        decision: Decision,
        effective_on: date,
        rules: RuleBook,
    ) -> int:
        """Cut ``amount`` (all that is undisbursed when None); returns the amount cut.

        After the deadline undisbursed capital lapses: cutting it then would hand it back to the
        plan as if it could still be allocated, so a cut is judged against the deadline too.
        """
        line = self.line(plan_code, source)
        self.check_not_before_registration(effective_on, "a cut")
        self.check_before_deadline(line, effective_on, rules)
        cut_amount = line.undisbursed if amount is None else amount
        check_positive_vnd(cut_amount, "amount cut")
        self.check_within_undisbursed(line, cut_amount, "cut", effective_on)
        self._allocation_cut(
            plan_code=plan_code,
            source=source,
            amount=cut_amount,
            reason=reason,
            decision=decision,
            effective_on=effective_on,
        )
        return cut_amount

    def extend_disbursement_period(
        self,
        *,
        plan_code: str,
        source: str,
        amount: int,
        until: date,
        decision: Decision,
        effective_on: date,
        rules: RuleBook,
    ) -> None:
        check_positive_vnd(amount)
        line = self.line(plan_code, source)
        self.check_annual(line)
        self.check_not_before_registration(effective_on, "an extension")
        self.check_extension_allowed(line, amount, until, effective_on, rules)
        self._period_extended(
            plan_code=plan_code,
            source=source,
            amount=amount,
            until=until,
            decision=decision,
            effective_on=effective_on,
        )

    def lapse(self, *, plan_code: str, source: str, as_of: date, rules: RuleBook) -> int:
        """Record what the deadline left undisbursed and unextended; returns the amount."""
        line = self.line(plan_code, source)
        self.check_annual(line)
        amount = self.lapsable(line, as_of, rules)
        self.check_within_undisbursed(line, amount, "lapse", as_of)
        self._capital_lapsed(plan_code=plan_code, source=source, amount=amount, effective_on=as_of)
        return amount

    # -- commands: contracts and cash ----------------------------------------------------

    def sign_contract(
        self, *, contract_no: str, contractor: str, value: int, effective_on: date
    ) -> None:
        check_code(contract_no, "contract number")
        check_positive_vnd(value, "contract value")
        self.check_not_before_registration(effective_on, "a contract")
        if contract_no in self.contracts:
            raise DuplicateContract(f"project {self.code} already has contract {contract_no}")
        self._contract_signed(
            contract_no=contract_no, contractor=contractor, value=value, effective_on=effective_on
        )

    def pay_advance(
        self,
        *,
        contract_no: str,
        plan_code: str,
        source: str,
        amount: int,
        treasury_ref: str,
        effective_on: date,
        rules: RuleBook,
    ) -> None:
        check_positive_vnd(amount)
        contract = self.contract(contract_no)
        line = self.line(plan_code, source)
        from_extension = self.check_payable(line, amount, effective_on, rules)
        self.check_advance_within_cap(contract, amount, effective_on, rules)
        self.check_advance_before_full_recovery(contract, effective_on, rules)
        self._advance_paid(
            contract_no=contract_no,
            plan_code=plan_code,
            source=source,
            amount=amount,
            from_extension=from_extension,
            treasury_ref=treasury_ref,
            effective_on=effective_on,
        )

    def pay_completed_work(
        self,
        *,
        plan_code: str,
        source: str,
        amount: int,
        treasury_ref: str,
        effective_on: date,
        rules: RuleBook,
        contract_no: str | None = None,
        advance_recovered: int = 0,
    ) -> None:
        check_positive_vnd(amount)
        check_non_negative_vnd(advance_recovered, "advance recovered")
        line = self.line(plan_code, source)
        if advance_recovered > amount:
            raise AdvanceOverRecovered("a payment cannot recover more advance than it pays")
        from_extension = self.check_payable(line, amount - advance_recovered, effective_on, rules)
        if contract_no is not None:
            contract = self.contract(contract_no)
            self.check_within_contract_value(contract, amount)
            self.check_recovery(contract, amount, advance_recovered, effective_on, rules)
        elif advance_recovered:
            raise AdvanceOverRecovered("advance can only be recovered through a contract")
        self._completed_work_paid(
            contract_no=contract_no,
            plan_code=plan_code,
            source=source,
            amount=amount,
            advance_recovered=advance_recovered,
            from_extension=from_extension,
            treasury_ref=treasury_ref,
            effective_on=effective_on,
        )

    def reverse_entry(self, *, entry_version: int, reason: str, effective_on: date) -> None:
        """Correct a wrong payment or advance by a compensating event that points at it."""
        entry = self.entries.get(entry_version)
        if entry is None:
            raise EntryNotReversible(
                f"project {self.code} has no payment or advance at version {entry_version}"
            )
        if entry.reversed:
            raise EntryNotReversible(f"the entry at version {entry_version} is already reversed")
        if not reason.strip():
            raise InvalidValue("a correction needs a reason")
        self.check_not_before_entry(entry.effective_on, entry_version, effective_on)
        if entry.kind == "advance" and entry.contract_no is not None:
            contract = self.contracts[entry.contract_no]
            if contract.advance_outstanding < entry.amount:
                raise EntryNotReversible(
                    f"the advance at version {entry_version} is already partly recovered; "
                    "reverse the recovering payments first"
                )
        self._entry_reversed(entry_version=entry_version, reason=reason, effective_on=effective_on)

    def correct_entry(
        self,
        *,
        entry_version: int,
        reason: str,
        effective_on: date,
        decision: Decision | None = None,
        counterpart_version: int | None = None,
    ) -> MovementEntry | None:
        """Correct a wrong entry of any kind by a compensating event that points at it.

        A payment or an advance is reversed (``EntryReversed``; it was paid without a decision
        and is reversed without one); any other movement is corrected (``EntryCorrected``,
        see ``corrections``). Returns the corrected movement (None for cash) so that the
        caller moves the plan's capital or corrects a transfer's other side in the same unit of
        work; a transfer's side is corrected only with ``counterpart_version``, the other
        side's version in the other project's stream (:meth:`transfer_side`).
        """
        if entry_version in self.entries:
            if decision is not None:
                raise InvalidValue(
                    "a payment or an advance is reversed without a decision (it has none)"
                )
            self.reverse_entry(
                entry_version=entry_version, reason=reason, effective_on=effective_on
            )
            return None
        entry = self.correctable(entry_version)
        if not reason.strip():
            raise InvalidValue("a correction needs a reason")
        if decision is None and entry.kind in NEEDS_DECISION:
            raise DecisionRequired(
                f"a correction of the {entry.kind} at version {entry_version} is taken by a "
                "decision; none was given"
            )
        self.check_not_before_entry(entry.effective_on, entry_version, effective_on)
        if entry.kind in RECORD_FIELDS:
            said = self.record_correction(entry, entry_version)
        else:
            said = self.capital_correction(entry, entry_version, effective_on, counterpart_version)
        self._entry_corrected(
            entry_version=entry_version, corrects=entry.kind,
            **{**dict.fromkeys((*MOVED_FIELDS, *RESTORED_FIELDS)), **said},
            reason=reason, decision=decision, effective_on=effective_on,
        )  # fmt: skip
        return entry

    def record_correction(self, entry: MovementEntry, version: int) -> dict[str, Any]:
        """Check a correction of a change of the record; the fields it puts back."""
        self.check_latest_change(entry, version)
        total = entry.replaced.get("total_investment")
        if isinstance(total, int) and total < self.disbursed:
            raise TotalInvestmentExceeded(
                f"project {self.code} has already disbursed {self.disbursed} VND, more than "
                f"the total investment of {total} VND the correction would restore"
            )
        return dict(entry.replaced)

    def capital_correction(
        self, entry: MovementEntry, version: int, day: date, counterpart_version: int | None
    ) -> dict[str, Any]:
        """Check a correction of a capital movement; the fields that say what it moves back."""
        if entry.is_transfer and counterpart_version is None:
            raise InvalidValue("a transfer is corrected on both of its projects at once")
        line = self.lines[line_key(str(entry.plan_code), str(entry.source))]
        moved: dict[str, Any] = {
            "plan_code": entry.plan_code, "source": entry.source,
            "amount": self.check_capital_correction(entry, version, line, day),
            "counterpart": entry.counterpart, "counterpart_version": counterpart_version,
        }  # fmt: skip
        if entry.kind == "DisbursementPeriodExtended":
            ends = {each: until for each, until in line.extension_ends.items() if each != version}
            moved["extended_until"] = max(ends.values(), default=None)
        return moved

    def correctable(self, entry_version: int) -> MovementEntry:
        """The uncorrected movement at ``entry_version`` (not a payment: see ``entries``)."""
        entry = self.movements.get(entry_version)
        if entry is None:
            raise EntryNotReversible(
                f"project {self.code} records no correctable movement at version "
                f"{entry_version} (a registration, a contract, a settlement or a correction "
                "is not corrected)"
            )
        if entry.corrected:
            raise EntryNotReversible(f"the entry at version {entry_version} is already corrected")
        return entry

    def correction_reach(self, entry_version: int) -> tuple[str | None, str | None]:
        """What else a correction of the entry at ``entry_version`` writes to: the other project
        of a transfer, and the plan of an allocation or a cut (None where there is none)."""
        entry = self.movements.get(entry_version)
        if entry is None:
            return None, None
        other = entry.counterpart if entry.is_transfer else None
        plan = entry.plan_code if entry.kind in (PLAN_RETURNS, PLAN_ALLOCATES) else None
        return other, plan

    def transfer_side(self, entry_version: int, other: Project) -> int:
        """The version in ``other``'s stream of the other side of this project's transfer at
        ``entry_version``. Both sides were recorded together, in the same order in both
        streams, so the n-th of this project's like transfers with ``other`` is the n-th of
        ``other``'s."""
        entry = self.correctable(entry_version)
        like = (entry.plan_code, entry.source, entry.amount, entry.effective_on)

        def sides(project: Project, kind: str, counterpart: str) -> list[int]:
            return [
                version
                for version, each in sorted(project.movements.items())
                if each.kind == kind
                and each.counterpart == counterpart
                and (each.plan_code, each.source, each.amount, each.effective_on) == like
            ]

        mine = sides(self, entry.kind, other.code)
        theirs = sides(other, TRANSFER_SIDES[entry.kind], self.code)
        index = mine.index(entry_version)
        if index >= len(theirs):
            raise EntryNotReversible(
                f"project {other.code} records no other side of the transfer at version "
                f"{entry_version} of project {self.code}"
            )
        return theirs[index]

    def contract(self, contract_no: str) -> Contract:
        try:
            return self.contracts[contract_no]
        except KeyError:
            raise UnknownContract(f"project {self.code} has no contract {contract_no}") from None

    # -- invariants ----------------------------------------------------------------------

    def check_open(self) -> None:
        if self.is_closed:
            raise ProjectClosed(f"project {self.code} is {self.status}")

    @staticmethod
    def check_annual(line: AllocationLine) -> None:
        if line.plan_kind != PlanKind.ANNUAL.value:
            raise NotAnAnnualPlan(
                f"plan {line.plan_code} is a {line.plan_kind} plan; "
                "capital is paid from annual plans"
            )

    def check_within_undisbursed(
        self, line: AllocationLine, amount: int, movement: str, day: date
    ) -> None:
        if amount > line.undisbursed:
            raise UndisbursedExceeded(
                f"{movement} of {amount} VND from project {self.code} exceeds its undisbursed "
                f"{line.undisbursed} VND of plan {line.plan_code} ({line.source})"
            )
        self.check_undisbursed_on_every_date(line, amount, day, movement, UndisbursedExceeded)

    def check_undisbursed_on_every_date(
        self,
        line: AllocationLine,
        amount: int,
        day: date,
        movement: str,
        error: type[UndisbursedExceeded | OverDisbursement],
    ) -> None:
        """A movement dated ``day`` must leave the line whole on that day and every later one:
        nothing spent or moved away before the capital it uses had arrived, nor capital taken
        away that a later payment was drawn on."""
        shortfall = line.dated_undisbursed.first_shortfall(day, -amount)
        if shortfall is None:
            return
        when, left = shortfall
        raise error(
            f"{movement} of {amount} VND dated {day.isoformat()} would leave project {self.code} "
            f"{left} VND undisbursed of plan {line.plan_code} ({line.source}) on "
            f"{when.isoformat()}"
        )

    def check_not_before_registration(self, day: date, movement: str) -> None:
        if day < self.registered_on:
            raise DatedOutOfRange(
                f"{movement} dated {day.isoformat()} precedes project {self.code}, registered "
                f"effective {self.registered_on.isoformat()}"
            )

    @staticmethod
    def check_within_fiscal_year(line: AllocationLine, day: date) -> None:
        """Capital of an annual plan is paid from the first day of its fiscal year (the last
        is the deadline, checked with the rules in force)."""
        first = date(line.fiscal_year, 1, 1)
        if line.plan_kind == PlanKind.ANNUAL.value and day < first:
            raise DatedOutOfRange(
                f"capital of plan {line.plan_code} is paid from {first.isoformat()}; a payment "
                f"dated {day.isoformat()} precedes its fiscal year"
            )

    @staticmethod
    def check_not_before_entry(entered: date, version: int, day: date) -> None:
        if day < entered:
            raise DatedOutOfRange(
                f"the entry at version {version} took effect {entered.isoformat()}; "
                f"a correction of it cannot take effect before, on {day.isoformat()}"
            )

    def check_payable(
        self, line: AllocationLine, net: int, effective_on: date, rules: RuleBook
    ) -> bool:
        """Check a cash movement; True when it draws on capital extended past the deadline."""
        self.check_open()
        self.check_annual(line)
        self.check_not_before_registration(effective_on, "a payment")
        self.check_within_fiscal_year(line, effective_on)
        from_extension = self.check_within_deadline(line, net, effective_on, rules)
        self.check_within_allocation(line, net, effective_on)
        self.check_within_total_investment(net)
        return from_extension

    @staticmethod
    def check_before_deadline(line: AllocationLine, day: date, rules: RuleBook) -> None:
        if line.plan_kind != PlanKind.ANNUAL.value:
            return
        deadline = rules.deadline_rule(day).deadline(line.fiscal_year)
        if day > deadline:
            raise DeadlinePassed(
                f"capital of plan {line.plan_code} could be moved until {deadline.isoformat()}"
            )

    @staticmethod
    def check_within_deadline(line: AllocationLine, net: int, day: date, rules: RuleBook) -> bool:
        deadline = rules.deadline_rule(day).deadline(line.fiscal_year)
        if day <= deadline:
            return False
        if line.extended_until is None or day > line.extended_until:
            last = line.extended_until or deadline
            raise DeadlinePassed(
                f"capital of plan {line.plan_code} ({line.source}) could be disbursed until "
                f"{last.isoformat()}; payment dated {day.isoformat()} is refused"
            )
        if net > line.extended_remaining:
            raise DeadlinePassed(
                f"after {deadline.isoformat()} only the extended {line.extended_remaining} VND "
                f"of plan {line.plan_code} ({line.source}) may be disbursed"
            )
        return True

    def check_within_allocation(self, line: AllocationLine, net: int, day: date) -> None:
        if net > line.undisbursed:
            raise OverDisbursement(
                f"payment of {net} VND exceeds the {line.undisbursed} VND left of project "
                f"{self.code}'s allocation from plan {line.plan_code} ({line.source})"
            )
        self.check_undisbursed_on_every_date(line, net, day, "payment", OverDisbursement)

    def check_within_total_investment(self, net: int) -> None:
        if self.disbursed + net > self.total_investment:
            raise TotalInvestmentExceeded(
                f"project {self.code} would disburse {self.disbursed + net} VND in all, above its "
                f"total investment of {self.total_investment} VND"
            )

    @staticmethod
    def check_advance_within_cap(
        contract: Contract, amount: int, day: date, rules: RuleBook
    ) -> None:
        cap = rules.advance_rule(day).cap(contract.value)
        if contract.advanced + amount > cap:
            raise AdvanceCapExceeded(
                f"advances on contract {contract.contract_no} would reach "
                f"{contract.advanced + amount} VND, above the cap of {cap} VND"
            )

    @staticmethod
    def check_advance_before_full_recovery(contract: Contract, day: date, rules: RuleBook) -> None:
        # Once payments reach the full-recovery threshold no advance may be outstanding, so no
        # new advance may be paid either.
        threshold = rules.advance_rule(day).full_recovery_threshold(contract.value)
        if contract.completed_paid >= threshold:
            raise AdvanceNotFullyRecovered(
                f"contract {contract.contract_no} has {contract.completed_paid} VND of work paid "
                f"(full-recovery threshold {threshold} VND): no further advance may be paid"
            )

    @staticmethod
    def check_within_contract_value(contract: Contract, amount: int) -> None:
        if contract.completed_paid + amount > contract.value:
            raise OverDisbursement(
                f"contract {contract.contract_no} would be paid "
                f"{contract.completed_paid + amount} VND for work, above its value {contract.value}"
            )

    @staticmethod
    def check_recovery(
        contract: Contract, amount: int, recovered: int, day: date, rules: RuleBook
    ) -> None:
        if recovered > contract.advance_outstanding:
            raise AdvanceOverRecovered(
                f"recovery of {recovered} VND exceeds the {contract.advance_outstanding} VND "
                f"outstanding on contract {contract.contract_no}"
            )
        threshold = rules.advance_rule(day).full_recovery_threshold(contract.value)
        still_outstanding = contract.advance_outstanding - recovered
        if still_outstanding and contract.completed_paid + amount >= threshold:
            raise AdvanceNotFullyRecovered(
                f"contract {contract.contract_no} reaches {contract.completed_paid + amount} VND "
                f"of work paid (threshold {threshold} VND): the {contract.advance_outstanding} "
                "VND advance must be recovered in full"
            )

    def check_status_change(self, new_status: ProjectStatus) -> None:
        current = ProjectStatus(self.status)
        if new_status is current:
            raise InvalidStatusChange(f"project {self.code} is already {current.value}")
        if current is ProjectStatus.SETTLED:
            raise InvalidStatusChange(f"project {self.code} is settled")
        if current is ProjectStatus.TERMINATED:
            # Termination ends a project; what remains is its settlement.
            raise InvalidStatusChange(f"project {self.code} is terminated; it can only be settled")
        if new_status is ProjectStatus.SETTLED:
            raise InvalidStatusChange("settlement is recorded with its own command")

    @staticmethod
    def check_extension_allowed(
        line: AllocationLine, amount: int, until: date, day: date, rules: RuleBook
    ) -> None:
        deadline = rules.deadline_rule(day).deadline(line.fiscal_year)
        latest = rules.extension_rule(day).latest(line.fiscal_year)
        if not deadline < until <= latest:
            raise ExtensionNotAllowed(
                f"an extension of plan {line.plan_code} must end after {deadline.isoformat()} "
                f"and no later than {latest.isoformat()}"
            )
        if day > deadline and line.extended_until is None:
            raise ExtensionNotAllowed(
                f"the deadline {deadline.isoformat()} has passed; capital not extended lapses"
            )
        unextended = line.undisbursed - line.extended_remaining
        if amount > unextended:
            raise ExtensionNotAllowed(
                f"only {unextended} VND of plan {line.plan_code} ({line.source}) is undisbursed "
                "and not yet extended"
            )

    def check_latest_change(self, entry: MovementEntry, version: int) -> None:
        """A change of the record is undone by putting back what it replaced, which is right
        only while it is the change in force."""
        later = [
            each_version
            for each_version, each in self.movements.items()
            if each.kind == entry.kind and each_version > version and not each.corrected
        ]
        if later:
            raise EntryNotReversible(
                f"the {entry.kind} at version {max(later)} came after the one at version "
                f"{version}; correct the later one first"
            )
        now = {name: getattr(self, name) for name in entry.made}
        if now != entry.made:
            raise EntryNotReversible(
                f"project {self.code} no longer has what the {entry.kind} at version {version} "
                f"set (it has {now}); it cannot be put back"
            )

    def check_capital_correction(
        self, entry: MovementEntry, version: int, line: AllocationLine, day: date
    ) -> int:
        """Check a correction of a capital movement; returns the amount it moves back."""
        if entry.kind == "DisbursementPeriodExtended":
            amount = min(entry.amount, line.extended)
            if amount == 0:
                raise EntryNotReversible(
                    f"nothing of the extension at version {version} is left to withdraw "
                    "(capital moved away since released it)"
                )
            self.check_extension_withdrawable(line, amount, version)
            return amount
        if entry.kind in GIVES_CAPITAL:
            self.check_open()
            return entry.amount
        assert entry.kind in TAKES_CAPITAL
        shortfall = line.dated_undisbursed.first_shortfall(day, -entry.amount)
        if shortfall is not None:
            when, left = shortfall
            raise UndisbursedExceeded(
                f"the {entry.kind} of {entry.amount} VND at version {version} cannot be "
                f"corrected: project {self.code} has spent {line.disbursed} VND of plan "
                f"{line.plan_code} ({line.source}), {line.lapsed} VND lapsed, and taking it back "
                f"on {day.isoformat()} would leave {left} VND undisbursed on {when.isoformat()}"
            )
        return entry.amount

    @staticmethod
    def check_extension_withdrawable(line: AllocationLine, amount: int, version: int) -> None:
        if line.disbursed_after_deadline > line.extended - amount:
            raise EntryNotReversible(
                f"{line.disbursed_after_deadline} VND of plan {line.plan_code} ({line.source}) "
                f"was disbursed after the deadline on extended capital; withdrawing the "
                f"extension of version {version} would leave {line.extended - amount} VND "
                "extended"
            )

    @staticmethod
    def lapsable(line: AllocationLine, as_of: date, rules: RuleBook) -> int:
        deadline = rules.deadline_rule(as_of).deadline(line.fiscal_year)
        if as_of <= deadline:
            raise LapseNotDue(
                f"capital of plan {line.plan_code} may be disbursed until {deadline.isoformat()}"
            )
        if line.extended_until is not None and as_of <= line.extended_until:
            amount = line.undisbursed - line.extended_remaining
        else:
            amount = line.undisbursed
        if amount <= 0:
            raise LapseNotDue(f"nothing of plan {line.plan_code} ({line.source}) is left to lapse")
        return amount

    # -- events applied ------------------------------------------------------------------

    @event(TotalInvestmentAdjusted)
    def _total_investment_adjusted(
        self, total_investment: int, decision: Decision, effective_on: date
    ) -> None:
        self._record_change(
            "TotalInvestmentAdjusted", effective_on, total_investment=total_investment
        )
        self.total_investment = total_investment

    @event(InvestorChanged)
    def _investor_changed(
        self, investor_code: str, investor_name: str, reason: str, effective_on: date
    ) -> None:
        self._record_change(
            "InvestorChanged",
            effective_on,
            investor_code=investor_code,
            investor_name=investor_name,
        )
        self.investor_code = investor_code
        self.investor_name = investor_name

    @event(StatusChanged)
    def _status_changed(
        self,
        status: str,
        review_class: str | None,
        reason: str,
        decision: Decision | None,
        effective_on: date,
    ) -> None:
        self._record_change("StatusChanged", effective_on, status=status, review_class=review_class)
        self.status = status
        self.review_class = review_class

    def _record_change(self, kind: str, effective_on: date, **made: object) -> None:
        replaced = {name: getattr(self, name) for name in made}
        self.movements[self.version + 1] = MovementEntry(
            kind, effective_on, replaced=replaced, made=made
        )

    def _record_movement(
        self, kind: str, effective_on: date, plan_code: str, source: str, amount: int,
        counterpart: str | None = None,
    ) -> None:  # fmt: skip
        # Applied before the version moves on: this event's own version is the next one.
        self.movements[self.version + 1] = MovementEntry(
            kind, effective_on, plan_code, source, amount, counterpart
        )

    @event(Settled)
    def _settled(self, settled_value: int, decision: Decision, effective_on: date) -> None:
        self.status = ProjectStatus.SETTLED.value
        self.settled_value = settled_value

    def _line_for(
        self, plan_code: str, plan_kind: str, fiscal_year: int, source: str
    ) -> AllocationLine:
        key = line_key(plan_code, source)
        if key not in self.lines:
            self.lines[key] = AllocationLine(plan_code, plan_kind, fiscal_year, source)
        return self.lines[key]

    @event(CapitalAllocated)
    def _capital_allocated(
        self,
        plan_code: str,
        plan_kind: str,
        fiscal_year: int,
        source: str,
        amount: int,
        auto_extended_until: date | None,
        decision: Decision,
        effective_on: date,
    ) -> None:
        line = self._line_for(plan_code, plan_kind, fiscal_year, source)
        line.allocated += amount
        line.dated_undisbursed.record(effective_on, amount)
        if auto_extended_until is not None:
            line.extend_until(amount, auto_extended_until, self.version + 1)
        self._record_movement("CapitalAllocated", effective_on, plan_code, source, amount)

    @event(CapitalTransferredOut)
    def _transferred_out(
        self,
        plan_code: str,
        source: str,
        amount: int,
        to_project: str,
        decision: Decision,
        effective_on: date,
    ) -> None:
        line = self.lines[line_key(plan_code, source)]
        line.transferred_out += amount
        line.dated_undisbursed.record(effective_on, -amount)
        line.release_extension_beyond_undisbursed()
        self._record_movement(
            "CapitalTransferredOut", effective_on, plan_code, source, amount, to_project
        )

    @event(CapitalTransferredIn)
    def _transferred_in(
        self,
        plan_code: str,
        plan_kind: str,
        fiscal_year: int,
        source: str,
        amount: int,
        from_project: str,
        auto_extended_until: date | None,
        decision: Decision,
        effective_on: date,
    ) -> None:
        line = self._line_for(plan_code, plan_kind, fiscal_year, source)
        line.transferred_in += amount
        line.dated_undisbursed.record(effective_on, amount)
        if auto_extended_until is not None:
            line.extend_until(amount, auto_extended_until, self.version + 1)
        self._record_movement(
            "CapitalTransferredIn", effective_on, plan_code, source, amount, from_project
        )

    @event(AllocationCut)
    def _allocation_cut(
        self,
        plan_code: str,
        source: str,
        amount: int,
        reason: str,
        decision: Decision,
        effective_on: date,
    ) -> None:
        line = self.lines[line_key(plan_code, source)]
        line.cut += amount
        line.dated_undisbursed.record(effective_on, -amount)
        line.release_extension_beyond_undisbursed()
        self._record_movement("AllocationCut", effective_on, plan_code, source, amount)

    @event(DisbursementPeriodExtended)
    def _period_extended(
        self,
        plan_code: str,
        source: str,
        amount: int,
        until: date,
        decision: Decision,
        effective_on: date,
    ) -> None:
        self.lines[line_key(plan_code, source)].extend_until(amount, until, self.version + 1)
        self._record_movement("DisbursementPeriodExtended", effective_on, plan_code, source, amount)

    @event(CapitalLapsed)
    def _capital_lapsed(self, plan_code: str, source: str, amount: int, effective_on: date) -> None:
        line = self.lines[line_key(plan_code, source)]
        line.lapsed += amount
        line.dated_undisbursed.record(effective_on, -amount)
        self._record_movement("CapitalLapsed", effective_on, plan_code, source, amount)

    @event(ContractSigned)
    def _contract_signed(
        self, contract_no: str, contractor: str, value: int, effective_on: date
    ) -> None:
        self.contracts[contract_no] = Contract(contract_no, contractor, value)

    @event(AdvancePaid)
    def _advance_paid(
        self,
        contract_no: str,
        plan_code: str,
        source: str,
        amount: int,
        from_extension: bool,
        treasury_ref: str,
        effective_on: date,
    ) -> None:
        key = line_key(plan_code, source)
        contract = self.contracts[contract_no]
        contract.advanced += amount
        contract.advance_outstanding += amount
        entry = PaymentEntry(
            "advance", key, contract_no, amount, 0, from_extension, effective_on=effective_on
        )
        self._book_cash(entry)

    @event(CompletedWorkPaid)
    def _completed_work_paid(
        self,
        contract_no: str | None,
        plan_code: str,
        source: str,
        amount: int,
        advance_recovered: int,
        from_extension: bool,
        treasury_ref: str,
        effective_on: date,
    ) -> None:
        key = line_key(plan_code, source)
        if contract_no is not None:
            contract = self.contracts[contract_no]
            contract.completed_paid += amount
            contract.advance_outstanding -= advance_recovered
        entry = PaymentEntry(
            "completed_work",
            key,
            contract_no,
            amount,
            advance_recovered,
            from_extension,
            effective_on=effective_on,
        )
        self._book_cash(entry)

    def _book_cash(self, entry: PaymentEntry) -> None:
        line = self.lines[entry.line_key]
        line.disbursed += entry.net
        line.dated_undisbursed.record(entry.effective_on, -entry.net)
        if entry.after_deadline:
            line.disbursed_after_deadline += entry.net
        # Applied before the version moves on: this event's own version is the next one.
        self.entries[self.version + 1] = entry

    @event(EntryCorrected)
    def _entry_corrected(
        self,
        entry_version: int,
        corrects: str,
        plan_code: str | None,
        source: str | None,
        amount: int | None,
        extended_until: date | None,
        counterpart: str | None,
        counterpart_version: int | None,
        total_investment: int | None,
        investor_code: str | None,
        investor_name: str | None,
        status: str | None,
        review_class: str | None,
        reason: str,
        decision: Decision | None,
        effective_on: date,
    ) -> None:
        self.movements[entry_version].corrected = True
        if corrects in RECORD_FIELDS:
            restored = {
                "total_investment": total_investment, "investor_code": investor_code,
                "investor_name": investor_name, "status": status, "review_class": review_class,
            }  # fmt: skip
            for name in RECORD_FIELDS[corrects]:
                setattr(self, name, restored[name])
            return
        line = self.lines[line_key(str(plan_code), str(source))]
        _undo_capital(line, corrects, amount or 0, entry_version, effective_on)

    @event(EntryReversed)
    def _entry_reversed(self, entry_version: int, reason: str, effective_on: date) -> None:
        entry = self.entries[entry_version]
        entry.reversed = True
        line = self.lines[entry.line_key]
        line.disbursed -= entry.net
        line.dated_undisbursed.record(effective_on, entry.net)
        if entry.after_deadline:
            line.disbursed_after_deadline -= entry.net
        if entry.contract_no is None:
            return
        contract = self.contracts[entry.contract_no]
        if entry.kind == "advance":
            contract.advanced -= entry.amount
            contract.advance_outstanding -= entry.amount
        else:
            contract.completed_paid -= entry.amount
            contract.advance_outstanding += entry.advance_recovered


# The apply method of the correction is kept after the others: it undoes what they did.
def _undo_capital(
    line: AllocationLine, corrects: str, amount: int, version: int, effective_on: date
) -> None:
    if corrects == "DisbursementPeriodExtended":
        line.withdraw_extension(amount, version)
        return
    figure = LINE_FIGURES[corrects]
    setattr(line, figure, getattr(line, figure) - amount)
    taken = corrects in TAKES_CAPITAL
    line.dated_undisbursed.record(effective_on, -amount if taken else amount)
    if taken:
        # An automatic extension that came with the capital shrinks with it, as when capital
        # moves away (its end stays: it is the plan year's, the same for all its capital).
        line.release_extension_beyond_undisbursed()


def _auto_extension(
    rules: RuleBook, plan_kind: str, fiscal_year: int, effective_on: date
) -> date | None:
    if plan_kind != PlanKind.ANNUAL.value:
        return None
    auto = rules.auto_extension_rule(effective_on)
    if auto is None or not auto.applies_to(fiscal_year, effective_on):
        return None
    return rules.extension_rule(effective_on).latest(fiscal_year)
