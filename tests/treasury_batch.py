"""A day's batch for ``capledger record``: JSON lines in the API's words, one command each.

A plan, a project, an allocation of 100 billion VND and three payments, the second of which
over-disburses (refused by the ledger, ``over-disbursement``), and one malformed line.
"""

from __future__ import annotations

import json
from typing import Any

BILLION = 1_000_000_000
PLAN, PROJECT, CENTRAL = "HN-KHV-2025", "DA-001", "central_budget"
DECISION = {"decision_no": "5678/QĐ-UBND", "decision_date": "2025-01-02",
            "decision_issuer": "UBND Hà Nội"}  # fmt: skip
#: The 1-based numbers of the lines refused, and their codes.
REFUSED = {5: "over-disbursement", 7: "malformed-json"}
#: How many of its lines are recorded (the rest are refused).
RECORDED = 5


def payment(number: int, amount: int, on: str) -> dict[str, Any]:
    return {"command": "PayCompletedWork", "command_id": f"KBNN-2025-{number:04d}",
            "project_code": PROJECT, "plan_code": PLAN, "source": CENTRAL,
            "amount": str(amount * BILLION), "treasury_ref": f"KBNN-TT-{number:04d}",
            "effective_on": on}  # fmt: skip


def commands() -> list[dict[str, Any]]:
    """The batch's well-formed lines, in order (lines 1 to 6)."""
    return [
        {"command": "ApprovePlan", "command_id": "batch-plan", "code": PLAN,
         "title": "Kế hoạch đầu tư công năm 2025", "kind": "annual",
         "authority": "provincial_council", "jurisdiction": "HN", "start_year": 2025,
         "end_year": 2025, "envelopes": {CENTRAL: str(1_000 * BILLION)},
         "effective_on": "2025-01-01", **DECISION},
        {"command": "RegisterProject", "command_id": "batch-project", "code": PROJECT,
         "name": "Dự án DA-001", "investor_code": "BQLDA-GT", "investor_name": "Ban QLDA GT",
         "program": "", "sector": "transport", "province": "HN",
         "total_investment": str(2_000 * BILLION), "effective_on": "2024-06-01", **DECISION},
        {"command": "Allocate", "command_id": "batch-allocate", "project_code": PROJECT,
         "plan_code": PLAN, "source": CENTRAL, "amount": 100 * BILLION,
         "effective_on": "2025-01-02", **DECISION},
        payment(1, 30, "2025-03-01"),
        payment(2, 500, "2025-03-02"),
        payment(3, 20, "2025-03-03"),
    ]  # fmt: skip


def jsonl() -> str:
    """The whole batch as a file's text: the commands, then a line that is not JSON."""
    lines = [json.dumps(each, ensure_ascii=False) for each in commands()]
    return "\n".join([*lines, '{"command": "PayCompletedWork", "amount": ']) + "\n"
