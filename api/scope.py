"""Scope checks: a finance officer acts and reads only within its investors and provinces.

Out of scope, a write is refused (403 ``out-of-scope``); a read of one project or plan answers
as if it did not exist (404), so that the API does not tell one scope what another holds.
"""

from __future__ import annotations

from capledger.application.errors import UnknownPlan, UnknownProject
from capledger.domain import CapitalPlan, Project

from . import readmodel
from .context import ApiContext
from .problems import ApiProblem
from .roles import Caller


def out_of_scope(what: str) -> ApiProblem:
    return ApiProblem(403, "out-of-scope", f"{what} is outside this key's scope")


def check_project(ctx: ApiContext, caller: Caller, code: str, *, write: bool) -> None:
    """Writes are judged on the ledger's own state; reads on the read model's project row when
    it has one (no replay of a long stream just to check a scope)."""
    if not caller.scoped:
        return
    found = None if write else readmodel.project_scope(ctx.read_model, code)
    if found is None:
        found = ctx.ledger.peek_project(code, _investor_and_province)
    if not caller.covers_project(*found):
        if write:
            raise out_of_scope(f"project {code}")
        raise UnknownProject(f"no project {code} is recorded")


def check_plan(ctx: ApiContext, caller: Caller, code: str, *, write: bool) -> None:
    if not caller.scoped:
        return
    jurisdiction = None if write else readmodel.plan_jurisdiction(ctx.read_model, code)
    if jurisdiction is None:
        jurisdiction = ctx.ledger.peek_plan(code, _jurisdiction)
    if not caller.covers_jurisdiction(jurisdiction):
        if write:
            raise out_of_scope(f"plan {code} (jurisdiction {jurisdiction})")
        raise UnknownPlan(f"no plan {code} is recorded")


def _investor_and_province(project: Project) -> tuple[str, str]:
    return project.investor_code, project.province


def _jurisdiction(plan: CapitalPlan) -> str:
    return plan.jurisdiction


def check_new_project(caller: Caller, investor_code: str, province: str) -> None:
    if not caller.covers_project(investor_code, province):
        raise out_of_scope(f"a project of investor {investor_code} in {province}")


def check_jurisdiction(caller: Caller, jurisdiction: str) -> None:
    if not caller.covers_jurisdiction(jurisdiction):
        raise out_of_scope(f"jurisdiction {jurisdiction}")


def pinned_filter(
    caller: Caller,
    *,
    investor_code: str | None,
    province: str | None,
    jurisdiction: str | None,
) -> tuple[str | None, str | None]:
    """The investor and province filters a scoped caller's list query must carry.

    A query pinned to one of the caller's investors, provinces or jurisdictions is in scope as
    it is; otherwise, if the scope holds exactly one investor or province, the query is pinned
    to it; otherwise the caller must choose (403 ``scope-filter-required``).
    """
    if not caller.scoped:
        return investor_code, province
    scope = caller.scope
    pins = [
        investor_code is not None and investor_code in scope.investors,
        province is not None and province in scope.provinces,
        jurisdiction is not None and jurisdiction in scope.provinces,
    ]
    if any(pins):
        return investor_code, province
    if investor_code is not None or province is not None or jurisdiction is not None:
        raise out_of_scope("the filtered investor, province or jurisdiction")
    if len(scope.investors) == 1 and not scope.provinces:
        return next(iter(scope.investors)), province
    if len(scope.provinces) == 1 and not scope.investors:
        return investor_code, next(iter(scope.provinces))
    choices = sorted(
        [f"investor_code={code}" for code in scope.investors]
        + [f"province={code}" for code in scope.provinces]
    )
    raise ApiProblem(
        403,
        "scope-filter-required",
        "this key covers several investors or provinces: filter by one of " + ", ".join(choices),
    )
