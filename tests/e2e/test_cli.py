"""The ``capledger`` command line, run as a subprocess on a SQLite store in a temporary directory.

The store is filled through the Ledger API (the CLI's own write verbs are demo, import and
correct: see ``test_cli_corrections``), then read, verified, tampered with, exported and
imported through the CLI.
"""

from __future__ import annotations

import contextlib
import csv
import importlib
import io
import json
import logging
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
import structlog
from builders import forge_last_event

from capledger.application.chain import canonical_json, seal
from capledger.application.commands import (
    AdjustTotalInvestment,
    Allocate,
    ApprovePlan,
    ChangeStatus,
    Cut,
    ExtendDisbursementPeriod,
    Lapse,
    PayAdvance,
    PayCompletedWork,
    RegisterProject,
    ReverseEntry,
    Settle,
    SignContract,
    Transfer,
)
from capledger.application.ledger import Ledger
from capledger.application.storage import EventLog, event_log
from capledger.application.verify import verify_store
from capledger.bootstrap import build_ledger
from capledger.domain import project_id
from capledger.observability import configure_logging, correlation, resolve_log_format
from capledger.progress import ProgressReporter
from capledger.settings import LogSettings, Persistence, Settings, StoreSettings

pytestmark = pytest.mark.e2e

BILLION = 10**9
PLAN = "HN-KHV-2025"
PROJECT = "P-A"
OTHER = "P-B"
OFFICER = "finance-officer:lan"
ISSUER = "UBND Hà Nội"
DECIDED_ON = date(2025, 1, 2)
CENTRAL = "central_budget"
SUBCOMMANDS = ("demo", "history", "correct", "record", "verify", "rules", "export", "import",
               "rate", "balances", "watchlist", "projections", "projector")  # fmt: skip
#: Commands under a command, whose help is tested too.
NESTED = (("projections", "rebuild"), ("projections", "status"))
EXPORT_KEYS = {"position", "stream", "version", "topic", "state"}


def demo_available() -> bool:
    try:
        module = importlib.import_module("capledger.demo")
    except ImportError:
        return False
    return callable(getattr(module, "run_demo", None))


DEMO_SKIP_REASON = "capledger.demo (with run_demo) is not importable in this checkout yet"


@dataclass(frozen=True)
class Expected:
    """A project's balances right after one of its events, as the commands recorded them."""

    version: int
    event: str
    command_id: str
    net_allocated: int
    disbursed: int
    undisbursed: int
    advance_outstanding: int


#: Project P-A, event by event: what each command must leave behind.
P_A_HISTORY = (
    Expected(1, "Registered", "reg-a", 0, 0, 0, 0),
    Expected(2, "CapitalAllocated", "alloc-a", 300 * BILLION, 0, 300 * BILLION, 0),
    Expected(3, "ContractSigned", "contract-a", 300 * BILLION, 0, 300 * BILLION, 0),
    Expected(4, "AdvancePaid", "advance-a", 300 * BILLION, 100 * BILLION, 200 * BILLION,
             100 * BILLION),
    # 150 billion of work paid, 50 of it recovering the advance: 100 billion more disbursed.
    Expected(5, "CompletedWorkPaid", "work-a", 300 * BILLION, 200 * BILLION, 100 * BILLION,
             50 * BILLION),
    Expected(6, "CapitalTransferredOut", "transfer-a-b", 260 * BILLION, 200 * BILLION,
             60 * BILLION, 50 * BILLION),
    Expected(7, "EntryReversed", "reverse-work-a", 260 * BILLION, 100 * BILLION,
             160 * BILLION, 100 * BILLION),
    Expected(8, "AllocationCut", "cut-a", 200 * BILLION, 100 * BILLION, 100 * BILLION,
             100 * BILLION),
)  # fmt: skip

#: Project P-B, from its allocation and the transfer it received to its settlement.
P_B_HISTORY = (
    Expected(1, "Registered", "reg-b", 0, 0, 0, 0),
    Expected(2, "CapitalAllocated", "alloc-b", 100 * BILLION, 0, 100 * BILLION, 0),
    Expected(3, "CapitalTransferredIn", "transfer-a-b", 140 * BILLION, 0, 140 * BILLION, 0),
    Expected(4, "TotalInvestmentAdjusted", "adjust-b", 140 * BILLION, 0, 140 * BILLION, 0),
    Expected(5, "CompletedWorkPaid", "work-b", 140 * BILLION, 30 * BILLION, 110 * BILLION, 0),
    Expected(6, "DisbursementPeriodExtended", "extend-b", 140 * BILLION, 30 * BILLION,
             110 * BILLION, 0),
    # What was neither disbursed nor extended by 31 January 2026 lapses: 110 - 50 billion.
    Expected(7, "CapitalLapsed", "lapse-b", 140 * BILLION, 30 * BILLION, 50 * BILLION, 0),
    Expected(8, "StatusChanged", "complete-b", 140 * BILLION, 30 * BILLION, 50 * BILLION, 0),
    Expected(9, "Settled", "settle-b", 140 * BILLION, 30 * BILLION, 50 * BILLION, 0),
)  # fmt: skip


# -- running the CLI ------------------------------------------------------------------------


def cli_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """The caller's environment without any CAPLEDGER_* setting, pointed at ``data_dir``."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("CAPLEDGER_")}
    env.update(
        CAPLEDGER_DATA_DIR=str(data_dir),
        CAPLEDGER_PERSISTENCE="sqlite",
        CAPLEDGER_LOG_FORMAT="json",
        PYTHONIOENCODING="utf-8",
    )
    env.update(extra)
    return env


def run_cli(
    data_dir: Path, *args: str, stdin: str | None = None, **extra_env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "capledger.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=cli_env(data_dir, **extra_env),
        timeout=120,
        check=False,
    )


@contextlib.contextmanager
def raw_log(data_dir: Path, sqlite_file: str = "ledger.sqlite3") -> Iterator[EventLog]:
    """The store's event log, read and changed past the ledger through the storage adapter."""
    store = StoreSettings(
        persistence=Persistence.SQLITE, data_dir=data_dir, sqlite_file=sqlite_file
    )
    ledger = build_ledger(Settings(store=store))
    try:
        yield event_log(ledger.recorder)
    finally:
        ledger.close()


def stored_count(data_dir: Path, sqlite_file: str = "ledger.sqlite3") -> int:
    with raw_log(data_dir, sqlite_file) as log:
        return len(log.select_notifications(start=1, limit=sys.maxsize))


def no_floats(text: str) -> float:
    raise AssertionError(f"a float was written: {text}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# -- a store recorded through the Ledger API ------------------------------------------------


def sqlite_settings(data_dir: Path) -> Settings:
    return Settings(store=StoreSettings(persistence=Persistence.SQLITE, data_dir=data_dir))


def record_scenario(data_dir: Path) -> None:
    """Plan, two projects, and every kind of movement on P-A (see ``P_A_HISTORY``)."""
    ledger = build_ledger(sqlite_settings(data_dir))
    try:
        ledger.execute(ApprovePlan(
            code=PLAN, title="Kế hoạch vốn năm 2025", kind="annual", authority="provincial_council",
            jurisdiction="HN", start_year=2025, end_year=2025, envelopes={CENTRAL: 1_000 * BILLION},
            decision_no="1/NQ-HĐND", decision_date=DECIDED_ON, decision_issuer=ISSUER,
            effective_on=date(2025, 1, 1),
        ), command_id="plan")  # fmt: skip
        for command_id, code, total in (("reg-a", PROJECT, 2_000), ("reg-b", OTHER, 800)):
            ledger.execute(RegisterProject(
                code=code, name=f"Dự án {code}", investor_code="BQLDA-GT",
                investor_name="Ban QLDA giao thông", program="breakthrough", sector="transport",
                province="HN", total_investment=total * BILLION, decision_no=f"{code}/QĐ",
                decision_date=DECIDED_ON, decision_issuer=ISSUER, effective_on=date(2024, 6, 1),
            ), command_id=command_id, principal=OFFICER)  # fmt: skip
        for command_id, code, amount in (("alloc-a", PROJECT, 300), ("alloc-b", OTHER, 100)):
            ledger.execute(Allocate(
                plan_code=PLAN, project_code=code, source=CENTRAL, amount=amount * BILLION,
                decision_no="2/QĐ-UBND", decision_date=DECIDED_ON, decision_issuer=ISSUER,
                effective_on=date(2025, 1, 2),
            ), command_id=command_id, principal=OFFICER)  # fmt: skip
        ledger.execute(SignContract(
            project_code=PROJECT, contract_no="C-1", contractor="Công ty Cầu Đường",
            value=400 * BILLION, effective_on=date(2025, 2, 1),
        ), command_id="contract-a", principal=OFFICER)  # fmt: skip
        ledger.execute(PayAdvance(
            project_code=PROJECT, contract_no="C-1", plan_code=PLAN, source=CENTRAL,
            amount=100 * BILLION, treasury_ref="KB-001", effective_on=date(2025, 2, 10),
        ), command_id="advance-a", principal=OFFICER)  # fmt: skip
        ledger.execute(PayCompletedWork(
            project_code=PROJECT, plan_code=PLAN, source=CENTRAL, amount=150 * BILLION,
            treasury_ref="KB-002", effective_on=date(2025, 5, 5), contract_no="C-1",
            advance_recovered=50 * BILLION,
        ), command_id="work-a", principal=OFFICER)  # fmt: skip
        ledger.execute(Transfer(
            plan_code=PLAN, source=CENTRAL, from_project=PROJECT, to_project=OTHER,
            amount=40 * BILLION, decision_no="3/QĐ-UBND", decision_date=DECIDED_ON,
            decision_issuer=ISSUER, effective_on=date(2025, 6, 1),
        ), command_id="transfer-a-b", principal=OFFICER)  # fmt: skip
        ledger.execute(ReverseEntry(
            project_code=PROJECT, entry_version=5, reason="payment booked twice by the Treasury",
            effective_on=date(2025, 6, 2),
        ), command_id="reverse-work-a", principal=OFFICER)  # fmt: skip
        ledger.execute(Cut(
            plan_code=PLAN, project_code=PROJECT, source=CENTRAL, reason="site clearance stalled",
            decision_no="4/QĐ-UBND", decision_date=DECIDED_ON, decision_issuer=ISSUER,
            effective_on=date(2025, 7, 1), amount=60 * BILLION,
        ), command_id="cut-a", principal=OFFICER)  # fmt: skip
        record_closing_of_other(ledger)
    finally:
        ledger.close()


def record_closing_of_other(ledger: Ledger) -> None:
    """P-B pays, is extended, lapses, completes and is settled (see ``P_B_HISTORY``)."""
    ledger.execute(AdjustTotalInvestment(
        project_code=OTHER, total_investment=900 * BILLION, decision_no="5/QĐ-UBND",
        decision_date=DECIDED_ON, decision_issuer=ISSUER, effective_on=date(2025, 3, 1),
    ), command_id="adjust-b", principal=OFFICER)  # fmt: skip
    ledger.execute(PayCompletedWork(
        project_code=OTHER, plan_code=PLAN, source=CENTRAL, amount=30 * BILLION,
        treasury_ref="KB-003", effective_on=date(2025, 8, 1),
    ), command_id="work-b", principal=OFFICER)  # fmt: skip
    ledger.execute(ExtendDisbursementPeriod(
        project_code=OTHER, plan_code=PLAN, source=CENTRAL, amount=50 * BILLION,
        until=date(2026, 6, 30), decision_no="6/QĐ-UBND", decision_date=DECIDED_ON,
        decision_issuer=ISSUER, effective_on=date(2025, 12, 15),
    ), command_id="extend-b", principal=OFFICER)  # fmt: skip
    ledger.execute(Lapse(
        project_code=OTHER, plan_code=PLAN, source=CENTRAL, as_of=date(2026, 2, 15),
    ), command_id="lapse-b", principal=OFFICER)  # fmt: skip
    ledger.execute(ChangeStatus(
        project_code=OTHER, status="completed", reason="handed over", effective_on=date(2026, 7, 1),
    ), command_id="complete-b", principal=OFFICER)  # fmt: skip
    ledger.execute(Settle(
        project_code=OTHER, settled_value=30 * BILLION, decision_no="7/QĐ-STC",
        decision_date=DECIDED_ON, decision_issuer=ISSUER, effective_on=date(2026, 9, 1),
    ), command_id="settle-b", principal=OFFICER)  # fmt: skip


@pytest.fixture
def recorded(tmp_path: Path) -> Path:
    """The data directory of a store holding ``record_scenario``."""
    data_dir = tmp_path / "recorded"
    record_scenario(data_dir)
    return data_dir


def tamper_with_amount(data_dir: Path, project_code: str, version: int, amount: int) -> int:
    """Change one stored event's amount inside its JSON, as an intruder with file access
    would; returns that event's position."""
    stream = project_id(project_code)
    with raw_log(data_dir) as log:
        (stored,) = log.select_events(stream, gt=version - 1, lte=version)
        position = log.position_of(stream, version)
        document = json.loads(stored.state)
        assert document["amount"] != amount
        document["amount"] = amount
        log.overwrite_stored_event(stream, version, state=canonical_json(document))
    assert position is not None
    return position


# -- help and version -----------------------------------------------------------------------


@pytest.mark.parametrize("command", [(), *((name,) for name in SUBCOMMANDS), *NESTED])
def test_every_command_prints_its_help(tmp_path: Path, command: tuple[str, ...]) -> None:
    result = run_cli(tmp_path, *command, "--help")

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: capledger {' '.join(command)}".rstrip())
    assert result.stderr == ""


def test_top_level_help_lists_every_command_and_where_the_store_is(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "--help")

    for name in SUBCOMMANDS:
        assert re.search(rf"\n    {name}[ \n]", result.stdout), name
    assert f"store: sqlite file {tmp_path / 'ledger.sqlite3'}" in result.stdout


def test_where_prints_the_store_location(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "--where")

    assert result.returncode == 0
    assert result.stdout == f"sqlite file {tmp_path / 'ledger.sqlite3'}\n"


def test_version_is_the_package_version_from_script_and_module(tmp_path: Path) -> None:
    from capledger import __version__

    script = Path(sys.executable).with_name("capledger")
    by_script = subprocess.run(
        [str(script), "--version"], capture_output=True, text=True, env=cli_env(tmp_path),
        check=False,
    )  # fmt: skip
    by_module = run_cli(tmp_path, "--version")

    assert by_script.returncode == by_module.returncode == 0
    assert by_script.stdout == by_module.stdout == f"capledger {__version__}\n"


def test_a_missing_command_is_a_usage_error(tmp_path: Path) -> None:
    result = run_cli(tmp_path)

    assert result.returncode == 2
    assert "capledger: error: usage: a command is required" in result.stderr


# -- history --------------------------------------------------------------------------------


def test_history_of_an_unknown_project_fails_with_one_line_and_changes_nothing(
    recorded: Path,
) -> None:
    before = stored_count(recorded)

    result = run_cli(recorded, "history", "P-UNKNOWN")

    assert result.returncode == 4
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "capledger: error: unknown-project: no project P-UNKNOWN is recorded"
    ]
    assert stored_count(recorded) == before


def test_history_without_a_store_fails_and_creates_no_store(tmp_path: Path) -> None:
    result = run_cli(tmp_path / "nothing-here", "history", PROJECT)

    assert result.returncode == 1
    assert result.stderr.startswith("capledger: error: no-store: ")
    assert len(result.stderr.splitlines()) == 1
    assert not (tmp_path / "nothing-here").exists()


@pytest.mark.parametrize(("code", "history"), [(PROJECT, P_A_HISTORY), (OTHER, P_B_HISTORY)])
def test_history_table_shows_the_running_balances_that_were_recorded(
    recorded: Path, code: str, history: tuple[Expected, ...]
) -> None:
    result = run_cli(recorded, "history", code)

    assert result.returncode == 0, result.stderr
    rows = {
        int(line.split()[0]): line
        for line in result.stdout.splitlines()
        if line[:1].isdigit() and line.split()[0].isdigit()
    }
    assert sorted(rows) == [expected.version for expected in history]
    for expected in history:
        row = rows[expected.version]
        lapsed = expected.net_allocated - expected.disbursed - expected.undisbursed
        balances = (
            expected.net_allocated,
            expected.disbursed,
            expected.undisbursed,
            lapsed,
            expected.advance_outstanding,
        )
        assert re.search(r"\s+".join(re.escape(f"{b:,}") for b in balances), row), row
        assert expected.event in row
        assert OFFICER in row
        assert expected.command_id in row


def test_history_table_formats_amounts_as_integer_vnd(recorded: Path) -> None:
    result = run_cli(recorded, "history", PROJECT)

    advance_row = next(line for line in result.stdout.splitlines() if "AdvancePaid" in line)
    assert "100,000,000,000" in advance_row
    assert "total investment 2,000,000,000,000 VND" in result.stdout
    assert "." not in advance_row.split("AdvancePaid")[1].split("advance on")[0]


@pytest.mark.parametrize(("code", "history"), [(PROJECT, P_A_HISTORY), (OTHER, P_B_HISTORY)])
def test_history_json_gives_each_event_with_its_balances_and_no_float(
    recorded: Path, code: str, history: tuple[Expected, ...]
) -> None:
    result = run_cli(recorded, "history", code, "--format", "json")

    assert result.returncode == 0, result.stderr
    documents = [json.loads(line, parse_float=no_floats) for line in result.stdout.splitlines()]
    assert len(documents) == len(history)
    for document, expected in zip(documents, history, strict=True):
        assert document["version"] == expected.version
        assert document["event"] == expected.event
        assert document["command_id"] == expected.command_id
        assert document["principal"] == OFFICER
        assert document["balances"]["net_allocated"] == expected.net_allocated
        assert document["balances"]["disbursed"] == expected.disbursed
        assert document["balances"]["undisbursed"] == expected.undisbursed
        assert document["balances"]["advance_outstanding"] == expected.advance_outstanding
        assert len(document["hash"]) == 64


def test_history_json_names_the_amount_plan_source_and_dates_of_each_event(
    recorded: Path,
) -> None:
    result = run_cli(recorded, "history", PROJECT, "--format", "json")

    by_version = {doc["version"]: doc for doc in map(json.loads, result.stdout.splitlines())}
    work = by_version[5]
    assert (work["amount"], work["plan_code"], work["source"]) == (150 * BILLION, PLAN, CENTRAL)
    assert work["effective_on"] == "2025-05-05"
    assert work["data"]["advance_recovered"] == 50 * BILLION
    assert work["recorded_at"].endswith("+00:00")
    # The reversal shows the net disbursement it takes back, negative.
    assert by_version[7]["amount"] == -100 * BILLION
    assert by_version[6]["detail"].startswith(f"transferred to {OTHER}")


def test_history_json_shows_the_extension_the_lapse_and_the_settlement(recorded: Path) -> None:
    result = run_cli(recorded, "history", OTHER, "--format", "json")

    by_event = {doc["event"]: doc for doc in map(json.loads, result.stdout.splitlines())}
    extended = by_event["DisbursementPeriodExtended"]
    assert extended["amount"] == 50 * BILLION
    assert extended["detail"].startswith("disbursement extended until 2026-06-30")
    lapsed = by_event["CapitalLapsed"]
    assert (lapsed["amount"], lapsed["effective_on"]) == (60 * BILLION, "2026-02-15")
    assert lapsed["balances"]["lapsed"] == 60 * BILLION
    assert by_event["TotalInvestmentAdjusted"]["amount"] == 900 * BILLION
    assert by_event["StatusChanged"]["detail"] == "status completed; handed over"
    assert by_event["Settled"]["amount"] == 30 * BILLION
    assert by_event["Settled"]["data"]["decision"]["number"] == "7/QĐ-STC"


# -- verify ---------------------------------------------------------------------------------


def test_verify_is_ok_on_a_store_recorded_through_the_ledger(recorded: Path) -> None:
    ledger = build_ledger(sqlite_settings(recorded))
    try:
        in_process = verify_store(ledger.recorder)
    finally:
        ledger.close()

    result = run_cli(recorded, "verify")

    assert result.returncode == 0, result.stderr
    assert f"events checked: {stored_count(recorded):,}\n" in result.stdout
    assert f"heads digest: {in_process.heads_digest}\n" in result.stdout
    assert result.stdout.endswith("OK\n")


def test_verify_exits_3_at_the_first_event_whose_amount_was_edited(recorded: Path) -> None:
    position = tamper_with_amount(recorded, PROJECT, version=4, amount=10 * BILLION)
    stream = project_id(PROJECT)

    result = run_cli(recorded, "verify")

    assert result.returncode == 3
    expected_link = (
        f"position {position}, stream {stream} (project {PROJECT}), version 4: "
        "content does not match its hash"
    )
    assert f"first broken link: {expected_link}\n" in result.stdout
    assert result.stdout.endswith("BROKEN\n")
    errors = [line for line in result.stderr.splitlines() if not line.startswith("{")]
    assert errors == [f"capledger: error: chain-broken: first broken link: {expected_link}"]


def test_verify_rules_passes_a_history_the_ledger_recorded(recorded: Path) -> None:
    result = run_cli(recorded, "verify", "--rules")

    assert result.returncode == 0, result.stderr
    assert "\nOK\nevents judged by the rules: 21\n" in result.stdout
    assert result.stdout.endswith("RULES OK\n")


def test_verify_rules_exits_5_at_an_event_forged_and_sealed_anew(recorded: Path) -> None:
    """The chain holds (the forger sealed the cut as the ledger would); the rules do not."""
    ledger = build_ledger(sqlite_settings(recorded))
    try:
        position, version = forge_last_event(
            ledger.recorder, project_id(PROJECT), amount=500 * BILLION
        )
    finally:
        ledger.close()

    chain_only = run_cli(recorded, "verify")
    result = run_cli(recorded, "verify", "--rules")

    assert chain_only.returncode == 0
    assert result.returncode == 5
    where = (
        f"position {position}, stream {project_id(PROJECT)} (project {PROJECT}), "
        f"version {version}, Project.AllocationCut: undisbursed-exceeded: "
    )
    assert f"first event breaking a rule: {where}" in result.stdout
    assert result.stdout.endswith("RULES BROKEN\n")
    errors = [line for line in result.stderr.splitlines() if not line.startswith("{")]
    assert len(errors) == 1 and errors[0].startswith("capledger: error: rule-broken: ")


# -- export and import ----------------------------------------------------------------------


def test_export_then_import_reproduces_the_store_with_the_same_digest(
    recorded: Path, tmp_path: Path
) -> None:
    export_file = tmp_path / "events.jsonl"
    target = tmp_path / "copy"

    exported = run_cli(recorded, "export", "--output", str(export_file))
    imported = run_cli(target, "import", str(export_file))
    source_verify, target_verify = run_cli(recorded, "verify"), run_cli(target, "verify")

    assert exported.returncode == imported.returncode == 0, exported.stderr + imported.stderr
    count = stored_count(recorded)
    assert f"exported {count:,} events" in exported.stdout
    assert f"imported {count:,} events" in imported.stdout
    assert stored_count(target) == count
    digest = [line for line in source_verify.stdout.splitlines() if "digest" in line]
    assert digest and digest == [
        line for line in target_verify.stdout.splitlines() if "digest" in line
    ]


def test_export_to_stdout_writes_one_json_line_per_event_and_no_float(recorded: Path) -> None:
    result = run_cli(recorded, "export")

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == stored_count(recorded)
    positions = [json.loads(line, parse_float=no_floats)["position"] for line in lines]
    assert positions == sorted(positions)


def test_import_from_stdin_records_the_events(recorded: Path, tmp_path: Path) -> None:
    export = run_cli(recorded, "export").stdout

    result = run_cli(tmp_path / "copy", "import", "-", stdin=export)

    assert result.returncode == 0, result.stderr
    assert stored_count(tmp_path / "copy") == stored_count(recorded)


def test_import_of_a_tampered_export_is_refused_and_records_nothing(
    recorded: Path, tmp_path: Path
) -> None:
    lines = run_cli(recorded, "export").stdout.splitlines()
    record = json.loads(lines[-1])
    record["state"]["reason"] = "nothing to see here"
    lines[-1] = json.dumps(record, ensure_ascii=False)
    target = tmp_path / "copy"

    result = run_cli(target, "import", "-", stdin="\n".join(lines) + "\n")

    assert result.returncode == 4
    assert result.stderr.splitlines() == [
        f"capledger: error: import-refused: import refused, nothing recorded: line {len(lines)}: "
        f"stream {record['stream']} version {record['version']}: content does not match its hash"
    ]
    assert stored_count(target) == 0


def forged_payment_line(export_lines: list[str]) -> dict[str, object]:
    """The issue's forgery: a payment of 1,000,000,000,000 VND after a paid project's last
    event, by a made-up principal, sealed with the published algorithm (docs/hash-chain.md)."""
    records = [json.loads(line) for line in export_lines]
    paid = next(r for r in reversed(records) if r["topic"].endswith("CompletedWorkPaid"))
    last = max((r for r in records if r["stream"] == paid["stream"]), key=lambda r: r["version"])
    state = dict(paid["state"], amount=1_000_000_000_000, treasury_ref="KBNN-FORGED")
    meta = dict(state.pop("_meta"), principal="operator:nobody", command_id="forged")
    state.pop("_chain")
    version = last["version"] + 1
    sealed, _ = seal(
        stream=paid["stream"], version=version, topic=paid["topic"], data=state, meta=meta,
        prev=last["state"]["_chain"]["hash"],
    )  # fmt: skip
    return {"position": len(records) + 1, "stream": paid["stream"], "version": version,
            "topic": paid["topic"], "state": json.loads(sealed)}  # fmt: skip


@pytest.mark.parametrize("into", ["the populated store", "an empty store"])
def test_import_of_a_forged_payment_is_refused_and_records_nothing(
    recorded: Path, tmp_path: Path, into: str
) -> None:
    lines = run_cli(recorded, "export").stdout.splitlines()
    forged = forged_payment_line(lines)
    if into == "the populated store":
        target, text, reason = recorded, json.dumps(forged) + "\n", "line 1: stream "
        expected_tail = "already exists in the target store; an import only creates streams"
    else:
        target, text = tmp_path / "copy", "\n".join([*lines, json.dumps(forged)]) + "\n"
        reason = f"line {len(lines) + 1}: stream {forged['stream']} (project:"
        expected_tail = "CompletedWorkPaid: breaks the rule"
    before = stored_count(target) if target.exists() else 0

    result = run_cli(target, "import", "-", stdin=text)

    assert result.returncode == 4
    (message,) = [line for line in result.stderr.splitlines() if not line.startswith("{")]
    assert message.startswith(
        f"capledger: error: import-refused: import refused, nothing recorded: {reason}"
    )
    assert expected_tail in message
    assert (stored_count(target) if target.exists() else 0) == before


def test_import_of_a_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "import", str(tmp_path / "absent.jsonl"))

    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"capledger: error: file-not-found: no export file at {tmp_path / 'absent.jsonl'}"
    ]


# -- rules ----------------------------------------------------------------------------------


def test_rules_lists_each_rule_with_its_period_and_marks_those_in_force(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "rules", "--on", "2024-06-01")

    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "* disbursement deadline, from 2015-01-01, no end" in out
    assert "until 31 January of the following year" in out
    # The 2024 law's automatic extension is in force from 2025 only.
    assert "  automatic extension, from 2025-01-01, no end" in out
    assert "at most 30% of the contract value" in out and "reach 80% of it" in out
    assert not (tmp_path / "ledger.sqlite3").exists()


@pytest.mark.parametrize("given", ["31/01/2025", "20250131", "2025-W05-5", "1738281600"])
def test_rules_refuses_a_date_that_is_not_one(tmp_path: Path, given: str) -> None:
    result = run_cli(tmp_path, "rules", "--on", given)

    assert result.returncode == 2
    assert f"must be a calendar date written YYYY-MM-DD, got {given!r}" in result.stderr


# -- failures that are not the user's -------------------------------------------------------


def test_an_unreachable_database_fails_with_exit_1_and_one_line(tmp_path: Path) -> None:
    result = run_cli(
        tmp_path, "verify",
        CAPLEDGER_PERSISTENCE="postgres", CAPLEDGER_POSTGRES_PORT=str(free_port()),
        POSTGRES_CONNECT_TIMEOUT="1",
    )  # fmt: skip

    assert result.returncode == 1
    assert result.stderr.startswith("capledger: error: store-unavailable: cannot use the store ")
    assert len(result.stderr.splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_a_bad_setting_fails_with_exit_1_naming_the_variable(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "verify", CAPLEDGER_PERSISTENCE="oracle")

    assert result.returncode == 1
    assert result.stderr.startswith("capledger: error: bad-configuration: CAPLEDGER_PERSISTENCE")


def test_a_data_dir_that_is_a_file_fails_with_exit_1_and_no_traceback(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    export = tmp_path / "empty.jsonl"
    export.write_text("")

    result = run_cli(not_a_dir, "import", str(export))

    assert result.returncode == 1
    assert len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith("capledger: error: ")


# -- logs and progress ----------------------------------------------------------------------


def test_logs_are_json_lines_on_stderr_sharing_one_correlation_id(recorded: Path) -> None:
    result = run_cli(recorded, "export", CAPLEDGER_LOG_LEVEL="debug")

    logs = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    assert logs, result.stderr
    assert len({entry["correlation_id"] for entry in logs}) == 1
    assert {entry["cli_command"] for entry in logs} == {"export"}
    assert all("timestamp" in entry and "level" in entry for entry in logs)
    exported = [json.loads(line) for line in result.stdout.splitlines()]
    assert exported and all(set(line) == EXPORT_KEYS for line in exported)


def test_log_level_from_settings_silences_info_lines(recorded: Path) -> None:
    result = run_cli(recorded, "export", "-o", str(recorded / "x.jsonl"),
                     CAPLEDGER_LOG_LEVEL="warning")  # fmt: skip

    assert result.returncode == 0
    assert result.stderr == ""


@pytest.fixture
def isolated_logging() -> Iterator[None]:
    """Let a test configure logging in this process and put everything back afterwards."""
    saved = structlog.get_config()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    structlog.configure(**saved)
    root.handlers[:] = handlers
    root.setLevel(level)


def test_logging_configured_twice_writes_each_line_once_with_the_correlation_id(
    isolated_logging: None,
) -> None:
    first, second = io.StringIO(), io.StringIO()
    configure_logging(LogSettings(format="json", level="info"), stream=first)
    configure_logging(LogSettings(format="json", level="info"), stream=second)

    with correlation() as correlation_id:
        structlog.get_logger("capledger.test").info("structlog_line", amount=5 * BILLION)
        structlog.get_logger("capledger.test").debug("below_the_level")
        logging.getLogger("kafka.test").warning("stdlib line")

    lines = [json.loads(line, parse_float=no_floats) for line in second.getvalue().splitlines()]
    assert [line["event"] for line in lines] == ["structlog_line", "stdlib line"]
    assert {line["correlation_id"] for line in lines} == {correlation_id}
    assert lines[0]["amount"] == 5 * BILLION
    assert first.getvalue() == ""


def test_log_format_auto_is_console_on_a_terminal_and_json_elsewhere() -> None:
    assert resolve_log_format("auto", Terminal()) == "console"
    assert resolve_log_format("auto", io.StringIO()) == "json"
    assert resolve_log_format("JSON", Terminal()) == "json"
    with pytest.raises(ValueError, match="unknown log format 'xml'"):
        resolve_log_format("xml", io.StringIO())


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_on_a_terminal_redraws_one_line_with_percent_rate_and_eta() -> None:
    clock, terminal = FakeClock(), Terminal()
    reporter = ProgressReporter("verify", stream=terminal, clock=clock)

    clock.now += 2.0
    reporter(500, 2_000)
    clock.now += 2.0
    reporter(1_000, 2_000)
    reporter.finish()

    frames = terminal.getvalue().split("\r")[1:]
    assert frames[0] == "verify:  25.0% 500/2,000 250/s ETA 00:06\x1b[K"
    assert frames[1] == "verify:  50.0% 1,000/2,000 250/s ETA 00:04\x1b[K"
    assert terminal.getvalue().endswith("\n") and terminal.getvalue().count("\n") == 1


def test_progress_off_a_terminal_logs_at_most_once_per_interval() -> None:
    clock, pipe = FakeClock(), io.StringIO()
    reporter = ProgressReporter("export", stream=pipe, clock=clock, log_interval_s=2.0)

    with structlog.testing.capture_logs() as logs:
        for done in range(1, 41):  # 40 calls over 10 seconds
            clock.now += 0.25
            reporter(done * 100, 4_000)
        reporter.finish()

    progress = [entry for entry in logs if entry["event"] == "progress"]
    assert [entry["done"] for entry in progress] == [800, 1_600, 2_400, 3_200, 4_000]
    assert progress[0]["percent"] == "20.0" and progress[0]["eta_s"] == 8
    assert logs[-1]["event"] == "progress_finished" and logs[-1]["done"] == 4_000
    assert pipe.getvalue() == ""


# -- demo -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoRun:
    data_dir: Path
    result: subprocess.CompletedProcess[str]
    stored: int


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """One run of ``capledger demo`` on a new store; tests that write work on a copy."""
    if not demo_available():
        pytest.skip(DEMO_SKIP_REASON)
    data_dir = tmp_path_factory.mktemp("demo")
    result = run_cli(data_dir, "demo")
    assert result.returncode == 0, result.stderr
    return DemoRun(data_dir, result, stored_count(data_dir))


def copy_of(run: DemoRun, tmp_path: Path) -> Path:
    copy = tmp_path / "demo"
    shutil.copytree(run.data_dir, copy)
    return copy


def test_demo_run_twice_records_nothing_new_and_prints_the_same_figures(
    demo_run: DemoRun, tmp_path: Path
) -> None:
    data_dir = copy_of(demo_run, tmp_path)

    second = run_cli(data_dir, "demo")

    assert second.returncode == 0, second.stderr
    assert demo_run.result.stdout and second.stdout == demo_run.result.stdout
    assert stored_count(data_dir) == demo_run.stored
    assert run_cli(data_dir, "verify").returncode == 0


def test_demo_fresh_moves_the_previous_store_aside(demo_run: DemoRun, tmp_path: Path) -> None:
    data_dir = copy_of(demo_run, tmp_path)

    fresh = run_cli(data_dir, "demo", "--fresh")

    assert fresh.returncode == 0, fresh.stderr
    assert fresh.stdout == demo_run.result.stdout
    aside = list(data_dir.glob("ledger*.sqlite3"))
    aside.remove(data_dir / "ledger.sqlite3")
    assert len(aside) == 1 and ".aside-" in aside[0].name
    assert f"moved the existing store aside to {aside[0]}" in fresh.stderr
    # The read models of the old store went aside with it; the new ones follow the new store.
    read_models = list(data_dir.glob("projections*.sqlite3"))
    read_models.remove(data_dir / "projections.sqlite3")
    assert len(read_models) == 1 and ".aside-" in read_models[0].name
    assert f"moved its read models aside to {read_models[0]}" in fresh.stderr
    assert stored_count(data_dir) == demo_run.stored
    assert stored_count(data_dir, aside[0].name) == demo_run.stored


def test_demo_events_carry_the_correlation_id_of_the_invocation_that_recorded_them(
    demo_run: DemoRun,
) -> None:
    logs = [json.loads(line) for line in demo_run.result.stderr.splitlines() if line[:1] == "{"]
    invocation = {entry["correlation_id"] for entry in logs}

    exported = [
        json.loads(line) for line in run_cli(demo_run.data_dir, "export").stdout.split("\n") if line
    ]

    assert len(invocation) == 1
    assert {line["state"]["_meta"]["correlation_id"] for line in exported} == invocation


# -- read models: rates, balances, watch lists, rebuild -------------------------------------

HP_RATE = ("rate", "--jurisdiction", "HP", "--year", "2021",
           "--plan", "HP-KHV-2021-HDND", "--plan", "HP-KHV-2021-TTG")  # fmt: skip


def error_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    """stderr without the JSON log lines."""
    return [line for line in result.stderr.splitlines() if not line.startswith("{")]


def test_rate_quotes_the_same_disbursement_against_the_city_and_the_prime_minister(
    demo_run: DemoRun,
) -> None:
    result = run_cli(demo_run.data_dir, *HP_RATE)

    assert result.returncode == 0, result.stderr
    rows = {
        line.split()[0]: line.split() for line in result.stdout.splitlines() if line[:3] == "HP-"
    }
    assert rows["HP-KHV-2021-HDND"][-1] == "33.8%"
    assert rows["HP-KHV-2021-TTG"][-1] == "63.1%"
    assert "disbursed: 4,603,180,000,000" in result.stdout


def test_rate_as_json_gives_integer_vnd_and_the_rate_as_text(demo_run: DemoRun) -> None:
    result = run_cli(demo_run.data_dir, *HP_RATE, "--as-of", "2021-06-20",
                     "--known-by", "2100-01-01", "--format", "json")  # fmt: skip

    assert result.returncode == 0, result.stderr
    records = [json.loads(line, parse_float=no_floats) for line in result.stdout.splitlines()]
    assert [(r["plan"], r["rate_percent"]) for r in records] == [
        ("HP-KHV-2021-HDND", "33.8"),
        ("HP-KHV-2021-TTG", "63.1"),
    ]
    assert {r["disbursed"] for r in records} == {4_603_180_000_000}
    assert records[0]["as_of"] == {"effective": "2021-06-20", "known": "2100-01-01"}


def test_rate_as_of_a_day_before_the_plan_was_recorded_is_refused(demo_run: DemoRun) -> None:
    # The demo's events were recorded today: on 20 June 2021 the ledger knew no plan yet.
    result = run_cli(demo_run.data_dir, *HP_RATE, "--as-of", "2021-06-20")

    assert result.returncode == 4
    [line] = error_lines(result)
    # Not "unknown": the plan was in force then, the ledger learnt it later (the day named).
    assert line.startswith(
        "capledger: error: not-yet-known: plan HP-KHV-2021-HDND was in force on 2021-06-20 but "
        "the ledger recorded it on "
    )
    assert "after known=2021-06-20" in line
    assert "AsOf(" not in line


def test_rate_of_an_unknown_plan_fails_with_one_line_and_exit_4(demo_run: DemoRun) -> None:
    result = run_cli(demo_run.data_dir, "rate", "--jurisdiction", "HP", "--year", "2021",
                     "--plan", "NO-SUCH-PLAN")  # fmt: skip

    assert result.returncode == 4
    assert result.stdout == ""
    assert error_lines(result) == [
        "capledger: error: unknown-plan: no plan NO-SUCH-PLAN is in the read model"
    ]


@pytest.mark.parametrize(
    ("scope", "line"),
    [
        (
            ("ZZ", "2021"),
            "unknown-jurisdiction: jurisdiction 'ZZ' is not in the list of jurisdictions",
        ),
        (("HP", "1800"), "no-annual-plan: no annual plan of HP for 1800 is in the read model"),
        (("HP", "2021"), None),
    ],
)
def test_rate_of_a_scope_never_seen_fails_with_exit_4_not_zero_percent(
    demo_run: DemoRun, scope: tuple[str, str], line: str | None
) -> None:
    jurisdiction, year = scope
    result = run_cli(demo_run.data_dir, "rate", "--jurisdiction", jurisdiction, "--year", year,
                     "--plan", "HP-KHV-2021-HDND")  # fmt: skip

    if line is None:
        assert result.returncode == 0 and "33.8%" in result.stdout
        return
    assert result.returncode == 4
    assert result.stdout == ""
    assert error_lines(result) == [f"capledger: error: {line}"]


def test_the_countrys_rate_sums_each_authoritys_plans_of_every_jurisdiction(
    demo_run: DemoRun,
) -> None:
    # The demo's only 2021 annual plans are Hải Phòng's: the country's sums are the city's.
    result = run_cli(demo_run.data_dir, "rate", "--jurisdiction", "VN", "--year", "2021",
                     "--authority", "prime_minister", "--format", "json")  # fmt: skip

    assert result.returncode == 0, result.stderr
    (line,) = [json.loads(text) for text in result.stdout.splitlines()]
    assert (line["jurisdiction"], line["authority"]) == ("VN", "prime_minister")
    assert line["plans"] == ["HP-KHV-2021-TTG@1"]
    assert line["denominator"] == 7_295 * 10**9
    assert line["rate_percent"] == "63.1"
    table = run_cli(demo_run.data_dir, "rate", "--jurisdiction", "VN", "--year", "2021")
    assert table.returncode == 0, table.stderr
    assert "annual plans of VN (107 jurisdictions)" in table.stdout
    assert [row.split()[-1] for row in table.stdout.splitlines() if "sum of 1 plan" in row] == [
        "63.1%",
        "33.8%",
    ]


def test_balances_of_the_country_and_of_an_unknown_jurisdiction(demo_run: DemoRun) -> None:
    country = run_cli(demo_run.data_dir, "balances", "--by", "jurisdiction", "--jurisdiction",
                      "VN", "--format", "json")  # fmt: skip
    hai_phong = run_cli(demo_run.data_dir, "balances", "--by", "jurisdiction", "--jurisdiction",
                        "HP", "--format", "json")  # fmt: skip
    unknown = run_cli(demo_run.data_dir, "balances", "--by", "plan", "--jurisdiction", "ZZ")

    assert country.returncode == 0, country.stderr
    keys = {json.loads(line)["key"] for line in country.stdout.splitlines()}
    assert {"HP", "HCM"} <= keys
    (only,) = [json.loads(line) for line in hai_phong.stdout.splitlines()]
    assert only["key"] == "HP"
    assert unknown.returncode == 4
    assert error_lines(unknown) == [
        "capledger: error: unknown-jurisdiction: jurisdiction 'ZZ' is not in the list of "
        "jurisdictions"
    ]


def test_jurisdictions_lists_the_hierarchy(tmp_path: Path) -> None:
    ministries = run_cli(tmp_path, "jurisdictions", "--level", "ministry", "--format", "json")
    table = run_cli(tmp_path, "jurisdictions", "--on", "2021-06-20")

    assert ministries.returncode == 0, ministries.stderr
    found = [json.loads(line) for line in ministries.stdout.splitlines()]
    assert len(found) == 18
    assert {entry["parent"] for entry in found} == {"VN"}
    assert "Bộ Tài chính" in {entry["name_vi"] for entry in found}
    rows = {line.split()[0]: line.split() for line in table.stdout.splitlines()[1:]}
    assert rows["HP"][:4] == ["HP", "VN", "municipality", "31"]
    assert len(rows) == 107


def test_rate_without_a_store_fails_and_creates_nothing(tmp_path: Path) -> None:
    result = run_cli(tmp_path / "nothing-here", *HP_RATE)

    assert result.returncode == 1
    assert error_lines(result)[0].startswith("capledger: error: no-store: ")
    assert not (tmp_path / "nothing-here").exists()


@pytest.mark.parametrize(
    "args",
    [
        ("rate", "--jurisdiction", "HP", "--year", "2021", "--authority", "king"),
        ("rate", "--jurisdiction", "HP", "--year", "2021", "--plan", "P@0"),
        ("balances", "--by", "colour"),
        ("balances", "--by", "plan", "--as-of", "20 June"),
        ("balances", "--by", "plan", "--as-of", "20210620"),
        ("balances", "--by", "plan", "--as-of", "1699228800"),
        ("rate", "--jurisdiction", "HP", "--year", "2021", "--as-of", "2021-W25-1"),
        ("watchlist", "--jurisdiction", "HP", "--year", "2021", "--below", "fast"),
        ("projections",),
    ],
)
def test_malformed_query_commands_are_usage_errors(tmp_path: Path, args: tuple[str, ...]) -> None:
    result = run_cli(tmp_path, *args)

    assert result.returncode == 2
    assert result.stdout == ""
    assert not (tmp_path / "ledger.sqlite3").exists()


def test_balances_by_sector_as_csv_sum_to_the_plans_capital(demo_run: DemoRun) -> None:
    by_sector = run_cli(demo_run.data_dir, "balances", "--by", "sector", "--plan",
                        "HP-KHV-2021-HDND", "--format", "csv", "--limit", "0")  # fmt: skip
    by_plan = run_cli(demo_run.data_dir, "balances", "--by", "plan", "--plan",
                      "HP-KHV-2021-HDND", "--format", "json")  # fmt: skip

    assert by_sector.returncode == by_plan.returncode == 0, by_sector.stderr + by_plan.stderr
    rows = list(csv.DictReader(io.StringIO(by_sector.stdout)))
    assert len(rows) == 8
    (plan,) = [json.loads(line, parse_float=no_floats) for line in by_plan.stdout.splitlines()]
    for column in ("capital", "disbursed", "cut", "advances_outstanding"):
        assert sum(int(row[column]) for row in rows) == plan[column]
    assert plan["capital"] == 13_121 * BILLION and plan["rate_percent"] == "35.1"


def test_balances_table_sorted_by_rate_pages_through_the_projects(demo_run: DemoRun) -> None:
    result = run_cli(demo_run.data_dir, "balances", "--by", "project", "--jurisdiction", "HP",
                     "--sort", "rate", "--limit", "3")  # fmt: skip

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "Balances by project, now; amounts in VND"
    projects = [line.split()[0] for line in lines[3:6]]
    assert projects[0] == "HP21-008"  # the slowest first
    assert lines[-1] == "1–3 of 38 project groups"


def test_watchlist_names_the_slowest_project_and_its_investor_first(demo_run: DemoRun) -> None:
    table = run_cli(demo_run.data_dir, "watchlist", "--jurisdiction", "HP", "--year", "2021")
    below = run_cli(demo_run.data_dir, "watchlist", "--jurisdiction", "HP", "--year", "2021",
                    "--below", "20", "--format", "json")  # fmt: skip

    assert table.returncode == below.returncode == 0, table.stderr + below.stderr
    first = table.stdout.splitlines()[3].split()
    assert first[:4] == ["HP21-008", "slow", "HP-BQLDA-GT", "280,000,000,000"]
    assert "below the scope's average of 35.1%" in table.stdout
    entries = [json.loads(line, parse_float=no_floats) for line in below.stdout.splitlines()]
    assert [entry["key"] for entry in entries] == ["HP21-008"]
    assert entries[0]["shortfall"] == 280 * BILLION // 5 - entries[0]["disbursed"]


def test_projections_status_after_the_demo_shows_no_lag(demo_run: DemoRun) -> None:
    result = run_cli(demo_run.data_dir, "projections", "status")

    assert result.returncode == 0, result.stderr
    assert f"position: {demo_run.stored:,}" in result.stdout
    assert f"ledger head: {demo_run.stored:,}" in result.stdout
    assert "lag: 0 notifications" in result.stdout


def test_projections_rebuild_switches_to_a_new_read_model_with_the_same_figures(
    demo_run: DemoRun, tmp_path: Path
) -> None:
    data_dir = copy_of(demo_run, tmp_path)
    before = run_cli(data_dir, *HP_RATE, "--format", "json")

    rebuilt = run_cli(data_dir, "projections", "rebuild")
    status = run_cli(data_dir, "projections", "status")
    after = run_cli(data_dir, *HP_RATE, "--format", "json")

    assert rebuilt.returncode == status.returncode == 0, rebuilt.stderr + status.stderr
    assert re.search(
        rf"rebuilt the read model rm2 from {demo_run.stored:,} notifications "
        rf"\(to position {demo_run.stored:,}\) in [\d.]+ s: [\d,]+ events/s",
        rebuilt.stdout,
    ), rebuilt.stdout
    assert "dropped the previous read model rm1" in rebuilt.stdout
    assert "live namespace: rm2" in status.stdout and "lag: 0 notifications" in status.stdout
    assert after.stdout == before.stdout and after.stdout


def test_a_rebuild_told_to_keep_the_previous_read_model_says_it_kept_it(
    demo_run: DemoRun, tmp_path: Path
) -> None:
    data_dir = copy_of(demo_run, tmp_path)

    rebuilt = run_cli(data_dir, "projections", "rebuild", "--keep-previous")

    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "kept the previous read model rm1" in rebuilt.stdout
    assert "dropped" not in rebuilt.stdout


def test_a_read_model_of_another_store_is_refused_until_rebuilt(
    demo_run: DemoRun, recorded: Path
) -> None:
    shutil.copy(demo_run.data_dir / "projections.sqlite3", recorded / "projections.sqlite3")

    refused = run_cli(recorded, "balances", "--by", "project")
    rebuilt = run_cli(recorded, "projections", "rebuild")
    answered = run_cli(recorded, "balances", "--by", "project", "--format", "json")

    assert refused.returncode == 1
    assert error_lines(refused)[0].startswith("capledger: error: read-model-mismatch: ")
    assert rebuilt.returncode == answered.returncode == 0, rebuilt.stderr + answered.stderr
    assert [json.loads(line)["key"] for line in answered.stdout.splitlines()] == [PROJECT, OTHER]


def test_import_brings_the_read_models_up_to_date_before_it_ends(
    recorded: Path, tmp_path: Path
) -> None:
    export = run_cli(recorded, "export").stdout
    target = tmp_path / "copy"

    imported = run_cli(target, "import", "-", stdin=export)

    assert imported.returncode == 0, imported.stderr
    count = stored_count(recorded)
    assert f"read models up to date at position {count:,}" in imported.stdout
    with sqlite3.connect(target / "projections.sqlite3") as read_model:
        (position,) = read_model.execute(
            "SELECT position FROM rm1_tracking WHERE log = 'notification_log'"
        ).fetchone()
    assert position == count
