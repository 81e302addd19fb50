"""Capital movements fold into allocation lines that mirror the domain, with dated facts."""

from __future__ import annotations

import pytest

from capledger.projections import MemoryReadModel, MissingContext
from capledger.projections.rows import LineRow, Movement, MovementRow

from .published import CENTRAL, DECISION, PLAN, Log

pytestmark = pytest.mark.unit


def line(model: MemoryReadModel, code: str = "P-1") -> LineRow:
    found = model.get(LineRow, (code, PLAN, CENTRAL))
    assert found is not None
    return found


def moves(model: MemoryReadModel) -> list[tuple[str, str, int]]:
    return [(row.project_code, row.kind, row.amount) for row in model.rows(MovementRow)]


def test_an_allocation_opens_a_line_and_records_a_dated_fact() -> None:
    log = Log()
    model = MemoryReadModel().fold([log.registered("P-1"), log.allocated("P-1", 500)])

    assert line(model) == LineRow("P-1", PLAN, CENTRAL, "annual", 2021, allocated=500)
    (fact,) = model.rows(MovementRow)
    assert (fact.kind, fact.amount, fact.effective_on, fact.investor_code) == (
        "allocated",
        500,
        "2021-01-15",
        "BQL-GT",
    )


def test_capital_added_late_is_extended_automatically_when_the_event_says_so() -> None:
    log = Log()
    model = MemoryReadModel().fold(
        [log.registered("P-1"), log.allocated("P-1", 80, auto_extended_until="2026-12-31")]
    )

    assert (line(model).extended, line(model).extended_until) == (80, "2026-12-31")
    assert moves(model) == [("P-1", "allocated", 80), ("P-1", "extended", 80)]


def test_a_transfer_moves_capital_between_two_projects_lines() -> None:
    log = Log()
    transfer = {
        "plan_code": PLAN,
        "source": CENTRAL,
        "amount": 120,
        "decision": DECISION,
        "effective_on": "2021-09-20",
    }
    model = MemoryReadModel().fold(
        [
            log.registered("P-1"),
            log.registered("P-2"),
            log.allocated("P-1", 500),
            log.project("P-1", "CapitalTransferredOut", to_project="P-2", **transfer),
            log.project(
                "P-2",
                "CapitalTransferredIn",
                from_project="P-1",
                plan_kind="annual",
                fiscal_year=2021,
                auto_extended_until=None,
                **transfer,
            ),
        ]
    )

    assert (line(model, "P-1").transferred_out, line(model, "P-1").undisbursed) == (120, 380)
    assert (line(model, "P-2").transferred_in, line(model, "P-2").capital) == (120, 120)


def test_moving_capital_away_releases_an_extension_beyond_what_is_left() -> None:
    # 100 allocated, 90 of it extended; cutting 40 leaves 60 undisbursed, so 30 of the
    # extension is released, as the domain's line does.
    log = Log()
    model = MemoryReadModel().fold(
        [
            log.registered("P-1"),
            log.allocated("P-1", 100),
            log.project(
                "P-1",
                "DisbursementPeriodExtended",
                plan_code=PLAN,
                source=CENTRAL,
                amount=90,
                until="2022-06-30",
                decision=DECISION,
                effective_on="2021-12-20",
            ),
            log.project(
                "P-1",
                "AllocationCut",
                plan_code=PLAN,
                source=CENTRAL,
                amount=40,
                reason="không triển khai",
                decision=DECISION,
                effective_on="2021-12-21",
            ),
        ]
    )

    assert (line(model).cut, line(model).extended, line(model).extended_until) == (
        40,
        60,
        "2022-06-30",
    )
    assert moves(model)[-2:] == [("P-1", "cut", 40), ("P-1", "extended", -30)]


def test_an_extension_keeps_the_latest_end_date() -> None:
    log = Log()
    extend = {
        "plan_code": PLAN,
        "source": CENTRAL,
        "decision": DECISION,
        "effective_on": "2021-12-20",
    }
    model = MemoryReadModel().fold(
        [
            log.registered("P-1"),
            log.allocated("P-1", 100),
            log.project(
                "P-1", "DisbursementPeriodExtended", amount=10, until="2022-09-30", **extend
            ),
            log.project(
                "P-1", "DisbursementPeriodExtended", amount=10, until="2022-06-30", **extend
            ),
        ]
    )

    assert (line(model).extended, line(model).extended_until) == (20, "2022-09-30")


def test_lapsed_capital_leaves_the_undisbursed_balance() -> None:
    log = Log()
    model = MemoryReadModel().fold(
        [
            log.registered("P-1"),
            log.allocated("P-1", 100),
            log.project(
                "P-1",
                "CapitalLapsed",
                plan_code=PLAN,
                source=CENTRAL,
                amount=100,
                effective_on="2022-02-01",
            ),
        ]
    )

    assert (line(model).lapsed, line(model).undisbursed) == (100, 0)
    assert moves(model)[-1] == ("P-1", Movement.LAPSED.value, 100)


def test_a_movement_on_a_line_never_opened_is_refused() -> None:
    log = Log()
    with pytest.raises(MissingContext, match="no allocation"):
        MemoryReadModel().fold(
            [
                log.registered("P-1"),
                log.project(
                    "P-1",
                    "CapitalLapsed",
                    plan_code=PLAN,
                    source=CENTRAL,
                    amount=1,
                    effective_on="2022-02-01",
                ),
            ]
        )
