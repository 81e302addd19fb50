"""Hải Phòng 2021 through the ledger and the embedded runner: balances, rates against two
plans, as-of dates with a late entry, the S-curve, bunching, watch lists, adjustments."""

from __future__ import annotations

import math
from datetime import date
from decimal import Decimal
from fractions import Fraction

import pytest

from capledger.application.ledger import Ledger
from capledger.projections import EmbeddedRunner, ReadModelStore
from capledger.projections.queries import (
    AsOf,
    BalanceFilter,
    Basis,
    Denominator,
    Dimension,
    Exclusions,
    QueryError,
    Scope,
    adjustment_counts,
    balances,
    bunching,
    disbursement_rate,
    disbursement_rates,
    late_entries,
    monthly_series,
    plan_capital,
    plan_versions,
    watch_list,
)

from .haiphong import BN, CENTRAL, CITY_PLAN, JUNE_20, LOCAL, PM_PLAN, SCOPE, record_hai_phong
from .support import Clock

pytestmark = pytest.mark.integration


@pytest.fixture
def hai_phong(ledger: Ledger, clock: Clock, read_model: ReadModelStore) -> ReadModelStore:
    recorded = record_hai_phong(ledger, clock)
    runner = EmbeddedRunner(read_model, ledger.recorder, batch_size=7)
    assert runner.catch_up() == recorded.last.position
    return read_model


def billions(*amounts: int) -> tuple[int, ...]:
    return tuple(amount * BN for amount in amounts)


# -- rates ------------------------------------------------------------------------------------


def test_to_20_june_the_same_disbursement_is_33_8_and_63_1_percent_of_the_two_plans(
    hai_phong: ReadModelStore,
) -> None:
    city, prime_minister = disbursement_rates(
        hai_phong, SCOPE, [Denominator(CITY_PLAN), Denominator(PM_PLAN)], as_of=JUNE_20
    )

    assert (city.disbursed, city.envelope, city.plan_version) == (4_600 * BN, 13_609 * BN, 1)
    assert city.ratio.percent() == Decimal("33.8")
    assert (prime_minister.disbursed, prime_minister.envelope) == (4_600 * BN, 7_290 * BN)
    assert prime_minister.ratio.percent() == Decimal("63.1")
    assert (city.authority, prime_minister.authority) == ("provincial_council", "prime_minister")


def test_the_late_entry_is_unknown_on_20_june_and_counted_once_it_was_recorded(
    hai_phong: ReadModelStore,
) -> None:
    known_later = AsOf(effective=JUNE_20, known=date(2021, 7, 31))
    rate = disbursement_rate(hai_phong, SCOPE, Denominator(PM_PLAN), as_of=known_later)

    assert rate.disbursed == 4_800 * BN
    assert rate.ratio.percent() == Decimal("65.8")
    late = late_entries(hai_phong, SCOPE)
    assert late.total == 1
    (entry,) = late.items
    assert (entry.project_code, entry.amount, entry.lateness_days) == ("HP-003", 200 * BN, 35)
    assert (entry.effective_on, entry.recorded_on) == (date(2021, 5, 28), date(2021, 7, 2))
    assert late_entries(hai_phong, SCOPE, as_of=JUNE_20).total == 0


def test_a_wrong_payment_counts_until_the_day_its_reversal_takes_effect(
    hai_phong: ReadModelStore,
) -> None:
    before = disbursement_rate(hai_phong, SCOPE, Denominator(PM_PLAN), as_of=date(2021, 6, 10))
    after = disbursement_rate(hai_phong, SCOPE, Denominator(PM_PLAN), as_of=date(2021, 6, 15))

    assert (before.disbursed, after.disbursed) == billions(4_900, 4_600)


def test_at_year_end_the_rate_uses_each_plans_latest_version(hai_phong: ReadModelStore) -> None:
    city, prime_minister = disbursement_rates(
        hai_phong, SCOPE, [Denominator(CITY_PLAN), Denominator(PM_PLAN)]
    )

    assert (city.plan_version, city.envelope, city.disbursed) == (3, 13_890 * BN, 6_000 * BN)
    assert (city.ratio.percent(), prime_minister.ratio.percent()) == (
        Decimal("43.2"),
        Decimal("82.3"),
    )


def test_a_named_plan_version_is_the_denominator_whatever_the_date(
    hai_phong: ReadModelStore,
) -> None:
    rate = disbursement_rate(hai_phong, SCOPE, Denominator(CITY_PLAN, plan_version=2))

    assert (rate.plan_version, rate.envelope) == (2, 13_790 * BN)


def test_exclusions_take_extended_and_late_added_capital_out_of_the_denominator(
    hai_phong: ReadModelStore,
) -> None:
    extended = disbursement_rate(
        hai_phong, SCOPE, Denominator(PM_PLAN), exclusions=Exclusions(extended=True)
    )
    late = disbursement_rate(
        hai_phong,
        SCOPE,
        Denominator(CITY_PLAN),
        exclusions=Exclusions(added_after=date(2021, 9, 30)),
    )
    both = disbursement_rate(
        hai_phong,
        SCOPE,
        Denominator(CITY_PLAN),
        exclusions=Exclusions(extended=True, added_after=date(2021, 9, 30)),
    )

    assert (extended.excluded_extended, extended.denominator) == billions(400, 6_890)
    assert extended.ratio.percent() == Decimal("87.1")
    assert (late.excluded_added_late, late.denominator) == billions(100, 13_790)
    assert both.denominator == 13_390 * BN


# -- balances ---------------------------------------------------------------------------------


def test_project_balances_follow_every_movement(hai_phong: ReadModelStore) -> None:
    page = balances(hai_phong, Dimension.PROJECT, filters=BalanceFilter(project_code="HP-004"))

    (hospital,) = page.items
    assert (hospital.allocated, hospital.transferred_out, hospital.cut) == billions(
        1_990, 200, 1_200
    )
    assert (hospital.disbursed, hospital.lapsed, hospital.extended) == billions(100, 90, 400)
    assert (hospital.capital, hospital.undisbursed) == billions(590, 400)
    (bridge,) = balances(hai_phong, "project", filters=BalanceFilter(project_code="HP-001")).items
    assert (bridge.transferred_in, bridge.disbursed, bridge.advances_outstanding) == billions(
        200, 3_300, 300
    )


def test_balances_by_source_keep_capital_of_each_source_apart(hai_phong: ReadModelStore) -> None:
    by_source = {row.key: row for row in balances(hai_phong, Dimension.SOURCE).items}

    assert (by_source[CENTRAL].allocated, by_source[CENTRAL].disbursed) == billions(7_290, 5_400)
    assert (by_source[LOCAL].allocated, by_source[LOCAL].cut) == billions(3_500, 1_200)
    assert (by_source[LOCAL].disbursed, by_source[LOCAL].lapsed) == billions(600, 200)


def test_investors_rank_by_disbursement_under_the_investor_accountable_now(
    hai_phong: ReadModelStore,
) -> None:
    page = balances(hai_phong, Dimension.INVESTOR, sort="disbursed", descending=True)

    assert [(row.key, row.disbursed) for row in page.items] == [
        ("BQL-GT", 3_300 * BN),
        ("BQL-NN", 2_000 * BN),
        ("UBND-HB", 600 * BN),
        ("BQL-YT", 100 * BN),
    ]
    assert page.items[-1].label == "Ban QLDA y tế"


def test_balances_filter_sort_by_exact_rate_and_paginate(hai_phong: ReadModelStore) -> None:
    transport = balances(hai_phong, Dimension.PROJECT, filters=BalanceFilter(sector="transport"))
    by_rate = balances(hai_phong, Dimension.PROJECT, sort="rate")
    second_page = balances(
        hai_phong, Dimension.PROJECT, sort="disbursed", descending=True, limit=2, offset=1
    )

    assert [row.key for row in transport.items] == ["HP-001"]
    assert [row.key for row in by_rate.items] == ["HP-004", "HP-001", "HP-002", "HP-003"]
    assert ([row.key for row in second_page.items], second_page.total) == (["HP-002", "HP-003"], 4)


def test_balances_by_plan_program_and_province(hai_phong: ReadModelStore) -> None:
    plans = {row.key: row for row in balances(hai_phong, Dimension.PLAN).items}
    programs = {row.key: row.disbursed for row in balances(hai_phong, Dimension.PROGRAM).items}
    provinces = {row.key: row.capital for row in balances(hai_phong, Dimension.PROVINCE).items}

    assert (plans[PM_PLAN].allocated, plans[PM_PLAN].disbursed) == billions(7_290, 5_400)
    assert (plans[CITY_PLAN].disbursed, plans[CITY_PLAN].lapsed) == billions(600, 200)
    assert programs == {"breakthrough": 5_300 * BN, "": 700 * BN}
    assert provinces == {"HP": 9_590 * BN}


def test_balances_as_of_a_date_sum_only_what_was_known_then(hai_phong: ReadModelStore) -> None:
    (bridge,) = balances(
        hai_phong, "project", filters=BalanceFilter(project_code="HP-001"), as_of=JUNE_20
    ).items
    (school,) = balances(
        hai_phong, "project", filters=BalanceFilter(project_code="HP-003"), as_of=JUNE_20
    ).items

    assert (bridge.capital, bridge.disbursed, bridge.advances_outstanding) == billions(
        5_000, 2_600, 600
    )
    assert school.disbursed == 400 * BN


def test_plans_conserve_capital_per_source(hai_phong: ReadModelStore) -> None:
    capital = {(row.plan_code, row.source): row for row in plan_capital(hai_phong)}

    assert (capital[PM_PLAN, CENTRAL].allocated, capital[PM_PLAN, CENTRAL].unallocated) == (
        7_290 * BN,
        0,
    )
    city_local = capital[CITY_PLAN, LOCAL]
    assert (city_local.envelope, city_local.allocated, city_local.unallocated) == billions(
        6_600, 2_300, 4_300
    )


# -- series, bunching, watch lists, adjustments ---------------------------------------------


def test_the_s_curve_dates_money_when_it_moved_or_when_the_ledger_learned_it(
    hai_phong: ReadModelStore,
) -> None:
    effective = monthly_series(hai_phong, SCOPE, denominator=Denominator(CITY_PLAN))
    recorded = monthly_series(hai_phong, SCOPE, basis=Basis.RECORDED)

    by_month = {point.month: point.disbursed // BN for point in effective.points}
    assert by_month == {
        "2021-01": 0, "2021-02": 1_200, "2021-03": 400, "2021-04": 1_500, "2021-05": 1_600,
        "2021-06": 100, "2021-07": 0, "2021-08": 0, "2021-09": 0, "2021-10": 0,
        "2021-11": 500, "2021-12": 700,
    }  # fmt: skip
    assert [point.cumulative // BN for point in effective.points][-1] == 6_000
    december = effective.points[-1].cumulative_rate
    assert december is not None and december.percent() == Decimal("43.2")
    recorded_months = {point.month: point.disbursed // BN for point in recorded.points}
    assert (recorded_months["2021-05"], recorded_months["2021-07"]) == (1_400, 200)


def test_the_s_curve_as_of_20_june_stops_there(hai_phong: ReadModelStore) -> None:
    series = monthly_series(hai_phong, SCOPE, as_of=JUNE_20)

    assert series.points[-1].cumulative == 4_600 * BN
    assert {point.month: point.disbursed // BN for point in series.points}["2021-05"] == 1_400


def test_a_fifth_of_the_years_disbursement_came_in_the_last_quarter(
    hai_phong: ReadModelStore,
) -> None:
    year = bunching(hai_phong, SCOPE)

    assert year.quarters == billions(1_600, 3_200, 0, 1_200)
    assert (year.in_year, year.december) == billions(6_000, 700)
    assert year.last_quarter_share.percent() == Decimal("20.0")
    assert year.december_share.percent() == Decimal("11.7")
    assert (year.before_year, year.after_year_end) == (0, 0)


def test_the_watch_list_names_the_slow_project_and_its_accountable_investor(
    hai_phong: ReadModelStore,
) -> None:
    below_average = watch_list(hai_phong, SCOPE)

    assert below_average.reference_is_scope_average
    assert below_average.scope_ratio.fraction == Fraction(6_000, 9_590)
    (hospital,) = below_average.entries
    assert (hospital.key, hospital.investor_code, hospital.investor_name) == (
        "HP-004",
        "BQL-YT",
        "Ban QLDA y tế",
    )
    assert (hospital.capital, hospital.disbursed) == billions(590, 100)
    assert hospital.shortfall == math.ceil(Fraction(6_000, 9_590) * 590 * BN) - 100 * BN


def test_a_threshold_watch_list_ranks_the_slowest_first(hai_phong: ReadModelStore) -> None:
    projects = watch_list(hai_phong, SCOPE, threshold=Decimal("0.65"))
    investors = watch_list(hai_phong, SCOPE, level="investor", threshold=Decimal("0.65"))
    on_20_june = watch_list(hai_phong, SCOPE, threshold=Decimal("0.65"), as_of=JUNE_20)

    assert [entry.key for entry in projects.entries] == ["HP-004", "HP-001"]
    assert [(entry.key, entry.projects) for entry in investors.entries] == [
        ("BQL-YT", 1),
        ("BQL-GT", 1),
    ]
    first = on_20_june.entries[0]
    assert (first.key, first.capital) == ("HP-004", 1_990 * BN)


def test_adjustments_are_counted_per_plan_and_year(hai_phong: ReadModelStore) -> None:
    counts = adjustment_counts(hai_phong, jurisdiction="HP")
    versions = plan_versions(hai_phong, CITY_PLAN)

    assert [(row.plan_code, row.year, row.adjustments) for row in counts] == [(CITY_PLAN, 2021, 2)]
    assert [(v.plan_version, v.total // BN, v.reason is None) for v in versions] == [
        (1, 13_609, True),
        (2, 13_790, False),
        (3, 13_890, False),
    ]
    assert adjustment_counts(hai_phong, year=2022) == []


def test_a_rate_of_a_scope_without_plans_is_unknown_not_zero(hai_phong: ReadModelStore) -> None:
    with pytest.raises(QueryError, match="no annual plan of HN for 2021"):
        disbursement_rate(hai_phong, Scope("HN", 2021), Denominator(PM_PLAN))

    assert watch_list(hai_phong, Scope("HP", 2022)).entries == []
