"""Exports over HTTP: CSV for spreadsheets, IATI activities that reconcile with the ledger,
and a Fiscal Data Package of plans and their execution."""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from xml.etree import ElementTree

import pytest

from .support import Harness

pytestmark = pytest.mark.integration

BN = 10**9
SCOPE = {"jurisdiction": "HP", "fiscal_year": 2021}


def test_balances_csv_opens_in_a_spreadsheet(hai_phong: Harness) -> None:
    response = hai_phong.get("/exports/balances.csv", by="investor")
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    assert response.text.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(response.text.lstrip("\ufeff"))))
    assert {row["investor"] for row in rows} == {"BQL-GT", "BQL-NN", "UBND-HB", "BQL-YT"}
    assert sum(int(row["disbursed"]) for row in rows) == 6_000 * BN
    plain = hai_phong.get("/exports/balances.csv", bom=False)
    assert plain.text.startswith("project,")


def test_watch_list_csv(hai_phong: Harness) -> None:
    response = hai_phong.get("/exports/watch-list.csv", **SCOPE, threshold_percent=60, bom=False)
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert rows and all(float(row["rate_percent"]) < 60 for row in rows)


def iati_by_type(activity: dict[str, object]) -> dict[str, int]:
    totals: dict[str, int] = defaultdict(int)
    for transaction in activity["transactions"]:  # type: ignore[attr-defined]
        totals[transaction["transaction_type"]["code"]] += int(transaction["value"]["amount"])
    return totals


def test_iati_transactions_reconcile_with_the_ledger(hai_phong: Harness) -> None:
    page = hai_phong.get("/exports/iati/activities", **SCOPE).json()
    assert page["total"] == 4
    activities = {a["capledger"]["project_code"]: a for a in page["activities"]}
    for code, activity in activities.items():
        state = hai_phong.get(f"/projects/{code}").json()["totals"]
        totals = iati_by_type(activity)
        assert totals["11"] == int(state["capital"]) - int(state["lapsed"]), code
        assert totals["1"] == int(state["disbursed"]), code
        spent = totals["4"] + totals["3"]
        assert totals["1"] - spent == int(state["advances_outstanding"]), code
    first = activities["HP-001"]
    assert first["iati_identifier"] == "VN-HP-HP-001"
    assert first["default_currency"] == "VND"
    advance = next(t for t in first["transactions"] if t["capledger"].get("advance"))
    assert advance["transaction_type"]["code"] == "1"
    contract = next(t for t in first["transactions"] if t["transaction_type"]["code"] == "2")
    assert contract["receiver_org"]["name"] == "Tổng công ty Xây dựng Bạch Đằng"
    for transaction in first["transactions"]:
        assert transaction["value"]["currency"] == "VND"
        assert transaction["value"]["value_date"] == transaction["transaction_date"]["iso_date"]


def test_iati_corrections_are_negative_on_the_reversal_date(hai_phong: Harness) -> None:
    page = hai_phong.get("/exports/iati/activities", **SCOPE).json()
    dike = next(a for a in page["activities"] if a["capledger"]["project_code"] == "HP-002")
    corrections = [t for t in dike["transactions"] if t["capledger"].get("correction")]
    assert {t["transaction_type"]["code"] for t in corrections} == {"1", "3"}
    assert all(int(t["value"]["amount"]) == -300 * BN for t in corrections)
    assert all(t["transaction_date"]["iso_date"] == "2021-06-15" for t in corrections)


def test_iati_xml_and_pages(hai_phong: Harness) -> None:
    xml = hai_phong.get("/exports/iati/activities", **SCOPE, format="xml")
    assert xml.headers["content-type"].startswith("application/xml")
    root = ElementTree.fromstring(xml.content)
    assert root.tag == "iati-activities"
    activities = root.findall("iati-activity")
    assert len(activities) == 4
    values = activities[0].findall("transaction/value")
    assert values and all(value.get("currency") == "VND" for value in values)
    first = hai_phong.get("/exports/iati/activities", **SCOPE, limit=3).json()
    assert first["next_offset"] == 3
    rest = hai_phong.get("/exports/iati/activities", **SCOPE, limit=3, offset=3).json()
    assert rest["next_offset"] is None and len(rest["activities"]) == 1


def test_fiscal_data_package(hai_phong: Harness) -> None:
    base = "/exports/fdp/HP/2021"
    package = hai_phong.get(f"{base}/datapackage.json").json()
    assert package["profile"] == "fiscal-data-package"
    assert package["model"]["measures"]["amount"]["currency"] == "VND"
    assert [resource["path"] for resource in package["resources"]] == ["plans.csv", "projects.csv"]
    json.dumps(package)
    plans = list(csv.DictReader(io.StringIO(hai_phong.get(f"{base}/plans.csv").text)))
    city = [row for row in plans if row["plan_code"] == "HP-2021-HDND"]
    assert {row["phase"] for row in city} == {"approved", "adjusted"}
    assert {row["currency"] for row in plans} == {"VND"}
    approved = sum(int(row["amount"]) for row in city if row["phase"] == "approved")
    assert approved == 13_609 * BN
    projects = list(csv.DictReader(io.StringIO(hai_phong.get(f"{base}/projects.csv").text)))
    executed = sum(int(row["amount"]) for row in projects if row["phase"] == "executed")
    assert executed == 6_000 * BN
    adjusted = {(row["project_code"], row["capital_source"]) for row in projects
                if row["phase"] == "adjusted"}  # fmt: skip
    assert ("HP-004", "local_budget") in adjusted
    assert {row["phase"] for row in projects} <= {"approved", "adjusted", "executed"}
