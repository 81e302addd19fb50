"""``capledger record``'s parts: a line read as the API's body of its command or refused with
its number and code; results written in line order through any transport; a rerun replays."""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any, get_type_hints

import pytest
import treasury_batch
from fastapi.routing import APIRoute
from treasury_batch import BILLION, PLAN, PROJECT

from capledger.api.routers import commands as routes
from capledger.application.commands import AdjustPlan, PayCompletedWork
from capledger.application.ledger import Ledger
from capledger.bootstrap import load_rules
from capledger.cli.context import CliContext
from capledger.cli.errors import EXIT_USAGE
from capledger.cli.main import build_parser, run
from capledger.cli.record import (
    InProcess,
    LineCommand,
    LineResult,
    Outcome,
    parse_line,
    read_lines,
    record_lines,
)
from capledger.settings import Persistence, Settings, StoreSettings

pytestmark = pytest.mark.unit


def line(**fields: Any) -> str:
    return json.dumps({**treasury_batch.payment(1, 30, "2025-03-01"), **fields})


def refused(number: int, raw: str | bytes) -> LineResult:
    result = parse_line(number, raw)
    assert isinstance(result, LineResult), result
    assert result.outcome is Outcome.REFUSED
    return result


def test_the_line_models_are_the_api_routes_request_bodies() -> None:
    bodies = {
        route.openapi_extra["x-capledger-command"]: get_type_hints(route.endpoint)["body"]
        for route in routes.router.routes
        if isinstance(route, APIRoute) and "x-capledger-command" in (route.openapi_extra or {})
    }
    assert routes.request_bodies() == bodies


def test_a_line_is_the_command_the_api_makes_of_its_body_and_path() -> None:
    parsed = parse_line(3, line())

    assert parsed == LineCommand(3, "KBNN-2025-0001", PayCompletedWork(
        project_code=PROJECT, plan_code=PLAN, source="central_budget", amount=30 * BILLION,
        treasury_ref="KBNN-TT-0001", effective_on=date(2025, 3, 1),
    ))  # fmt: skip


def test_a_plans_adjustment_names_the_plan_by_the_commands_own_field() -> None:
    raw = json.dumps({"command": "AdjustPlan", "command_id": "adj-1", "code": PLAN,
                      "envelopes": {"central_budget": 5}, "reason": "bổ sung",
                      "effective_on": "2025-05-01", **treasury_batch.DECISION})  # fmt: skip
    parsed = parse_line(1, raw)
    assert isinstance(parsed, LineCommand) and isinstance(parsed.command, AdjustPlan)
    assert parsed.command.code == PLAN


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ('{"command": "PayCompletedWork", ', "malformed-json"),
        ("[1, 2]", "malformed-json"),
        (b'{"command": "\xff"}', "malformed-json"),
        (line(command="IssueApiKey"), "invalid-command"),
        (line(command="PayEverything"), "invalid-command"),
        ('{"command_id": "c-1", "amount": 1}', "invalid-command"),
        (line(amount=1.5), "validation-error"),
        (line(amount="-1"), "validation-error"),
        (line(effective_on="2025-02-30"), "validation-error"),
        (line(project_code="DA 001"), "validation-error"),
        (line(surplus="field"), "validation-error"),
        (line(command_id=""), "validation-error"),
        (line(command_id="has space"), "validation-error"),
        (line(command_id=7), "validation-error"),
    ],
    ids=[
        "not-json",
        "not-an-object",
        "not-utf8",
        "not-sent-by-clients",
        "unknown-command",
        "no-command",
        "float-amount",
        "negative-amount",
        "no-such-day",
        "bad-path-code",
        "unknown-field",
        "blank-id",
        "id-with-space",
        "id-not-text",
    ],
)
def test_a_malformed_line_is_refused_with_its_number_and_code(raw: str | bytes, code: str) -> None:
    result = refused(9, raw)

    assert (result.line, result.code) == (9, code)
    assert result.detail


def test_a_field_refusal_names_the_field_as_the_api_does() -> None:
    result = refused(2, line(amount=1.5))

    assert result.command_id == "KBNN-2025-0001" and result.command == "PayCompletedWork"
    assert [each["field"] for each in result.errors] == ["amount"]
    assert result.to_json()["errors"][0]["field"] == "amount"


def test_result_lines_hold_what_the_api_answers_or_the_problem() -> None:
    recorded = LineResult(4, "c-1", Outcome.RECORDED, command="Allocate",
                          streams={"project:DA-001": 2}, position=7)  # fmt: skip
    problem = LineResult.refused(5, "c-2", "over-disbursement", "too much", command="Allocate")

    assert recorded.to_json() == {"line": 4, "command_id": "c-1", "outcome": "recorded",
                                  "command": "Allocate", "streams": {"project:DA-001": 2},
                                  "position": 7}  # fmt: skip
    assert problem.to_json() == {"line": 5, "command_id": "c-2", "outcome": "refused",
                                 "command": "Allocate", "code": "over-disbursement",
                                 "detail": "too much"}  # fmt: skip


def test_blank_lines_are_skipped_and_numbers_stay_the_files() -> None:
    numbers = [each.line for each in read_lines(["\n", line(), "  \n", "{"])]
    assert numbers == [2, 4]


class Echo:
    """A transport recording nothing: each command 'recorded', batches kept."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []

    def record(self, batch: Sequence[LineCommand]) -> list[LineResult]:
        self.batches.append([each.line for each in batch])
        return [LineResult(each.line, each.command_id, Outcome.RECORDED) for each in batch]


def test_results_come_in_line_order_through_batches_of_the_transport() -> None:
    lines = [line(command_id=f"c-{n}") if n % 3 else "not json" for n in range(1, 11)]
    out, transport, seen = io.StringIO(), Echo(), []

    tally = record_lines(lines, transport, out, lambda done, total: seen.append(done),
                         total=10, batch_size=3)  # fmt: skip

    results = [json.loads(each) for each in out.getvalue().splitlines()]
    assert [each["line"] for each in results] == list(range(1, 11))
    assert [each["outcome"] for each in results if each["line"] % 3 == 0] == ["refused"] * 3
    assert transport.batches == [[1, 2, 4], [5, 7, 8], [10]]
    assert (tally.lines, tally.refused) == (10, 3)
    assert seen == [4, 8, 10]


def test_a_batch_recorded_twice_in_process_replays_every_line_the_second_time() -> None:
    ledger = Ledger(rules=load_rules())
    transport = InProcess(ledger, "operator:test")
    lines = treasury_batch.jsonl().splitlines()
    first_out, second_out = io.StringIO(), io.StringIO()

    first = record_lines(lines, transport, first_out)
    recorded = ledger.recorder.max_notification_id()
    second = record_lines(lines, transport, second_out)

    recorded_lines, refused_lines = treasury_batch.RECORDED, len(treasury_batch.REFUSED)
    assert first.counts == {Outcome.RECORDED: recorded_lines, Outcome.REPLAYED: 0,
                            Outcome.REFUSED: refused_lines}  # fmt: skip
    assert second.counts == {Outcome.RECORDED: 0, Outcome.REPLAYED: recorded_lines,
                             Outcome.REFUSED: refused_lines}  # fmt: skip
    assert ledger.recorder.max_notification_id() == recorded
    results = [json.loads(each) for each in second_out.getvalue().splitlines()]
    refusals = {each["line"]: each["code"] for each in results if each["outcome"] == "refused"}
    assert refusals == treasury_batch.REFUSED
    assert ledger.project(PROJECT).disbursed == 50 * BILLION


def test_a_file_that_is_not_there_is_a_usage_error_and_writes_no_result(tmp_path: Path) -> None:
    args = build_parser().parse_args(["record", str(tmp_path / "absent.jsonl")])
    settings = Settings(store=StoreSettings(persistence=Persistence.SQLITE, data_dir=tmp_path))
    out, err = io.StringIO(), io.StringIO()

    # As main runs it, without configuring logging (which would outlive the test).
    status = run(args, CliContext(settings, io.StringIO(), out, err))

    assert status == EXIT_USAGE
    assert out.getvalue() == "" and "file-not-found" in err.getvalue()
