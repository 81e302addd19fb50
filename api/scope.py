"""The one scope rule: what a finance officer's key may see and do (docs/api.md, "Scope").

A finance officer's key covers some investors and some provinces.

1. **Visible.** A project is visible to the key when its province is one of the key's
   provinces or its (current) investor one of the key's investors; a plan, and the aggregates
   of a jurisdiction (rates, series, watch lists, plan capital and versions, Fiscal Data
   Package), when its jurisdiction is one of the key's provinces.
2. **Rows.** Every listing and export of projects (``/projects``, ``/balances``, the CSV
   exports, IATI, the watch list's projects) holds visible projects only: a project in another
   province funded from one of the key's plans is not among them.
3. **Named out of scope: 403 ``out-of-scope``.** A query or command naming an investor,
   province or jurisdiction outside the key's scope is refused before anything is read or
   recorded. The answer depends on the request and the key alone, never on what the ledger
   holds, so it tells nothing of what exists.
4. **Not visible = does not exist: 404.** A read or write of one project or plan by its code
   that is not visible answers exactly as for a code never recorded (``unknown-project``,
   ``unknown-plan``). (Codes are unique ledger-wide: registering a project under a code already
   taken is refused as a duplicate whoever holds it.)

Every router applies the rule through this module's functions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, TypeVar

from capledger.application.errors import UnknownPlan, UnknownProject
from capledger.domain import CapitalPlan, Project

from . import readmodel
from .context import ApiContext
from .problems import ApiProblem
from .roles import Caller


class WatchEntryLike(Protocol):
    @property
    def key(self) -> str: ...
    @property
    def investor_code(self) -> str: ...


E = TypeVar("E", bound=WatchEntryLike)


def out_of_scope(what: str) -> ApiProblem:
    return ApiProblem(403, "out-of-scope", f"{what} is outside this key's scope")


def check_project(ctx: ApiContext, caller: Caller, code: str, *, write: bool) -> None:
    """404 (as if unrecorded) unless the project is visible. Writes are judged on the ledger's
    own state; reads on the read model's project row when it has one (no replay of a long
    stream just to check a scope)."""
    if not caller.scoped:
        return
    found = None if write else readmodel.project_scope(ctx.read_model, code)
    if found is None:
        found = ctx.ledger.peek_project(code, _investor_and_province)
    if not caller.covers_project(*found):
        raise UnknownProject(f"no project {code} is recorded")


def check_plan(ctx: ApiContext, caller: Caller, code: str, *, write: bool) -> None:
    """404 (as if unrecorded) unless the plan is visible."""
    if not caller.scoped:
        return
    jurisdiction = None if write else readmodel.plan_jurisdiction(ctx.read_model, code)
    if jurisdiction is None:
        jurisdiction = ctx.ledger.peek_plan(code, _jurisdiction)
    if not caller.covers_jurisdiction(jurisdiction):
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


def check_filter(caller: Caller, *, investor_code: str | None, province: str | None) -> None:
    """403 when a listing names an investor or province outside the key's scope and no other
    filter of it keeps the rows within the scope."""
    if not caller.scoped or (investor_code is None and province is None):
        return
    scope = caller.scope
    if investor_code in scope.investors or province in scope.provinces:
        return
    raise out_of_scope("the filtered investor or province")


def pinned_filter(
    caller: Caller, *, investor_code: str | None, province: str | None
) -> tuple[str | None, str | None]:
    """The investor and province filters a scoped caller's balance query must carry, so that
    its rows are visible projects only.

    A query naming one of the caller's investors or provinces is in scope as it is; one naming
    others is refused (:func:`check_filter`); otherwise, if the scope holds exactly one investor
    or province, the query is pinned to it; otherwise the caller must choose (403
    ``scope-filter-required``). A jurisdiction filter pins nothing: the projects funded from a
    jurisdiction's plans may lie in other provinces.
    """
    if not caller.scoped:
        return investor_code, province
    check_filter(caller, investor_code=investor_code, province=province)
    if investor_code is not None or province is not None:
        return investor_code, province
    scope = caller.scope
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


def check_jurisdiction_filter(caller: Caller, jurisdiction: str | None) -> None:
    """A listing of plans filtered by a jurisdiction outside the scope: 403."""
    if jurisdiction is not None:
        check_jurisdiction(caller, jurisdiction)


def visible_watch_entries(
    ctx: ApiContext, caller: Caller, jurisdiction: str, of_projects: bool, entries: Sequence[E]
) -> list[E]:
    """A watch list's entries the caller may see: of projects, the visible ones; of investors
    (a jurisdiction's aggregates), all of them for a key covering the jurisdiction, else the
    key's own investors'."""
    if not caller.scoped:
        return list(entries)
    if not of_projects:
        if caller.covers_jurisdiction(jurisdiction):
            return list(entries)
        return [entry for entry in entries if entry.investor_code in caller.scope.investors]
    visible = visible_projects(ctx, caller, [entry.key for entry in entries])
    return [entry for entry in entries if entry.key in visible]


def visible_projects(ctx: ApiContext, caller: Caller, codes: Sequence[str]) -> set[str]:
    """Those of these projects the caller may see (each looked up once in the read model)."""
    visible = set()
    for code in set(codes):
        found = readmodel.project_scope(ctx.read_model, code)
        if found is not None and caller.covers_project(*found):
            visible.add(code)
    return visible
