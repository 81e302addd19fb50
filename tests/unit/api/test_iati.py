"""The IATI mapping of a project's events: commitments, funds, expenditure, disbursement,
corrections; what reconciles with the ledger's own figures."""

from __future__ import annotations

from typing import Any
from uuid import uuid4
from xml.etree import ElementTree

import pytest

from capledger.api import fdp, iati
from capledger.application.published import PublishedEvent

pytestmark = pytest.mark.unit

STREAM = uuid4()


def event(version: int, name: str, **data: Any) -> PublishedEvent:
    return PublishedEvent(
        position=version,
        stream=STREAM,
        stream_version=version,
        topic=f"capledger.domain.project:Project.{name}",
        name=f"Project.{name}",
        class_version=1,
        subject="project:P-1",
        recorded_at="2025-03-01T03:00:00+00:00",
        data=data,
        meta={},
        hash="h",
        prev="p",
    )


def line(**data: Any) -> dict[str, Any]:
    return {"plan_code": "PL", "source": "central_budget", **data}


EVENTS = [
    event(2, "CapitalAllocated", amount=1_000, effective_on="2025-01-02", **line()),
    event(
        3,
        "ContractSigned",
        contract_no="K1",
        contractor="Cienco",
        value=900,
        effective_on="2025-01-10",
    ),
    event(
        4,
        "AdvancePaid",
        contract_no="K1",
        amount=200,
        from_extension=False,
        treasury_ref="T1",
        effective_on="2025-01-20",
        **line(),
    ),
    event(
        5,
        "CompletedWorkPaid",
        contract_no="K1",
        amount=300,
        advance_recovered=100,
        from_extension=False,
        treasury_ref="T2",
        effective_on="2025-03-01",
        **line(),
    ),
    event(
        6,
        "CompletedWorkPaid",
        contract_no=None,
        amount=50,
        advance_recovered=0,
        from_extension=False,
        treasury_ref="T3",
        effective_on="2025-03-02",
        **line(),
    ),
    event(7, "EntryReversed", entry_version=6, reason="wrong", effective_on="2025-03-03"),
    event(8, "AllocationCut", amount=100, reason="slow", effective_on="2025-04-01", **line()),
    event(
        9, "CapitalTransferredOut", amount=50, to_project="P-2", effective_on="2025-05-01", **line()
    ),
]


def totals(found: list[iati.Transaction]) -> dict[str, int]:
    sums: dict[str, int] = {}
    for transaction in found:
        sums[transaction.type_code] = sums.get(transaction.type_code, 0) + transaction.amount
    return sums


def test_each_movement_has_its_transaction_type() -> None:
    found = iati.transactions("P-1", EVENTS, {"PL": "provincial_council"})
    assert totals(found) == {
        "11": 1_000 - 100 - 50,
        "2": 900,
        "1": 200 + (300 - 100) + 50 - 50,
        "4": 300,
        "3": 50 - 50,
    }


def test_funds_less_spending_is_the_advance_still_out() -> None:
    found = totals(iati.transactions("P-1", EVENTS, {}))
    assert found["1"] - found["4"] - found["3"] == 200 - 100


def test_a_correction_is_negative_on_its_own_date() -> None:
    found = iati.transactions("P-1", EVENTS, {})
    corrections = [t for t in found if t.extension.get("correction")]
    assert [(t.type_code, t.amount, t.date) for t in corrections] == [
        ("1", -50, "2025-03-03"),
        ("3", -50, "2025-03-03"),
    ]
    assert corrections[0].extension["reverses"] == 6


def test_advances_have_no_outgoing_code() -> None:
    found = iati.transactions("P-1", EVENTS, {})
    advance = [t for t in found if t.extension.get("advance")]
    assert [(t.type_code, t.amount) for t in advance] == [("1", 200)]


def test_xml_is_iati_activities_with_vnd_values() -> None:
    project = {
        "project_code": "P-1",
        "name": "Cầu",
        "province": "HN",
        "status": "slow",
        "investor_code": "BQL",
        "investor_name": "Ban QLDA",
        "sector": "transport",
        "program": "",
        "total_investment": 10**16,
    }
    activity = iati.activity_json(project, iati.transactions("P-1", EVENTS, {}))
    root = ElementTree.fromstring(iati.activities_xml([activity], "2025-06-01T00:00:00+00:00"))
    node = root.find("iati-activity")
    assert node is not None and node.findtext("iati-identifier") == "VN-HN-P-1"
    value = node.find("transaction/value")
    assert value is not None and value.get("currency") == "VND"
    assert value.get("value-date") == "2025-01-02"


def test_the_fiscal_data_package_names_its_phases_and_currency() -> None:
    package = fdp.datapackage("HP", 2021, "2025-01-01T00:00:00+00:00")
    plans = package["resources"][0]["schema"]["fields"]
    phase = next(field for field in plans if field["name"] == "phase")
    assert phase["constraints"]["enum"] == ["proposed", "approved", "adjusted", "executed"]
    assert package["model"]["measures"]["amount"]["currency"] == "VND"
    text = fdp.rows_csv(fdp.PLAN_FIELDS, [])
    assert text.startswith("plan_code,plan_title,")
