"""Rates of a scope above one jurisdiction: the numerator over every member's annual plans, and
denominators summed over one kind of plan (one authority's), as of a date, less exclusions.

Read from a read model holding the rows directly (a SQLite file): plans, their versions and
envelopes, and disbursement movements. Amounts in billion VND.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from capledger.projections import ReadModelStore
from capledger.projections.queries import (
    AsOf,
    Denominator,
    Exclusions,
    PlanOutsideScope,
    Scope,
    disbursement_rates,
    scope_rates,
)
from capledger.projections.queries.sql import scope_condition
from capledger.projections.rows import (
    MovementRow,
    PlanEnvelopeRow,
    PlanRow,
    PlanVersionRow,
    Row,
)

pytestmark = pytest.mark.unit

BN = 10**9
PM = "prime_minister"
COUNCIL = "provincial_council"
VN = Scope("VN", 2021, ("BGTVT", "HD", "HN", "HP", "VN"))


def plan(code: str, jurisdiction: str, authority: str, year: int = 2021) -> PlanRow:
    return PlanRow(code, code, "annual", authority, jurisdiction, year, year, None, 1,
                   f"{year}-01-01")  # fmt: skip


def version(
    code: str, number: int, envelopes: dict[str, int], *, on: str, recorded: str | None = None
) -> list[Row]:
    recorded = recorded or on
    total = sum(envelopes.values()) * BN
    stamp = f"{recorded}T00:00:00.000000Z"
    rows: list[Row] = [
        PlanVersionRow(code, number, on, stamp, recorded, "QĐ", on, "TTg", None, total, number)
    ]
    rows += [PlanEnvelopeRow(code, number, source, bn * BN) for source, bn in envelopes.items()]
    return rows


def movement(position: int, plan_code: str, kind: str, amount: int, on: str) -> MovementRow:
    stamp = f"{on}T00:00:00.000000Z"
    return MovementRow(
        position, 0, f"P-{plan_code}", plan_code, "central_budget", 2021, kind, amount * BN, on,
        stamp, on, 0, False, False, None, "INV",
    )  # fmt: skip


ROWS: list[Row] = [
    plan("HP-TTG", "HP", PM),
    *version("HP-TTG", 1, {"central_budget": 1_000}, on="2021-01-01"),
    plan("HP-HDND", "HP", COUNCIL),
    *version("HP-HDND", 1, {"central_budget": 1_000, "local_budget": 600}, on="2021-01-01"),
    plan("HD-TTG", "HD", PM),
    *version("HD-TTG", 1, {"central_budget": 500}, on="2021-01-01"),
    # raised by 300 on 1 October, recorded then: not known on 20 June, late in the year
    *version("HD-TTG", 2, {"central_budget": 800}, on="2021-10-01"),
    plan("BGTVT-TTG", "BGTVT", PM),
    # approved on 1 July: no version known on 20 June
    *version("BGTVT-TTG", 1, {"central_budget": 2_000}, on="2021-07-01"),
    plan("HN-TTG-2022", "HN", PM, 2022),
    *version("HN-TTG-2022", 1, {"central_budget": 900}, on="2022-01-01"),
    movement(1, "HP-HDND", "disbursed", 301, "2021-05-01"),
    movement(2, "HD-TTG", "disbursed", 150, "2021-06-01"),
    movement(3, "BGTVT-TTG", "disbursed", 600, "2021-08-01"),
    movement(4, "BGTVT-TTG", "extended", 100, "2022-01-31"),
    movement(5, "HN-TTG-2022", "disbursed", 50, "2022-03-01"),
]


@pytest.fixture(scope="module")
def read_model(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReadModelStore]:
    path: Path = tmp_path_factory.mktemp("scoped") / "read-model.sqlite3"
    store = ReadModelStore.sqlite(path)
    store.initialise()
    with store.writer() as writer:
        writer.put(ROWS)
    yield store
    store.close()


def test_the_country_sums_the_prime_ministers_plans_of_every_member(
    read_model: ReadModelStore,
) -> None:
    found = scope_rates(read_model, VN, [], authorities=[PM])
    (summed,) = found.summed
    assert found.disbursed == (301 + 150 + 600) * BN  # every member's 2021 annual plans
    assert summed.plans == (("BGTVT-TTG", 1), ("HD-TTG", 2), ("HP-TTG", 1))
    assert summed.envelope == (2_000 + 800 + 1_000) * BN
    assert (summed.ratio.numerator, summed.ratio.denominator) == (1_051 * BN, 3_800 * BN)


def test_every_authority_of_the_scope_when_none_is_chosen(read_model: ReadModelStore) -> None:
    found = scope_rates(read_model, VN, [], authorities=None)
    # in order of the authority's code
    assert [(rate.authority, rate.envelope) for rate in found.summed] == [
        (PM, 3_800 * BN),
        (COUNCIL, 1_600 * BN),
    ]
    assert scope_rates(read_model, VN, [], authorities=[]).summed == []


def test_as_of_a_date_each_plan_counts_at_the_version_known_then(
    read_model: ReadModelStore,
) -> None:
    found = scope_rates(read_model, VN, [], authorities=[PM], as_of=AsOf.on(date_("2021-06-20")))
    (summed,) = found.summed
    # The ministry's plan was not approved yet; Hải Dương's stood at its first version.
    assert summed.plans == (("HD-TTG", 1), ("HP-TTG", 1))
    assert summed.envelope == 1_500 * BN
    assert found.disbursed == 451 * BN


def test_exclusions_are_summed_over_the_plans(read_model: ReadModelStore) -> None:
    late = scope_rates(
        read_model, VN, [], authorities=[PM], exclusions=Exclusions(added_after=date_("2021-09-30"))
    ).summed[0]
    assert late.excluded_added_late == 300 * BN
    assert late.denominator == 3_500 * BN
    extended = scope_rates(
        read_model, VN, [], authorities=[PM], exclusions=Exclusions(extended=True)
    ).summed[0]
    assert extended.excluded_extended == 100 * BN
    assert extended.denominator == 3_700 * BN


def test_a_province_scope_is_its_own_plans_alone(read_model: ReadModelStore) -> None:
    hai_phong = Scope("HP", 2021)
    found = scope_rates(read_model, hai_phong, [Denominator("HP-TTG")], authorities=[PM, COUNCIL])
    assert found.disbursed == 301 * BN
    assert [rate.envelope for rate in found.summed] == [1_000 * BN, 1_600 * BN]
    assert found.rates[0].envelope == 1_000 * BN


def test_a_plan_outside_every_member_is_refused(read_model: ReadModelStore) -> None:
    provinces = Scope("VN", 2021, ("HD", "HP"))
    with pytest.raises(PlanOutsideScope, match="BGTVT-TTG is a plan of BGTVT, not within VN"):
        disbursement_rates(read_model, provinces, [Denominator("BGTVT-TTG")])


def test_one_jurisdiction_is_an_equality_and_a_scope_above_it_an_in_list() -> None:
    params: dict[str, object] = {}
    assert scope_condition(Scope("HP", 2021), params).startswith("pl.jurisdiction = :jurisdiction")
    assert params["jurisdiction"] == "HP"
    params = {}
    condition = scope_condition(Scope("VN", 2021, ("HP", "VN")), params)
    assert condition.startswith("pl.jurisdiction IN (:jurisdiction0, :jurisdiction1)")
    assert (params["jurisdiction0"], params["jurisdiction1"]) == ("HP", "VN")


def date_(text: str) -> date:
    return date.fromisoformat(text)


def test_a_country_scope_is_read_through_the_indexes_never_by_a_scan(
    read_model: ReadModelStore,
) -> None:
    # The numerator's query (scope_disbursed): the scope's plans by the plan table's index on
    # jurisdiction, start year and kind, then their movements by the movement index.
    params: dict[str, object] = {"kind": "disbursed"}
    sql = (
        "EXPLAIN QUERY PLAN SELECT COALESCE(SUM(m.amount), 0) FROM {movement} m "
        "JOIN {plan} pl ON pl.plan_code = m.plan_code "
        f"WHERE {scope_condition(VN, params)} AND m.kind = :kind"
    )
    steps = [str(row[-1]) for row in read_model.read(lambda reader: reader.rows(sql, params))]
    assert len(steps) == 2
    assert all(step.startswith("SEARCH") and "USING INDEX" in step for step in steps), steps
    assert "plan_jurisdiction_start_year_kind" in steps[0]
