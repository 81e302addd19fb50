"""The demo on a fresh SQLite ledger reproduces the published figures from the read models.

Hải Phòng to 20 June 2021: 33.8% of the city-assigned plan and 63.1% of the PM-assigned plan;
Ho Chi Minh City 2016–2020: the completed projects per program and sector with their published
totals. The report reads the read models; an oracle here computes the same figures from the
aggregates' own state (as the demo once did) and both must agree. A second run records nothing
new, and every hash chain verifies.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

import pytest

from capledger.application.commands import PayAdvance, PayCompletedWork
from capledger.application.ledger import Ledger
from capledger.application.verify import verify_store
from capledger.bootstrap import build_embedded_runner, build_ledger, build_read_model
from capledger.demo import DemoReport, run_demo
from capledger.demo.amounts import BILLION, split_exact
from capledger.demo.commands import Reversal
from capledger.demo.index import ScenarioIndex
from capledger.demo.report import QUIET_STATUSES, format_billion, format_rate
from capledger.demo.scenario import build_scenario
from capledger.domain import Balance, CapitalPlan, Project, ProjectStatus
from capledger.projections import EmbeddedRunner, ReadModelStore
from capledger.projections.queries import Ratio
from capledger.settings import Settings, StoreSettings

pytestmark = pytest.mark.integration

CASH = (PayAdvance, PayCompletedWork, Reversal)


@dataclass
class DemoRun:
    settings: Settings
    ledger: Ledger
    read_model: ReadModelStore
    runner: EmbeddedRunner
    report: DemoReport
    progress: list[tuple[int, int]]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoRun]:
    settings = Settings(store=StoreSettings(data_dir=tmp_path_factory.mktemp("demo")))
    ledger = build_ledger(settings)
    read_model = build_read_model(settings)
    runner = build_embedded_runner(ledger, read_model)
    progress: list[tuple[int, int]] = []
    report = run_demo(ledger, runner, lambda done, total: progress.append((done, total)))
    yield DemoRun(settings, ledger, read_model, runner, report, progress)
    read_model.close()
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
    assert balance.advances_outstanding > 0
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
    assert run_demo(demo.ledger, demo.runner) == demo.report
    assert demo.ledger.recorder.max_notification_id() == recorded
    # A new process on the same store (cold cache) replays too.
    reopened = build_ledger(demo.settings)
    read_model = build_read_model(demo.settings)
    try:
        assert run_demo(reopened, build_embedded_runner(reopened, read_model)) == demo.report
        assert reopened.recorder.max_notification_id() == recorded
    finally:
        read_model.close()
        reopened.close()


def test_the_report_reads_the_read_model_caught_up_to_the_last_command(demo: DemoRun) -> None:
    assert demo.read_model.position() == demo.ledger.recorder.max_notification_id()
    assert demo.runner.position == demo.ledger.recorder.max_notification_id()


def test_the_read_models_figures_equal_those_of_the_aggregates(demo: DemoRun) -> None:
    expected = aggregate_figures(demo.ledger, build_scenario().index)
    hai_phong, hcmc = demo.report.hai_phong, demo.report.hcmc

    assert hai_phong.projects == expected["projects"]
    assert {
        rate.code: (rate.envelope, rate.disbursed, rate.implemented_by, rate.rate)
        for rate in hai_phong.rates
    } == expected["rates"]
    assert _balance(hai_phong.balance) == expected["balance"]
    assert hai_phong.unallocated == expected["unallocated"]
    assert [
        (line.sector, line.projects, _balance(line.balance)) for line in hai_phong.by_sector
    ] == expected["by_sector"]
    assert hai_phong.by_status == expected["by_status"]
    assert [
        (p.code, p.status, p.investor_code, _balance(p.balance), p.corrections)
        for p in hai_phong.watched
    ] == expected["watched"]
    assert (hcmc.envelope, hcmc.allocated_to_completed) == expected["hcmc_capital"]
    assert [
        (g.program, g.sector, g.completed, g.total_investment, g.classrooms) for g in hcmc.groups
    ] == expected["hcmc_groups"]


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
        if command.command_id.startswith("demo:hp-2021:") and isinstance(command.command, CASH)
    ]
    assert hai_phong_cash
    dates = [command.command.effective_on for command in hai_phong_cash]
    assert all(isinstance(day, date) and day <= as_of for day in dates)


def test_split_exact_and_rates_use_integers_only() -> None:
    shares = split_exact(5_018_000, [200 + n * 37 for n in range(24)])
    assert sum(shares) == 5_018_000
    assert len(set(shares)) == 24
    assert format_rate(Ratio(4_603, 13_620)) == "33.8%"
    assert format_rate(Ratio(4_603, 7_295)) == "63.1%"
    assert format_rate(Ratio(1, 2_000)) == "0.1%"  # 0.05% rounds half up to 0.1%
    assert format_rate(Ratio(5, 0)) == "—"
    assert format_billion(4_603_180_000_000) == "4,603.2"
    assert format_billion(1_250_000_000, decimals=0) == "1"
    assert format_billion(2_500_000_000, decimals=0) == "3"


# -- the oracle: the same figures from the aggregates' own state -----------------------------

BalanceTuple = tuple[int, int, int, int, int, int, int]


def _balance(balance: Balance) -> BalanceTuple:
    return (
        balance.allocated,
        balance.transferred_in,
        balance.transferred_out,
        balance.cut,
        balance.disbursed,
        balance.lapsed,
        balance.advances_outstanding,
    )


def _line_balance(project: Project, plan_codes: set[str]) -> BalanceTuple:
    lines = [line for line in project.lines.values() if line.plan_code in plan_codes]
    advance = sum(contract.advance_outstanding for contract in project.contracts.values())
    return (
        sum(line.allocated for line in lines),
        sum(line.transferred_in for line in lines),
        sum(line.transferred_out for line in lines),
        sum(line.cut for line in lines),
        sum(line.disbursed for line in lines),
        sum(line.lapsed for line in lines),
        advance if lines else 0,
    )


def _sum(balances: list[BalanceTuple]) -> BalanceTuple:
    columns = [sum(balance[i] for balance in balances) for i in range(7)]
    return (columns[0], columns[1], columns[2], columns[3], columns[4], columns[5], columns[6])


def _capital(balance: BalanceTuple) -> int:
    return balance[0] + balance[1] - balance[2] - balance[3]


def aggregate_figures(ledger: Ledger, index: ScenarioIndex) -> dict[str, object]:
    """What the demo printed when it folded the aggregates' state itself."""
    hp = index.hai_phong
    plans: list[CapitalPlan] = [ledger.plan(code) for code in (hp.city_plan, hp.pm_plan)]
    projects = [ledger.project(code) for code in hp.projects]
    city = plans[0]
    rates = {}
    for plan in plans:
        implementing = tuple(other.code for other in plans if other.implements == plan.code)
        covering = {plan.code, *implementing}
        disbursed = sum(_line_balance(project, covering)[4] for project in projects)
        rate = format_rate(Ratio(disbursed, plan.total_envelope))
        rates[plan.code] = (plan.total_envelope, disbursed, implementing, rate)
    sectors: dict[str, list[Project]] = {}
    for project in projects:
        sectors.setdefault(project.sector, []).append(project)
    by_sector = sorted(
        (
            (sector, len(members), _sum([_line_balance(p, {city.code}) for p in members]))
            for sector, members in sectors.items()
        ),
        key=lambda line: -_capital(line[2]),
    )
    statuses: dict[str, int] = {}
    for project in projects:
        statuses[project.status] = statuses.get(project.status, 0) + 1
    watched = []
    for project in projects:
        balance = _line_balance(project, {city.code})
        corrections = sum(1 for entry in project.entries.values() if entry.reversed)
        if (
            balance[1]
            or balance[2]
            or balance[3]
            or corrections
            or (project.status not in QUIET_STATUSES)
        ):
            watched.append(
                (project.code, project.status, project.investor_code, balance, corrections)
            )
    hcmc_plan = ledger.plan(index.hcmc.plan)
    completed = [
        project
        for project in map(ledger.project, index.hcmc.projects)
        if project.status == ProjectStatus.COMPLETED.value
    ]
    groups: dict[tuple[str, str], list[Project]] = {}
    for project in completed:
        groups.setdefault((project.program, project.sector), []).append(project)
    return {
        "projects": len(projects),
        "rates": rates,
        "balance": _sum([_line_balance(p, {city.code}) for p in projects]),
        "unallocated": sum(city.unallocated(source) for source in city.envelopes),
        "by_sector": by_sector,
        "by_status": tuple(sorted(statuses.items(), key=lambda item: (-item[1], item[0]))),
        "watched": watched,
        "hcmc_capital": (
            hcmc_plan.total_envelope,
            sum(_line_balance(p, {hcmc_plan.code})[0] for p in completed),
        ),
        "hcmc_groups": [
            (
                program,
                sector,
                len(members),
                sum(p.total_investment for p in members),
                sum(_classrooms(p.name) for p in members),
            )
            for (program, sector), members in groups.items()
        ],
    }


def _classrooms(name: str) -> int:
    match = re.search(r"\((\d+) phòng học\)", name)
    return int(match.group(1)) if match else 0
