"""The demo on a fresh SQLite ledger reproduces the published figures from the ledger's state.

Hải Phòng to 20 June 2021: 33.8% of the city-assigned plan and 63.1% of the PM-assigned plan;
Ho Chi Minh City 2016–2020: the completed projects per program and sector with their published
totals. A second run records nothing new, and every hash chain verifies.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

import pytest

from capledger.application.ledger import Ledger
from capledger.application.verify import verify_store
from capledger.bootstrap import build_ledger
from capledger.demo import DemoReport, run_demo
from capledger.demo.amounts import BILLION, split_exact
from capledger.demo.report import format_billion, rate_permille
from capledger.demo.scenario import build_scenario
from capledger.settings import Settings

pytestmark = pytest.mark.integration

CASH_VERBS = {"pay_advance", "pay_completed_work", "reverse_entry"}


@dataclass
class DemoRun:
    settings: Settings
    ledger: Ledger
    report: DemoReport
    progress: list[tuple[int, int]]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoRun]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("demo"))
    ledger = build_ledger(settings)
    progress: list[tuple[int, int]] = []
    report = run_demo(ledger, lambda done, total: progress.append((done, total)))
    yield DemoRun(settings, ledger, report, progress)
    ledger.close()


def test_hai_phong_rates_come_out_of_the_ledger(demo: DemoRun) -> None:
    figures = demo.report.hai_phong
    city = figures.rate_for("HP-KHV-2021-HDND")
    prime_minister = figures.rate_for("HP-KHV-2021-TTG")
    assert city.rate == "33.8%"
    assert prime_minister.rate == "63.1%"
    assert city.envelope == 13_620 * BILLION
    assert prime_minister.envelope == 7_295 * BILLION
    # "hơn 4.600 tỷ đồng", the same disbursement measured against both plans.
    assert 4_600 * BILLION < city.disbursed == prime_minister.disbursed < 4_700 * BILLION
    assert city.disbursed == figures.balance.disbursed


def test_hai_phong_figures_agree_with_the_aggregates(demo: DemoRun) -> None:
    figures = demo.report.hai_phong
    city = demo.ledger.plan("HP-KHV-2021-HDND")
    balance = figures.balance
    assert balance.capital == sum(city.allocated.values())
    assert figures.unallocated == city.total_envelope - sum(city.allocated.values())
    assert balance.transferred_in == balance.transferred_out > 0
    assert balance.cut > 0
    assert balance.advance_outstanding > 0
    statuses = dict(figures.by_status)
    assert statuses["slow"] == statuses["terminated"] == 1
    assert statuses["under_violation_handling"] == 1
    corrected = [project for project in figures.watched if project.corrections]
    assert [project.code for project in corrected] == ["HP21-030"]


def test_hcmc_totals_come_out_of_the_ledger(demo: DemoRun) -> None:
    figures = demo.report.hcmc
    assert figures.envelope == 135_601 * BILLION
    published = {
        ("transport", "Chương trình giảm ùn tắc giao thông, tai nạn giao thông"): (24, 5_018),
        ("transport", ""): (60, 6_174),
        ("flood_control", "Chương trình giảm ngập nước"): (44, 5_453),
        ("culture_sports", ""): (57, 3_558),
    }
    for (sector, program), (count, total_bn) in published.items():
        group = figures.group(sector, program)
        assert (group.completed, group.total_investment) == (count, total_bn * BILLION)
    assert figures.group("health").completed == 55
    assert figures.classrooms == figures.group("education").classrooms == 6_168
    assert figures.allocated_to_completed == sum(g.total_investment for g in figures.groups)


def test_hcmc_projects_have_distinct_amounts(demo: DemoRun) -> None:
    codes = build_scenario().index.hcmc.projects
    totals = [demo.ledger.project(code).total_investment for code in codes]
    assert len(set(totals)) == len(totals)


def test_render_prints_the_ledgers_figures(demo: DemoRun) -> None:
    text = demo.report.render()
    assert "33.8%" in text and "63.1%" in text
    assert format_billion(demo.report.hai_phong.balance.disbursed) in text
    assert "5,018.0" in text and "135,601.0" in text and "6,168" in text


def test_progress_counts_every_command(demo: DemoRun) -> None:
    total = len(build_scenario().commands)
    assert demo.progress[-1] == (total, total)
    assert len(demo.progress) == total


def test_second_run_records_nothing_new(demo: DemoRun) -> None:
    recorded = demo.ledger.recorder.max_notification_id()
    assert run_demo(demo.ledger) == demo.report
    assert demo.ledger.recorder.max_notification_id() == recorded
    # A new process on the same store (cold cache) replays too.
    reopened = build_ledger(demo.settings)
    try:
        assert run_demo(reopened) == demo.report
        assert reopened.recorder.max_notification_id() == recorded
    finally:
        reopened.close()


def test_hash_chains_verify(demo: DemoRun) -> None:
    report = verify_store(demo.ledger.recorder)
    assert report.ok, report.broken
    assert report.checked == demo.ledger.recorder.max_notification_id()


def test_event_count_stays_modest(demo: DemoRun) -> None:
    assert (demo.ledger.recorder.max_notification_id() or 0) < 5_000


def test_scenario_is_deterministic_and_dated_up_to_the_published_day() -> None:
    first, second = build_scenario(), build_scenario()
    assert first == second
    ids = [command.command_id for command in first.commands]
    assert len(set(ids)) == len(ids)
    as_of = first.index.hai_phong.as_of
    assert as_of == date(2021, 6, 20)
    hai_phong_cash = [
        command
        for command in first.commands
        if command.command_id.startswith("demo:hp-2021:") and command.verb in CASH_VERBS
    ]
    assert hai_phong_cash
    dates = [command.args["effective_on"] for command in hai_phong_cash]
    assert all(isinstance(day, date) and day <= as_of for day in dates)


def test_split_exact_and_rates_use_integers_only() -> None:
    shares = split_exact(5_018_000, [200 + n * 37 for n in range(24)])
    assert sum(shares) == 5_018_000
    assert len(set(shares)) == 24
    assert rate_permille(4_603, 13_620) == 338
    assert rate_permille(4_603, 7_295) == 631
    assert rate_permille(1, 2_000) == 1  # 0.05% rounds half up to 0.1%
    assert format_billion(4_603_180_000_000) == "4,603.2"
    assert format_billion(1_250_000_000, decimals=0) == "1"
    assert format_billion(2_500_000_000, decimals=0) == "3"
