"""Hải Phòng 2021 as the commands the city's users issue, from plan approval to 20 June.

The published total disbursed is shared among the projects by their capital and pace; each
project's share becomes a works contract with an advance and monthly payments for completed work
(recovering part of the advance), plus payments without contract on its other capital sources.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from capledger.application.commands import (
    Allocate,
    ApprovePlan,
    ChangeInvestor,
    ChangeStatus,
    Cut,
    PayAdvance,
    PayCompletedWork,
    RegisterProject,
    SignContract,
    Transfer,
)

from .amounts import billions, millions, split_exact
from .commands import EntryOf, Reversal, Script, Step
from .hai_phong_data import (
    AS_OF,
    CITY_ISSUER,
    CITY_PLAN,
    CONTRACTORS,
    DISBURSED_TO_AS_OF_MILLION,
    INVESTORS,
    JURISDICTION,
    PM_PLAN,
    PROJECTS,
    STORY,
    YEAR,
    HpProject,
    PlanSpec,
)
from .index import HaiPhongIndex

PREFIX = "demo:hp-2021"
ALLOCATION_DECISION = ("DEMO-03/QĐ-UBND", date(2020, 12, 28))
TRANSFER_DECISION = ("DEMO-04/QĐ-UBND", date(2021, 5, 24))
#: Weights of the monthly payments for completed work: disbursement speeds up towards mid-year.
NORMAL_MONTHS = ((3, 1), (4, 2), (5, 3), (6, 4))
STALLED_MONTHS = ((3, 1), (4, 1))
#: Advance: 30% of what the contract disburses by June; a third of each payment's net repays it.
ADVANCE_SHARE_BP = 3_000
RECOVERY_DIVISOR = 3
CONTRACT_TO_CAPITAL = 2
BP = 10_000
#: Rule thresholds the generated payments stay clear of (the ledger enforces the real rule).
ADVANCE_CAP_BP = 3_000
FULL_RECOVERY_BP = 8_000


@dataclass(frozen=True)
class Payment:
    on: date
    amount: int
    advance_recovered: int


def build() -> tuple[list[Step], HaiPhongIndex]:
    script = _HaiPhongScript()
    script.plans()
    shares = disbursement_shares()
    for number, project in enumerate(PROJECTS):
        script.project(number, project, shares.get(project.code, {}))
    script.storyline()
    index = HaiPhongIndex(
        city_plan=CITY_PLAN.code,
        pm_plan=PM_PLAN.code,
        projects=tuple(project.code for project in PROJECTS),
        as_of=AS_OF,
    )
    return script.numbered(PREFIX), index


def capital_by_line(project: HpProject) -> dict[str, int]:
    """Capital (VND) per source the project can disburse this year, after transfer and cut."""
    if project.code == STORY.cut:
        return {}
    capital = {source: billions(amount) for source, amount in project.allocation_bn}
    moved = billions(STORY.transfer_bn)
    if project.code == STORY.slow:
        capital[STORY.transfer_source] -= moved
    if project.code == STORY.fast:
        capital[STORY.transfer_source] += moved
    return capital


def disbursement_shares() -> dict[str, dict[str, int]]:
    """The published total disbursed, shared by project (capital × pace), then by source."""
    paying = [project for project in PROJECTS if project.pace > 0 and capital_by_line(project)]
    weights = [sum(capital_by_line(project).values()) * project.pace for project in paying]
    totals = split_exact(millions(DISBURSED_TO_AS_OF_MILLION), weights)
    shares: dict[str, dict[str, int]] = {}
    for project, total in zip(paying, totals, strict=True):
        capital = capital_by_line(project)
        by_line = split_exact(total, list(capital.values()))
        for (source, available), share in zip(capital.items(), by_line, strict=True):
            if share > available:
                raise ValueError(f"{project.code} would disburse {share} VND of {source}")
        shares[project.code] = dict(zip(capital, by_line, strict=True))
    return shares


def works_payments(net: int, months: Sequence[tuple[int, int]], day: int) -> list[Payment]:
    """Payments for completed work on ``day`` of each month, whose net amounts sum to ``net``;
    a third of each net is added to the gross and withheld to recover the advance."""
    nets = split_exact(net, [weight for _month, weight in months])
    payments = []
    for (month, _weight), amount in zip(months, nets, strict=True):
        recovered = amount // RECOVERY_DIVISOR
        payments.append(Payment(date(YEAR, month, day), amount + recovered, recovered))
    return payments


class _HaiPhongScript(Script):
    def __init__(self) -> None:
        super().__init__()
        self._treasury_refs = 0

    # -- plans and projects ------------------------------------------------------------------

    def plans(self) -> None:
        for plan in (PM_PLAN, CITY_PLAN):
            self._approve(plan)

    def _approve(self, plan: PlanSpec) -> None:
        self.add(
            f"plan:{plan.code}",
            plan.decision_date,
            ApprovePlan(
                code=plan.code,
                title=plan.title,
                kind="annual",
                authority=plan.authority,
                jurisdiction=JURISDICTION,
                start_year=YEAR,
                end_year=YEAR,
                envelopes={
                    source: billions(amount) for source, amount in plan.envelopes_bn.items()
                },
                decision_no=plan.decision_no,
                decision_date=plan.decision_date,
                decision_issuer=plan.decision_issuer,
                effective_on=plan.effective_on,
                implements=plan.implements,
            ),
        )

    def project(self, index: int, project: HpProject, shares: dict[str, int]) -> None:
        late = project.code == STORY.late
        approved_on = (
            STORY.late_registered_on if late else date(2019, 3, 1) + timedelta(index * 23 % 600)
        )
        self.add(f"register:{project.code}", approved_on, RegisterProject(
            code=project.code, name=project.name, investor_code=project.investor,
            investor_name=INVESTORS[project.investor], program=project.program,
            sector=project.sector, province=JURISDICTION,
            total_investment=billions(project.total_investment_bn),
            decision_no=f"DEMO-{1000 + index}/QĐ-UBND", decision_date=approved_on,
            decision_issuer=CITY_ISSUER, effective_on=approved_on,
        ))  # fmt: skip
        for source, amount in project.allocation_bn:
            self._allocate(project.code, source, billions(amount), late)
        if shares:
            self._cash(index, project, shares)

    def _allocate(self, code: str, source: str, amount: int, late: bool) -> None:
        number, issued_on = ALLOCATION_DECISION
        effective_on = date(YEAR, 1, 1)
        if late:
            number, issued_on = "DEMO-05/QĐ-UBND", STORY.late_allocated_on - timedelta(1)
            effective_on = STORY.late_allocated_on
        self.add(f"allocate:{code}:{source}", effective_on, Allocate(
            plan_code=CITY_PLAN.code, project_code=code, source=source, amount=amount,
            decision_no=number, decision_date=issued_on, decision_issuer=CITY_ISSUER,
            effective_on=effective_on,
        ))  # fmt: skip

    # -- cash ----------------------------------------------------------------------------------

    def _cash(self, index: int, project: HpProject, shares: dict[str, int]) -> None:
        (primary, disbursed), *others = shares.items()
        self._contract_cash(index, project, primary, disbursed)
        for source, amount in others:
            self._clearance_cash(index, project.code, source, amount)

    def _contract_cash(self, index: int, project: HpProject, source: str, disbursed: int) -> None:
        code = project.code
        late = code == STORY.late
        contract_no = f"{index + 1:02d}/2021/HĐXD-{code}"
        value = min(
            billions(project.total_investment_bn),
            CONTRACT_TO_CAPITAL * capital_by_line(project)[source],
        )
        signed_on = (
            STORY.late_allocated_on + timedelta(11)
            if late
            else date(YEAR, 1, 15) + timedelta(index * 5 % 30)
        )
        advance = disbursed * ADVANCE_SHARE_BP // BP
        months = ((6, 1),) if late else STALLED_MONTHS if code == STORY.violation else NORMAL_MONTHS
        payments = works_payments(disbursed - advance, months, 5 + index * 7 % 13)
        check_contract(code, value, advance, payments)
        self.add(f"contract:{code}", signed_on, SignContract(
            project_code=code, contract_no=contract_no,
            contractor=CONTRACTORS[index % len(CONTRACTORS)], value=value, effective_on=signed_on,
        ))  # fmt: skip
        advanced_on = signed_on + timedelta(14 if late else 10)
        self.add(f"advance:{code}", advanced_on, PayAdvance(
            project_code=code, contract_no=contract_no, plan_code=CITY_PLAN.code, source=source,
            amount=advance, treasury_ref=self._treasury_ref(), effective_on=advanced_on,
        ))  # fmt: skip
        for number, payment in enumerate(payments, start=1):
            key = f"pay:{code}:{source}:{number}"
            if code == STORY.corrected and number == len(payments):
                self._corrected_payment(key, code, contract_no, source, payment)
            else:
                self._pay(key, code, source, payment, contract_no)

    def _clearance_cash(self, index: int, code: str, source: str, disbursed: int) -> None:
        """Site clearance and compensation: paid without a works contract, in April and June."""
        days = (date(YEAR, 4, 10 + index % 10), date(YEAR, 6, 3 + index % 12))
        amounts = split_exact(disbursed, (1, 1))
        for number, (on, amount) in enumerate(zip(days, amounts, strict=True), start=1):
            self._pay(f"pay:{code}:{source}:{number}", code, source, Payment(on, amount, 0), None)

    def _corrected_payment(
        self, key: str, code: str, contract_no: str, source: str, payment: Payment
    ) -> None:
        """Booked against the wrong capital source, reversed the next day, then booked right."""
        wrong = self._pay(f"{key}:wrong", code, STORY.wrong_source, payment, contract_no)
        next_day = payment.on + timedelta(1)
        self.add(
            f"{key}:reverse",
            next_day,
            Reversal(
                of=EntryOf(wrong, code),
                reason=f"Thanh toán hạch toán nhầm nguồn vốn {STORY.wrong_source}; "
                f"đúng là {source}",
                effective_on=next_day,
            ),
        )
        self._pay(key, code, source, Payment(next_day, payment.amount, payment.advance_recovered),
                  contract_no)  # fmt: skip

    def _pay(
        self, key: str, code: str, source: str, payment: Payment, contract_no: str | None
    ) -> str:
        return self.add(key, payment.on, PayCompletedWork(
            project_code=code, plan_code=CITY_PLAN.code, source=source, amount=payment.amount,
            treasury_ref=self._treasury_ref(), effective_on=payment.on, contract_no=contract_no,
            advance_recovered=payment.advance_recovered,
        ))  # fmt: skip

    def _treasury_ref(self) -> str:
        self._treasury_refs += 1
        return f"DEMO-KBNN-HP/2021/{self._treasury_refs:05d}"

    # -- the year's story ------------------------------------------------------------------------

    def storyline(self) -> None:
        self._change_investor()
        self._slow_then_transfer()
        self._violation()
        self._cut_and_terminate()
        self._complete()

    def _change_investor(self) -> None:
        code, investor = STORY.new_investor
        self.add(f"investor:{code}", STORY.new_investor_on, ChangeInvestor(
            project_code=code, investor_code=investor, investor_name=INVESTORS[investor],
            reason="UBND thành phố giao Ban Quản lý dự án chuyên ngành làm chủ đầu tư",
            effective_on=STORY.new_investor_on,
        ))  # fmt: skip

    def _slow_then_transfer(self) -> None:
        self._status(STORY.slow, "slow", date(2021, 4, 30),
                     "Chậm giải phóng mặt bằng, giải ngân dưới 10% kế hoạch vốn")  # fmt: skip
        number, issued_on = TRANSFER_DECISION
        self.add(f"transfer:{STORY.slow}:{STORY.fast}", STORY.transfer_on, Transfer(
            plan_code=CITY_PLAN.code, source=STORY.transfer_source, from_project=STORY.slow,
            to_project=STORY.fast, amount=billions(STORY.transfer_bn), decision_no=number,
            decision_date=issued_on, decision_issuer=CITY_ISSUER, effective_on=STORY.transfer_on,
        ))  # fmt: skip

    def _violation(self) -> None:
        self._status(STORY.violation, "under_violation_handling", STORY.violation_on,
                     "Vi phạm trình tự, thủ tục đầu tư; dừng thanh toán chờ xử lý",
                     review_class="handle investment violations first")  # fmt: skip

    def _cut_and_terminate(self) -> None:
        code = STORY.cut
        self._status(code, "slow", date(2021, 3, 31),
                     "Vướng quy hoạch, không bố trí được mặt bằng")  # fmt: skip
        number, issued_on = "DEMO-06/QĐ-UBND", STORY.cut_on - timedelta(2)
        for source, _amount in next(p for p in PROJECTS if p.code == code).allocation_bn:
            self.add(f"cut:{code}:{source}", STORY.cut_on, Cut(
                plan_code=CITY_PLAN.code, project_code=code, source=source,
                reason="Dự án không thể triển khai; đưa ra khỏi danh mục kế hoạch năm 2021",
                decision_no=number, decision_date=issued_on, decision_issuer=CITY_ISSUER,
                effective_on=STORY.cut_on,
            ))  # fmt: skip
        self._status(code, "terminated", STORY.cut_on + timedelta(1),
                     "Dừng thực hiện dự án", review_class="terminate",
                     decision=(number, issued_on))  # fmt: skip

    def _complete(self) -> None:
        self._status(STORY.completed, "completed", STORY.completed_on,
                     "Hoàn thành, bàn giao đưa vào sử dụng")  # fmt: skip

    def _status(
        self,
        code: str,
        status: str,
        on: date,
        reason: str,
        review_class: str | None = None,
        decision: tuple[str, date] | None = None,
    ) -> None:
        number, issued_on = decision if decision is not None else (None, None)
        self.add(f"status:{code}:{status}", on, ChangeStatus(
            project_code=code, status=status, reason=reason, effective_on=on,
            review_class=review_class, decision_no=number, decision_date=issued_on,
            decision_issuer=CITY_ISSUER if decision else None,
        ))  # fmt: skip


def check_contract(code: str, value: int, advance: int, payments: Sequence[Payment]) -> None:
    """The generated cash stays within the advance rule's defaults (the ledger re-checks)."""
    paid = sum(payment.amount for payment in payments)
    recovered = sum(payment.advance_recovered for payment in payments)
    if advance * BP > value * ADVANCE_CAP_BP:
        raise ValueError(f"{code}: advance {advance} VND above the cap of its contract")
    if paid * BP >= value * FULL_RECOVERY_BP or recovered > advance:
        raise ValueError(f"{code}: payments would need the advance recovered in full")
