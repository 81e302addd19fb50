"""National and multi-level scope over HTTP: the list of jurisdictions, a country-wide rate over
two provinces' and a ministry's plans, balances of a scope, unknown jurisdictions.

2021, in billion VND. Plans assigned by the Prime Minister: Hải Phòng 1,000, Hải Dương 500, the
Ministry of Transport 2,000 (3,500 in all); Hải Phòng's council assigned 1,600 (the Prime
Minister's 1,000 plus 600 local). Paid: 301 in Hải Phòng (from the council's plan), 150 in Hải
Dương, 600 by the ministry: 1,051. The country-wide rate against the Prime Minister's plans is
1,051 / 3,500 = 30.0285714…%; against the councils' plans 1,051 / 1,600 = 65.6875%.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from builders import fresh_postgres_schema, sqlite_settings
from conftest import STORES

from capledger.settings import Persistence, Settings, StoreSettings

from .support import BILLION, Harness, api_settings_for, harness

pytestmark = pytest.mark.integration

YEAR = 2021
PM = "prime_minister"
COUNCIL = "provincial_council"
#: code, jurisdiction, authority, central envelope, local envelope (billion VND)
PLANS = [
    ("HP-2021-TTG", "HP", PM, 1_000, 0),
    ("HP-2021-HDND", "HP", COUNCIL, 1_000, 600),
    ("HD-2021-TTG", "HD", PM, 500, 0),
    ("BGTVT-2021-TTG", "BGTVT", PM, 2_000, 0),
    ("HN-2022-TTG", "HN", PM, 900, 0),  # another year: never in a 2021 scope
]
#: project, its plan, allocated, paid (billion VND)
PROJECTS = [
    ("HP-CAU-01", "HP-2021-HDND", 800, 301),
    ("HD-DUONG-01", "HD-2021-TTG", 400, 150),
    ("GT-CAO-TOC-01", "BGTVT-2021-TTG", 1_500, 600),
]
DISBURSED = (301 + 150 + 600) * BILLION
PM_TOTAL = (1_000 + 500 + 2_000) * BILLION
COUNCIL_TOTAL = 1_600 * BILLION


def decision(number: str, on: str) -> dict[str, str]:
    return {"decision_no": number, "decision_date": on, "decision_issuer": "Thủ tướng Chính phủ"}


def record(api: Harness) -> None:
    for code, jurisdiction, authority, central, local in PLANS:
        year = int(code.split("-")[1])
        envelopes = {"central_budget": str(central * BILLION)}
        if local:
            envelopes["local_budget"] = str(local * BILLION)
        api.command("/plans", {
            "code": code, "title": f"Kế hoạch vốn năm {year}", "kind": "annual",
            "authority": authority, "jurisdiction": jurisdiction, "start_year": year,
            "end_year": year, "envelopes": envelopes, "effective_on": f"{year}-01-01",
            **decision(f"{code}/QĐ", f"{year - 1}-12-01"),
        })  # fmt: skip
    for project, plan, allocated, paid in PROJECTS:
        api.command("/projects", {
            "code": project, "name": f"Dự án {project}", "investor_code": f"BQLDA-{project}",
            "investor_name": f"Ban QLDA {project}", "program": "", "sector": "transport",
            "province": project.split("-")[0], "total_investment": str(5_000 * BILLION),
            "effective_on": "2020-06-01", **decision(f"{project}/QĐ", "2020-06-01"),
        })  # fmt: skip
        api.command(f"/projects/{project}/allocations", {
            "plan_code": plan, "source": "central_budget", "amount": str(allocated * BILLION),
            "effective_on": "2021-01-05", **decision(f"{project}/GV", "2021-01-05"),
        })  # fmt: skip
        api.command(f"/projects/{project}/payments", {
            "plan_code": plan, "source": "central_budget", "amount": str(paid * BILLION),
            "treasury_ref": f"KBNN-{project}", "effective_on": "2021-06-01",
        })  # fmt: skip


@pytest.fixture(scope="module", params=STORES)
def national(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Harness]:
    """One ledger recording the scenario, shared by the module's tests (they only read)."""
    directory: Path = tmp_path_factory.mktemp("national")
    if request.param == "sqlite":
        with recorded(sqlite_settings(directory / "store"), directory) as api:
            yield api
        return
    base = Settings(store=StoreSettings(persistence=Persistence.POSTGRES))
    with fresh_postgres_schema(base) as store, recorded(store, directory) as api:
        yield api


class recorded:  # noqa: N801 - used as a context manager, like contextlib's
    def __init__(self, store: Settings, directory: Path) -> None:
        settings, api_settings = api_settings_for(store, directory)
        self._harness = harness(settings, api_settings)

    def __enter__(self) -> Harness:
        api = self._harness.__enter__()
        record(api)
        return api

    def __exit__(self, *exc: Any) -> None:
        self._harness.__exit__(*exc)


def rates(api: Harness, **params: Any) -> dict[str, Any]:
    response = api.get("/rates", fiscal_year=YEAR, **params)
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def test_the_country_wide_rate_sums_the_prime_ministers_plans_of_provinces_and_ministries(
    national: Harness,
) -> None:
    found = rates(national, jurisdiction="VN", authority=PM, places=4)
    assert found["disbursed"] == str(DISBURSED)
    (summed,) = found["by_authority"]
    assert summed["authority"] == PM
    assert summed["plans"] == ["BGTVT-2021-TTG@1", "HD-2021-TTG@1", "HP-2021-TTG@1"]
    assert summed["envelope"] == summed["denominator"] == str(PM_TOTAL)
    assert (summed["rate"]["numerator"], summed["rate"]["denominator"]) == (
        str(DISBURSED),
        str(PM_TOTAL),
    )
    assert summed["rate"]["percent"] == "30.0286"  # 1,051 / 3,500
    assert found["rates"] == []  # no plan is named, and the country records none of its own


def test_without_a_named_plan_every_authority_of_the_scope_is_summed(national: Harness) -> None:
    found = rates(national, jurisdiction="VN")
    summed = {entry["authority"]: entry for entry in found["by_authority"]}
    assert set(summed) == {PM, COUNCIL}
    assert summed[COUNCIL]["denominator"] == str(COUNCIL_TOTAL)
    assert summed[COUNCIL]["rate"]["percent"] == "65.7"  # 1,051 / 1,600
    assert summed[PM]["rate"]["percent"] == "30.0"


def test_a_province_scope_counts_its_own_plans_only(national: Harness) -> None:
    found = rates(national, jurisdiction="HP", authority=[PM, COUNCIL])
    assert found["disbursed"] == str(301 * BILLION)
    assert found["rates"] == []  # an authority is named, no plan
    percents = {entry["authority"]: entry["rate"]["percent"] for entry in found["by_authority"]}
    assert percents == {PM: "30.1", COUNCIL: "18.8"}


def test_a_named_plan_within_the_scope_is_a_denominator_and_one_outside_is_refused(
    national: Harness,
) -> None:
    found = rates(national, jurisdiction="VN", plan="HD-2021-TTG")
    (entry,) = found["rates"]
    assert entry["denominator"] == str(500 * BILLION)
    assert found["by_authority"] == []
    outside = national.get("/rates", jurisdiction="HP", fiscal_year=YEAR, plan="HD-2021-TTG")
    assert outside.status_code == 422
    assert outside.json()["code"] == "plan-outside-scope"


def test_balances_of_a_scope_hold_the_lines_of_every_plan_under_it(national: Harness) -> None:
    page = national.get("/balances", by="jurisdiction", jurisdiction="VN", fiscal_year=YEAR)
    assert page.status_code == 200, page.text
    disbursed = {item["key"]: int(item["disbursed"]) for item in page.json()["items"]}
    assert disbursed == {"BGTVT": 600 * BILLION, "HD": 150 * BILLION, "HP": 301 * BILLION}
    hai_phong = national.get("/balances", by="plan", jurisdiction="HP").json()
    assert [item["key"] for item in hai_phong["items"]] == ["HP-2021-HDND"]


def test_plans_and_projects_of_a_scope_are_those_of_every_jurisdiction_under_it(
    national: Harness,
) -> None:
    country = national.get("/plans", jurisdiction="VN", fiscal_year=YEAR)
    assert country.status_code == 200, country.text
    assert [plan["plan_code"] for plan in country.json()] == sorted(
        code for code, *_ in PLANS if code.split("-")[1] == str(YEAR)
    )
    ministry = national.get("/plans", jurisdiction="BGTVT").json()
    assert [plan["plan_code"] for plan in ministry] == ["BGTVT-2021-TTG"]
    projects = national.get("/projects", jurisdiction="VN", fiscal_year=YEAR).json()["items"]
    assert sorted(item["project_code"] for item in projects) == sorted(p for p, *_ in PROJECTS)
    hai_duong = national.get("/projects", jurisdiction="HD").json()["items"]
    assert [item["project_code"] for item in hai_duong] == ["HD-DUONG-01"]


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/rates", {"jurisdiction": "ZZ", "fiscal_year": YEAR}),
        ("/rates/monthly", {"jurisdiction": "ZZ", "fiscal_year": YEAR}),
        ("/balances", {"jurisdiction": "ZZ"}),
        ("/balances/changes", {"jurisdiction": "ZZ", "from": "2021-01-01", "to": "2021-12-31"}),
        ("/plans", {"jurisdiction": "ZZ"}),
        ("/projects", {"jurisdiction": "ZZ"}),
        ("/plans-adjustments", {"jurisdiction": "ZZ"}),
        ("/watch-list", {"jurisdiction": "ZZ", "fiscal_year": YEAR}),
        ("/late-entries", {"jurisdiction": "ZZ", "fiscal_year": YEAR}),
        ("/exports/iati/activities", {"jurisdiction": "ZZ"}),
        ("/exports/fdp/ZZ/2021/datapackage.json", {}),
        ("/exports/fdp/ZZ/2021/plans.csv", {}),
        ("/exports/fdp/ZZ/2021/projects.csv", {}),
        ("/jurisdictions/ZZ", {}),
    ],
)
def test_an_unknown_jurisdiction_is_404_unknown_jurisdiction(
    national: Harness, path: str, params: dict[str, Any]
) -> None:
    response = national.get(path, **params)
    assert response.status_code == 404
    problem = response.json()
    assert problem["code"] == "unknown-jurisdiction"
    assert problem["type"].endswith("/unknown-jurisdiction")
    assert "'ZZ'" in problem["detail"]


def test_a_country_scope_is_outside_a_province_officers_key(national: Harness) -> None:
    response = national.get(
        "/rates", jurisdiction="VN", fiscal_year=YEAR, headers=national.province_officer
    )
    assert response.status_code == 403
    assert response.json()["code"] == "out-of-scope"


def test_the_list_of_jurisdictions_has_the_hierarchy(national: Harness) -> None:
    listed = national.get("/jurisdictions").json()
    items = {item["code"]: item for item in listed["items"]}
    assert listed["items"][0]["code"] == "VN"
    assert len([item for item in items.values() if item["official_code"]]) == 63
    assert items["HP"] == {
        "code": "HP", "official_code": "31", "level": "municipality",
        "name_vi": "Thành phố Hải Phòng", "name_en": "Hai Phong City", "parent": "VN",
        "children": [], "valid_from": "2008-08-01", "valid_to": None, "succeeded_by": [],
    }  # fmt: skip
    assert {"HP", "HD", "BGTVT", "BTC"} <= set(items["VN"]["children"])
    ministries = national.get("/jurisdictions", level="ministry").json()["items"]
    assert len(ministries) == 18
    assert national.get("/jurisdictions", on="2021-06-20").json()["items"] == listed["items"]
    assert national.get("/jurisdictions/BGTVT").json()["name_vi"] == "Bộ Giao thông vận tải"


def test_the_document_lists_the_scope_parameters_and_the_404(national: Harness) -> None:
    document = national.client.get("/openapi.json").json()
    rates_operation = document["paths"]["/rates"]["get"]
    names = {parameter["name"] for parameter in rates_operation["parameters"]}
    assert {"jurisdiction", "authority"} <= names
    assert "404" in rates_operation["responses"]
    assert "404" in document["paths"]["/jurisdictions/{code}"]["get"]["responses"]
