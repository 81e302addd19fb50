"""Published events built by hand, numbered as the ledger numbers them.

``Log`` hands out positions in order and stream versions per subject, so a test writes only
what an event says: ``log.project("P-1", "CompletedWorkPaid", plan_code=..., amount=...)``.
"""

from __future__ import annotations

from collections import Counter
from typing import Any
from uuid import NAMESPACE_URL, uuid5

from capledger.application.published import PublishedEvent

BILLION = 10**9
PLAN = "HP-2021-TTg"
CENTRAL = "central_budget"
LOCAL = "local_budget"
DECISION = {"number": "1/QĐ-TTg", "issued_on": "2021-01-05", "issuer": "Thủ tướng"}


class Log:
    def __init__(self, recorded_at: str = "2021-03-01T02:00:00+00:00") -> None:
        self.position = 0
        self.versions: Counter[str] = Counter()
        self.recorded_at = recorded_at

    def event(
        self,
        subject: str,
        name: str,
        data: dict[str, Any],
        *,
        class_version: int = 1,
        recorded_at: str | None = None,
    ) -> PublishedEvent:
        self.position += 1
        self.versions[subject] += 1
        return PublishedEvent(
            position=self.position,
            stream=uuid5(NAMESPACE_URL, subject),
            stream_version=self.versions[subject],
            topic=f"capledger.domain:{name}",
            name=name,
            class_version=class_version,
            subject=subject,
            recorded_at=recorded_at or self.recorded_at,
            data=data,
            meta={},
            hash="",
            prev="",
        )

    def project(
        self, project_code: str, event: str, /, *, recorded_at: str | None = None, **data: Any
    ) -> PublishedEvent:
        subject = f"project:{project_code}"
        return self.event(subject, f"Project.{event}", data, recorded_at=recorded_at)

    def plan(self, plan_code: str, event: str, /, **data: Any) -> PublishedEvent:
        return self.event(f"plan:{plan_code}", f"CapitalPlan.{event}", data)

    # -- the events most tests need ------------------------------------------------------------

    def approved(
        self, code: str = PLAN, envelopes: dict[str, int] | None = None, **overrides: Any
    ) -> PublishedEvent:
        data = {
            "code": code,
            "title": f"Kế hoạch {code}",
            "kind": "annual",
            "authority": "prime_minister",
            "jurisdiction": "HP",
            "start_year": 2021,
            "end_year": 2021,
            "envelopes": envelopes or {CENTRAL: 1_000 * BILLION},
            "decision": DECISION,
            "effective_on": "2021-01-05",
            "implements": None,
        }
        return self.plan(code, "Approved", **{**data, **overrides})

    def registered(self, code: str, investor: str = "BQL-GT", **overrides: Any) -> PublishedEvent:
        data = {
            "code": code,
            "name": f"Dự án {code}",
            "investor_code": investor,
            "investor_name": f"Ban {investor}",
            "program": "breakthrough",
            "sector": "transport",
            "province": "HP",
            "total_investment": 5_000 * BILLION,
            "decision": DECISION,
            "effective_on": "2021-01-05",
        }
        return self.event(
            f"project:{code}", "Project.Registered", {**data, **overrides}, class_version=2
        )

    def allocated(
        self,
        code: str,
        amount: int,
        *,
        source: str = CENTRAL,
        auto_extended_until: str | None = None,
        plan_code: str = PLAN,
    ) -> PublishedEvent:
        return self.project(
            code,
            "CapitalAllocated",
            plan_code=plan_code,
            plan_kind="annual",
            fiscal_year=2021,
            source=source,
            amount=amount,
            auto_extended_until=auto_extended_until,
            decision=DECISION,
            effective_on="2021-01-15",
        )

    def contract(self, code: str, contract_no: str, value: int) -> PublishedEvent:
        return self.project(
            code,
            "ContractSigned",
            contract_no=contract_no,
            contractor="Tổng công ty Thăng Long",
            value=value,
            effective_on="2021-01-20",
        )

    def advance(
        self, code: str, contract_no: str, amount: int, *, effective_on: str = "2021-02-10"
    ) -> PublishedEvent:
        return self.project(
            code,
            "AdvancePaid",
            contract_no=contract_no,
            plan_code=PLAN,
            source=CENTRAL,
            amount=amount,
            from_extension=False,
            treasury_ref="KB-1",
            effective_on=effective_on,
        )

    def paid(
        self,
        code: str,
        amount: int,
        *,
        contract_no: str | None = None,
        advance_recovered: int = 0,
        from_extension: bool = False,
        effective_on: str = "2021-05-15",
        recorded_at: str | None = None,
    ) -> PublishedEvent:
        return self.project(
            code,
            "CompletedWorkPaid",
            recorded_at=recorded_at,
            contract_no=contract_no,
            plan_code=PLAN,
            source=CENTRAL,
            amount=amount,
            advance_recovered=advance_recovered,
            from_extension=from_extension,
            treasury_ref="KB-2",
            effective_on=effective_on,
        )

    def reversed(self, code: str, entry_version: int) -> PublishedEvent:
        return self.project(
            code,
            "EntryReversed",
            entry_version=entry_version,
            reason="chi nhầm",
            effective_on="2021-06-15",
        )
