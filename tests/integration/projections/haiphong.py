"""Hải Phòng 2021, recorded through the ledger on the days it happened (one entry late).

Two plans assign the city's 2021 capital: the Prime Minister's (7,290 billion VND of central
budget) and the city council's (the same central budget plus 6,319 billion of local budget:
13,609 billion). To 20 June the city disbursed 4,600 billion: 33.8% of the city's plan and
63.1% of the Prime Minister's, as the city reported.

By project (billion VND):

- HP-001 bridge, BQL-GT: 4,000 central + 1,000 local; contract K1 (4,500): advance 1,200 on
  10 Feb; work 2,000 recovering 600 on 15 May; 200 central transferred in from HP-004 on
  20 Sep; work 1,000 recovering 300 on 5 Dec.
- HP-002 sea dike, BQL-NN: 2,500 central + 500 local; 1,500 on 20 Apr; a wrong 300 on 5 Jun
  reversed on 15 Jun; 500 on 10 Nov.
- HP-003 school, UBND-HB: 800 local; 400 on 10 Mar; 200 effective 28 May but recorded only on
  2 Jul (35 days late); the last 200 lapse on 1 Feb 2022.
- HP-004 hospital, SYT then BQL-YT (from 1 Aug): 790 central + 1,200 local; 100 on 1 Jun; the
  local 1,200 cut on 15 Sep, 200 central transferred to HP-001; 400 extended to 31 Dec 2022 on
  20 Dec; 90 lapse on 1 Feb 2022.

The city council adjusts its local envelope to 6,500 (1 Jul) and 6,600 (15 Oct).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from itertools import count

from capledger.application.commands import (
    AdjustPlan,
    Allocate,
    ApprovePlan,
    ChangeInvestor,
    Cut,
    ExtendDisbursementPeriod,
    Lapse,
    PayAdvance,
    PayCompletedWork,
    RegisterProject,
    ReverseEntry,
    SignContract,
    Transfer,
)
from capledger.application.ledger import CommandOutcome, Ledger
from capledger.projections.queries import Scope

from .support import Clock

BN = 10**9
CENTRAL = "central_budget"
LOCAL = "local_budget"
PM_PLAN = "HP-2021-TTg"
CITY_PLAN = "HP-2021-HDND"
SCOPE = Scope("HP", 2021)
JUNE_20 = date(2021, 6, 20)


class Clerk:
    """Records commands as of a day: the clock is set to that day, 10:00 in Hà Nội."""

    def __init__(self, ledger: Ledger, clock: Clock) -> None:
        self.ledger = ledger
        self.clock = clock
        self._ids = count(1)

    def on(self, day: date) -> Ledger:
        self.clock.set(day)
        return self.ledger

    def cid(self) -> str:
        return f"hp-{next(self._ids)}"


def decision(number: str, issued_on: date, issuer: str = "UBND TP Hải Phòng") -> dict[str, object]:
    return {"decision_no": number, "decision_date": issued_on, "decision_issuer": issuer}


@dataclass(frozen=True)
class HaiPhong:
    last: CommandOutcome
    late_payment: CommandOutcome


def record_hai_phong(ledger: Ledger, clock: Clock) -> HaiPhong:
    clerk = Clerk(ledger, clock)
    _plans(clerk)
    _projects(clerk)
    _first_half(clerk)
    late = _second_half(clerk)
    last = _year_end(clerk)
    return HaiPhong(last=last, late_payment=late)


def _plans(clerk: Clerk) -> None:
    day = date(2021, 1, 5)
    clerk.on(day).execute(ApprovePlan(
        code=PM_PLAN, title="Kế hoạch vốn NSTW 2021 (Thủ tướng giao)", kind="annual",
        authority="prime_minister", jurisdiction="HP", start_year=2021, end_year=2021,
        envelopes={CENTRAL: 7_290 * BN}, effective_on=day,
        **decision("1/QĐ-TTg", day, "Thủ tướng Chính phủ"),
    ), command_id=clerk.cid())  # fmt: skip
    day = date(2021, 1, 8)
    clerk.on(day).execute(ApprovePlan(
        code=CITY_PLAN, title="Kế hoạch đầu tư công 2021 (HĐND giao)", kind="annual",
        authority="provincial_council", jurisdiction="HP", start_year=2021, end_year=2021,
        envelopes={CENTRAL: 7_290 * BN, LOCAL: 6_319 * BN}, effective_on=day,
        **decision("80/NQ-HĐND", day, "HĐND TP Hải Phòng"),
    ), command_id=clerk.cid())  # fmt: skip


PROJECTS = [
    ("HP-001", "Cầu Nguyễn Trãi", "BQL-GT", "Ban QLDA giao thông", "breakthrough", "transport",
     5_000),
    ("HP-002", "Đê biển Đồ Sơn", "BQL-NN", "Ban QLDA nông nghiệp", "breakthrough",
     "flood_control", 3_000),
    ("HP-003", "Trường THPT Hồng Bàng", "UBND-HB", "UBND quận Hồng Bàng", "", "education", 1_000),
    ("HP-004", "Bệnh viện Kiến An", "SYT", "Sở Y tế", "", "health", 2_000),
]  # fmt: skip
ALLOCATIONS = [
    ("HP-001", PM_PLAN, CENTRAL, 4_000),
    ("HP-001", CITY_PLAN, LOCAL, 1_000),
    ("HP-002", PM_PLAN, CENTRAL, 2_500),
    ("HP-002", CITY_PLAN, LOCAL, 500),
    ("HP-003", CITY_PLAN, LOCAL, 800),
    ("HP-004", PM_PLAN, CENTRAL, 790),
    ("HP-004", CITY_PLAN, LOCAL, 1_200),
]


def _projects(clerk: Clerk) -> None:
    day = date(2021, 1, 10)
    for code, name, investor, investor_name, program, sector, total in PROJECTS:
        clerk.on(day).execute(RegisterProject(
            code=code, name=name, investor_code=investor, investor_name=investor_name,
            program=program, sector=sector, province="HP", total_investment=total * BN,
            effective_on=day, **decision(f"QĐ-{code}", day),
        ), command_id=clerk.cid())  # fmt: skip
    day = date(2021, 1, 15)
    for code, plan, source, amount in ALLOCATIONS:
        clerk.on(day).execute(Allocate(
            plan_code=plan, project_code=code, source=source, amount=amount * BN, effective_on=day,
            **decision("15/QĐ-UBND", day),
        ), command_id=clerk.cid())  # fmt: skip
    day = date(2021, 1, 20)
    clerk.on(day).execute(SignContract(
        project_code="HP-001", contract_no="K1", contractor="Tổng công ty Xây dựng Bạch Đằng",
        value=4_500 * BN, effective_on=day,
    ), command_id=clerk.cid())  # fmt: skip


def pay(
    clerk: Clerk,
    code: str,
    amount: int,
    day: date,
    *,
    source: str = CENTRAL,
    plan: str = PM_PLAN,
    recovered: int = 0,
    contract: str | None = None,
) -> CommandOutcome:
    return clerk.ledger.execute(PayCompletedWork(
        project_code=code, plan_code=plan, source=source, amount=amount * BN,
        treasury_ref=f"KBNN-{clerk.cid()}", effective_on=day, contract_no=contract,
        advance_recovered=recovered * BN,
    ), command_id=clerk.cid())  # fmt: skip


def _first_half(clerk: Clerk) -> None:
    day = date(2021, 2, 10)
    clerk.on(day).execute(PayAdvance(
        project_code="HP-001", contract_no="K1", plan_code=PM_PLAN, source=CENTRAL,
        amount=1_200 * BN, treasury_ref="KBNN-TU-1", effective_on=day,
    ), command_id=clerk.cid())  # fmt: skip
    clerk.on(date(2021, 3, 10))
    pay(clerk, "HP-003", 400, date(2021, 3, 10), source=LOCAL, plan=CITY_PLAN)
    clerk.on(date(2021, 4, 20))
    pay(clerk, "HP-002", 1_500, date(2021, 4, 20))
    clerk.on(date(2021, 5, 15))
    pay(clerk, "HP-001", 2_000, date(2021, 5, 15), recovered=600, contract="K1")
    clerk.on(date(2021, 6, 1))
    pay(clerk, "HP-004", 100, date(2021, 6, 1))
    clerk.on(date(2021, 6, 5))
    wrong = pay(clerk, "HP-002", 300, date(2021, 6, 5))
    day = date(2021, 6, 15)
    clerk.on(day).execute(ReverseEntry(
        project_code="HP-002", entry_version=wrong.streams["project:HP-002"], reason="chi nhầm",
        effective_on=day,
    ), command_id=clerk.cid())  # fmt: skip


def _adjust_city_plan(clerk: Clerk, local: int, day: date) -> CommandOutcome:
    return clerk.on(day).execute(AdjustPlan(
        code=CITY_PLAN, envelopes={LOCAL: local * BN}, reason="điều chỉnh vốn ngân sách địa phương",
        effective_on=day, **decision("NQ-điều-chỉnh", day, "HĐND TP Hải Phòng"),
    ), command_id=clerk.cid())  # fmt: skip


def _second_half(clerk: Clerk) -> CommandOutcome:
    _adjust_city_plan(clerk, 6_500, date(2021, 7, 1))
    clerk.on(date(2021, 7, 2))  # recorded 35 days after it took effect
    late = pay(clerk, "HP-003", 200, date(2021, 5, 28), source=LOCAL, plan=CITY_PLAN)
    day = date(2021, 8, 1)
    clerk.on(day).execute(ChangeInvestor(
        project_code="HP-004", investor_code="BQL-YT", investor_name="Ban QLDA y tế",
        reason="hợp nhất ban quản lý dự án", effective_on=day,
    ), command_id=clerk.cid())  # fmt: skip
    day = date(2021, 9, 15)
    clerk.on(day).execute(Cut(
        plan_code=CITY_PLAN, project_code="HP-004", source=LOCAL, reason="không thể triển khai",
        effective_on=day, **decision("cắt-giảm", day),
    ), command_id=clerk.cid())  # fmt: skip
    day = date(2021, 9, 20)
    clerk.on(day).execute(Transfer(
        plan_code=PM_PLAN, source=CENTRAL, from_project="HP-004", to_project="HP-001",
        amount=200 * BN, effective_on=day, **decision("điều-chuyển", day),
    ), command_id=clerk.cid())  # fmt: skip
    _adjust_city_plan(clerk, 6_600, date(2021, 10, 15))
    return late


def _year_end(clerk: Clerk) -> CommandOutcome:
    clerk.on(date(2021, 11, 10))
    pay(clerk, "HP-002", 500, date(2021, 11, 10))
    clerk.on(date(2021, 12, 5))
    pay(clerk, "HP-001", 1_000, date(2021, 12, 5), recovered=300, contract="K1")
    day = date(2021, 12, 20)
    clerk.on(day).execute(ExtendDisbursementPeriod(
        project_code="HP-004", plan_code=PM_PLAN, source=CENTRAL, amount=400 * BN,
        until=date(2022, 12, 31), effective_on=day,
        **decision("kéo-dài", day, "Thủ tướng Chính phủ"),
    ), command_id=clerk.cid())  # fmt: skip
    day = date(2022, 2, 1)
    clerk.on(day).execute(
        Lapse(project_code="HP-003", plan_code=CITY_PLAN, source=LOCAL, as_of=day),
        command_id=clerk.cid(),
    )
    return clerk.ledger.execute(
        Lapse(project_code="HP-004", plan_code=PM_PLAN, source=CENTRAL, as_of=day),
        command_id=clerk.cid(),
    )
