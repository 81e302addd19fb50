"""Capital plans: allocated + unallocated = envelope per source, at every version of the plan."""

from __future__ import annotations

from datetime import date

import pytest

from capledger.domain import CapitalPlan
from capledger.domain.errors import (
    EnvelopeBelowAllocated,
    InsufficientUnallocatedCapital,
    InvalidValue,
    SourceNotInPlan,
)

from ..builders import (
    BILLION,
    CENTRAL,
    LAND,
    LOCAL,
    ODA,
    annual_plan,
    decision,
    medium_term_plan,
    refused,
    replay,
)

pytestmark = pytest.mark.unit

ON = date(2025, 3, 1)


def assert_balanced(plan: CapitalPlan) -> None:
    for source, envelope in plan.envelopes.items():
        assert plan.allocated[source] + plan.unallocated(source) == envelope
        assert plan.unallocated(source) >= 0
        assert plan.allocated[source] >= 0


def allocate(plan: CapitalPlan, amount: int, source: str = CENTRAL, to: str = "P-001") -> None:
    plan.allocate(
        project_code=to, source=source, amount=amount, decision=decision(), effective_on=ON
    )


def take_back(plan: CapitalPlan, amount: int, source: str = CENTRAL) -> None:
    plan.take_back(
        project_code="P-001", source=source, amount=amount, decision=decision(), effective_on=ON
    )


def adjust(plan: CapitalPlan, envelopes: dict[str, int]) -> None:
    plan.adjust(
        envelopes=envelopes,
        reason="điều chỉnh kế hoạch",
        decision=decision("99/NQ-HĐND", ON, "HĐND Hà Nội"),
        effective_on=ON,
    )


# -- approval ------------------------------------------------------------------------------


def test_an_approved_annual_plan_has_its_whole_envelope_unallocated() -> None:
    plan = annual_plan(envelopes={CENTRAL: 1_000 * BILLION, LOCAL: 500 * BILLION})

    assert plan.is_annual
    assert plan.fiscal_year == 2025
    assert plan.plan_version == 1
    assert plan.envelopes == {CENTRAL: 1_000 * BILLION, LOCAL: 500 * BILLION}
    assert plan.allocated == {CENTRAL: 0, LOCAL: 0}
    assert plan.unallocated(CENTRAL) == 1_000 * BILLION
    assert plan.total_envelope == 1_500 * BILLION
    [approved] = plan.collect_events()
    assert isinstance(approved, CapitalPlan.Approved)
    assert approved.envelopes == {CENTRAL: 1_000 * BILLION, LOCAL: 500 * BILLION}


def test_an_annual_plan_covering_two_years_is_refused() -> None:
    with pytest.raises(InvalidValue, match="one fiscal year"):
        CapitalPlan.approve(
            code="KH-2025",
            title="x",
            kind="annual",
            authority="prime_minister",
            jurisdiction="VN",
            start_year=2025,
            end_year=2026,
            envelopes={CENTRAL: BILLION},
            decision=decision(),
            effective_on=ON,
        )


def test_a_medium_term_plan_covers_five_years() -> None:
    plan = medium_term_plan(start_year=2021)
    assert (plan.start_year, plan.end_year) == (2021, 2025)
    assert not plan.is_annual


@pytest.mark.parametrize("end_year", [2021, 2024, 2026])
def test_a_medium_term_plan_not_covering_five_years_is_refused(end_year: int) -> None:
    with pytest.raises(InvalidValue, match="5 years"):
        CapitalPlan.approve(
            code="TH-2021",
            title="x",
            kind="medium_term",
            authority="national_assembly",
            jurisdiction="VN",
            start_year=2021,
            end_year=end_year,
            envelopes={CENTRAL: BILLION},
            decision=decision(),
            effective_on=ON,
        )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("kind", "quarterly"),
        ("authority", "mayor"),
        ("start_year", 1900),
        ("code", " KH"),
        ("jurisdiction", ""),
        ("envelopes", {}),
        ("envelopes", {"bonds": BILLION}),
        ("implements", "KH-2025"),
    ],
)
def test_a_plan_with_an_invalid_field_is_refused(field: str, value: object) -> None:
    fields: dict[str, object] = {
        "code": "KH-2025",
        "title": "x",
        "kind": "annual",
        "authority": "prime_minister",
        "jurisdiction": "VN",
        "start_year": 2025,
        "end_year": 2025,
        "envelopes": {CENTRAL: BILLION},
        "decision": decision(),
        "effective_on": ON,
        "implements": None,
    }
    CapitalPlan.approve(**fields)  # type: ignore[arg-type]
    fields[field] = value
    with pytest.raises(InvalidValue):
        CapitalPlan.approve(**fields)  # type: ignore[arg-type]


def test_a_plan_implementing_another_plan_names_it() -> None:
    pm_plan = annual_plan(code="TTg-2025", authority="prime_minister")
    local = CapitalPlan.approve(
        code="HN-2025",
        title="x",
        kind="annual",
        authority="provincial_council",
        jurisdiction="HN",
        start_year=2025,
        end_year=2025,
        envelopes={CENTRAL: BILLION},
        decision=decision(),
        effective_on=ON,
        implements=pm_plan.code,
    )
    assert local.implements == "TTg-2025"


# -- allocation ----------------------------------------------------------------------------


def test_an_allocation_moves_capital_from_unallocated_to_allocated(plan: CapitalPlan) -> None:
    allocate(plan, 300 * BILLION)

    assert plan.allocated[CENTRAL] == 300 * BILLION
    assert plan.unallocated(CENTRAL) == 700 * BILLION
    assert plan.unallocated(LOCAL) == 500 * BILLION
    assert_balanced(plan)
    [allocated] = plan.collect_events()
    assert isinstance(allocated, CapitalPlan.CapitalAllocated)
    assert (allocated.project_code, allocated.source, allocated.amount) == (
        "P-001",
        CENTRAL,
        300 * BILLION,
    )


def test_the_whole_unallocated_envelope_may_be_allocated(plan: CapitalPlan) -> None:
    allocate(plan, 600 * BILLION)
    allocate(plan, 400 * BILLION, to="P-002")
    assert plan.unallocated(CENTRAL) == 0
    assert_balanced(plan)


def test_an_allocation_beyond_the_unallocated_envelope_is_refused(plan: CapitalPlan) -> None:
    allocate(plan, 600 * BILLION)
    refused(
        InsufficientUnallocatedCapital, lambda: allocate(plan, 400 * BILLION + 1, to="P-2"), plan
    )
    assert plan.unallocated(CENTRAL) == 400 * BILLION


def test_capital_of_one_source_cannot_be_allocated_from_another(plan: CapitalPlan) -> None:
    allocate(plan, 500 * BILLION, source=LOCAL)
    refused(InsufficientUnallocatedCapital, lambda: allocate(plan, 1, source=LOCAL), plan)
    allocate(plan, 1, source=CENTRAL)
    assert_balanced(plan)


@pytest.mark.parametrize("source", [ODA, LAND, "bonds"])
def test_an_allocation_from_a_source_not_in_the_plan_is_refused(
    plan: CapitalPlan, source: str
) -> None:
    refused(SourceNotInPlan, lambda: allocate(plan, BILLION, source=source), plan)


# -- capital returned by a cut -------------------------------------------------------------


def test_capital_taken_back_returns_to_the_unallocated_envelope(plan: CapitalPlan) -> None:
    allocate(plan, 300 * BILLION)
    take_back(plan, 120 * BILLION)

    assert plan.allocated[CENTRAL] == 180 * BILLION
    assert plan.unallocated(CENTRAL) == 820 * BILLION
    assert_balanced(plan)
    assert isinstance(plan.collect_events()[-1], CapitalPlan.CapitalReturned)


def test_taking_back_more_than_was_allocated_is_refused(plan: CapitalPlan) -> None:
    allocate(plan, 300 * BILLION)
    take_back(plan, 300 * BILLION)
    refused(InvalidValue, lambda: take_back(plan, 1), plan)


def test_taking_back_a_source_not_in_the_plan_is_refused(plan: CapitalPlan) -> None:
    refused(SourceNotInPlan, lambda: take_back(plan, 1, source=ODA), plan)


# -- adjustment ----------------------------------------------------------------------------


def test_an_adjustment_sets_new_envelopes_and_starts_a_new_plan_version(
    plan: CapitalPlan,
) -> None:
    allocate(plan, 300 * BILLION)
    adjust(plan, {CENTRAL: 1_200 * BILLION})

    assert plan.plan_version == 2
    assert plan.envelopes == {CENTRAL: 1_200 * BILLION, LOCAL: 500 * BILLION}
    assert plan.allocated[CENTRAL] == 300 * BILLION
    assert plan.unallocated(CENTRAL) == 900 * BILLION
    assert plan.decisions[-1].number == "99/NQ-HĐND"
    assert_balanced(plan)
    adjusted = plan.collect_events()[-1]
    assert isinstance(adjusted, CapitalPlan.Adjusted)
    assert adjusted.reason == "điều chỉnh kế hoạch"


def test_an_envelope_may_be_lowered_to_exactly_what_is_allocated(plan: CapitalPlan) -> None:
    allocate(plan, 300 * BILLION)
    adjust(plan, {CENTRAL: 300 * BILLION})
    assert plan.unallocated(CENTRAL) == 0
    assert_balanced(plan)


def test_an_envelope_below_what_is_allocated_is_refused(plan: CapitalPlan) -> None:
    allocate(plan, 300 * BILLION)
    refused(EnvelopeBelowAllocated, lambda: adjust(plan, {CENTRAL: 300 * BILLION - 1}), plan)
    assert plan.plan_version == 1


def test_an_adjustment_may_add_a_source_and_zero_an_unused_one(plan: CapitalPlan) -> None:
    adjust(plan, {ODA: 200 * BILLION, LOCAL: 0})

    assert plan.envelopes[ODA] == 200 * BILLION
    assert plan.allocated[ODA] == 0
    assert plan.unallocated(LOCAL) == 0
    assert_balanced(plan)
    allocate(plan, 200 * BILLION, source=ODA)
    assert_balanced(plan)


def test_an_adjustment_that_changes_nothing_is_refused(plan: CapitalPlan) -> None:
    refused(InvalidValue, lambda: adjust(plan, {CENTRAL: 1_000 * BILLION}), plan)


def test_an_adjustment_with_an_unknown_source_is_refused(plan: CapitalPlan) -> None:
    refused(InvalidValue, lambda: adjust(plan, {"bonds": BILLION}), plan)


# -- every version, and reconstruction -----------------------------------------------------


def _plan_with_history() -> tuple[CapitalPlan, list[object]]:
    plan = annual_plan()
    allocate(plan, 300 * BILLION)
    allocate(plan, 200 * BILLION, source=LOCAL, to="P-002")
    take_back(plan, 50 * BILLION)
    adjust(plan, {CENTRAL: 400 * BILLION, ODA: 100 * BILLION})
    allocate(plan, 100 * BILLION, source=ODA, to="P-003")
    adjust(plan, {LOCAL: 200 * BILLION})
    take_back(plan, 250 * BILLION)
    return plan, list(plan.collect_events())


def test_allocated_plus_unallocated_equals_the_envelope_at_every_version() -> None:
    plan, events = _plan_with_history()
    assert len(events) == 8
    for version in range(1, len(events) + 1):
        at_version = replay(events[:version], CapitalPlan)
        assert at_version.version == version
        assert_balanced(at_version)
    assert plan.allocated == {CENTRAL: 0, LOCAL: 200 * BILLION, ODA: 100 * BILLION}
    assert plan.plan_version == 3


def test_a_plan_rebuilt_from_its_events_equals_the_plan_that_recorded_them() -> None:
    plan, events = _plan_with_history()
    rebuilt = replay(events, CapitalPlan)

    assert rebuilt == plan
    assert rebuilt.envelopes == plan.envelopes
    assert rebuilt.allocated == plan.allocated
    assert rebuilt.decisions == plan.decisions
    assert rebuilt.version == plan.version == 8


def test_rebuilding_a_plan_leaves_its_events_untouched() -> None:
    plan, events = _plan_with_history()
    replay(events, CapitalPlan)
    again = replay(events, CapitalPlan)
    assert again == plan
    approved = events[0]
    assert isinstance(approved, CapitalPlan.Approved)
    assert approved.envelopes == {CENTRAL: 1_000 * BILLION, LOCAL: 500 * BILLION}
