"""Done when: on a store edited behind the ledger's back (a payment's amount changed in its
stored bytes, through SQL on SQLite and, with ``CAPLEDGER_TEST_POSTGRES=1``, PostgreSQL), a real
``capledger serve`` (uvicorn on loopback) stops folding at that event, ``/readyz`` answers 503
saying where, the API refuses balances, state and history with ``ledger-verification-failed``,
``/verify`` still answers, and the CLI's read commands exit 3 instead of printing numbers."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from builders import BILLION, approve_annual_plan, funded_project, pay

from capledger.api.roles import Role
from capledger.api.store import ApiStore
from capledger.application.storage import event_log
from capledger.bootstrap import build_ledger
from capledger.domain.ids import project_id
from capledger.settings import Settings, environment

from .served import Served, drop_schemas, serve, shared_settings

pytestmark = pytest.mark.e2e

PAID = 7 * BILLION
FORGED = 1_000_000 * BILLION
READY_DEADLINE_S = 60.0


@dataclass(frozen=True)
class Forged:
    settings: Settings
    stream: str
    version: int
    position: int


@pytest.fixture
def forged(store: Settings, tmp_path: Path) -> Iterator[Forged]:
    """A ledger with a payment whose stored amount was then changed in the database."""
    settings = shared_settings(store, tmp_path)
    ledger = build_ledger(settings)
    try:
        approve_annual_plan(ledger)
        funded_project(ledger, code="DA-001", amount=100 * BILLION)
        pay(ledger, project_code="DA-001", amount=PAID)
        pay(ledger, project_code="DA-001", amount=BILLION)
        stream = project_id("DA-001")
        (stored,) = ledger.recorder.select_events(stream, gt=2, lte=3)
        assert stored.topic.endswith("CompletedWorkPaid")
        log = event_log(ledger.recorder)
        edited = stored.state.replace(f'"amount":{PAID},'.encode(), f'"amount":{FORGED},'.encode())
        assert edited != stored.state
        log.overwrite_stored_event(stream, 3, state=edited)  # an UPDATE, past the ledger
        position = log.position_of(stream, 3)
        assert position is not None
    finally:
        ledger.close()
    try:
        yield Forged(settings, str(stream), 3, position)
    finally:
        drop_schemas(settings)


@pytest.fixture
def served(forged: Forged, tmp_path: Path) -> Iterator[Served]:
    with serve(forged.settings, tmp_path / "serve.log") as server:
        yield server


def token(settings: Settings) -> str:
    keys = ApiStore.from_settings(settings).initialise()
    try:
        return keys.create_key("inspector", Role.INSPECTOR).token
    finally:
        keys.close()


def not_ready(server: Served) -> httpx.Response:
    deadline = time.monotonic() + READY_DEADLINE_S
    while True:
        answer = httpx.get(f"{server.url}/readyz", timeout=10)
        if answer.status_code == 503 or time.monotonic() > deadline:
            return answer
        time.sleep(0.2)


def test_the_served_api_reports_the_forged_event_and_serves_no_figure(
    forged: Forged, served: Served
) -> None:
    readiness = not_ready(served)

    assert readiness.status_code == 503, readiness.text
    (check,) = [c for c in readiness.json()["checks"] if c["name"] == "ledger_verification"]
    assert not check["ok"]
    detail = check["detail"]
    assert detail.startswith("ledger-verification-failed: the ledger fails verification")
    assert f"stream {forged.stream} (project:DA-001) version 3" in detail
    assert f"at position {forged.position}" in detail and "content does not match" in detail

    headers = {"X-API-Key": token(forged.settings)}
    with httpx.Client(base_url=served.url, headers=headers, timeout=30) as client:
        for path in ("/balances", "/projects/DA-001/state", "/projects/DA-001/history"):
            answer = client.get(path)
            assert answer.status_code == 503, (path, answer.text)
            assert answer.headers["content-type"].startswith("application/problem+json")
            problem = answer.json()
            assert problem["code"] == "ledger-verification-failed", path
            assert f"stream {forged.stream} (project:DA-001) version 3" in problem["detail"]
            assert str(FORGED) not in answer.text
        verification = client.get("/verify")  # the verification itself still answers
    assert verification.status_code == 200, verification.text


@pytest.mark.parametrize(
    "command", [["balances", "--by", "project"], ["history", "DA-001"]], ids=lambda c: c[0]
)
def test_the_cli_read_commands_refuse_with_exit_3(forged: Forged, command: list[str]) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CAPLEDGER_")},
        **environment(forged.settings),
        "CAPLEDGER_LOG_FORMAT": "json",
    }

    result = subprocess.run(
        [sys.executable, "-m", "capledger", *command],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip

    assert result.returncode == 3, result.stdout + result.stderr
    assert result.stdout == ""
    (message,) = [line for line in result.stderr.splitlines() if not line.startswith("{")]
    assert message.startswith(
        "capledger: error: ledger-verification-failed: the ledger fails verification, so no "
        "figure is shown: "
    )
    assert "project" in message and "version 3" in message
