"""The list of jurisdictions: the shipped data, the hierarchy, successions and the checks."""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Any

import pytest

from capledger.domain.errors import InvalidValue
from capledger.domain.jurisdictions import (
    LOCAL_LEVELS,
    JurisdictionLevel,
    Jurisdictions,
    UnknownJurisdiction,
)
from capledger.rules.jurisdictions import shipped_jurisdictions


def record(code: str, parent: str | None = "VN", **fields: Any) -> dict[str, Any]:
    return {
        "code": code,
        "level": "country" if parent is None else "province",
        "name_vi": f"Tỉnh {code}",
        "name_en": f"{code} Province",
        "parent": parent,
        "valid_from": "2008-08-01",
        **fields,
    }


def document(*records: dict[str, Any]) -> dict[str, Any]:
    return {"version": 1, "jurisdictions": [record("VN", None), *records]}


def test_the_shipped_list_holds_the_63_provinces_of_2008_to_2025_under_the_country() -> None:
    listed = shipped_jurisdictions()
    levels = Counter(entry.level for entry in listed)
    assert levels[JurisdictionLevel.COUNTRY] == 1
    assert levels[JurisdictionLevel.MUNICIPALITY] + levels[JurisdictionLevel.PROVINCE] == 63
    assert levels[JurisdictionLevel.MUNICIPALITY] == 5  # Hà Nội, Hải Phòng, Đà Nẵng, HCMC, Cần Thơ
    local = [entry for entry in listed if entry.level in LOCAL_LEVELS]
    assert all(entry.parent == "VN" for entry in local)
    assert len({entry.official_code for entry in local}) == 63
    assert listed.get("HP").official_code == "31"
    assert listed.get("HP").name_vi == "Thành phố Hải Phòng"
    assert listed.get("HD").official_code == "30"
    assert listed.get("HCM").official_code == "79"


def test_the_shipped_list_holds_the_codes_the_demo_and_tests_record() -> None:
    listed = shipped_jurisdictions()
    for code in ("VN", "HN", "HP", "HCM", "DN", "HNA"):
        assert code in listed


def test_the_shipped_list_holds_the_central_ministries_and_agencies_under_the_country() -> None:
    listed = shipped_jurisdictions()
    central = [entry for entry in listed if entry.level not in LOCAL_LEVELS and entry.parent]
    assert sum(entry.level is JurisdictionLevel.MINISTRY for entry in central) == 18
    assert listed.get("BTC").name_vi == "Bộ Tài chính"
    assert listed.get("BKHDT").parent == "VN"
    assert all(entry.official_code is None for entry in central)


def test_the_country_counts_every_province_and_ministry_and_itself() -> None:
    listed = shipped_jurisdictions()
    members = listed.members("VN")
    assert len(members) == len(listed)
    assert {"VN", "HP", "HCM", "BTC", "BGTVT"} <= set(members)
    assert listed.members("HP") == ("HP",)
    assert "HP" in listed.children("VN")


def test_an_unknown_code_is_an_unknown_jurisdiction() -> None:
    with pytest.raises(UnknownJurisdiction, match="'ZZ'") as raised:
        shipped_jurisdictions().members("ZZ")
    assert raised.value.code == "unknown-jurisdiction"


def test_a_merged_province_counts_in_its_successors_scope_and_keeps_its_own() -> None:
    # How issue #14's 1 July 2025 merger is written: an end date and a successor link.
    listed = Jurisdictions.from_document(
        document(
            record("HP"),
            record("HD", valid_to="2025-07-01", succeeded_by=["HP"]),
            record("QNI"),
        )
    )
    assert listed.members("HP") == ("HD", "HP")
    assert listed.members("HD") == ("HD",)
    assert set(listed.members("VN")) == {"VN", "HP", "HD", "QNI"}
    assert [entry.code for entry in listed.valid_on(date(2025, 7, 1))] == ["VN", "HP", "QNI"]
    assert [entry.code for entry in listed.valid_on(date(2025, 6, 30))] == ["VN", "HP", "HD", "QNI"]


def test_a_chain_of_successions_is_followed_to_the_end() -> None:
    listed = Jurisdictions.from_document(
        document(
            record("A", valid_to="2020-01-01", succeeded_by=["B"]),
            record("B", valid_to="2025-07-01", succeeded_by=["C"]),
            record("C"),
        )
    )
    assert listed.members("C") == ("A", "B", "C")


@pytest.mark.parametrize(
    ("records", "message"),
    [
        ((record("HP"), record("HP")), "listed twice"),
        ((record("HP", parent="XX"),), "unknown parent XX"),
        ((record("HP", succeeded_by=["XX"], valid_to="2025-07-01"),), "unknown successor XX"),
        ((record("HD", succeeded_by=["HP"]), record("HP")), "needs a valid_to"),
        ((record("HP", valid_to="2008-08-01"),), "not after valid_from"),
        ((record("A", parent="B"), record("B", parent="A")), "parents form a cycle"),
        (
            (
                record("A", valid_to="2020-01-01", succeeded_by=["B"]),
                record("B", valid_to="2020-01-01", succeeded_by=["A"]),
            ),
            "successions form a cycle",
        ),
        ((record("HP", level="region"),), "unknown level"),
        ((record(" HP"),), "without surrounding spaces"),
    ],
)
def test_a_broken_list_is_refused_naming_the_entry(
    records: tuple[dict[str, Any], ...], message: str
) -> None:
    with pytest.raises(InvalidValue, match=message):
        Jurisdictions.from_document(document(*records))
