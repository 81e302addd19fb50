"""Plan events fold into the plan, its envelope per version and its capital per source."""

from __future__ import annotations

import pytest

from capledger.projections import MemoryReadModel, MissingContext
from capledger.projections.rows import (
    PlanEnvelopeRow,
    PlanRow,
    PlanSourceRow,
    PlanVersionRow,
)

from .published import BILLION, CENTRAL, DECISION, LOCAL, PLAN, Log

pytestmark = pytest.mark.unit


def adjustment(log: Log, envelopes: dict[str, int], on: str = "2021-07-01") -> object:
    return log.plan(
        PLAN,
        "Adjusted",
        envelopes=envelopes,
        reason="bổ sung vốn",
        decision=DECISION,
        effective_on=on,
    )


def test_approval_records_version_one_with_its_envelopes() -> None:
    log = Log()
    model = MemoryReadModel().fold(
        [log.approved(envelopes={CENTRAL: 700 * BILLION, LOCAL: 300 * BILLION})]
    )

    plan = model.get(PlanRow, (PLAN,))
    assert plan is not None
    assert (plan.plan_version, plan.jurisdiction, plan.start_year) == (1, "HP", 2021)
    version = model.get(PlanVersionRow, (PLAN, 1))
    assert version is not None
    assert version.envelope_total == 1_000 * BILLION
    assert version.reason is None
    assert [row.amount for row in model.rows(PlanEnvelopeRow)] == [700 * BILLION, 300 * BILLION]
    assert model.get(PlanSourceRow, (PLAN, LOCAL)) == PlanSourceRow(PLAN, LOCAL, 300 * BILLION, 0)


def test_each_adjustment_is_a_new_version_and_older_envelopes_stay() -> None:
    log = Log()
    events = [log.approved(envelopes={CENTRAL: 1_000})]
    events.append(adjustment(log, {CENTRAL: 1_200}))  # type: ignore[arg-type]
    events.append(adjustment(log, {CENTRAL: 1_100, LOCAL: 50}, on="2021-10-01"))  # type: ignore[arg-type]
    model = MemoryReadModel().fold(events)

    plan = model.get(PlanRow, (PLAN,))
    assert plan is not None and plan.plan_version == 3
    assert model.get(PlanEnvelopeRow, (PLAN, 1, CENTRAL)) == PlanEnvelopeRow(
        PLAN, 1, CENTRAL, 1_000
    )
    assert model.get(PlanEnvelopeRow, (PLAN, 2, CENTRAL)) == PlanEnvelopeRow(
        PLAN, 2, CENTRAL, 1_200
    )
    assert model.get(PlanEnvelopeRow, (PLAN, 3, LOCAL)) == PlanEnvelopeRow(PLAN, 3, LOCAL, 50)
    version_3 = model.get(PlanVersionRow, (PLAN, 3))
    assert version_3 is not None
    assert (version_3.effective_on, version_3.envelope_total) == ("2021-10-01", 1_150)
    assert model.get(PlanSourceRow, (PLAN, CENTRAL)) == PlanSourceRow(PLAN, CENTRAL, 1_100, 0)


def test_allocation_and_returned_capital_move_the_plans_allocated_capital() -> None:
    log = Log()
    model = MemoryReadModel().fold(
        [
            log.approved(envelopes={CENTRAL: 1_000}),
            log.plan(
                PLAN,
                "CapitalAllocated",
                project_code="P-1",
                source=CENTRAL,
                amount=600,
                decision=DECISION,
                effective_on="2021-01-15",
            ),
            log.plan(
                PLAN,
                "CapitalReturned",
                project_code="P-1",
                source=CENTRAL,
                amount=250,
                decision=DECISION,
                effective_on="2021-09-15",
            ),
        ]
    )

    capital = model.get(PlanSourceRow, (PLAN, CENTRAL))
    assert capital == PlanSourceRow(PLAN, CENTRAL, envelope=1_000, allocated=350)
    assert capital.unallocated == 650


def test_an_adjustment_of_a_plan_never_approved_is_refused() -> None:
    with pytest.raises(MissingContext, match="no plan"):
        MemoryReadModel().fold([adjustment(Log(), {CENTRAL: 1})])  # type: ignore[list-item]
