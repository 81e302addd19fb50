"""``capledger record`` as a real process, on SQLite and on PostgreSQL: a day's batch from a
file, one result line per input line (a line the ledger refuses and a malformed one refused
alone, exit 7), then the same batch again from stdin, which replays every line and records
nothing. Each test starts the CLI twice (about a second and a half of CPU each)."""

from __future__ import annotations

import getpass
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import treasury_batch

from capledger.bootstrap import build_ledger
from capledger.settings import Settings, environment

pytestmark = pytest.mark.e2e

EXIT_LINES_REFUSED = 7


def capledger(
    settings: Settings, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CAPLEDGER_")},
        **environment(settings),
        "CAPLEDGER_LOG_FORMAT": "json",
        "CAPLEDGER_LOG_LEVEL": "WARNING",
        "PYTHONIOENCODING": "utf-8",
    }
    return subprocess.run(
        [sys.executable, "-m", "capledger", *args], input=stdin, env=env, capture_output=True,
        text=True, encoding="utf-8", timeout=120, check=False,
    )  # fmt: skip


def results(ran: subprocess.CompletedProcess[str]) -> list[dict[str, object]]:
    return [json.loads(each) for each in ran.stdout.splitlines()]


def recorded_events(settings: Settings) -> list[dict[str, object]]:
    """Every stored event's metadata, in order."""
    ledger = build_ledger(settings)
    try:
        notifications = ledger.recorder.select_notifications(start=1, limit=10_000)
        return [json.loads(each.state)["_meta"] for each in notifications]
    finally:
        ledger.close()


def test_a_batch_is_recorded_line_by_line_and_a_rerun_from_stdin_records_nothing(
    store: Settings, tmp_path: Path
) -> None:
    batch = tmp_path / "kbnn-2025-03-03.jsonl"
    batch.write_text(treasury_batch.jsonl(), encoding="utf-8")

    first = capledger(store, "record", str(batch))
    recorded = recorded_events(store)
    again = capledger(store, "record", "-", stdin=treasury_batch.jsonl())

    assert first.returncode == EXIT_LINES_REFUSED, first.stderr
    lines = results(first)
    assert [each["line"] for each in lines] == [1, 2, 3, 4, 5, 6, 7]
    assert {each["line"]: each["code"] for each in lines if each["outcome"] == "refused"} == (
        treasury_batch.REFUSED
    )
    assert [each["outcome"] for each in lines].count("recorded") == treasury_batch.RECORDED
    assert lines[3]["streams"] == {f"project:{treasury_batch.PROJECT}": 3}
    assert "5 recorded, 0 replayed, 2 refused" in first.stderr
    assert {meta["principal"] for meta in recorded} == {f"operator:{getpass.getuser()}"}

    assert again.returncode == EXIT_LINES_REFUSED, again.stderr
    replayed = results(again)
    assert [each["outcome"] for each in replayed] == [
        "replayed", "replayed", "replayed", "replayed", "refused", "replayed", "refused"
    ]  # fmt: skip
    assert [each.get("position") for each in replayed] == [each.get("position") for each in lines]
    assert recorded_events(store) == recorded
