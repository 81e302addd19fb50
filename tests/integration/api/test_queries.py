"""Queries over HTTP on Hải Phòng 2021: rates against both plans as of 20 June, the late entry,
exclusions, the S-curve, bunching, watch lists, balances with filters, sorting, pages, as-of."""

from __future__ import annotations

import pytest

from .support import Harness

pytestmark = pytest.mark.integration

BN = 10**9
CITY = "HP-2021-HDND"
PM = "HP-2021-TTg"
SCOPE = {"jurisdiction": "HP", "fiscal_year": 2021}


def rates(api: Harness, **params: object) -> dict[str, dict[str, object]]:
    response = api.get("/rates", **SCOPE, **params)
    assert response.status_code == 200, response.text
    return {entry["plan_code"]: entry for entry in response.json()["rates"]}


def test_to_20_june_the_same_disbursement_is_33_8_and_63_1_percent(hai_phong: Harness) -> None:
    found = hai_phong.get("/rates", **SCOPE, as_of="2021-06-20", plan=[CITY, PM]).json()
    assert found["disbursed"] == str(4_600 * BN)
    city, prime_minister = found["rates"]
    assert (city["plan_code"], city["rate"]["percent"]) == (CITY, "33.8")
    assert (prime_minister["plan_code"], prime_minister["rate"]["percent"]) == (PM, "63.1")
    assert city["envelope"] == str(13_609 * BN)
    assert found["as_of"] == {"effective": "2021-06-20", "known": "2021-06-20"}


def test_the_late_entry_counts_once_known(hai_phong: Harness) -> None:
    later = rates(hai_phong, as_of="2021-06-20", known="2021-07-31", plan=PM)
    assert later[PM]["rate"]["percent"] == "65.8"
    late = hai_phong.get("/late-entries", **SCOPE).json()
    assert late["page"]["total"] == 1
    entry = late["items"][0]
    assert (entry["project_code"], entry["amount"], entry["lateness_days"]) == (
        "HP-003",
        str(200 * BN),
        35,
    )


def test_all_annual_plans_are_denominators_when_none_is_named(hai_phong: Harness) -> None:
    found = rates(hai_phong)
    assert set(found) == {CITY, PM}
    assert found[CITY]["plan_version"] == 3
    assert found[CITY]["rate"]["percent"] == "43.2"


def test_named_versions_exclusions_and_places(hai_phong: Harness) -> None:
    assert rates(hai_phong, plan=f"{CITY}@2")[CITY]["envelope"] == str(13_790 * BN)
    extended = rates(hai_phong, plan=PM, exclude_extended=True, places=2)[PM]
    assert extended["excluded_extended"] == str(400 * BN)
    assert extended["denominator"] == str(6_890 * BN)
    assert extended["rate"]["percent"] == "87.08"
    late = rates(hai_phong, plan=CITY, added_after="2021-09-30")[CITY]
    assert late["excluded_added_late"] == str(100 * BN)


def test_unknown_plan_or_version_is_404(hai_phong: Harness) -> None:
    for plan, code in (("NOPE", "unknown-plan"), (f"{CITY}@9", "not-found")):
        response = hai_phong.get("/rates", **SCOPE, plan=plan)
        assert response.status_code == 404
        assert response.json()["code"] == code
    unknown_scope = hai_phong.get("/rates", jurisdiction="XX", fiscal_year=2021)
    assert unknown_scope.status_code == 404
    assert unknown_scope.json()["code"] == "unknown-jurisdiction"


def test_monthly_series_and_bunching(hai_phong: Harness) -> None:
    series = hai_phong.get("/rates/monthly", **SCOPE, plan=PM).json()
    months = {point["month"]: point for point in series["points"]}
    assert set(months) >= {f"2021-{month:02d}" for month in range(1, 13)}
    assert months["2021-12"]["cumulative"] == str(6_000 * BN)
    assert (
        months["2021-06"]["cumulative_rate"]["denominator"] == series["denominator"]["denominator"]
    )
    bunching = hai_phong.get("/rates/bunching", **SCOPE).json()
    assert bunching["in_year"] == str(6_000 * BN)
    assert len(bunching["quarters"]) == 4
    assert sum(int(quarter) for quarter in bunching["quarters"]) == 6_000 * BN


def test_watch_lists_of_projects_and_investors(hai_phong: Harness) -> None:
    projects = hai_phong.get("/watch-list", **SCOPE, threshold_percent=60).json()
    assert projects["reference_rate"] == "0.6"
    codes = [entry["key"] for entry in projects["entries"]]
    assert "HP-004" in codes
    rates_in_order = [float(entry["rate"]["rate"]) for entry in projects["entries"]]
    assert rates_in_order == sorted(rates_in_order)
    investors = hai_phong.get("/watch-list", **SCOPE, level="investor").json()
    assert investors["reference_is_scope_average"] is True
    assert all(entry["projects"] >= 1 for entry in investors["entries"])


def test_balances_by_every_dimension_add_up(hai_phong: Harness) -> None:
    totals = set()
    for dimension in ("project", "plan", "source", "investor", "program", "sector", "province"):
        page = hai_phong.get("/balances", by=dimension, limit=100).json()
        totals.add(sum(int(item["disbursed"]) for item in page["items"]))
    assert totals == {6_000 * BN}


def test_balances_sorted_paged_filtered_and_as_of(hai_phong: Harness) -> None:
    by_rate = hai_phong.get("/balances", by="project", sort="rate", order="desc").json()
    ordered = [item["key"] for item in by_rate["items"]]
    second = hai_phong.get(
        "/balances", by="project", sort="rate", order="desc", limit=1, offset=1
    ).json()
    assert [item["key"] for item in second["items"]] == ordered[1:2]
    assert second["page"] == {"total": 4, "limit": 1, "offset": 1, "next_offset": 2}
    local = hai_phong.get("/balances", by="project", source="local_budget").json()
    assert {item["key"] for item in local["items"]} == {"HP-001", "HP-002", "HP-003", "HP-004"}
    june = hai_phong.get("/balances", by="plan", as_of="2021-06-20").json()
    assert sum(int(item["disbursed"]) for item in june["items"]) == 4_600 * BN


def test_changes_between_two_dates(hai_phong: Harness) -> None:
    changes = hai_phong.get(
        "/balances/changes", by="project", **{"from": "2021-06-20", "to": "2021-12-31"}
    ).json()
    disbursed = sum(int(item["change"]["disbursed"]) for item in changes["items"])
    assert disbursed == (6_000 - 4_600) * BN
    cut = {item["key"]: item["change"]["cut"] for item in changes["items"]}
    assert cut["HP-004"] == str(1_200 * BN)


def test_plans_versions_capital_and_adjustments(hai_phong: Harness) -> None:
    plans = hai_phong.get("/plans", jurisdiction="HP", fiscal_year=2021).json()
    assert [plan["plan_code"] for plan in plans] == [CITY, PM]
    versions = hai_phong.get(f"/plans/{CITY}/versions").json()
    assert [version["total"] for version in versions] == [
        str(13_609 * BN),
        str(13_790 * BN),
        str(13_890 * BN),
    ]
    capital = hai_phong.get(f"/plans/{CITY}/capital").json()
    for line in capital:
        assert int(line["allocated"]) + int(line["unallocated"]) == int(line["envelope"])
    counts = hai_phong.get("/plans-adjustments", jurisdiction="HP").json()
    assert counts == [{"plan_code": CITY, "jurisdiction": "HP", "year": 2021, "adjustments": 2}]


def test_as_of_validation_names_the_field(hai_phong: Harness) -> None:
    response = hai_phong.get("/rates", **SCOPE, known="2021-07-01")
    assert response.status_code == 422
    assert response.json()["code"] == "validation-error"
    far = hai_phong.get("/rates", **SCOPE, as_of="9999-12-31")
    assert far.status_code == 422
    assert any("as_of" in error["field"] for error in far.json()["errors"])
