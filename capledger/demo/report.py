"""The demo's report, computed from the aggregates' own state.

This is the one seam to move when read models exist: :func:`build_report` reads each plan and
project the scenario created through :class:`StateSource` (``Ledger.plan`` / ``Ledger.project``)
and folds their current state. Nothing here knows a published figure; every amount comes from the
ledger, and rates are computed from integer VND sums (half-up to one decimal).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from capledger.domain import CapitalPlan, Project, ProjectStatus

from .amounts import BILLION
from .index import HaiPhongIndex, HcmcIndex, ScenarioIndex

CLASSROOMS = re.compile(r"\((\d+) phòng học\)")
PERMILLE = 1_000
RULE_WIDTH = 78
QUIET_STATUSES = frozenset({ProjectStatus.ON_TRACK.value, ProjectStatus.COMPLETED.value})
SECTOR_LABELS = {
    "culture_sports": "culture and sports",
    "dyke_irrigation": "dykes and irrigation",
    "flood_control": "flood control",
    "public_administration": "public administration",
    "urban_development": "urban development",
    "water_supply": "water supply",
}


class StateSource(Protocol):
    """Where the report reads state from: the Ledger today, read models later."""

    def plan(self, code: str) -> CapitalPlan: ...

    def project(self, code: str) -> Project: ...


# -- figures -----------------------------------------------------------------------------------


def rate_permille(part: int, whole: int) -> int:
    """``part / whole`` in tenths of a percent, rounded half-up, from integers only."""
    if whole <= 0:
        raise ValueError("a rate needs a positive denominator")
    return (2 * PERMILLE * part + whole) // (2 * whole)


def format_rate(permille: int) -> str:
    whole, tenth = divmod(permille, 10)
    return f"{whole}.{tenth}%"


def format_billion(vnd: int, decimals: int = 1) -> str:
    """VND as billions with thousands separators, rounded half-up at ``decimals``."""
    sign = "-" if vnd < 0 else ""
    scale = 10**decimals
    units = (2 * abs(vnd) * scale + BILLION) // (2 * BILLION)
    whole, fraction = divmod(units, scale)
    return f"{sign}{whole:,}" + (f".{fraction:0{decimals}d}" if decimals else "")


@dataclass(frozen=True)
class PlanRate:
    """Disbursement against one plan: what was paid from it or from the plans implementing it."""

    code: str
    title: str
    authority: str
    envelope: int
    disbursed: int
    implemented_by: tuple[str, ...]

    @property
    def rate_permille(self) -> int:
        return rate_permille(self.disbursed, self.envelope)

    @property
    def rate(self) -> str:
        return format_rate(self.rate_permille)


@dataclass(frozen=True)
class Balance:
    """Capital of a set of allocation lines, in VND."""

    allocated: int = 0
    transferred_in: int = 0
    transferred_out: int = 0
    cut: int = 0
    disbursed: int = 0
    lapsed: int = 0
    advance_outstanding: int = 0

    @property
    def capital(self) -> int:
        return self.allocated + self.transferred_in - self.transferred_out - self.cut

    @property
    def undisbursed(self) -> int:
        return self.capital - self.disbursed - self.lapsed

    def __add__(self, other: Balance) -> Balance:
        return Balance(
            self.allocated + other.allocated,
            self.transferred_in + other.transferred_in,
            self.transferred_out + other.transferred_out,
            self.cut + other.cut,
            self.disbursed + other.disbursed,
            self.lapsed + other.lapsed,
            self.advance_outstanding + other.advance_outstanding,
        )


@dataclass(frozen=True)
class SectorLine:
    sector: str
    projects: int
    balance: Balance

    @property
    def rate(self) -> str:
        capital = self.balance.capital
        return format_rate(rate_permille(self.balance.disbursed, capital)) if capital else "—"


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
        capital = self.balance.capital
        return format_rate(rate_permille(self.balance.disbursed, capital)) if capital else "—"


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


# -- reading state -----------------------------------------------------------------------------


def build_report(source: StateSource, index: ScenarioIndex) -> DemoReport:
    return DemoReport(hai_phong_figures(source, index.hai_phong), hcmc_figures(source, index.hcmc))


def hai_phong_figures(source: StateSource, index: HaiPhongIndex) -> HaiPhongFigures:
    plans = [source.plan(code) for code in (index.city_plan, index.pm_plan)]
    projects = [source.project(code) for code in index.projects]
    city = plans[0]
    return HaiPhongFigures(
        as_of=index.as_of,
        projects=len(projects),
        rates=tuple(plan_rate(plan, plans, projects) for plan in plans),
        balance=sum((line_balance(p, {city.code}) for p in projects), Balance()),
        unallocated=sum(city.unallocated(source) for source in city.envelopes),
        by_sector=sector_lines(projects, city.code),
        by_status=status_counts(projects),
        watched=watched_projects(projects, city.code),
    )


def plan_rate(
    plan: CapitalPlan, plans: Sequence[CapitalPlan], projects: Sequence[Project]
) -> PlanRate:
    """Disbursed from ``plan`` and from the plans that implement it, against its envelope."""
    implementing = tuple(other.code for other in plans if other.implements == plan.code)
    covering = {plan.code, *implementing}
    disbursed = sum(line_balance(project, covering).disbursed for project in projects)
    return PlanRate(
        plan.code, plan.title, plan.authority, plan.total_envelope, disbursed, implementing
    )


def line_balance(project: Project, plan_codes: set[str]) -> Balance:
    lines = [line for line in project.lines.values() if line.plan_code in plan_codes]
    advance = sum(contract.advance_outstanding for contract in project.contracts.values())
    return Balance(
        allocated=sum(line.allocated for line in lines),
        transferred_in=sum(line.transferred_in for line in lines),
        transferred_out=sum(line.transferred_out for line in lines),
        cut=sum(line.cut for line in lines),
        disbursed=sum(line.disbursed for line in lines),
        lapsed=sum(line.lapsed for line in lines),
        advance_outstanding=advance if lines else 0,
    )


def sector_lines(projects: Iterable[Project], plan_code: str) -> tuple[SectorLine, ...]:
    sectors: dict[str, list[Project]] = {}
    for project in projects:
        sectors.setdefault(project.sector, []).append(project)
    lines = [
        SectorLine(sector, len(members), sum((line_balance(p, {plan_code}) for p in members),
                                             Balance()))
        for sector, members in sectors.items()
    ]  # fmt: skip
    return tuple(sorted(lines, key=lambda line: -line.balance.capital))


def status_counts(projects: Iterable[Project]) -> tuple[tuple[str, int], ...]:
    counts: dict[str, int] = {}
    for project in projects:
        counts[project.status] = counts.get(project.status, 0) + 1
    return tuple(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def watched_projects(projects: Iterable[Project], plan_code: str) -> tuple[WatchedProject, ...]:
    watched = []
    for project in projects:
        balance = line_balance(project, {plan_code})
        corrections = sum(1 for entry in project.entries.values() if entry.reversed)
        moved = balance.transferred_in or balance.transferred_out or balance.cut or corrections
        if moved or project.status not in QUIET_STATUSES:
            watched.append(
                WatchedProject(project.code, project.status, project.investor_code, balance,
                               corrections)
            )  # fmt: skip
    return tuple(watched)


def hcmc_figures(source: StateSource, index: HcmcIndex) -> HcmcFigures:
    plan = source.plan(index.plan)
    completed = [
        p for p in map(source.project, index.projects) if p.status == ProjectStatus.COMPLETED.value
    ]
    groups: dict[tuple[str, str], list[Project]] = {}
    for project in completed:
        groups.setdefault((project.program, project.sector), []).append(project)
    return HcmcFigures(
        plan_code=plan.code,
        plan_title=plan.title,
        start_year=plan.start_year,
        end_year=plan.end_year,
        envelope=plan.total_envelope,
        allocated_to_completed=sum(line_balance(p, {plan.code}).allocated for p in completed),
        groups=tuple(
            group_line(program, sector, members, sector in index.assumed_total_sectors)
            for (program, sector), members in groups.items()
        ),
    )


def group_line(
    program: str, sector: str, members: Sequence[Project], assumed_total: bool
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
        ("advances outstanding", balance.advance_outstanding),
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
            signed_billion(project.balance.transferred_in - project.balance.transferred_out),
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
