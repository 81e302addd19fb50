"""Ho Chi Minh City 2016–2020 as commands: the medium-term plan, then for every completed
project its registration, its capital from the plan, and its completion.

Per-project totals are generated (distinct, deterministic) so that each group sums exactly to
its published total; school projects share the 6,168 classrooms the same way and carry their
count in their name.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from math import gcd

from capledger.application.commands import Allocate, ApprovePlan, ChangeStatus, RegisterProject

from .amounts import billions, millions, split_exact, spread_weights
from .commands import Script, Step
from .hcmc_data import (
    CLASSROOMS_SUFFIX,
    DISTRICTS,
    GROUPS,
    INVESTORS,
    ISSUER,
    JURISDICTION,
    PLAN,
    SOURCE,
    STREETS,
    GroupSpec,
    district_investor,
)
from .index import HcmcIndex

PREFIX = "demo:hcm-2016-2020"
MEDIUM_TERM_YEARS = 5
FIRST_APPROVAL = date(2016, 1, 15)
FIRST_COMPLETION = date(2018, 3, 1)
ALLOCATION_LAG = timedelta(45)
MIN_BUILD_TIME = timedelta(180)
MILLIONS_PER_BILLION = 1_000
CLASSROOM_STRIDE = 29


@dataclass(frozen=True)
class HcmcProject:
    code: str
    name: str
    investor_code: str
    investor_name: str
    program: str
    sector: str
    total_investment: int


def build() -> tuple[list[Step], HcmcIndex]:
    script = Script()
    _approve_plan(script)
    projects = all_projects()
    for number, project in enumerate(projects):
        _project_lifecycle(script, number, project)
    index = HcmcIndex(
        plan=PLAN.code,
        projects=tuple(project.code for project in projects),
        assumed_total_sectors=frozenset(g.sector for g in GROUPS if not g.published_total),
    )
    return script.numbered(PREFIX), index


def all_projects() -> list[HcmcProject]:
    projects = [project for group in GROUPS for project in group_projects(group)]
    names = [project.name for project in projects]
    if len(set(names)) != len(names):
        raise ValueError("generated project names are not distinct")
    return projects


def group_projects(group: GroupSpec) -> list[HcmcProject]:
    """The group's projects, their totals distinct and summing exactly to the group's total."""
    total_millions = group.total_bn * MILLIONS_PER_BILLION
    if group.classrooms is None:
        classrooms: list[int] | None = None
        weights = spread_weights(group.count, salt=sum(map(ord, group.key)))
    else:
        classrooms = split_exact(group.classrooms, classroom_weights(group.count))
        weights = classrooms
    totals = [millions(share) for share in split_exact(total_millions, weights)]
    if len(set(totals)) != group.count or sum(totals) != billions(group.total_bn):
        raise ValueError(f"group {group.key}: totals are not distinct or do not add up")
    return [
        _project(group, number, total, None if classrooms is None else classrooms[number])
        for number, total in enumerate(totals)
    ]


def classroom_weights(count: int) -> list[int]:
    """Distinct weights 20..20+count-1 in a shuffled order (a stride coprime to ``count``)."""
    if gcd(CLASSROOM_STRIDE, count) != 1:
        raise ValueError(f"the stride {CLASSROOM_STRIDE} does not shuffle {count} weights")
    return [20 + number * CLASSROOM_STRIDE % count for number in range(count)]


def _project(group: GroupSpec, number: int, total: int, classrooms: int | None) -> HcmcProject:
    template = group.templates[number % len(group.templates)]
    slot = number // len(group.templates)
    if group.on_streets:
        place = STREETS[slot % len(STREETS)]
        investor = group.investor or ""
    else:
        suffix, place = DISTRICTS[slot % len(DISTRICTS)]
        investor = group.investor or district_investor(suffix)
    name = template.format(p=place)
    if classrooms is not None:
        name = f"{name} {CLASSROOMS_SUFFIX.format(count=classrooms)}"
    return HcmcProject(
        code=f"HCM-{group.key}-{number + 1:03d}",
        name=name,
        investor_code=investor,
        investor_name=INVESTORS.get(investor) or f"UBND {place}",
        program=group.program,
        sector=group.sector,
        total_investment=total,
    )


def _approve_plan(script: Script) -> None:
    script.add(f"plan:{PLAN.code}", PLAN.decision_date, ApprovePlan(
        code=PLAN.code, title=PLAN.title, kind="medium_term", authority="provincial_council",
        jurisdiction=JURISDICTION, start_year=PLAN.start_year,
        end_year=PLAN.start_year + MEDIUM_TERM_YEARS - 1,
        envelopes={SOURCE: billions(PLAN.envelope_bn)}, decision_no=PLAN.decision_no,
        decision_date=PLAN.decision_date, decision_issuer=PLAN.decision_issuer,
        effective_on=PLAN.effective_on,
    ))  # fmt: skip


def _project_lifecycle(script: Script, number: int, project: HcmcProject) -> None:
    """Approved in 2016–2017, capital from the plan soon after, completed in 2018–2020."""
    approved_on = FIRST_APPROVAL + timedelta(number * 53 % 700)
    allocated_on = max(approved_on + ALLOCATION_LAG, PLAN.effective_on)
    completed_on = max(
        FIRST_COMPLETION + timedelta(number * 89 % 1000), allocated_on + MIN_BUILD_TIME
    )
    code = project.code
    script.add(f"register:{code}", approved_on, RegisterProject(
        code=code, name=project.name, investor_code=project.investor_code,
        investor_name=project.investor_name, program=project.program, sector=project.sector,
        province=JURISDICTION, total_investment=project.total_investment,
        decision_no=f"DEMO-{2000 + number}/QĐ-UBND", decision_date=approved_on,
        decision_issuer=ISSUER, effective_on=approved_on,
    ))  # fmt: skip
    script.add(f"allocate:{code}", allocated_on, Allocate(
        plan_code=PLAN.code, project_code=code, source=SOURCE, amount=project.total_investment,
        decision_no=f"DEMO-{5000 + number}/QĐ-UBND", decision_date=allocated_on,
        decision_issuer=ISSUER, effective_on=allocated_on,
    ))  # fmt: skip
    script.add(f"status:{code}:completed", completed_on, ChangeStatus(
        project_code=code, status="completed", reason="Hoàn thành, đưa vào sử dụng",
        effective_on=completed_on,
    ))  # fmt: skip
