"""The demo's report, read from the read models (``capledger.projections``).

:func:`build_report` reads balances and rates through ``capledger.projections.queries`` on a read
model that has caught up with the ledger, and the few attributes no query returns (a plan's
title and the plan it implements, a project's status, investor, sector and name, its corrected
entries) from the same read model's tables. Nothing here knows a published figure: every amount
comes from the ledger's events, and rates are quotients of integer VND sums rounded half up to
one decimal.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from capledger.domain import Balance, ProjectStatus
from capledger.projections import Reader, ReadModelStore
from capledger.projections import queries as q
from capledger.projections.queries.sql import column_names, rows_of
from capledger.projections.rows import PlanRow, ProjectRow

from .amounts import BILLION
from .index import HaiPhongIndex, HcmcIndex, ScenarioIndex

CLASSROOMS = re.compile(r"\((\d+) phòng học\)")
RULE_WIDTH = 78
NO_RATE = "—"
QUIET_STATUSES = frozenset({ProjectStatus.ON_TRACK.value, ProjectStatus.COMPLETED.value})
SECTOR_LABELS = {
    "culture_sports": "culture and sports",
    "dyke_irrigation": "dykes and irrigation",
    "flood_control": "flood control",
    "public_administration": "public administration",
    "urban_development": "urban development",
    "water_supply": "water supply",
}


# -- figures -----------------------------------------------------------------------------------


def format_rate(ratio: q.Ratio) -> str:
    """ "33.8%": the rate in percent rounded half up to one decimal; "—" when nothing is due."""
    percent = ratio.percent(1)
    return NO_RATE if percent is None else f"{percent}%"


def format_billion(vnd: int, decimals: int = 1) -> str:
    """VND as billions with thousands separators, rounded half-up at ``decimals``."""
    sign = "-" if vnd < 0 else ""
    scale = 10**decimals
    units = (2 * abs(vnd) * scale + BILLION) // (2 * BILLION)
    whole, fraction = divmod(units, scale)
    return f"{sign}{whole:,}" + (f".{fraction:0{decimals}d}" if decimals else "")


@dataclass(frozen=True)
class PlanRate:
    """The scope's disbursement against one plan's envelope, as the read model gives it."""

    code: str
    title: str
    authority: str
    envelope: int
    disbursed: int
    implemented_by: tuple[str, ...]
    ratio: q.Ratio

    @property
    def rate(self) -> str:
        return format_rate(self.ratio)


def balance_rate(balance: Balance) -> str:
    """Disbursed over capital."""
    return format_rate(q.Ratio(balance.disbursed, balance.capital))


@dataclass(frozen=True)
class SectorLine:
    sector: str
    projects: int
    balance: Balance

    @property
    def rate(self) -> str:
        return balance_rate(self.balance)


@dataclass(frozen=True)
class WatchedProject:
    """A project whose status or capital moved: what an accountability review looks at."""

    code: str
    status: str
    investor_code: str
    balance: Balance
    corrections: int

    @property
    def rate(self) -> str:
        return balance_rate(self.balance)


@dataclass(frozen=True)
class HaiPhongFigures:
    as_of: date
    projects: int
    rates: tuple[PlanRate, ...]
    balance: Balance
    unallocated: int
    by_sector: tuple[SectorLine, ...]
    by_status: tuple[tuple[str, int], ...]
    watched: tuple[WatchedProject, ...]

    @property
    def rate_notes(self) -> list[str]:
        return [
            f"{rate.code} also counts what was paid from {', '.join(rate.implemented_by)}, "
            "which implements it"
            for rate in self.rates
            if rate.implemented_by
        ]

    def rate_for(self, plan_code: str) -> PlanRate:
        return next(rate for rate in self.rates if rate.code == plan_code)


@dataclass(frozen=True)
class GroupLine:
    program: str
    sector: str
    completed: int
    total_investment: int
    classrooms: int
    assumed_total: bool

    @property
    def label(self) -> str:
        return self.program or sector_label(self.sector)


@dataclass(frozen=True)
class HcmcFigures:
    plan_code: str
    plan_title: str
    start_year: int
    end_year: int
    envelope: int
    allocated_to_completed: int
    groups: tuple[GroupLine, ...]

    @property
    def completed(self) -> int:
        return sum(group.completed for group in self.groups)

    @property
    def classrooms(self) -> int:
        return sum(group.classrooms for group in self.groups)

    def group(self, sector: str, program: str = "") -> GroupLine:
        return next(g for g in self.groups if (g.sector, g.program) == (sector, program))


@dataclass(frozen=True)
class DemoReport:
    hai_phong: HaiPhongFigures
    hcmc: HcmcFigures

    def render(self) -> str:
        return "\n".join([*render_hai_phong(self.hai_phong), "", *render_hcmc(self.hcmc)])


# -- reading the read model ----------------------------------------------------------------


def plan_records(store: ReadModelStore) -> dict[str, PlanRow]:
    sql = f"SELECT {column_names(PlanRow)} FROM {{plan}} ORDER BY plan_code"
    records = rows_of(PlanRow, store.read(lambda reader: reader.rows(sql)))
    return {record.plan_code: record for record in records}


def project_records(store: ReadModelStore, codes: Iterable[str]) -> dict[str, ProjectRow]:
    """The named projects as they stand now, in the order named."""
    sql = f"SELECT {column_names(ProjectRow)} FROM {{project}}"
    records = rows_of(ProjectRow, store.read(lambda reader: reader.rows(sql)))
    found = {record.project_code: record for record in records}
    return {code: found[code] for code in codes if code in found}


def corrections_by_project(store: ReadModelStore) -> dict[str, int]:
    """Cash entries later reversed, per project."""

    def query(reader: Reader) -> list[tuple[Any, ...]]:
        return reader.rows(
            "SELECT project_code, COUNT(*) FROM {entry} WHERE reversed_by IS NOT NULL "
            "GROUP BY project_code"
        )

    return {code: int(count) for code, count in store.read(query)}


def project_balances(store: ReadModelStore, plan_code: str) -> dict[str, Balance]:
    """Each project's balance of one plan's capital, by project code."""
    page = q.balances(
        store, q.Dimension.PROJECT, filters=q.BalanceFilter(plan_code=plan_code), limit=None
    )
    return {item.key: item for item in page.items}


def build_report(store: ReadModelStore, index: ScenarioIndex) -> DemoReport:
    """The report from a read model that has caught up with the scenario's commands."""
    plans = plan_records(store)
    return DemoReport(
        hai_phong_figures(store, plans, index.hai_phong),
        hcmc_figures(store, plans, index.hcmc),
    )


def hai_phong_figures(
    store: ReadModelStore, plans: Mapping[str, PlanRow], index: HaiPhongIndex
) -> HaiPhongFigures:
    city = plans[index.city_plan]
    denominators = [q.Denominator(code) for code in (index.city_plan, index.pm_plan)]
    scope = q.Scope(city.jurisdiction, city.start_year)
    rates = q.disbursement_rates(store, scope, denominators)
    by_project = project_balances(store, city.plan_code)
    projects = project_records(store, [code for code in index.projects if code in by_project])
    plan_total = q.balances(
        store, q.Dimension.PLAN, filters=q.BalanceFilter(plan_code=city.plan_code), limit=None
    )
    return HaiPhongFigures(
        as_of=index.as_of,
        projects=len(projects),
        rates=tuple(plan_rate(rate, plans) for rate in rates),
        balance=plan_total.items[0] if plan_total.items else Balance(),
        unallocated=sum(line.unallocated for line in q.plan_capital(store, city.plan_code)),
        by_sector=sector_lines(store, city.plan_code, projects),
        by_status=status_counts(projects.values()),
        watched=watched_projects(projects, by_project, corrections_by_project(store)),
    )


def plan_rate(rate: q.DisbursementRate, plans: Mapping[str, PlanRow]) -> PlanRate:
    plan = plans[rate.plan_code]
    implementing = tuple(
        code for code, other in plans.items() if other.implements == plan.plan_code
    )
    return PlanRate(
        plan.plan_code, plan.title, rate.authority, rate.envelope, rate.disbursed, implementing,
        rate.ratio,
    )  # fmt: skip


def sector_lines(
    store: ReadModelStore, plan_code: str, projects: Mapping[str, ProjectRow]
) -> tuple[SectorLine, ...]:
    """Sectors by capital, largest first, with their number of projects."""
    page = q.balances(
        store,
        q.Dimension.SECTOR,
        filters=q.BalanceFilter(plan_code=plan_code),
        sort="capital",
        descending=True,
        limit=None,
    )
    counts: dict[str, int] = {}
    for project in projects.values():
        counts[project.sector] = counts.get(project.sector, 0) + 1
    return tuple(SectorLine(item.key, counts.get(item.key, 0), item) for item in page.items)


def status_counts(projects: Iterable[ProjectRow]) -> tuple[tuple[str, int], ...]:
    counts: dict[str, int] = {}
    for project in projects:
        counts[project.status] = counts.get(project.status, 0) + 1
    return tuple(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def watched_projects(
    projects: Mapping[str, ProjectRow],
    balances: Mapping[str, Balance],
    corrections: Mapping[str, int],
) -> tuple[WatchedProject, ...]:
    watched = []
    for code, project in projects.items():
        balance = balances[code]
        corrected = corrections.get(code, 0)
        moved = balance.transferred_in or balance.transferred_out or balance.cut or corrected
        if moved or project.status not in QUIET_STATUSES:
            watched.append(
                WatchedProject(code, project.status, project.investor_code, balance, corrected)
            )
    return tuple(watched)


def hcmc_figures(
    store: ReadModelStore, plans: Mapping[str, PlanRow], index: HcmcIndex
) -> HcmcFigures:
    plan = plans[index.plan]
    by_project = project_balances(store, plan.plan_code)
    completed = [
        project
        for project in project_records(store, index.projects).values()
        if project.status == ProjectStatus.COMPLETED.value and project.project_code in by_project
    ]
    groups: dict[tuple[str, str], list[ProjectRow]] = {}
    for project in completed:
        groups.setdefault((project.program, project.sector), []).append(project)
    return HcmcFigures(
        plan_code=plan.plan_code,
        plan_title=plan.title,
        start_year=plan.start_year,
        end_year=plan.end_year,
        envelope=sum(line.envelope for line in q.plan_capital(store, plan.plan_code)),
        allocated_to_completed=sum(by_project[p.project_code].allocated for p in completed),
        groups=tuple(
            group_line(program, sector, members, sector in index.assumed_total_sectors)
            for (program, sector), members in groups.items()
        ),
    )


def group_line(
    program: str, sector: str, members: Sequence[ProjectRow], assumed_total: bool
) -> GroupLine:
    return GroupLine(
        program=program,
        sector=sector,
        completed=len(members),
        total_investment=sum(project.total_investment for project in members),
        classrooms=sum(classrooms_of(project.name) for project in members),
        assumed_total=assumed_total,
    )


def classrooms_of(name: str) -> int:
    """Classrooms a school project delivers, as its name states (no domain field holds it)."""
    match = CLASSROOMS.search(name)
    return int(match.group(1)) if match else 0


# -- rendering ---------------------------------------------------------------------------------


def sector_label(sector: str) -> str:
    return SECTOR_LABELS.get(sector, sector.replace("_", " "))


def signed_billion(vnd: int) -> str:
    return "" if vnd == 0 else ("+" if vnd > 0 else "") + format_billion(vnd)


Row = Sequence[str]


def table(header: Row, rows: Sequence[Row], left: int = 1) -> list[str]:
    """Aligned columns: the first ``left`` columns to the left, the others to the right."""
    widths = [max(_width(row[col]) for row in [header, *rows]) for col in range(len(header))]

    def line(row: Row) -> str:
        cells = [
            _pad(cell, width, to_left=col < left)
            for col, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        return "  ".join(cells).rstrip()

    rule = "  ".join("-" * width for width in widths)
    return [line(header), rule, *(line(row) for row in rows)]


def _width(text: str) -> int:
    return len(unicodedata.normalize("NFC", text))


def _pad(text: str, width: int, *, to_left: bool) -> str:
    padding = " " * (width - _width(text))
    return text + padding if to_left else padding + text


def title(text: str) -> list[str]:
    return [text, "=" * max(RULE_WIDTH, _width(text))]


def render_hai_phong(figures: HaiPhongFigures) -> list[str]:
    day = figures.as_of
    return [
        *title(f"Hải Phòng — public investment {day.year}, disbursed to {day:%d %B %Y}"),
        *_plan_rates(figures),
        "",
        f"Capital of the {figures.projects} projects of {figures.rates[0].code}:",
        *_capital(figures),
        "",
        "By sector:",
        *_sectors(figures.by_sector),
        "",
        "Project status: "
        + ", ".join(f"{status.replace('_', ' ')} {n}" for status, n in figures.by_status),
        "",
        "Projects to watch or whose capital moved:",
        *_watched(figures.watched),
    ]


def _plan_rates(figures: HaiPhongFigures) -> list[str]:
    rows = [
        (
            rate.code,
            rate.authority.replace("_", " "),
            format_billion(rate.envelope),
            format_billion(rate.disbursed),
            rate.rate,
        )
        for rate in figures.rates
    ]
    header = ("Plan", "Assigned by", "Plan, bn VND", "Disbursed", "Rate")
    return [*table(header, rows, left=2), *(f"  {note}" for note in figures.rate_notes)]


def _capital(figures: HaiPhongFigures) -> list[str]:
    balance = figures.balance
    rows = [
        ("allocated", balance.allocated),
        ("transferred in", balance.transferred_in),
        ("transferred out", balance.transferred_out),
        ("cut (returned to the plan)", balance.cut),
        ("capital after movements", balance.capital),
        ("disbursed", balance.disbursed),
        ("undisbursed", balance.undisbursed),
        ("advances outstanding", balance.advances_outstanding),
        ("plan envelope not allocated", figures.unallocated),
    ]
    return table(("", "bn VND"), [(label, format_billion(vnd)) for label, vnd in rows])


def _sectors(lines: Sequence[SectorLine]) -> list[str]:
    rows = [
        (
            sector_label(line.sector),
            f"{line.projects:,}",
            format_billion(line.balance.capital),
            format_billion(line.balance.disbursed),
            line.rate,
        )
        for line in lines
    ]
    return table(("Sector", "Projects", "Capital, bn VND", "Disbursed", "Rate"), rows)


def _watched(projects: Sequence[WatchedProject]) -> list[str]:
    rows = [
        (
            project.code,
            project.status.replace("_", " "),
            project.investor_code,
            signed_billion(project.balance.net_transferred),
            format_billion(project.balance.cut) if project.balance.cut else "",
            format_billion(project.balance.disbursed),
            project.rate,
            f"{project.corrections:,}" if project.corrections else "",
        )
        for project in projects
    ]
    header = ("Project", "Status", "Investor", "Moved", "Cut", "Disbursed", "Rate", "Corrections")
    return table(header, rows, left=3)


def render_hcmc(figures: HcmcFigures) -> list[str]:
    heading = (
        f"Hồ Chí Minh City — medium-term plan {figures.start_year}–{figures.end_year} "
        f"({figures.plan_code})"
    )
    plan_rows = [
        ("Capital planned", format_billion(figures.envelope)),
        ("Allocated to the completed projects", format_billion(figures.allocated_to_completed)),
    ]
    footnote = ["* total investment not in the published source: assumed by the demo"]
    return [
        *title(heading),
        *table(("", "bn VND"), plan_rows),
        "",
        "Completed and in use:",
        *_groups(figures),
        *(footnote if any(group.assumed_total for group in figures.groups) else []),
    ]


def _groups(figures: HcmcFigures) -> list[str]:
    def row(label: str, projects: int, total: int, assumed: bool, classrooms: int) -> Row:
        marked_total = format_billion(total) + ("*" if assumed else " ")
        return (label, f"{projects:,}", marked_total, f"{classrooms:,}" if classrooms else "")

    rows = [
        row(g.label, g.completed, g.total_investment, g.assumed_total, g.classrooms)
        for g in figures.groups
    ]
    total = sum(group.total_investment for group in figures.groups)
    rows.append(row("Total", figures.completed, total, False, figures.classrooms))
    header = ("Program or sector", "Projects", "Total investment, bn VND", "Classrooms")
    return table(header, rows)
