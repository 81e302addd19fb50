"""A ledger history in which every event type of the domain is recorded at least once.

Shared by the unit tests of the wire format and the broker tests of the relay (imported by
file location there: test folders have no ``__init__.py``).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from capledger.application.commands import (
    AdjustPlan,
    AdjustTotalInvestment,
    Allocate,
    ApprovePlan,
    ChangeApiKeyScope,
    ChangeInvestor,
    ChangeStatus,
    Cut,
    ExtendDisbursementPeriod,
    IssueApiKey,
    Lapse,
    PayAdvance,
    PayCompletedWork,
    RegisterProject,
    ReverseEntry,
    RevokeApiKey,
    Settle,
    SignContract,
    Transfer,
)
from capledger.application.ledger import Ledger

DECISION: dict[str, Any] = {
    "decision_no": "15/NQ-HDND",
    "decision_date": date(2024, 1, 10),
    "decision_issuer": "HĐND tỉnh Hà Nam",
}
SOURCE = "central_budget"
BILLION = 1_000_000_000


def record_every_event_type(ledger: Ledger, prefix: str = "") -> None:
    """Record a short history that emits every event type (with nulls and non-nulls)."""
    plan, late_plan = f"{prefix}KH-2024", f"{prefix}KH-2025"
    first, second = f"{prefix}DA-001", f"{prefix}DA-002"
    cid = iter(range(1, 1000))

    def command() -> str:
        return f"{prefix}cmd-{next(cid)}"

    for code, year in ((plan, 2024), (late_plan, 2025)):
        ledger.execute(ApprovePlan(
            code=code, title=f"Kế hoạch đầu tư công năm {year}", kind="annual",
            authority="provincial_council", jurisdiction="HNA", start_year=year, end_year=year,
            envelopes={SOURCE: 50 * BILLION}, effective_on=date(year, 1, 10), **DECISION,
        ), command_id=command(), principal="officer@hanam")  # fmt: skip
    ledger.execute(AdjustPlan(
        code=plan, envelopes={SOURCE: 60 * BILLION, "oda": 0}, reason="bổ sung vốn",
        effective_on=date(2024, 3, 1), **DECISION,
    ), command_id=command())  # fmt: skip
    for code in (first, second):
        ledger.execute(RegisterProject(
            code=code, name=f"Đường tỉnh {code}", investor_code="BQLDA-HNA",
            investor_name="Ban QLDA tỉnh Hà Nam", program="giao thông", sector="transport",
            province="HNA", total_investment=40 * BILLION, effective_on=date(2024, 1, 15),
            **DECISION,
        ), command_id=command())  # fmt: skip
    ledger.execute(AdjustTotalInvestment(
        project_code=first, total_investment=45 * BILLION, effective_on=date(2024, 2, 1),
        **DECISION,
    ), command_id=command())  # fmt: skip
    ledger.execute(ChangeInvestor(
        project_code=first, investor_code="BQLDA-GT", investor_name="Ban QLDA giao thông",
        reason="sáp nhập", effective_on=date(2024, 2, 2),
    ), command_id=command())  # fmt: skip
    ledger.execute(ChangeStatus(
        project_code=second, status="slow", reason="giải phóng mặt bằng",
        effective_on=date(2024, 2, 3),
    ), command_id=command())  # fmt: skip
    for code in (first, second):
        ledger.execute(Allocate(
            plan_code=plan, project_code=code, source=SOURCE, amount=20 * BILLION,
            effective_on=date(2024, 3, 5), **DECISION,
        ), command_id=command())  # fmt: skip
    ledger.execute(Allocate(
        plan_code=late_plan, project_code=first, source=SOURCE, amount=BILLION,
        effective_on=date(2025, 10, 15), **DECISION,
    ), command_id=command())  # fmt: skip
    ledger.execute(Transfer(
        plan_code=plan, source=SOURCE, from_project=second, to_project=first, amount=2 * BILLION,
        effective_on=date(2024, 6, 1), **DECISION,
    ), command_id=command())  # fmt: skip
    ledger.execute(Cut(
        plan_code=plan, project_code=second, source=SOURCE, amount=BILLION, reason="chậm giải ngân",
        effective_on=date(2024, 7, 1), **DECISION,
    ), command_id=command())  # fmt: skip
    ledger.execute(SignContract(
        project_code=first, contract_no="HD-01", contractor="Cienco 8", value=10 * BILLION,
        effective_on=date(2024, 4, 1),
    ), command_id=command())  # fmt: skip
    ledger.execute(PayAdvance(
        project_code=first, contract_no="HD-01", plan_code=plan, source=SOURCE, amount=2 * BILLION,
        treasury_ref="KBNN-0001", effective_on=date(2024, 4, 10),
    ), command_id=command())  # fmt: skip
    ledger.execute(PayCompletedWork(
        project_code=first, plan_code=plan, source=SOURCE, amount=5 * BILLION,
        treasury_ref="KBNN-0002", effective_on=date(2024, 8, 1), contract_no="HD-01",
        advance_recovered=BILLION,
    ), command_id=command())  # fmt: skip
    wrong = ledger.execute(PayCompletedWork(
        project_code=first, plan_code=plan, source=SOURCE, amount=123_456_789,
        treasury_ref="KBNN-0003", effective_on=date(2024, 8, 2),
    ), command_id=command())  # fmt: skip
    ledger.execute(ReverseEntry(
        project_code=first, entry_version=wrong.streams[f"project:{first}"],
        reason="nhập sai số tiền", effective_on=date(2024, 8, 3),
    ), command_id=command())  # fmt: skip
    ledger.execute(ExtendDisbursementPeriod(
        project_code=first, plan_code=plan, source=SOURCE, amount=BILLION, until=date(2025, 12, 31),
        effective_on=date(2025, 1, 20), **DECISION,
    ), command_id=command())  # fmt: skip
    ledger.execute(
        Lapse(project_code=second, plan_code=plan, source=SOURCE, as_of=date(2025, 2, 15)),
        command_id=command(),
    )
    ledger.execute(ChangeStatus(
        project_code=second, status="completed", reason="hoàn thành", effective_on=date(2025, 3, 1),
        review_class="A", **DECISION,
    ), command_id=command())  # fmt: skip
    ledger.execute(Settle(
        project_code=second, settled_value=17 * BILLION, effective_on=date(2025, 6, 1), **DECISION,
    ), command_id=command())  # fmt: skip
    key = f"{prefix}0a1b2c3d"
    ledger.execute(IssueApiKey(key_id=key, name=f"{prefix}lan", role="finance_officer",
                               provinces=("HNA",)), command_id=command())  # fmt: skip
    ledger.execute(ChangeApiKeyScope(key_id=key, investors=("BQLDA-HNA",)), command_id=command())
    ledger.execute(RevokeApiKey(key_id=key), command_id=command())
    # Last, so that everything above keeps its position: a change of record and its correction.
    changed = ledger.execute(ChangeInvestor(
        project_code=first, investor_code="BQLDA-SAI", investor_name="Ban nhập nhầm",
        reason="sáp nhập", effective_on=date(2025, 7, 1),
    ), command_id=command())  # fmt: skip
    ledger.execute(ReverseEntry(
        project_code=first, entry_version=changed.streams[f"project:{first}"],
        reason="nhập nhầm chủ đầu tư", effective_on=date(2025, 7, 2),
    ), command_id=command())  # fmt: skip
