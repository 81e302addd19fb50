"""The list of jurisdictions (reference data) and the one way a query's scope is resolved.

``GET /jurisdictions`` serves the shipped list (``capledger/rules/vn_jurisdictions.json``) with its
hierarchy; a rate or balance named by a jurisdiction at any level counts the plans of every
jurisdiction it holds (:func:`scope_of`). A code the list does not hold answers 404
``unknown-jurisdiction`` before anything is read: the answer depends on the request alone.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from capledger.domain.jurisdictions import Jurisdiction, JurisdictionLevel, UnknownJurisdiction
from capledger.projections.queries import Scope
from capledger.rules.jurisdictions import shipped_jurisdictions

from ..deps import Reader
from ..problems import ApiProblem, problem_responses
from ..routing import ThreadedRoute
from ..types import CODE_PATTERN, Day

router = APIRouter(tags=["jurisdictions"], route_class=ThreadedRoute)

#: 404: the jurisdiction named is not in the list (``GET /jurisdictions``).
UNKNOWN_JURISDICTION = "unknown-jurisdiction"


def members_of(code: str) -> tuple[str, ...]:
    """Every jurisdiction a scope of ``code`` counts (itself, those under it, and their
    predecessors); 404 ``unknown-jurisdiction`` when the list has no ``code``."""
    try:
        return shipped_jurisdictions().members(code)
    except UnknownJurisdiction as error:
        raise ApiProblem(404, UNKNOWN_JURISDICTION, str(error)) from None


def scoped(code: str) -> str | tuple[str, ...]:
    """A balance filter's jurisdiction: the code alone, or every member of a scope above others."""
    members = members_of(code)
    return code if members == (code,) else members


def scope_of(code: str, fiscal_year: int) -> Scope:
    """The scope of a query: the annual plans of ``fiscal_year`` of every member of ``code``."""
    members = members_of(code)
    return Scope(code, fiscal_year, () if members == (code,) else members)


class JurisdictionOut(BaseModel):
    """One jurisdiction of the list."""

    code: str = Field(
        description="The code a plan records as its jurisdiction, and the scope's name in "
        "queries (`HP`, `VN`, `BTC`).",
        examples=["HP"],
    )
    official_code: str | None = Field(
        description="For a province or centrally-run city, its code in the list of "
        "administrative units (mã đơn vị hành chính, General Statistics Office: `31` for Hải "
        "Phòng); null for the country and central bodies.",
        examples=["31"],
    )
    level: JurisdictionLevel = Field(
        description="What the unit is: `country` (cả nước), `municipality` (thành phố trực "
        "thuộc trung ương), `province` (tỉnh), `ministry` (bộ), `ministerial_agency` (cơ quan "
        "ngang bộ), `government_agency` (cơ quan thuộc Chính phủ), `central_unit` (another "
        "central body holding a central-budget plan)."
    )
    name_vi: str = Field(
        description="The official name in Vietnamese.", examples=["Thành phố Hải Phòng"]
    )
    name_en: str = Field(description="The name in English.", examples=["Hai Phong City"])
    parent: str | None = Field(
        description="The code of the jurisdiction above it; null for the country."
    )
    children: list[str] = Field(description="The codes directly under it, in the list's order.")
    valid_from: date = Field(
        description="First day the entry holds (the list's base date, 2008-08-01, for units "
        "that existed before it)."
    )
    valid_to: date | None = Field(
        description="First day it no longer holds (exclusive); null while no end is recorded."
    )
    succeeded_by: list[str] = Field(
        description="The jurisdictions that took it over from `valid_to` (a merger: the "
        "successor's scope counts this one's plans too)."
    )


class JurisdictionList(BaseModel):
    """The list of jurisdictions (the country, its provinces and central bodies) in force."""

    version: int = Field(description="Edition of the list (a new edition of the data file).")
    items: list[JurisdictionOut] = Field(description="The jurisdictions, the country first.")


def jurisdiction_out(entry: Jurisdiction) -> JurisdictionOut:
    return JurisdictionOut(
        code=entry.code,
        official_code=entry.official_code,
        level=entry.level,
        name_vi=entry.name_vi,
        name_en=entry.name_en,
        parent=entry.parent,
        children=shipped_jurisdictions().children(entry.code),
        valid_from=entry.valid_from,
        valid_to=entry.valid_to,
        succeeded_by=list(entry.succeeded_by),
    )


@router.get(
    "/jurisdictions",
    operation_id="jurisdictions",
    summary="The jurisdictions (country, provinces, central ministries and agencies)",
    description="The known list of jurisdictions with their hierarchy: the country (`VN`) over "
    "the 63 provinces and centrally-run cities of 2008–2025 and the central ministries and "
    "agencies that hold central-budget plans. A rate or balance may be asked for any of them; "
    "a scope above others counts the plans of every jurisdiction under it.",
    response_model=JurisdictionList,
    responses=problem_responses(401, 422, 429, 503),
)
def get_jurisdictions(
    caller: Reader,
    on: Annotated[
        Day | None,
        Query(description="Only the jurisdictions that hold on this day (`YYYY-MM-DD`)."),
    ] = None,
    level: Annotated[
        JurisdictionLevel | None, Query(description="Only jurisdictions of this level.")
    ] = None,
) -> JurisdictionList:
    listed = shipped_jurisdictions()
    entries = list(listed) if on is None else listed.valid_on(on)
    if level is not None:
        entries = [entry for entry in entries if entry.level is level]
    return JurisdictionList(
        version=listed.version, items=[jurisdiction_out(entry) for entry in entries]
    )


@router.get(
    "/jurisdictions/{code}",
    operation_id="jurisdiction",
    summary="One jurisdiction, with the codes under it",
    response_model=JurisdictionOut,
    responses=problem_responses(401, 404, 422, 429, 503),
)
def get_jurisdiction(
    code: Annotated[
        str, Path(pattern=CODE_PATTERN, description="The jurisdiction's code, e.g. `HP`.")
    ],
    caller: Reader,
) -> JurisdictionOut:
    members_of(code)  # 404 unknown-jurisdiction
    return jurisdiction_out(shipped_jurisdictions().get(code))
