"""A synthetic year of a province's capital at volume, for benchmarks and volume tests.

One annual plan, projects with allocations from two sources and a contract each, then random
movements through the ledger's own commands until the log holds about ``target`` notifications:
payments for completed work (some reversed), transfers between projects, extensions. Refused
movements (capital used up) are skipped. With a ``tag`` every code and command id carries it,
so that renamed copies of the log can be told apart (``bench/rebuild.py``).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from capledger.application.commands import (
    Allocate,
    ApprovePlan,
    ExtendDisbursementPeriod,
    PayCompletedWork,
    RegisterProject,
    ReverseEntry,
    SignContract,
    Transfer,
)
from capledger.application.ledger import Ledger
from capledger.domain import DomainError
from capledger.domain.values import MAX_VND

BN = 10**9
SOURCES = ("central_budget", "local_budget")
START = date(2025, 1, 2)
#: Each project's capital per source: the plan's largest envelope (one amount is at most
#: ``MAX_VND``) holds it for the tens of thousands of projects of a million-event year.
ALLOCATED = 500 * BN

Decision = Callable[[date], dict[str, Any]]


def record_year(ledger: Ledger, target: int, *, seed: int = 7, tag: str = "") -> None:
    """Plans, projects, allocations, contracts, then payments (some reversed, some moved)."""
    rng = random.Random(seed)
    count = iter(range(10**9))
    suffix = f"-{tag}" if tag else ""

    def cid() -> str:
        return f"{tag or 'm'}-c{next(count)}"

    def decision(day: date) -> dict[str, Any]:
        return {"decision_no": f"QĐ{suffix}", "decision_date": day, "decision_issuer": "UBND"}

    plan = f"KH-2025{suffix}"
    ledger.execute(ApprovePlan(
        code=plan, title="Kế hoạch 2025", kind="annual", authority="provincial_council",
        jurisdiction=f"J{tag}" if tag else "HN", start_year=2025, end_year=2025,
        envelopes=dict.fromkeys(SOURCES, MAX_VND), effective_on=START, **decision(START),
    ), command_id=cid())  # fmt: skip
    projects = [f"DA{suffix}-{index:05d}" for index in range(max(10, target // 60))]
    for code in projects:
        _open(ledger, rng, cid, decision, plan, code, investor=f"BQL{suffix}-{rng.randrange(40)}")
    while (ledger.recorder.max_notification_id() or 0) < target:
        code, source = rng.choice(projects), rng.choice(SOURCES)
        day = START + timedelta(days=rng.randrange(360))
        try:
            _movement(ledger, rng, cid, decision, plan, code, source, day, projects, suffix)
        except DomainError:
            continue


def _open(
    ledger: Ledger,
    rng: random.Random,
    cid: Callable[[], str],
    decision: Decision,
    plan: str,
    code: str,
    *,
    investor: str,
) -> None:
    ledger.execute(RegisterProject(
        code=code, name=code, investor_code=investor, investor_name="Ban QLDA",
        program=f"program-{rng.randrange(6)}",
        sector=rng.choice(["transport", "health", "education", "flood_control"]), province="HN",
        total_investment=10**6 * BN, effective_on=START, **decision(START),
    ), command_id=cid())  # fmt: skip
    for source in SOURCES:
        ledger.execute(Allocate(
            plan_code=plan, project_code=code, source=source, amount=ALLOCATED, effective_on=START,
            **decision(START),
        ), command_id=cid())  # fmt: skip
    ledger.execute(SignContract(
        project_code=code, contract_no="K1", contractor="Nhà thầu", value=10_000 * BN,
        effective_on=START,
    ), command_id=cid())  # fmt: skip


def _movement(
    ledger: Ledger,
    rng: random.Random,
    cid: Callable[[], str],
    decision: Decision,
    plan: str,
    code: str,
    source: str,
    day: date,
    projects: list[str],
    suffix: str,
) -> None:
    roll = rng.random()
    if roll < 0.85:
        outcome = ledger.execute(PayCompletedWork(
            project_code=code, plan_code=plan, source=source, amount=rng.randrange(1, 20) * BN,
            treasury_ref=f"KB{suffix}", effective_on=day,
        ), command_id=cid())  # fmt: skip
        if rng.random() < 0.05:
            ledger.execute(ReverseEntry(
                project_code=code, entry_version=outcome.streams[f"project:{code}"], reason="sai",
                effective_on=day,
            ), command_id=cid())  # fmt: skip
    elif roll < 0.95:
        other = rng.choice(projects)
        if other != code:
            ledger.execute(Transfer(
                plan_code=plan, source=source, from_project=code, to_project=other,
                amount=rng.randrange(1, 10) * BN, effective_on=day, **decision(day),
            ), command_id=cid())  # fmt: skip
    else:
        ledger.execute(ExtendDisbursementPeriod(
            project_code=code, plan_code=plan, source=source, amount=rng.randrange(1, 10) * BN,
            until=date(2026, 12, 31), effective_on=day, **decision(day),
        ), command_id=cid())  # fmt: skip
