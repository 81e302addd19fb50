"""A writer process for the relay's fault tests: records payments through the Ledger.

    python writer_process.py STOP_FILE [--projects N] [--rate PER_S]

Settings come from the environment (``CAPLEDGER_*``). The plan ``KH-FAULT`` and the projects
``FT-000``… must already be recorded (see ``prepare_store``). Runs until ``STOP_FILE`` exists,
then prints how many commands it recorded.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date
from pathlib import Path

from capledger.application.commands import Allocate, ApprovePlan, PayCompletedWork, RegisterProject
from capledger.application.ledger import Ledger
from capledger.bootstrap import build_ledger
from capledger.observability import configure_logging
from capledger.settings import Settings

PLAN = "KH-FAULT"
SOURCE = "central_budget"
DECISION = {"decision_no": "7/QĐ", "decision_date": date(2025, 1, 2), "decision_issuer": "UBND"}
AMOUNT = 1_000


def project(index: int) -> str:
    return f"FT-{index:03d}"


def prepare_store(ledger: Ledger, projects: int) -> None:
    """The plan and its funded projects that the writer pays from."""
    ledger.execute(ApprovePlan(
        code=PLAN, title="fault tests", kind="annual", authority="provincial_council",
        jurisdiction="HN", start_year=2025, end_year=2025, envelopes={SOURCE: 10**15},
        effective_on=date(2025, 1, 2), **DECISION,
    ), command_id="fault-plan")  # fmt: skip
    for index in range(projects):
        ledger.execute(RegisterProject(
            code=project(index), name=f"dự án {index}", investor_code="BQL", investor_name="BQL",
            program="p", sector="transport", province="HN", total_investment=10**14,
            effective_on=date(2025, 1, 2), **DECISION,
        ), command_id=f"fault-register-{index}")  # fmt: skip
        ledger.execute(Allocate(
            plan_code=PLAN, project_code=project(index), source=SOURCE, amount=10**13,
            effective_on=date(2025, 1, 3), **DECISION,
        ), command_id=f"fault-allocate-{index}")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("stop_file", type=Path)
    parser.add_argument("--projects", type=int, default=8)
    parser.add_argument("--rate", type=float, default=40.0, help="commands per second")
    args = parser.parse_args()
    settings = Settings()
    configure_logging(settings.log)  # to stderr: stdout carries only the final count
    ledger = build_ledger(settings)
    interval = 1 / args.rate
    count = 0
    next_at = time.monotonic()
    try:
        while not args.stop_file.exists():
            ledger.execute(PayCompletedWork(
                project_code=project(count % args.projects), plan_code=PLAN, source=SOURCE,
                amount=AMOUNT, treasury_ref=f"KB-{count}", effective_on=date(2025, 6, 30),
            ), command_id=f"fault-pay-{time.time_ns()}-{count}")  # fmt: skip
            count += 1
            next_at += interval
            time.sleep(max(0.0, next_at - time.monotonic()))
    finally:
        ledger.close()
    sys.stdout.write(f"{count}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
