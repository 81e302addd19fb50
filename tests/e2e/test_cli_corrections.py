"""``capledger correct`` as a subprocess on a SQLite store: a correction recorded, a refusal with
its code and exit status 4 recording nothing, a bad date a usage error (2)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from capledger.application.commands import Allocate, ApprovePlan, PayCompletedWork, RegisterProject
from capledger.bootstrap import build_ledger

from .test_cli import (
    BILLION,
    CENTRAL,
    DECIDED_ON,
    ISSUER,
    PLAN,
    PROJECT,
    run_cli,
    sqlite_settings,
    stored_count,
)

pytestmark = pytest.mark.e2e

DECIDED = {"decision_no": "1/QĐ", "decision_date": DECIDED_ON, "decision_issuer": ISSUER}
DECISION_ARGS = ("--decision-no", "901/QĐ-UBND", "--decision-date", "2025-09-01",
                 "--decision-issuer", ISSUER)  # fmt: skip


def record(data_dir: Path) -> None:
    """P-A: 100 billion allocated (v2), 40 paid (v3), 30 more allocated (v4)."""
    ledger = build_ledger(sqlite_settings(data_dir))
    try:
        ledger.execute(ApprovePlan(
            code=PLAN, title="Kế hoạch vốn năm 2025", kind="annual", authority="provincial_council",
            jurisdiction="HN", start_year=2025, end_year=2025, envelopes={CENTRAL: 1_000 * BILLION},
            effective_on=date(2025, 1, 1), **DECIDED,
        ), command_id="plan")  # fmt: skip
        ledger.execute(RegisterProject(
            code=PROJECT, name="Dự án P-A", investor_code="BQLDA-GT", investor_name="Ban QLDA",
            program="", sector="transport", province="HN", total_investment=2_000 * BILLION,
            effective_on=date(2024, 6, 1), **DECIDED,
        ), command_id="register")  # fmt: skip
        for command_id, amount, on in (("a1", 100, date(2025, 1, 2)), ("a2", 30, date(2025, 3, 1))):
            if command_id == "a2":
                ledger.execute(PayCompletedWork(
                    project_code=PROJECT, plan_code=PLAN, source=CENTRAL, amount=40 * BILLION,
                    treasury_ref="KBNN-1", effective_on=date(2025, 2, 1),
                ), command_id="pay")  # fmt: skip
            ledger.execute(Allocate(
                plan_code=PLAN, project_code=PROJECT, source=CENTRAL, amount=amount * BILLION,
                effective_on=on, **DECIDED,
            ), command_id=command_id)  # fmt: skip
    finally:
        ledger.close()


def test_a_wrong_allocation_is_corrected_from_the_command_line(tmp_path: Path) -> None:
    record(tmp_path)

    result = run_cli(tmp_path, "correct", PROJECT, "4", "--reason", "ghi sai", "--on",
                     "2025-09-01", *DECISION_ARGS)  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"recorded: project:{PROJECT} v5, plan:{PLAN} v")
    history = run_cli(tmp_path, "history", PROJECT, "--format", "json")
    assert history.returncode == 0, history.stderr
    assert '"EntryCorrected"' in history.stdout and '"CapitalAllocated"' in history.stdout
    assert run_cli(tmp_path, "verify", "--rules").returncode == 0


def test_a_refused_correction_exits_4_with_its_code_and_records_nothing(tmp_path: Path) -> None:
    record(tmp_path)
    before = stored_count(tmp_path)

    spent = run_cli(tmp_path, "correct", PROJECT, "2", "--reason", "ghi sai", "--on",
                    "2025-09-01", *DECISION_ARGS)  # fmt: skip
    undecided = run_cli(tmp_path, "correct", PROJECT, "4", "--reason", "ghi sai", "--on",
                        "2025-09-01")  # fmt: skip

    assert spent.returncode == 4
    assert "error: undisbursed-exceeded:" in spent.stderr
    assert f"spent {40 * BILLION} VND" in spent.stderr
    assert undecided.returncode == 4
    assert "error: decision-required:" in undecided.stderr
    assert stored_count(tmp_path) == before


def test_a_correction_date_that_is_not_a_calendar_date_is_a_usage_error(tmp_path: Path) -> None:
    record(tmp_path)

    result = run_cli(tmp_path, "correct", PROJECT, "4", "--reason", "x", "--on", "1699228800")

    assert result.returncode == 2
